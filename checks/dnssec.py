"""dnssec.chain: is the domain DNSSEC-signed, and do its answers validate (the AD bit of a validating resolver)?"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.net.resolver import DnsResult, Outcome

_FAILED = (Outcome.SERVFAIL, Outcome.TIMEOUT)
_DANE = ("DANE (TLSA records that tell senders which certificate your MX uses) only works on a "
         "DNSSEC-validated domain: ")


class Dnssec(Check):
    id = "dnssec.chain"
    title = "DNSSEC signatures of the domain validate"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.BOTH
    services = ("dns",)
    texts = {
        "dnssec.no_domain": ("", ""),
        "dnssec.validated": (
            "The resolver validated the DNSSEC signatures of {domain} (it set the AD bit), so its "
            "answers cannot be forged on the way. " + _DANE + "this domain can use it.",
            "",
        ),
        "dnssec.unsigned": (
            "{domain} is not DNSSEC-signed (its parent has no DS record for it). Answers about it "
            "could be forged on the way; most domains are in this state. " + _DANE + "senders ignore "
            "TLSA records of this domain.",
            "Optional: turn on DNSSEC signing at your DNS provider, then publish the DS record it "
            "gives you at your registrar (e.g. `{domain}. IN DS 12345 13 2 <digest>`).",
        ),
        "dnssec.bogus": (
            "The parent zone has a DS record for {domain} (so it must be signed), but its answers do "
            "not validate: validating resolvers (Google, Cloudflare, most ISPs) answer SERVFAIL, as if "
            "the domain did not work at all. Mail to and from {domain} fails for everyone using them.",
            "Compare the DS at the registrar (`dig DS {domain}`) with the keys the zone publishes "
            "(`dig DNSKEY {domain}`): publish the DS of the current key (your DNS provider shows it) "
            "or, if the zone is no longer signed, delete the DS record at the registrar. Expired "
            "signatures have the same effect: check the signer.",
        ),
        "dnssec.island": (
            "{domain} publishes DNSSEC keys (DNSKEY) but its parent has no DS record for them, so "
            "nothing can validate the signatures: the domain counts as unsigned. " + _DANE + "it is "
            "not available to this domain yet.",
            "Publish the DS record of the key-signing key at your registrar; your DNS provider shows "
            "it (e.g. `{domain}. IN DS 12345 13 2 <digest>`).",
        ),
        "dnssec.not_validating": (
            "The parent zone has a DS record for {domain}, but the resolver maildoctor used ({resolver}) "
            "did not validate the answer (no AD bit): it probably does not check DNSSEC. maildoctor "
            "cannot tell whether the signatures are valid.",
            "Run maildoctor with `--nameserver` of a validating resolver (e.g. a local Unbound).",
        ),
        "dnssec.lookup_failed": (
            "The DNSSEC lookups for {domain} failed ({why}), so maildoctor cannot tell whether it is signed.",
            "Fix the DNS resolution of {domain} first (see the dns.exists finding).",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        domain = ctx.target.domain
        soa, dnskey, ds = await asyncio.gather(ctx.dns.query(domain, "SOA"), ctx.dns.query(domain, "DNSKEY"),
                                               ctx.dns.query(domain, "DS"))
        yield self.evaluate_dnssec(domain, soa, dnskey, ds, resolver=", ".join(ctx.dns.nameservers))

    def evaluate_dnssec(self, domain: str, soa: DnsResult, dnskey: DnsResult, ds: DnsResult, *,
                        resolver: str = "") -> Finding:
        """Pure: SOA (for the AD bit), DNSKEY and DS answers -> one finding."""
        ev = {"soa": {"outcome": soa.outcome.value, "ad": soa.authenticated},
              "dnskey": {"outcome": dnskey.outcome.value, "count": len(dnskey.records), "ad": dnskey.authenticated},
              "ds": {"outcome": ds.outcome.value, "records": list(ds.records)[:8], "ad": ds.authenticated}}
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, duration_s=max(soa.elapsed_s, dnskey.elapsed_s, ds.elapsed_s), domain=domain,
                  resolver=resolver or "the resolver")
        has_ds = ds.outcome is Outcome.ANSWER
        if soa.outcome is Outcome.NXDOMAIN:
            return self.finding("dnssec.no_domain", Status.SKIP, domain, f"not tested: {domain} does not exist",
                                reason=f"{domain} does not exist", untested=True, **kw)
        if soa.outcome in (Outcome.ANSWER, Outcome.NODATA) and soa.authenticated:
            return self.finding(
                "dnssec.validated", Status.PASS, domain, f"{domain} is DNSSEC-signed and validates", **kw
            )
        if has_ds and (soa.outcome is Outcome.SERVFAIL or dnskey.outcome is Outcome.SERVFAIL):
            return self.finding("dnssec.bogus", Status.FAIL, domain,
                                f"DNSSEC of {domain} is broken: answers fail validation (SERVFAIL)", **kw)
        if soa.outcome in _FAILED or ds.outcome in _FAILED:
            bad = soa if soa.outcome in _FAILED else ds
            return self.finding("dnssec.lookup_failed", Status.ERROR, domain, f"DNSSEC status of {domain} unknown",
                                why=bad.describe(), **kw)
        if has_ds:
            return self.finding("dnssec.not_validating", Status.ERROR, domain,
                                f"{domain} has a DS record but the resolver does not validate DNSSEC", **kw)
        if dnskey.outcome is Outcome.ANSWER:
            return self.finding("dnssec.island", Status.WARN, domain,
                                f"{domain} has DNSSEC keys but no DS record in its parent", **kw)
        return self.finding("dnssec.unsigned", Status.SKIP, domain,
                            f"{domain} is not DNSSEC-signed (optional; without it DANE cannot be used)", **kw)
