"""mx.records: where other servers deliver this domain's mail (MX records and their addresses)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from diagnose.engine.facts import MX_HOSTS, MailHost
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.net.resolver import DnsResult, Outcome


@dataclass(frozen=True)
class MxTarget:
    """One MX record: preference and target name."""

    preference: int
    name: str  # lower case, no trailing dot; "" for the null MX "."


def parse_mx(result: DnsResult) -> list[MxTarget]:
    """Pure: MX answer -> targets sorted by preference."""
    targets = [
        MxTarget(int(r.preference), r.exchange.to_text(omit_final_dot=True).lower().rstrip("."))
        for r in result.rdata
    ]
    return sorted(targets, key=lambda t: (t.preference, t.name))


def looks_like_ip(name: str) -> bool:
    """An MX target written as an address (RFC 7505 §4 forbids it; senders look it up as a name)."""
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False


class MxRecords(Check):
    id = "mx.records"
    title = "MX records point at servers that have addresses"
    side = Side.INCOMING
    services = ("smtp",)
    provides = (MX_HOSTS,)
    texts = {
        "mx.records": ("", ""),
        "mx.skipped": ("", ""),
        "mx.target": ("", ""),
        "mx.null": (
            "{domain} publishes a \"null MX\" (MX 0 .), the standard way to say that this domain "
            "accepts no mail at all (RFC 7505). Every message sent to it bounces immediately.",
            "If this domain should receive mail, replace the null MX with MX records for your mail "
            "servers, e.g. `{domain}. 3600 IN MX 10 mx1.{domain}.`. If it should not, nothing to do.",
        ),
        "mx.null_mixed": (
            "{domain} has a null MX (MX 0 .) together with other MX records. RFC 7505 says a null MX "
            "must be the only MX record; senders may treat the domain as accepting no mail.",
            "Remove the `MX 0 .` record if the domain receives mail, or remove the other MX records if not.",
        ),
        "mx.implicit": (
            "{domain} has no MX record, so senders fall back to its address record (the \"implicit "
            "MX\" rule of RFC 5321 §5.1) and deliver to {addresses}. This works, but is fragile: many "
            "operators treat a missing MX as a sign of a domain that does not receive mail.",
            "Publish an explicit MX record, e.g. `{domain}. 3600 IN MX 10 mail.{domain}.` with an A "
            "record for mail.{domain}.",
        ),
        "mx.none": (
            "{domain} has no MX record and no address record, so no server can deliver mail to it.",
            "Publish MX records for the servers that receive mail for {domain}, e.g. "
            "`{domain}. 3600 IN MX 10 mx1.{domain}.`, each with A (and AAAA) records.",
        ),
        "mx.lookup_failed": (
            "The MX lookup for {domain} failed: {why}. Senders that cannot look up the MX keep mail "
            "queued and eventually bounce it.",
            "Fix the DNS resolution of {domain} first (see the dns.exists finding).",
        ),
        "mx.cname": (
            "The MX target {name} is an alias (CNAME) for {canonical}. RFC 2181 §10.3 forbids MX "
            "targets that are aliases; most senders follow it anyway, but some refuse or log errors.",
            "Point the MX record straight at the canonical name: `MX {preference} {canonical}.`.",
        ),
        "mx.ip_literal": (
            "The MX target {name} is written as an IP address. An MX record must name a host; senders "
            "look \"{name}\" up as a name, find nothing, and cannot deliver to it. {impact}",
            "Create a host name with an A record for the address, e.g. `mx1.{domain}. IN A {name}`, and "
            "point the MX at it: `MX {preference} mx1.{domain}.`.",
        ),
        "mx.target_nxdomain": (
            "The MX record points at {name}, but that name does not exist in DNS (a dangling MX). "
            "{impact}",
            "Create A/AAAA records for {name}, or change the MX record to the right mail server name.",
        ),
        "mx.target_noaddress": (
            "The MX target {name} exists but has no A or AAAA record, so senders have no address to "
            "connect to. {impact}",
            "Add an A record (and AAAA for IPv6) for {name} with the mail server's address.",
        ),
        "mx.cname_loop": (
            "The MX target {name} is an alias (CNAME) whose chain of aliases leads back to itself: "
            "{chain}. Resolvers give up on it, so no sender finds an address for it. {impact}",
            "Replace the CNAME records in the chain with the mail server's A (and AAAA) record, and point "
            "the MX record straight at that host name.",
        ),
        "mx.target_lookup_failed": (
            "The address lookup for MX target {name} failed ({why}). Senders hit the same error. {impact}",
            "Check the DNS servers of the zone that holds {name}; `dig A {name}` should answer.",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        domain = ctx.target.domain
        mx = await ctx.dns.query(domain, "MX")
        ev = {"query": f"{domain} MX", "outcome": mx.outcome.value, "records": list(mx.records)}
        if mx.outcome is Outcome.NXDOMAIN:
            yield self.finding("mx.skipped", Status.SKIP, domain, f"not tested: {domain} does not exist", evidence=ev,
                               reason=f"{domain} does not exist")
            ctx.withhold(MX_HOSTS, f"{domain} does not exist")
            return
        if mx.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT):
            yield self.finding("mx.lookup_failed", Status.FAIL, domain, f"MX lookup for {domain} failed",
                               evidence=ev, duration_s=mx.elapsed_s, domain=domain, why=mx.describe())
            ctx.withhold(MX_HOSTS, "the MX lookup failed")
            return
        if mx.outcome is Outcome.NODATA:
            async for finding in self._implicit(ctx, domain):
                yield finding
            return
        targets = parse_mx(mx)
        ev["mx"] = [{"preference": t.preference, "exchange": t.name or "."} for t in targets]
        if any(t.name == "" for t in targets):
            code = "mx.null" if len(targets) == 1 else "mx.null_mixed"
            summary = (f"{domain} accepts no mail (null MX)" if code == "mx.null"
                       else f"{domain} mixes a null MX with other MX records")
            yield self.finding(code, Status.FAIL, domain, summary, evidence=ev, duration_s=mx.elapsed_s, domain=domain)
            ctx.withhold(MX_HOSTS, f"{domain} publishes a null MX: it accepts no mail")
            return
        listing = ", ".join(f"{t.preference} {t.name}" for t in targets)
        yield self.finding("mx.records", Status.PASS, domain,
                           f"{len(targets)} MX record{'s' if len(targets) > 1 else ''}: {listing}",
                           evidence=ev, duration_s=mx.elapsed_s)
        lookups = await asyncio.gather(*(self._addresses(ctx, t.name) for t in targets))
        pairs = list(zip(targets, lookups, strict=True))
        hosts = [MailHost(t.name, addrs, t.preference) for t, (_a, _aaaa, addrs) in pairs if addrs]
        for target, (a, aaaa, _addrs) in zip(targets, lookups, strict=False):
            chain: tuple[str, ...] = ()
            if not _addrs and {a.outcome, aaaa.outcome} & {Outcome.SERVFAIL, Outcome.TIMEOUT}:
                chain = await self._cname_chain(ctx, target.name)  # a loop is said as one
            yield self.evaluate_target(target, a, aaaa, domain=domain, others_usable=any(
                h.name != target.name for h in hosts), cname_chain=chain)
        if hosts:
            ctx.publish(MX_HOSTS, tuple(hosts))
        else:
            ctx.withhold(MX_HOSTS, "no MX host has an address")

    async def _implicit(self, ctx: CheckContext, domain: str) -> AsyncIterator[Finding]:
        a, aaaa, addrs = await self._addresses(ctx, domain)
        ev = {"query": f"{domain} MX", "outcome": "nodata", "A": list(a.records), "AAAA": list(aaaa.records)}
        if addrs:
            yield self.finding(
                "mx.implicit",
                Status.WARN,
                domain,
                f"{domain} has no MX record; mail goes to its A/AAAA address",
                evidence=ev,
                domain=domain,
                addresses=", ".join(addrs),
            )
            ctx.publish(MX_HOSTS, (MailHost(domain, addrs, None, implicit=True),))
        else:
            yield self.finding("mx.none", Status.FAIL, domain, f"{domain} has no MX and no address record",
                               evidence=ev, domain=domain)
            ctx.withhold(MX_HOSTS, f"{domain} has no MX and no address")

    @staticmethod
    async def _addresses(ctx: CheckContext, name: str) -> tuple[DnsResult, DnsResult, tuple[str, ...]]:
        a, aaaa = await asyncio.gather(ctx.dns.query(name, "A"), ctx.dns.query(name, "AAAA"))
        return a, aaaa, a.records + aaaa.records

    @staticmethod
    async def _cname_chain(ctx: CheckContext, name: str) -> tuple[str, ...]:
        """The aliases from ``name`` on, one CNAME lookup a step, until a name repeats or the chain ends
        (at most MAX_CNAME_STEPS lookups)."""
        chain = [name.lower().rstrip(".")]
        for _ in range(MAX_CNAME_STEPS):
            result = await ctx.dns.query(chain[-1], "CNAME")
            if result.outcome is not Outcome.ANSWER or not result.records:
                break
            chain.append(result.records[0].lower().rstrip("."))
            if chain[-1] in chain[:-1]:
                break
        return tuple(chain)

    def evaluate_target(self, target: MxTarget, a: DnsResult, aaaa: DnsResult, *, domain: str,
                        others_usable: bool, cname_chain: tuple[str, ...] = ()) -> Finding:
        """Pure: judge one MX target from its A and AAAA answers."""
        name = target.name
        addrs = a.records + aaaa.records
        ev = {"exchange": name, "preference": target.preference, "A": list(a.records), "AAAA": list(aaaa.records),
              "A_outcome": a.outcome.value, "AAAA_outcome": aaaa.outcome.value}
        subject = f"MX {target.preference} {name}"
        bad_status = Status.WARN if others_usable else Status.FAIL
        impact = ("Mail still arrives through the other MX hosts, but senders waste time on this one."
                  if others_usable else f"No other MX host works, so mail to {domain} cannot be delivered.")
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, duration_s=max(a.elapsed_s, aaaa.elapsed_s), host=name, name=name, domain=domain,
                  preference=target.preference, impact=impact)
        if looks_like_ip(name):
            return self.finding(
                "mx.ip_literal", bad_status, subject, f"MX target {name} is an IP address, not a host name", **kw
            )
        outcomes = {a.outcome, aaaa.outcome}
        if not addrs:
            if outcomes == {Outcome.NXDOMAIN}:
                return self.finding("mx.target_nxdomain", bad_status, subject, f"MX target {name} does not exist", **kw)
            failed = [r for r in (a, aaaa) if r.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT)]
            if failed and len(cname_chain) > 1 and cname_chain[-1] in cname_chain[:-1]:
                ev["cname_chain"] = list(cname_chain)
                return self.finding("mx.cname_loop", bad_status, subject,
                                    f"MX target {name} is a CNAME loop: {' → '.join(cname_chain)}",
                                    chain=" → ".join(cname_chain), **kw)
            if failed:
                return self.finding("mx.target_lookup_failed", bad_status, subject,
                                    f"address lookup for MX target {name} failed", why=failed[0].describe(), **kw)
            return self.finding(
                "mx.target_noaddress", bad_status, subject, f"MX target {name} has no A or AAAA record", **kw
            )
        canonical = a.canonical_name if a.is_alias else aaaa.canonical_name if aaaa.is_alias else ""
        if canonical:
            ev["cname"] = canonical
            return self.finding("mx.cname", Status.WARN, subject, f"MX target {name} is a CNAME for {canonical}",
                                canonical=canonical, **kw)
        return self.finding("mx.target", Status.PASS, subject, f"{name} has {_count(addrs)}: {', '.join(addrs)}", **kw)


MAX_CNAME_STEPS = 8


def _count(addrs: tuple[str, ...]) -> str:
    return f"{len(addrs)} address{'es' if len(addrs) != 1 else ''}"
