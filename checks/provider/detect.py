"""provider.detect: which known provider hosts, filters or sends the domain's mail, and from which records."""

from __future__ import annotations

from collections.abc import AsyncIterator

from checks.provider.signals import PROVIDER_FACT, Hosting, gather
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.knowledge.providers import Match, installed
from diagnose.knowledge.sanitize import clean

SIGNAL_WORDS = {"mx": "MX", "spf": "SPF include", "dkim": "DKIM CNAME", "autodiscover": "autodiscover",
                "autoconfig": "autoconfig"}


def describe(match: Match) -> str:
    """``Google Workspace (MX, SPF include)``."""
    return f"{match.provider.name} ({', '.join(SIGNAL_WORDS[s] for s in dict.fromkeys(s for s, _ in match.via))})"


class ProviderDetect(Check):
    id = "provider.detect"
    title = "The mail provider is recognised"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.BOTH
    services = ("dns",)
    provides = (PROVIDER_FACT,)
    texts = {
        "provider.found": ("", ""),
        "provider.unknown": ("", ""),
        "provider.lookup_failed": (
            "Some of the lookups that tell who runs the mail of {domain} failed ({failed}), so the provider "
            "picture may be incomplete.",
            "Make sure the name servers of {domain} answer these names; then run maildoctor again.",
        ),
        "provider.data_invalid": (
            "Provider data installed next to maildoctor could not be used: {problems}.",
            "Fix or remove the package that ships it (entry-point group maildoctor.providers).",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        catalogue = installed()
        hosting = await gather(ctx, catalogue)
        ctx.publish(PROVIDER_FACT, hosting)
        for finding in self.evaluate(ctx.target.domain, hosting):
            yield finding

    def evaluate(self, domain: str, hosting: Hosting) -> list[Finding]:
        """Pure: one finding naming the providers, and the reasons the picture may be incomplete."""
        s = hosting.signals
        ev = {"mx": list(s.mx), "spf": s.spf_record and clean(s.spf_record, limit=500),
              "spf_includes": list(s.spf_includes), "dkim_cnames": dict(s.dkim_cnames), "dkim_keys": list(s.dkim_keys),
              "autodiscover": s.autodiscover, "autodiscover_srv": s.autodiscover_srv, "autoconfig": s.autoconfig,
              "providers": [{"id": m.provider.id, "name": m.provider.name, "kind": m.provider.kind,
                             "via": [{"signal": a, "value": b} for a, b in m.via],
                             "sources": list(m.provider.sources)} for m in hosting.matches]}
        out = []
        if hosting.matches:
            out.append(self.finding("provider.found", Status.PASS, domain,
                                    "mail provider: " + "; ".join(describe(m) for m in hosting.matches),
                                    evidence=ev, domain=domain))
        else:
            out.append(self.finding("provider.unknown", Status.SKIP, domain,
                                    "no known mail provider recognised (self-hosted, or a provider maildoctor "
                                    "does not know)", evidence=ev, domain=domain))
        if hosting.failed:
            out.append(self.finding("provider.lookup_failed", Status.WARN, domain,
                                    f"{len(hosting.failed)} provider lookup(s) failed", evidence={"failed":
                                    list(hosting.failed)}, domain=domain, failed=", ".join(hosting.failed[:5])))
        if hosting.problems:
            out.append(self.finding("provider.data_invalid", Status.WARN, domain, "installed provider data is broken",
                                    evidence={"problems": list(hosting.problems)},
                                    problems=clean("; ".join(hosting.problems), limit=600)))
        return out
