"""The login checks (login.smtp, login.imap, login.pop3): log in once per server with the user's credentials.

One login per server, not per port: the implicit-TLS port first (RFC 8314), else the STARTTLS
port, chosen from the shared probe dialogues (diagnose.net.probes), so a port that is filtered or has
no TLS is known before any credentials move. Repeated failed logins get an address banned on many
servers, so a wrong password costs one attempt per server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

from checks.servercheck import not_reached, subject
from diagnose.engine.credentials import Credentials
from diagnose.engine.facts import MAILBOX_HOSTS, SUBMISSION_HOSTS
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext, Options
from diagnose.knowledge.authreply import Outcome, explain_challenge
from diagnose.net.dialogue import Dialogue, Endpoint
from diagnose.net.probes import endpoints, probes

if TYPE_CHECKING:  # the session code is imported when a login is tried: runs without credentials skip it
    from diagnose.net.mailsession import Login, MailSession

SERVICE = {"smtp": "submission (sending)", "imap": "IMAP", "pop3": "POP3"}
ACTION = {"smtp": "send mail", "imap": "read mail", "pop3": "download mail"}
GOODBYE = {"smtp": "QUIT", "imap": "z LOGOUT", "pop3": "QUIT"}
PORTS = {"smtp": (465, 587), "imap": (993, 143), "pop3": (995, 110)}  # implicit TLS first (RFC 8314 §3.3)
STATUS = {
    Outcome.OK: Status.PASS, Outcome.REJECTED: Status.FAIL, Outcome.TEMPORARY: Status.FAIL,
    Outcome.LOCKED: Status.FAIL, Outcome.EXPIRED: Status.FAIL,
    Outcome.NO_MECHANISM: Status.FAIL, Outcome.DISABLED_BEFORE_TLS: Status.WARN, Outcome.TLS_REQUIRED: Status.SKIP,
    Outcome.TLS_UNTRUSTED: Status.SKIP, Outcome.UNREACHABLE: Status.SKIP, Outcome.BROKEN: Status.FAIL,
    Outcome.OAUTH_REQUIRED: Status.FAIL, Outcome.SMTP_AUTH_DISABLED: Status.FAIL, Outcome.APP_PASSWORD: Status.FAIL,
    Outcome.WEB_LOGIN: Status.FAIL, Outcome.TOKEN_REJECTED: Status.FAIL,
}


def login_texts(p: str) -> dict[str, tuple[str, str]]:
    """Explanations and remedies of one protocol's login codes."""
    return {
        f"login.{p}.ok": ("", ""),
        f"login.{p}.rejected": (
            "{host} ({service} port {port}) answered the login of {user} with \u201c{words}\u201d. Servers give "
            "this answer for a wrong user name or a wrong password, and do not say which (on purpose); some give "
            "it as well for an account that is disabled. Mail programs using these credentials cannot {action}.",
            "Check the credentials of {user} for {host} (maildoctor used the password from {source}). Log in "
            "to the provider's webmail with the same user name and password: if that fails too, reset the "
            "password or ask the administrator whether the account is enabled; if webmail works, the mail "
            "server may expect another user name (the full address user@domain, or only the part before @).",
        ),
        f"login.{p}.locked": (
            "{host} ({service} port {port}) refused the login of {user} with \u201c{words}\u201d: the account "
            "is disabled or locked by an administrator. The password may well be right: changing it will not "
            "help. Mail programs using this account cannot {action}.",
            "Ask the administrator of {host} (or the provider's support) why {user} is locked and to unlock "
            "it; on Dovecot look for a `nologin` field or a deny passdb entry for the user.",
        ),
        f"login.{p}.expired": (
            "{host} ({service} port {port}) refused the login of {user} because its password has expired "
            "(\u201c{words}\u201d). Mail programs cannot {action} until the password is changed.",
            "Change the password of {user} (usually in the provider's webmail or account portal), then update "
            "it in every mail program.",
        ),
        f"login.{p}.temporary": (
            "{host} ({service} port {port}) refused the login of {user} for now: \u201c{words}\u201d. A temporary "
            "refusal means the account is locked for a while (often after too many failed logins), the "
            "server's password database is unreachable, or the account is over a connection limit.",
            "Wait a few minutes and run again. If it stays, the administrator of {host} should read the "
            "authentication log (Dovecot: `doveadm log errors`; Postfix: `SASL` lines of the mail log) and "
            "check whether {user} is locked.",
        ),
        f"login.{p}.no_mechanism": (
            "{host} ({service} port {port}) offers no login method that maildoctor and common mail programs "
            "use (PLAIN or LOGIN over TLS{extra}); it offers: {offered}.",
            "Enable PLAIN and LOGIN over TLS, e.g. Dovecot `auth_mechanisms = plain login`; Postfix with "
            "`smtpd_sasl_type = dovecot` then offers the same (`AUTH PLAIN LOGIN` after STARTTLS).",
        ),
        f"login.{p}.disabled_before_tls": (
            "{host} ({service} port {port}) refuses logins on a connection without encryption (\u201c{words}\u201d). "
            "That is the right, secure behaviour; but a mail program set to \u201cno encryption\u201d cannot {action}.",
            "Set the mail program's connection security to SSL/TLS (port {tls_port}) or STARTTLS (port {port}); "
            "nothing to change on the server.",
        ),
        f"login.{p}.tls_required": (
            "maildoctor did not send the {secret} of {user} to {host} port {port}: the connection has no "
            "encryption ({words}), and anyone on the network path could read the {secret}.",
            "Offer TLS on the server (see the tls.handshake finding). To test the login anyway, over an "
            "unencrypted connection, run again with --allow-plaintext-auth.",
        ),
        f"login.{p}.tls_untrusted": (
            "maildoctor did not send the {secret} of {user} to {host} port {port}: its certificate does not "
            "verify ({words}), so the server could be an impostor. Mail programs warn about or refuse the same.",
            "Fix the certificate (see the tls.certificate finding). For a private CA, run maildoctor with "
            "--ca-file your-ca.pem.",
        ),
        f"login.{p}.oauth_required": (
            "This server no longer accepts passwords: use OAuth. {host} ({service} port {port}) refused the "
            "password of {user} (\u201c{words}\u201d) because password (basic) authentication is switched off "
            "for this account or server; the password itself may well be right. Mail programs must log in with "
            "OAuth 2.0 (\u201cModern authentication\u201d, \u201cSign in with Microsoft/Google\u201d) to {action}.",
            "Set the mail program's authentication to OAuth2 (Thunderbird, Outlook, Apple Mail and others sign in "
            "through the provider's web page). To test it here: `maildoctor login --provider microsoft` (or "
            "google) once, then `maildoctor check {user} --oauth2 microsoft`; or give a token with "
            "--oauth2-token-env VAR / --oauth2-token-cmd CMD. Only an administrator can turn passwords back on "
            "(Microsoft 365: Authenticated SMTP per mailbox; Google: app passwords with 2-Step Verification).",
        ),
        f"login.{p}.smtp_auth_disabled": (
            "{host} ({service} port {port}) refused the login of {user}: SMTP AUTH (client submission) is "
            "switched off for this mailbox or the whole tenant (\u201c{words}\u201d). The credentials may well be "
            "right: reading mail over IMAP or POP3 can still work with them while sending through SMTP cannot.",
            "Microsoft 365: an administrator enables Authenticated SMTP for the mailbox (Microsoft 365 admin "
            "center > user > Mail > Manage email apps, or `Set-CASMailbox -SmtpClientAuthenticationDisabled "
            "$false`), turns off `SmtpClientAuthenticationDisabled` for the tenant (`Set-TransportConfig`), and "
            "checks whether security defaults block it; SMTP AUTH then still needs OAuth (scope SMTP.Send).",
        ),
        f"login.{p}.app_password": (
            "{host} ({service} port {port}) refused the password of {user}: \u201c{words}\u201d. Google asks for "
            "an app password: the account uses 2-Step Verification, and the normal account password does not "
            "work in mail programs.",
            "Create an app password (Google Account > Security > 2-Step Verification > App passwords) and use it "
            "instead of the account password, or log in with OAuth (`maildoctor login --provider google`, then "
            "--oauth2 google).",
        ),
        f"login.{p}.web_login": (
            "{host} ({service} port {port}) refused the login of {user} and asks for a sign-in through the web "
            "browser first: \u201c{words}\u201d. The provider blocked this login as unusual (new place or device) "
            "or because the account needs attention.",
            "Sign in to the provider's webmail in a browser from this network and confirm it was you (Google: "
            "https://accounts.google.com/DisplayUnlockCaptcha), then run again; better, switch the mail program "
            "to OAuth.",
        ),
        f"login.{p}.token_rejected": (
            "{host} ({service} port {port}) refused the OAuth 2.0 access token for {user} (\u201c{words}\u201d"
            "{challenge}). A token is refused when it has expired (access tokens last about an hour), was "
            "revoked, was issued for another user, or lacks the mail scope the server needs (Microsoft: "
            "https://outlook.office.com/IMAP.AccessAsUser.All, POP.AccessAsUser.All, SMTP.Send; Google: "
            "https://mail.google.com/).",
            "Get a fresh token (maildoctor used the token from {source}): with `maildoctor login` and --oauth2 "
            "PROVIDER the access token is refreshed by itself; check that the token is for {user} and carries "
            "the mail scopes, and that the mailbox has {service} enabled.",
        ),
        f"login.{p}.no_oauth": (
            "{host} ({service} port {port}) offers no OAuth 2.0 login (XOAUTH2 or OAUTHBEARER); it offers: "
            "{offered}. A token cannot be used here.",
            "Log in with a password on this server, or enable OAuth (Dovecot: `auth_mechanisms = plain login "
            "xoauth2 oauthbearer` with an oauth2 passdb).",
        ),
        f"login.{p}.broken": (
            "{host} ({service} port {port}) stopped answering properly during the login of {user}: {words}.",
            "Run again with a larger --timeout; if it persists, the server's log around this time says why "
            "(Dovecot: `doveadm log errors`; Postfix: the mail log).",
        ),
    }


