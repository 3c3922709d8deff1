"""dane.records: the TLSA records at _25._tcp.<mx>, from DNS alone: present, well-formed, DNSSEC-validated.

Matching them against the certificate each MX presents is the dane.tlsa check (it needs the TLS
session); this check judges only what DNS says, so it also speaks when the server is unreachable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from diagnose.engine.facts import MX_HOSTS, MailHost
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.knowledge.sanitize import clean
from diagnose.net.resolver import DnsResult, Outcome

DIGEST_BYTES = {1: 32, 2: 64}  # matching type -> length (SHA-256, SHA-512), RFC 6698 §2.1.3
SMTP_USAGES = (2, 3)  # RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP


def tlsa_owner(host: str, port: int = 25) -> str:
    return f"_{port}._tcp.{host.rstrip('.')}"


def record_problem(usage: int, selector: int, mtype: int, data: bytes) -> str:
    """Pure: why one TLSA record can never match, or ''."""
    if usage > 3:
        return f"usage {usage} is not defined (0-3)"
    if selector > 1:
        return f"selector {selector} is not defined (0 full certificate, 1 public key)"
    if mtype > 2:
        return f"matching type {mtype} is not defined (0 full, 1 SHA-256, 2 SHA-512)"
    if mtype in DIGEST_BYTES and len(data) != DIGEST_BYTES[mtype]:
        name = "SHA-256" if mtype == 1 else "SHA-512"
        return f"a {name} digest must be {DIGEST_BYTES[mtype]} bytes, this one has {len(data)}"
    if mtype == 0 and len(data) < 32:
        return f"a full {'certificate' if selector == 0 else 'public key'} cannot be {len(data)} bytes long"
    return ""


class DaneRecords(Check):
    id = "dane.records"
    title = "DANE TLSA records of the MX hosts are well-formed and DNSSEC-signed"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.INCOMING
    services = ("smtp",)
    needs = (MX_HOSTS,)
    texts = {
        "dane.records_ok": ("", ""),
        "dane.records_none": ("", ""),
        "dane.records_malformed": (
            "Some TLSA records at {owner} can never match any certificate: {problems}. If no valid "
            "record remains, DANE senders refuse to deliver to {host}.",
            "Regenerate the record from the server's certificate, e.g. `{owner}. 3600 IN TLSA 3 1 1 "
            "<SHA-256 of the public key, 64 hex digits>` (`openssl x509 -in cert.pem -noout -pubkey | "
            "openssl pkey -pubin -outform DER | sha256sum`), and delete the broken ones.",
        ),
        "dane.records_unusable": (
            "The TLSA records at {owner} use only usages 0 or 1 (PKIX-TA/PKIX-EE), which SMTP senders "
            "ignore (RFC 7672 §3.1.3): DANE is not in effect for {host}.",
            "Publish DANE-EE records instead: `{owner}. 3600 IN TLSA 3 1 1 <SHA-256 of the public key>`.",
        ),
        "dane.records_unsigned": (
            "{owner} has TLSA records, but the answer is not DNSSEC-validated, so senders ignore them "
            "(RFC 7672 §2.2): DANE is not in effect for {host}.",
            "Sign the zone that holds {host} with DNSSEC and publish its DS at the parent (see the "
            "dnssec.chain check), or remove the TLSA records.",
        ),
        "dane.records_lookup_failed": (
            "The TLSA lookup for {owner} failed ({why}). Senders that use DANE treat this as a "
            "temporary error and keep mail for {host} queued until it is fixed.",
            "Make sure the name servers of {host}'s zone answer TLSA queries, also for names that do "
            "not exist (`dig TLSA {owner}` must return NOERROR or NXDOMAIN, never SERVFAIL).",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        hosts: tuple[MailHost, ...] = await ctx.fact(MX_HOSTS)
        names = list(dict.fromkeys(h.name for h in hosts))[:10]
        answers = await asyncio.gather(*(ctx.dns.query(tlsa_owner(n), "TLSA") for n in names))
        for host, answer in zip(names, answers, strict=False):
            yield self.evaluate_tlsa(host, answer)

    def evaluate_tlsa(self, host: str, answer: DnsResult) -> Finding:
        """Pure: judge the TLSA answer for one MX host."""
        owner = tlsa_owner(host)
        ev: dict = {
            "owner": owner,
            "outcome": answer.outcome.value,
            "records": [clean(r, limit=300) for r in answer.records[:10]],
            "dnssec_validated": answer.authenticated,
        }
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, duration_s=answer.elapsed_s, host=host, owner=owner)
        subject = f"TLSA {owner}"
        if answer.outcome in (Outcome.NXDOMAIN, Outcome.NODATA):
            return self.finding(
                "dane.records_none", Status.SKIP, subject, f"no TLSA records for {host}: DANE not used (optional)", **kw
            )
        if answer.outcome is not Outcome.ANSWER:
            return self.finding("dane.records_lookup_failed", Status.FAIL, subject, f"TLSA lookup for {owner} failed",
                                why=answer.describe(), **kw)
        problems, usable = [], 0
        for r in answer.rdata:
            usage, selector, mtype, data = int(r.usage), int(r.selector), int(r.mtype), bytes(r.cert)
            why = record_problem(usage, selector, mtype, data)
            if why:
                problems.append(f"`{usage} {selector} {mtype} {data.hex()[:16]}...`: {why}")
            elif usage in SMTP_USAGES:
                usable += 1
        ev["usable"] = usable
        if problems:
            return self.finding(
                "dane.records_malformed",
                Status.FAIL if not usable else Status.WARN,
                subject,
                f"{len(problems)} malformed TLSA record(s) at {owner}",
                problems="; ".join(problems[:5]),
                **kw,
            )
        if not usable:
            return self.finding(
                "dane.records_unusable", Status.WARN, subject, f"no TLSA record at {owner} is usable for SMTP", **kw
            )
        if not answer.authenticated:
            return self.finding("dane.records_unsigned", Status.WARN, subject,
                                f"TLSA records at {owner} are not DNSSEC-validated", **kw)
        return self.finding("dane.records_ok", Status.PASS, subject,
                            f"{usable} usable TLSA record(s) at {owner}, DNSSEC-validated", **kw)
