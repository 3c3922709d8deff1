"""dane.tlsa: DNSSEC-validated TLSA records at _25._tcp.<mx> match the certificate chain each MX
address presents (RFC 7672). The matching itself is diagnose.knowledge.dane.match_tlsa (pure).

MTA-STS versus the certificate is left to the MTA-STS check, which knows the policy mode.
"""

from __future__ import annotations

from typing import Any

from checks.servercheck import ServerCheck, not_reached, subject
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import CheckContext
from diagnose.knowledge.certs import hostname_matches
from diagnose.knowledge.dane import Tlsa, match_tlsa
from diagnose.net.dialogue import Dialogue, Endpoint
from diagnose.net.resolver import DnsResult, Outcome


def tlsa_name(host: str, port: int = 25) -> str:
    return f"_{port}._tcp.{host.rstrip('.')}"


class DaneTlsa(ServerCheck):
    id = "dane.tlsa"
    title = "DANE TLSA records match the MX certificates"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.INCOMING
    services = ("smtp",)
    roles = ("mx",)
    ports = (25,)
    texts = {
        "dane.match": ("", ""),
        "dane.none": ("", ""),
        "dane.mismatch": (
            "{owner} publishes DNSSEC-signed TLSA records, but none matches the certificate {host} "
            "presents ({detail}). Mail from DANE-enforcing senders (e.g. Microsoft 365, Comcast, "
            "Postfix with DANE) will not be delivered: they keep it queued and bounce it later.",
            "Publish a TLSA record for the current certificate before (or right after) changing it, "
            "e.g. `{owner}. 3600 IN TLSA {expected}`, keeping the old record until the new certificate "
            "is live; or remove the stale TLSA records.",
        ),
        "dane.no_tls": (
            "{owner} publishes DNSSEC-signed TLSA records, but {host} offers no working TLS. "
            "DANE-enforcing senders will not deliver to it.",
            "Fix STARTTLS on {host} (see tls.handshake), or remove the TLSA records.",
        ),
        "dane.insecure": (
            "{owner} has TLSA records, but the answer is not DNSSEC-validated, so senders ignore "
            "them (RFC 7672 §2.2): DANE is not in effect.",
            "Sign the zone of {host} with DNSSEC and publish the DS record at the parent, or remove the TLSA records.",
        ),
        "dane.unusable": (
            "The TLSA records at {owner} use only usages SMTP does not support (PKIX-TA 0, PKIX-EE 1; "
            "RFC 7672 §3.1.3), so DANE senders treat the MX as having no usable TLSA record.",
            "Publish `3 1 1` (DANE-EE, SHA-256 of the public key) records instead: `{owner}. IN TLSA {expected}`.",
        ),
        "dane.lookup_failed": (
            "The TLSA lookup for {owner} failed ({why}). DANE senders treat this as a temporary error "
            "and keep mail for {host} queued.",
            "Check that the name servers of {host}'s zone answer TLSA queries (`dig TLSA {owner}`), "
            "including for names that do not exist (DNSSEC denial of existence).",
        ),
    }

    async def judge(self, ctx: CheckContext, ep: Endpoint, d: Dialogue) -> list[Finding]:
        answer = await ctx.dns.query(tlsa_name(ep.host), "TLSA")
        if answer.outcome in (Outcome.NXDOMAIN, Outcome.NODATA):  # "no DANE": once per host, not per address
            reported = self.__dict__.setdefault("_no_tlsa", set())
            if ep.host in reported:
                return []
            reported.add(ep.host)
        return self.evaluate(ep, d, answer)

    def evaluate(self, ep: Endpoint, d: Dialogue, answer: DnsResult) -> list[Finding]:
        """Pure: DANE verdict for one MX address from its TLSA answer and its TLS session."""
        owner = tlsa_name(ep.host)
        ev = {"owner": owner, "outcome": answer.outcome.value, "records": list(answer.records),
              "dnssec_validated": answer.authenticated}
        chain = list(d.tls.chain) if d.tls is not None else []
        expected = ""
        if chain:
            from diagnose.knowledge.dane import tlsa_for
            expected = f"3 1 1 {tlsa_for(chain[0]).data.hex()}"
            ev["expected_3_1_1"] = expected
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, host=ep.host, owner=owner, expected=expected or "3 1 1 <sha256 of the key>")
        s = subject(ep)
        if answer.outcome in (Outcome.NXDOMAIN, Outcome.NODATA):
            return [self.finding("dane.none", Status.SKIP, s, f"no TLSA records at {owner}: DANE not in use", **kw)]
        if answer.outcome is not Outcome.ANSWER:
            return [self.finding("dane.lookup_failed", Status.WARN, s, f"TLSA lookup for {owner} failed",
                                 why=answer.describe(), **kw)]
        if not answer.authenticated:
            return [
                self.finding("dane.insecure", Status.WARN, s, f"TLSA records at {owner} are not DNSSEC-validated", **kw)
            ]
        records = [Tlsa(int(r.usage), int(r.selector), int(r.mtype), bytes(r.cert)) for r in answer.rdata]
        if d.tls is None:
            why = not_reached(d)
            if why:
                return [self.skip(ep, why)]
            return [self.finding("dane.no_tls", Status.FAIL, s, f"TLSA published but no TLS on {ep.host}", **kw)]
        result = match_tlsa(records, chain, name_ok=hostname_matches(chain[0], ep.host) if chain else False)
        ev["unusable"] = list(result.unusable)
        if result.ok:
            return [self.finding("dane.match", Status.PASS, s, f"{result.detail} ({result.matched})", **kw)]
        if result.usable == 0:
            return [
                self.finding("dane.unusable", Status.WARN, s, f"no TLSA record at {owner} is usable for SMTP", **kw)
            ]
        return [self.finding("dane.mismatch", Status.FAIL, s, f"TLSA records do not match: {result.detail}",
                             detail=result.detail, **kw)]