def login_fact(protocol: str) -> str:
    """The fact a login check publishes: tuple[Login, ...] of the logins it tried (the round trip reads it
    to avoid a second attempt with credentials a server already refused)."""
    return f"login.{protocol}.results"


class LoginCheck(Check):
    protocol: ClassVar[str]
    side = Side.BOTH
    implied_by = "credentials"  # given credentials ask for the login tests (diagnose.engine.required)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        p = cls.__dict__.get("protocol")
        if p:
            # id and side are written literally in each plugin module too, so `maildoctor checks`
            # can list them without importing it (registry.describe); they must agree.
            assert cls.__dict__.get("id", f"login.{p}") == f"login.{p}", cls
            cls.id = f"login.{p}"
            cls.needs = (SUBMISSION_HOSTS,) if p == "smtp" else (MAILBOX_HOSTS,)
            cls.side = Side.OUTGOING if p == "smtp" else Side.INCOMING
            assert cls.__dict__.get("side", cls.side) is cls.side, cls
            cls.services = ("submission",) if p == "smtp" else (p,)
            cls.texts = login_texts(p)
            cls.provides = (login_fact(p),)

    @staticmethod
    def min_budget_s(options: Options) -> float:
        """A login's answer may come late on purpose (Dovecot's failure delay): the runner waits for it."""
        return options.timeouts.with_logins

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        creds = ctx.options.credentials.for_protocol(self.protocol) if ctx.options.credentials else None
        if creds is None:
            yield self.finding(
                f"{self.id}.skipped",
                Status.SKIP,
                ctx.target.domain,
                "not tested: no credentials (give --user and --password-env, or a config profile's credentials)",
                reason="no credentials (give --user and --password-env, or a config profile's credentials)",
            )
            return
        hosts = await choose_endpoints(ctx, self.protocol)
        if isinstance(hosts, str):
            yield self.finding(f"{self.id}.skipped", Status.SKIP, ctx.target.domain, f"not tested: {hosts}",
                               reason=hosts)
            return
        tasks = [asyncio.ensure_future(self._one(ctx, creds, ep, why)) for ep, why in hosts]
        tried: list[Login] = []
        try:
            for done in asyncio.as_completed(tasks):
                finding, result = await done
                if result is not None:
                    tried.append(result)
                yield finding
        finally:
            for t in tasks:
                t.cancel()
        ctx.publish(login_fact(self.protocol), tuple(tried))

    async def _one(self, ctx: CheckContext, creds: Credentials, ep: Endpoint, why: str) -> tuple[Finding, Login | None]:
        if why:
            return self.finding(
                f"{self.id}.skipped", Status.SKIP, subject(ep), f"not tested: {why}", host=ep.host, reason=why
            ), None
        result = await login(ctx, ep, creds)
        return self.evaluate(result, creds), result

    def evaluate(self, r: Login, creds: Credentials) -> Finding:
        """Pure: the finding for one login attempt."""
        ep = r.endpoint
        explained = explain_challenge(r.challenge)
        facts: dict[str, Any] = dict(
            secret=creds.secret_word,
            challenge=f"; the token was refused: {explained}" if explained else "",
            user=r.user, words=r.words or "no answer", service=SERVICE[self.protocol], port=ep.port,
            action=ACTION[self.protocol], source=creds.source or "the command line",
            offered=", ".join(r.offered) or "nothing", tls_port=PORTS[self.protocol][0],
            extra={"smtp": ", or CRAM-MD5", "imap": ", or IMAP LOGIN"}.get(self.protocol, ""))
        evidence: dict[str, Any] = {"user": r.user, "credential": "OAuth 2.0 token" if creds.oauth2 else "password",
                    "mechanism": r.mechanism, "tls": r.tls_version or "none",
                    "offered": r.offered, "server_said": r.words, "transcript": r.transcript, "timings": r.timings}
        if r.challenge:
            evidence["oauth_challenge"] = r.challenge
            evidence["oauth_challenge_explained"] = explained
        if r.alerts:
            evidence["alerts"] = r.alerts
        if r.code is not None:
            from diagnose.knowledge.smtpcodes import explain_reply

            evidence["reply_explained"] = explain_reply(r.code, r.words)
        over = f"over {r.tls_version}" if r.tls_version else "WITHOUT encryption"
        untested = {
            Outcome.TLS_REQUIRED: f"credentials not sent without TLS ({r.words})",
            Outcome.TLS_UNTRUSTED: f"credentials not sent, the certificate does not verify ({r.words})",
            Outcome.UNREACHABLE: r.words,
        }
        summary = {
            Outcome.OK: f"{r.user} logged in ({r.mechanism}, {over})",
            Outcome.REJECTED: f"{ep.host} rejected the login of {r.user}: {r.words}",
            Outcome.LOCKED: f"{ep.host} says the account {r.user} is locked: {r.words}",
            Outcome.EXPIRED: f"{ep.host} says the password of {r.user} has expired: {r.words}",
            Outcome.TEMPORARY: f"{ep.host} refused the login of {r.user} for now: {r.words}",
            Outcome.NO_MECHANISM: f"no usable login method ({facts['offered']})",
            Outcome.DISABLED_BEFORE_TLS: f"login refused without encryption: {r.words}",
            Outcome.BROKEN: f"login broke off: {r.words}",
            Outcome.OAUTH_REQUIRED: f"this server no longer accepts passwords: use OAuth ({r.words})",
            Outcome.SMTP_AUTH_DISABLED: f"SMTP AUTH is switched off for {r.user}: {r.words}",
            Outcome.APP_PASSWORD: f"{ep.host} wants an app password or OAuth for {r.user}: {r.words}",
            Outcome.WEB_LOGIN: f"{ep.host} wants a sign-in through the web browser first: {r.words}",
            Outcome.TOKEN_REJECTED: f"{ep.host} refused the OAuth token for {r.user}: {r.words}"
                                    + (f" ({explained})" if explained else ""),
            **{outcome: f"not tested: {why}" for outcome, why in untested.items()},
        }[r.outcome]
        code = f"{self.id}.skipped" if r.outcome is Outcome.UNREACHABLE else f"{self.id}.{r.outcome.value}"
        if r.outcome is Outcome.NO_MECHANISM and creds.oauth2:
            code, summary = f"{self.id}.no_oauth", f"no OAuth login offered ({facts['offered']})"
        return self.finding(code, STATUS[r.outcome], subject(ep), summary, evidence=evidence,
                            duration_s=r.elapsed_s, host=ep.host, reason=untested.get(r.outcome, ""),
                            untested=r.outcome in untested, **facts)


