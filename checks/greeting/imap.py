"""imap.greeting: every IMAP address (143, 993) greets and lists its CAPABILITY."""

from __future__ import annotations

from checks.greeting.base import GreetingCheck, common_texts
from checks.servercheck import subject
from diagnose.engine.model import Finding, Side, Status
from diagnose.net.dialogue import Dialogue, Endpoint


class ImapGreeting(GreetingCheck):
    id = "imap.greeting"
    title = "IMAP servers greet and list their capabilities"
    side = Side.INCOMING
    services = ("imap",)
    roles = ("mailbox",)
    ports = (143, 993)
    prefix, proto = "imap", "IMAP"
    texts = common_texts("imap", "IMAP")

    def passed(self, ep: Endpoint, d: Dialogue, kw: dict) -> list[Finding]:
        findings = super().passed(ep, d, kw)
        if findings[0].status is Status.PASS:
            caps = list(d.capabilities)
            notable = [c for c in caps if c in ("STARTTLS", "LOGINDISABLED") or c.startswith("AUTH=")]
            findings = [self.finding("imap.greeting", Status.PASS, subject(ep),
                                     f"greeting in {(d.greeting_delay_s or 0) * 1000:.0f} ms; "
                                     f"{len(caps)} capabilities ({' '.join(notable) or 'no STARTTLS/AUTH='})", **kw)]
        return findings
