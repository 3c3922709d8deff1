"""dns.exists: does the mail domain exist in DNS at all?"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.net.resolver import DnsResult, Outcome

if TYPE_CHECKING:
    from diagnose.net.authoritative import Delegation


class DomainExists(Check):
    id = "dns.exists"
    title = "The domain exists in DNS"
    side = Side.BOTH
    services = ("dns",)
    texts = {
        "dns.exists": ("", ""),
        "dns.nxdomain": (
            "DNS says {domain} does not exist (NXDOMAIN). No server anywhere can deliver mail to it, "
            "and mail sent from it will be rejected by receivers that check the sender's domain.",
            "Check the spelling first. If the name is right, check at your registrar that the domain "
            "is registered and not expired, and that its NS records point at the DNS provider that "
            "holds the zone (`dig NS {domain}` should list them).",
        ),
        "dns.servfail": (
            "The resolver could not get an answer for {domain} (SERVFAIL). The usual causes are name "
            "servers that do not answer or are not authoritative (a broken delegation), or a DNSSEC "
            "signature that does not validate. Other mail servers see the same error and will keep "
            "mail queued, then bounce it.",
            "Ask the authoritative servers directly (`dig @NS {domain} SOA` for each name server of the "
            "domain). If they answer but `dig {domain} SOA` fails, test `dig +cd {domain} SOA`: if that "
            "works, DNSSEC is broken (a stale DS record at the registrar, or expired signatures).",
        ),
        "dns.lame_delegation": (
            "The parent zone ({parent}) delegates {domain} to name servers that do not answer for it: "
            "{servers}. Resolvers therefore get no answer (SERVFAIL or a timeout), so to the rest of "
            "the internet the domain does not work: mail to it is queued and then bounced.",
            "At the registrar, set the NS records of {domain} to the name servers that really hold its "
            "zone (your DNS provider lists them), or make the listed servers serve the zone. Check "
            "each with `dig @SERVER {domain} SOA`: the answer must carry the `aa` flag.",
        ),
        "dns.timeout": (
            "No answer about {domain} came back within {timeout:g} s although the resolver itself "
            "answers. The domain's name servers are probably down or unreachable.",
            "Check that the name servers listed in `dig NS {domain}` are up and answer on UDP and TCP "
            "port 53; raise --timeout if your network is slow.",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        domain = ctx.target.domain
        result = await ctx.dns.query(domain, "SOA")
        found = None
        if result.outcome in (Outcome.TIMEOUT, Outcome.SERVFAIL):
            # who is at fault: ask the servers the parent delegates to, directly (dnspython's query
            # module, imported only here: a healthy run does without it)
            from diagnose.net.authoritative import delegation

            found = await delegation(ctx.dns, domain, ctx.timeouts.dns_attempt)
        yield self.evaluate(domain, result, timeout=ctx.timeouts.dns_total, delegation=found)

    def evaluate(self, domain: str, result: DnsResult, *, timeout: float,
                 delegation: Delegation | None = None) -> Finding:
        """Pure: classify the SOA answer for the domain (and, after a failure, what its name servers said)."""
        evidence: dict[str, Any] = {"query": f"{domain} SOA", "outcome": result.outcome.value,
                                    "records": list(result.records)}
        if delegation is not None:
            evidence["delegation"] = delegation.to_evidence()
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=evidence, duration_s=result.elapsed_s, domain=domain, timeout=timeout)
        if delegation is not None and delegation.lame:
            servers = "; ".join(s.describe() for s in delegation.servers)
            return self.finding("dns.lame_delegation", Status.FAIL, domain,
                                f"no name server of {domain} answers for it: {servers}", parent=delegation.parent,
                                servers=servers, **kw)
        if result.outcome in (Outcome.ANSWER, Outcome.NODATA):
            how = "is a DNS zone" if result.outcome is Outcome.ANSWER else "exists (inside its parent's zone)"
            return self.finding("dns.exists", Status.PASS, domain, f"{domain} {how}", **kw)
        if result.outcome is Outcome.NXDOMAIN:
            return self.finding("dns.nxdomain", Status.FAIL, domain, f"{domain} does not exist in DNS (NXDOMAIN)", **kw)
        if result.outcome is Outcome.TIMEOUT:
            return self.finding(
                "dns.timeout", Status.FAIL, domain, f"no DNS answer for {domain} within {timeout:g} s", **kw
            )
        evidence["detail"] = result.detail
        return self.finding(
            "dns.servfail", Status.FAIL, domain, f"DNS lookups for {domain} fail ({result.describe()})", **kw
        )
