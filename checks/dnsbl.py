"""dnsbl.listing: are the MX addresses listed on DNS blocklists? Only queried when the user asks (--dnsbl).

Public blocklists refuse or mis-answer queries that arrive through big public resolvers (Spamhaus
answers 127.255.255.254 for queries from Google/Cloudflare DNS and from unregistered high-volume
users), so a default run would show wrong results; maildoctor asks them only with --dnsbl.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass

from diagnose.engine.facts import MX_HOSTS, MailHost
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.knowledge.sanitize import clean
from diagnose.net.resolver import DnsResult, Outcome, txt_strings

DEFAULT_KEYWORD = "default"
PUBLIC_DNSBLS = ("zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org", "psbl.surriel.com")
MAX_QUERIES = 80


def dnsbl_name(address: str, zone: str) -> str:
    """RFC 5782 §2.1/2.4: reversed octets (IPv4) or nibbles (IPv6) under the list's zone."""
    ip = ipaddress.ip_address(address)
    labels = reversed(ip.exploded.split(".")) if ip.version == 4 else reversed(ip.exploded.replace(":", ""))
    return ".".join(labels) + "." + zone


def zones_from_options(zones: tuple[str, ...]) -> list[str]:
    out: dict[str, None] = {}
    for z in zones:
        for name in (PUBLIC_DNSBLS if z.lower() == DEFAULT_KEYWORD else (z.lower().rstrip("."),)):
            out[name] = None
    return list(out)


@dataclass(frozen=True, eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class Verdict:
    """What one blocklist says of an address: listed, clean or broken."""

    state: str  # "listed", "clean", "broken"
    detail: str = ""


def classify(answer: DnsResult) -> Verdict:
    """Pure: one DNSBL A answer -> listed / clean / broken (never clean on a failure)."""
    if answer.outcome is Outcome.NXDOMAIN:
        return Verdict("clean")
    if answer.outcome is Outcome.NODATA:
        return Verdict("clean", "name exists without an A record")
    if answer.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT):
        return Verdict("broken", answer.describe())
    codes = list(answer.records)
    if any(c.startswith("127.255.255.") for c in codes):
        # Spamhaus-style error codes: 252 typo in the zone, 254 public/open resolver, 255 excessive use
        return Verdict("broken", f"the list refused the query (answer {', '.join(codes)})")
    if not all(_in_loopback(c) for c in codes):
        return Verdict("broken", f"answer {', '.join(codes)} is not a 127.x listing code (the resolver may "
                                 "rewrite missing names to an ad server)")
    return Verdict("listed", ", ".join(codes))


def _in_loopback(text: str) -> bool:
    try:
        return ipaddress.ip_address(text) in ipaddress.ip_network("127.0.0.0/8")
    except ValueError:
        return False


