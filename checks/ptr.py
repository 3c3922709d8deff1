"""ptr.fcrdns: every MX address has a reverse name (PTR) that resolves back to it (forward-confirmed)."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import AsyncIterator
from typing import Any

from diagnose.net import dnsfeatures  # noqa: F401 - before dnspython: see its docstring

# isort: split
import dns.reversename

from diagnose.engine.facts import MX_HOSTS, MailHost
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.knowledge.sanitize import clean
from diagnose.net.resolver import DnsResult, Outcome
from diagnose.net.tcp import endpoint

# Words ISPs put in the reverse names of dynamic/consumer addresses; receivers' spam filters
# treat such names as "not a real mail server".
_GENERIC_WORDS = re.compile(r"(^|[.\-_\d])(dyn|dynamic|dhcp|pool|dsl|adsl|xdsl|cable|ppp|pppoe|dial|dialup|"
                            r"client|customer|cust|broadband|residential|user|unassigned|static|ip)([.\-_\d]|$)", re.I)


def reverse_name(address: str) -> str:
    return dns.reversename.from_address(address).to_text(omit_final_dot=True)


def looks_generic(name: str, address: str) -> bool:
    """Pure: does the PTR name look auto-generated (embeds the address, or ISP words)?"""
    first = name.split(".")[0].lower()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 4:
        octets = address.split(".")
        forms = [
            "-".join(octets),
            ".".join(octets),
            "-".join(reversed(octets)),
            "".join(f"{int(o):03d}" for o in octets),
            ".".join(reversed(octets)),
        ]
        if any(f in name.lower() for f in forms) or sum(o in re.split(r"[.\-_]", name) for o in octets) >= 3:
            return True
    elif ip.exploded.replace(":", "")[-8:] in name.lower().replace("-", "").replace(":", ""):
        return True
    return bool(_GENERIC_WORDS.search(first))


class PtrFcrdns(Check):
    id = "ptr.fcrdns"
    title = "MX addresses have reverse DNS that points back to them"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.BOTH
    services = ("smtp",)
    needs = (MX_HOSTS,)
    texts = {
        "ptr.ok": ("", ""),
        "ptr.missing": (
            "The address {address} of {host} has no reverse DNS name (no PTR record at {rname}: {why}). "
            "Incoming mail still works, but mail SENT from this address is refused by Gmail, Outlook "
            "and most large receivers (\"550 5.7.25 ... does not have a PTR record\").",
            "Ask whoever owns the address (your hosting or cloud provider; often a \"reverse DNS\" "
            "field in their control panel) to set the PTR of {address} to {host}, so that "
            "`{rname}. IN PTR {host}.` and {host} has an A record {address}.",
        ),
        "ptr.mismatch": (
            "The address {address} of {host} has the reverse name {names}, but that name does not "
            "resolve back to {address} ({forward}). Receivers check this \"forward-confirmed reverse "
            "DNS\" and treat mail sent from an address that fails it as suspicious or refuse it.",
            "Either set the PTR of {address} to a name that has an A record {address} (usually "
            "{host}: `{rname}. IN PTR {host}.`), or add `{first}. IN A {address}` in the zone of {first}.",
        ),
        "ptr.generic": (
            "The reverse name of {address} is {names}, which looks like an automatically generated "
            "name of a dial-up or dynamic address. Spam filters score mail from such names badly.",
            "Ask the owner of the address to set its PTR to your mail server's name: `{rname}. IN PTR {host}.`.",
        ),
        "ptr.lookup_failed": (
            "The reverse lookup of {address} ({rname}) failed: {why}. Receivers that hit the same "
            "error defer or reject mail sent from this address.",
            "The reverse zone of {address} belongs to the address owner (your provider): ask them to "
            "fix the name servers for {rname}.",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        hosts: tuple[MailHost, ...] = await ctx.fact(MX_HOSTS)
        pairs = [(h.name, a) for h in hosts for a in h.addresses][:20]
        for finding in await asyncio.gather(*(self._probe(ctx, h, a) for h, a in pairs)):
            yield finding

    async def _probe(self, ctx: CheckContext, host: str, address: str) -> Finding:
        ptr = await ctx.dns.query(reverse_name(address), "PTR")
        names = [r.target.to_text(omit_final_dot=True).lower() for r in ptr.rdata][:5]
        family = "AAAA" if ":" in address else "A"
        forward = await asyncio.gather(*(ctx.dns.query(n, family) for n in names))
        return self.evaluate_ptr(host, address, ptr, dict(zip(names, forward, strict=False)))

    def evaluate_ptr(self, host: str, address: str, ptr: DnsResult, forward: dict[str, DnsResult]) -> Finding:
        """Pure: judge an address's PTR answer and the forward answers of the PTR names."""
        rname = reverse_name(address)
        names = list(forward)
        ev = {
            "address": address,
            "reverse_name": rname,
            "ptr_outcome": ptr.outcome.value,
            "ptr": [clean(n) for n in names],
            "forward": {clean(n): list(r.records) for n, r in forward.items()},
        }
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, duration_s=ptr.elapsed_s, host=host, address=address, rname=rname,
                  names=clean(", ".join(names), limit=300), first=clean(names[0] if names else "", limit=200))
        subject = endpoint(host, address, 25).rsplit(":", 1)[0]
        if ptr.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT):
            return self.finding("ptr.lookup_failed", Status.WARN, subject, f"reverse lookup of {address} failed",
                                why=ptr.describe(), **kw)
        if not names:
            return self.finding("ptr.missing", Status.WARN, subject, f"{address} has no reverse DNS (PTR) name",
                                why=ptr.describe(), **kw)
        confirmed = [n for n, r in forward.items() if _same_address(address, r.records)]
        if not confirmed:
            forward_text = "; ".join(
                f"{n} {r.describe() if r.outcome is not Outcome.ANSWER else 'has ' + ', '.join(r.records)}"
                for n, r in forward.items()
            )
            return self.finding("ptr.mismatch", Status.WARN, subject,
                                clean(f"PTR of {address} is {names[0]}, which does not resolve back to it", limit=300),
                                forward=clean(forward_text, limit=400), **kw)
        if looks_generic(confirmed[0], address):
            return self.finding("ptr.generic", Status.WARN, subject,
                                clean(f"PTR of {address} looks generic: {confirmed[0]}", limit=300), **kw)
        return self.finding("ptr.ok", Status.PASS, subject,
                            clean(f"{address} -> {confirmed[0]} -> {address} (forward-confirmed)", limit=300), **kw)


def _same_address(address: str, records: tuple[str, ...]) -> bool:
    try:
        want = ipaddress.ip_address(address)
        return any(ipaddress.ip_address(r) == want for r in records)
    except ValueError:
        return False
