"""smtp.greeting: every MX (25) and submission (587, 465) address greets with 220 and answers EHLO."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from checks.greeting.base import GreetingCheck, common_texts
from checks.servercheck import subject
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import CheckContext
from diagnose.net.dialogue import Dialogue, Endpoint
from diagnose.net.probes import probes
from diagnose.net.tcp import ConnectOutcome

KEY_EXTENSIONS = ("STARTTLS", "AUTH", "SIZE", "PIPELINING", "8BITMIME", "SMTPUTF8", "CHUNKING", "ENHANCEDSTATUSCODES")
_FQDN = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}\.?$", re.I)


def banner_name(greeting: str) -> str:
    """The host name a 220 greeting announces (its first word), RFC 5321 §4.3.1."""
    return greeting.split(" ", 1)[0].strip() if greeting else ""


class SmtpGreeting(GreetingCheck):
    id = "smtp.greeting"
    title = "SMTP servers greet, answer EHLO and list their extensions"
    side = Side.BOTH
    services = ("smtp", "submission")
    roles = ("mx", "submission")
    prefix, proto = "smtp", "SMTP"
    texts = {
        **common_texts("smtp", "SMTP"),
        "smtp.banner_name": (
            "{host} introduces itself in its greeting as \"{banner}\", which is not a full host name. "
            "That usually means the server still has a default or local host name; spam filters "
            "and people reading logs and bounces see that name.",
            "Set the server's public name, e.g. in Postfix `myhostname = {host}` (main.cf).",
        ),
        "smtp.port25_blocked_here": (
            "Port 25 timed out on every MX address ({count}), while other mail ports connected. "
            "That pattern usually means this network blocks outgoing port 25 (common on home "
            "connections and cloud servers), not that the MX hosts are down. "
            "Port 25 could not be tested from here.",
            "Run maildoctor from a server that can send mail on port 25 (or ask your provider to "
            "unblock it); `nc -vz {host} 25` from there should connect.",
        ),
    }

    def passed(self, ep: Endpoint, d: Dialogue, kw: dict) -> list[Finding]:
        findings = super().passed(ep, d, kw)
        ext = d.capabilities
        shown = [f"{k} {ext[k]}".strip() for k in KEY_EXTENSIONS if k in ext]
        delay_ms = (d.greeting_delay_s or 0) * 1000
        if findings[0].status is Status.PASS:
            findings = [self.finding("smtp.greeting", Status.PASS, subject(ep),
                                     f"220 in {delay_ms:.0f} ms; EHLO: {', '.join(shown) or 'no extensions'}", **kw)]
        name = banner_name(d.greeting)
        if name and not _FQDN.match(name) and not name.startswith("["):
            findings.append(self.finding("smtp.banner_name", Status.WARN, subject(ep),
                                         f"the greeting names \"{name}\", not a full host name", banner=name, **kw))
        return findings

    async def summarize(self, ctx: CheckContext, eps: list[Endpoint]) -> AsyncIterator[Finding]:
        async for finding in super().summarize(ctx, eps):
            yield finding
        cache = probes(ctx)
        mx = [await cache.dialogue(ep) for ep in eps if ep.role == "mx"]
        others = [await cache.dialogue(ep) for ep in eps if ep.role != "mx"]
        if mx and all(d.connect is ConnectOutcome.TIMEOUT for d in mx) and any(d.connected for d in others):
            f = self.finding("smtp.port25_blocked_here", Status.ERROR, ctx.target.domain,
                             "port 25 times out everywhere while other ports work: probably blocked on this network",
                             evidence={"mx_addresses": [d.endpoint.address for d in mx]},
                             count=len(mx), host=mx[0].endpoint.host)
            yield self.with_side(f, "mx")
