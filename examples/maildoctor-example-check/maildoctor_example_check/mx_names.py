"""example.mx_names: every MX target is a host name with its own address records.

RFC 5321 §5.1 and RFC 2181 §10.3: the exchange of an MX record must be a domain name that has A or
AAAA records itself, not an IP address written as a name and not an alias (CNAME). Many senders
tolerate an alias; an IP literal never works, because it is looked up as a name and does not exist.

Uses only the public plugin API: ``diagnose.engine.plugin`` and ``diagnose.engine.model``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext

# outcomes of ctx.dns.query(...).outcome (a str enum): compare with plain strings
ANSWER, NXDOMAIN, NODATA = "answer", "nxdomain", "nodata"


class MxNames(Check):
    # id, title and side as plain literals: `maildoctor checks` reads them without importing the module
    id = "example.mx_names"
    title = "MX targets are host names, not IP literals or aliases"
    side = Side.INCOMING
    services = ("smtp",)  # the service the check is about (incoming mail over SMTP)
    needs = ()  # facts awaited from other checks (e.g. "mx.hosts"); this one asks DNS itself
    provides = ()  # facts it would publish with ctx.publish(name, value)
    # one entry per finding code: (explanation, remedy), formatted with the keywords given to finding()
    texts = {
        "example.mx_names.ok": ("", ""),
        "example.mx_names.none": ("", ""),
        "example.mx_names.ip_literal": (
            "The MX record of {domain} names {target}, an IP address written as a host name. Senders look "
            "it up as a name, which does not exist, so they cannot deliver to it (RFC 5321 §5.1).",
            "Give the server a host name with an A record (e.g. `mx.{domain}. IN A {address}`) and point "
            "the MX at that name: `{domain}. IN MX 10 mx.{domain}.`",
        ),
        "example.mx_names.cname": (
            "The MX target {target} of {domain} is an alias (CNAME to {canonical}). RFC 2181 §10.3 forbids "
            "this; most senders follow the alias, but some refuse or mis-handle it.",
            "Point the MX record at the canonical name instead: `{domain}. IN MX {preference} {canonical}.`",
        ),
        "example.mx_names.lookup_failed": (
            "Looking up {name} failed ({why}), so maildoctor could not judge the MX host names of {domain}.",
            "Make sure the name servers of {domain} answer; then run the check again.",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        domain = ctx.target.domain
        mx = await ctx.dns.query(domain, "MX")  # answers are cached per run: mx.records asks the same
        if mx.outcome not in (ANSWER, NXDOMAIN, NODATA):
            yield self._failed(domain, domain, "MX", mx)
            return
        targets = [_parse_mx(text) for text in mx.records]
        targets = [(pref, name) for pref, name in targets if name not in ("", ".")]
        if not targets:
            yield self.finding("example.mx_names.none", Status.SKIP, domain,
                               f"{domain} has no MX host names to judge (no MX, or a null MX)", domain=domain)
            return
        for preference, target in targets:
            yield await self._judge(ctx, domain, preference, target)

    async def _judge(self, ctx: CheckContext, domain: str, preference: int, target: str) -> Finding:
        subject = f"MX {preference} {target}"
        facts = dict(domain=domain, target=target, preference=preference, host=target)
        if _ip(target):
            return self.finding("example.mx_names.ip_literal", Status.FAIL, subject,
                                f"MX target {target} is an IP address written as a name",
                                address=_ip(target), evidence={"mx": f"{preference} {target}."}, **facts)
        alias = await ctx.dns.query(target, "CNAME")
        evidence = {"mx": f"{preference} {target}.", "cname": list(alias.records)}
        if alias.outcome == ANSWER:
            canonical = alias.records[0].rstrip(".") if alias.records else "?"
            return self.finding("example.mx_names.cname", Status.WARN, subject,
                                f"MX target {target} is an alias (CNAME to {canonical})",
                                canonical=canonical, evidence=evidence, duration_s=alias.elapsed_s, **facts)
        if alias.outcome not in (NXDOMAIN, NODATA):
            return self._failed(domain, target, "CNAME", alias, host=target)
        return self.finding("example.mx_names.ok", Status.PASS, subject, f"MX target {target} is a host name",
                            evidence=evidence, duration_s=alias.elapsed_s, **facts)

    def _failed(self, domain: str, name: str, rdtype: str, result, *, host: str = "") -> Finding:
        return self.finding("example.mx_names.lookup_failed", Status.ERROR, name,
                            f"{name} {rdtype} lookup failed: {result.describe()}", host=host,
                            evidence={"query": f"{name} {rdtype}", "outcome": str(result.outcome.value)},
                            domain=domain, name=name, why=result.describe())


def _parse_mx(text: str) -> tuple[int, str]:
    """``"10 mx.example.com."`` -> (10, "mx.example.com"); the null MX gives (0, ".")."""
    preference, _, exchange = text.strip().partition(" ")
    exchange = exchange.strip().lower()
    return (int(preference) if preference.isdigit() else 0), (exchange.rstrip(".") or exchange)


def _ip(name: str) -> str:
    """The address when ``name`` is an IPv4/IPv6 address (or ``[address]``), else ""."""
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return ""