class Dnsbl(Check):
    id = "dnsbl.listing"
    title = "MX addresses are not on DNS blocklists"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.BOTH
    services = ("smtp",)
    needs = (MX_HOSTS,)
    texts = {
        "dnsbl.clean": ("", ""),
        "dnsbl.not_requested": (
            "Blocklist lookups were not made. Public blocklists such as Spamhaus refuse queries that "
            "come through big public resolvers (8.8.8.8, 1.1.1.1, most ISP resolvers) and answer "
            "them with error codes, so maildoctor only asks them when you request it.",
            "Run with `--dnsbl default` (the lists {lists}) from a machine with its own resolver, "
            "or `--dnsbl ZONE` for a list you have access to (repeatable).",
        ),
        "dnsbl.listed": (
            "{address} ({host}) is listed on the blocklist {zone} (code {codes}). Receivers that use "
            "this list refuse or spam-folder mail sent from this address. The list says: {listing_reason}",
            "Find out why (a compromised account or an open relay sending spam, a misconfigured "
            "server), fix that first, then request removal on the list's web site (look up {address} "
            "there). Until then, send through another server.",
        ),
        "dnsbl.broken": (
            "The blocklist {zone} did not give a usable answer ({detail}), so maildoctor cannot tell "
            "whether the addresses are listed there. This is not a pass.",
            "Check the zone name; if it is a public list, query it through your own resolver rather "
            "than a public one, or register for its data feed.",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        zones = zones_from_options(ctx.options.dnsbl_zones)
        if not zones:
            yield self.finding("dnsbl.not_requested", Status.SKIP, ctx.target.domain,
                               "not tested: blocklists are only queried with --dnsbl (see why)",
                               lists=", ".join(PUBLIC_DNSBLS),
                               reason="blocklists are only queried with --dnsbl (see why)", untested=True)
            return
        hosts: tuple[MailHost, ...] = await ctx.fact(MX_HOSTS)
        pairs = [(h.name, a) for h in hosts for a in h.addresses][: max(1, MAX_QUERIES // len(zones))]
        # RFC 5782 §5: every list must list 127.0.0.2 (its test entry); a list that does not is not
        # answering properly, and its "not listed" answers mean nothing.
        probes = {z: dnsbl_name("127.0.0.2", z) for z in zones}
        names = list(probes.values()) + [dnsbl_name(a, z) for _h, a in pairs for z in zones]
        answers = dict(zip(names, await asyncio.gather(*(ctx.dns.query(n, "A") for n in names)), strict=False))
        listed = [n for n in names[len(zones):] if classify(answers[n]).state == "listed"]
        reasons = dict(zip(listed, await asyncio.gather(*(ctx.dns.query(n, "TXT") for n in listed)), strict=False))
        for finding in self.evaluate_dnsbl(pairs, zones, answers, reasons):
            yield finding

    def evaluate_dnsbl(self, pairs: list[tuple[str, str]], zones: list[str], answers: dict[str, DnsResult],
                       reasons: dict[str, DnsResult]) -> list[Finding]:
        """Pure: findings from the DNSBL answers (keyed by query name) and TXT reasons of listings."""
        out: list[Finding] = []
        broken: dict[str, str] = {}
        for zone in zones:
            test = classify(answers[dnsbl_name("127.0.0.2", zone)])
            if test.state != "listed":
                broken[zone] = test.detail if test.state == "broken" else "its test entry 127.0.0.2 is not listed"
                out.append(
                    self.finding(
                        "dnsbl.broken",
                        Status.ERROR,
                        zone,
                        f"blocklist {zone} is not usable: {broken[zone]}",
                        evidence={"zone": zone, "test_query": dnsbl_name("127.0.0.2", zone)},
                        zone=zone,
                        detail=clean(broken[zone], limit=200),
                    )
                )
        for host, address in pairs:
            subject = f"{host} [{address}]"
            ev: dict = {"address": address, "lists": {}}
            clean_on, listed_on, errored = [], [], []
            for zone in zones:
                name = dnsbl_name(address, zone)
                verdict = classify(answers[name])
                ev["lists"][zone] = {"query": name, "outcome": answers[name].outcome.value,
                                     "records": list(answers[name].records), "verdict": verdict.state}
                if zone in broken:
                    continue
                if verdict.state == "listed":
                    reason = " ".join(txt_strings(reasons[name])) if name in reasons else ""
                    listed_on.append(zone)
                    out.append(
                        self.finding(
                            "dnsbl.listed",
                            Status.FAIL,
                            subject,
                            f"{address} is listed on {zone}",
                            evidence=ev,
                            host=host,
                            address=address,
                            zone=zone,
                            codes=verdict.detail,
                            listing_reason=clean(reason, limit=300, keep_newlines=False) or "(no reason given)",
                        )
                    )
                elif verdict.state == "broken":
                    errored.append(zone)
                    out.append(
                        self.finding(
                            "dnsbl.broken",
                            Status.ERROR,
                            subject,
                            f"blocklist {zone} did not answer for {address}",
                            evidence=ev,
                            host=host,
                            zone=zone,
                            detail=clean(verdict.detail, limit=200),
                        )
                    )
                else:
                    clean_on.append(zone)
            if clean_on and not listed_on and not errored:
                out.append(self.finding("dnsbl.clean", Status.PASS, subject,
                                        f"{address} is not listed on {', '.join(clean_on)}", evidence=ev, host=host))
        return out