async def login(ctx: CheckContext, ep: Endpoint, creds: Credentials) -> Login:
    """One login on ``ep`` (connection closed afterwards)."""
    session = open_session(ctx, ep, creds)
    try:
        return await session.login()
    finally:
        await session.close(GOODBYE[ep.protocol])


def open_session(ctx: CheckContext, ep: Endpoint, creds: Credentials) -> MailSession:
    from diagnose.net.mailsession import MailSession

    return MailSession(ep, creds, timeout=ctx.timeout, ca_file=ctx.options.ca_file,
                       allow_plaintext=ctx.options.allow_plaintext_auth,
                       ehlo_name=ctx.options.ehlo_name or "")


async def choose_endpoints(ctx: CheckContext, protocol: str) -> list[tuple[Endpoint, str]] | str:
    """Per server: the endpoint to log in on, and "" or why not. A string: why there is no server at all."""
    role = "submission" if protocol == "smtp" else "mailbox"
    eps, missing = await endpoints(ctx, (role,), PORTS[protocol])
    if not eps:
        return (
            missing.get(role)
            or f"no {SERVICE[protocol]} server is known (ports {', '.join(map(str, PORTS[protocol]))})"
        )
    by_host: dict[str, list[Endpoint]] = {}
    for ep in eps:
        by_host.setdefault(ep.host, []).append(ep)
    cache = probes(ctx)
    chosen = []
    for _host, candidates in by_host.items():
        candidates.sort(key=lambda e: (PORTS[protocol].index(e.port), e.address))
        dialogues = await asyncio.gather(*(cache.dialogue(e) for e in candidates))
        chosen.append(pick(candidates, list(dialogues), ctx.options.allow_plaintext_auth))
    return chosen


def pick(candidates: list[Endpoint], dialogues: list[Dialogue], allow_plaintext: bool) -> tuple[Endpoint, str]:
    """Pure: the first endpoint whose probe got TLS (or a greeting, with plaintext allowed)."""
    for ep, d in zip(candidates, dialogues, strict=False):
        if not not_reached(d) and d.tls is not None:
            return ep, ""
    for ep, d in zip(candidates, dialogues, strict=False):
        if not not_reached(d) and not tls_stalled(d):
            return ep, ""  # the session itself says "TLS required" or logs in without TLS if allowed
    return candidates[0], not_reached(dialogues[0]) or tls_stalled(dialogues[0])


def tls_stalled(d: Dialogue) -> str:
    """Why not to log in where the shared session's TLS handshake timed out: it would only wait again."""
    if d.failure == "timeout" and "handshake" in d.failure_phase.lower():
        return f"the TLS handshake on port {d.endpoint.port} did not finish in time ({d.failure_phase})"
    return ""
