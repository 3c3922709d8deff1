"""pop3.greeting: every POP3 address (110, 995) greets with +OK and answers CAPA."""

from __future__ import annotations

from checks.greeting.base import GreetingCheck, common_texts
from checks.servercheck import subject
from diagnose.engine.model import Finding, Side, Status
from diagnose.net.dialogue import Dialogue, Endpoint


class Pop3Greeting(GreetingCheck):
    id = "pop3.greeting"
    title = "POP3 servers greet and list their capabilities"
    side = Side.INCOMING
    services = ("pop3",)
    roles = ("mailbox",)
    ports = (110, 995)
    prefix, proto = "pop3", "POP3"
    texts = common_texts("pop3", "POP3")

    def passed(self, ep: Endpoint, d: Dialogue, kw: dict) -> list[Finding]:
        findings = super().passed(ep, d, kw)
        if findings[0].status is Status.PASS:
            caps = [f"{k} {v}".strip() for k, v in d.capabilities.items() if k in ("STLS", "SASL", "USER")]
            findings = [
                self.finding(
                    "pop3.greeting",
                    Status.PASS,
                    subject(ep),
                    f"+OK in {(d.greeting_delay_s or 0) * 1000:.0f} ms; CAPA: {', '.join(caps) or 'none'}",
                    **kw,
                )
            ]
        return findings
