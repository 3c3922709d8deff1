"""auth.offered: login is offered only under TLS (587/143/110 before STARTTLS is a warning), and a
submission port offers AUTH at all (without it nobody can send)."""

from __future__ import annotations

from typing import Any

from checks.servercheck import ServerCheck, not_reached, subject
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import CheckContext
from diagnose.net.dialogue import Dialogue, Endpoint


def login_offered(protocol: str, caps: dict[str, str]) -> list[str]:
    """The ways to log in a capability list advertises (empty: none)."""
    if protocol == "smtp":
        return [f"AUTH {caps['AUTH']}".strip()] if "AUTH" in caps else []
    if protocol == "imap":
        ways = [c for c in caps if c.startswith("AUTH=")]
        return ways + ([] if "LOGINDISABLED" in caps else ["LOGIN"])
    ways = ["USER"] if "USER" in caps else []
    return ways + ([f"SASL {caps['SASL']}"] if caps.get("SASL", "").strip() else [])  # "SASL" alone: no mechanism


class AuthOffered(ServerCheck):
    id = "auth.offered"
    title = "Login is offered, and only over TLS"
    side = Side.BOTH
    services = ("submission", "imap", "pop3")
    roles = ("submission", "mailbox")
    texts = {
        "auth.ok": ("", ""),
        "auth.before_tls": (
            "{host} offers login ({ways}) on port {port} before the connection is encrypted. A mail "
            "program that does not insist on STARTTLS (or is tricked out of it by an attacker who "
            "removes the STARTTLS line) sends the password in clear text.",
            "Offer login only after STARTTLS: Postfix `smtpd_tls_auth_only = yes`; Dovecot "
            "`disable_plaintext_auth = yes` (2.3) / `auth_allow_cleartext = no` (2.4). Better still, "
            "have users connect to the implicit-TLS ports (465, 993, 995).",
        ),
        "auth.missing": (
            "{host} does not offer AUTH on submission port {port}, even over TLS. Mail programs "
            "must log in to send, so sending through this port fails for everybody.",
            "Enable SMTP authentication for the submission service, e.g. in Postfix master.cf for "
            "`submission`/`submissions`: `-o smtpd_sasl_auth_enable=yes` with `smtpd_sasl_type = dovecot` "
            "and `smtpd_sasl_path = private/auth`; check with `swaks --tls -s {host}:{port} --auth-user you@...`.",
        ),
    }

    async def judge(self, ctx: CheckContext, ep: Endpoint, d: Dialogue) -> list[Finding]:
        if ep.port == 25:
            return []
        why = not_reached(d)
        if why:
            return [self.skip(ep, why)]
        return self.evaluate(ep, d)

    def evaluate(self, ep: Endpoint, d: Dialogue) -> list[Finding]:
        """Pure: judge the capability lists before and after TLS."""
        before = [] if ep.implicit_tls else login_offered(ep.protocol, d.capabilities)
        secured = d.capabilities if ep.implicit_tls else d.capabilities_tls
        after = login_offered(ep.protocol, secured) if d.tls is not None else []
        ev = {"before_tls": before, "after_tls": after, "transcript": d.transcript}
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, duration_s=d.elapsed_s, host=ep.host, port=ep.port)
        s = subject(ep)
        findings = []
        if before:
            findings.append(
                self.finding(
                    "auth.before_tls",
                    Status.WARN,
                    s,
                    f"login offered before TLS: {', '.join(before)}",
                    ways=", ".join(before),
                    **kw,
                )
            )
        if ep.role == "submission" and not after and not before:
            if d.tls is None:
                return [self.skip(ep, "no TLS session, so the login offered under TLS is unknown (see tls.handshake)")]
            findings.append(self.finding("auth.missing", Status.FAIL, s, f"no AUTH offered on port {ep.port}", **kw))
        if not findings:
            if d.tls is None:
                return [self.skip(ep, "no TLS session (see tls.handshake)")]
            findings.append(self.finding("auth.ok", Status.PASS, s,
                                         f"login only over TLS: {', '.join(after) or 'none advertised'}", **kw))
        return findings
