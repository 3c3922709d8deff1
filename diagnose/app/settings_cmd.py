"""`maildoctor settings TARGET`: the incoming and outgoing server settings of a domain, in a form a
person can copy into a mail program. Runs only the discovery checks (autoconfig file, Microsoft
Autodiscover, SRV records, common names, the recognised provider's documented settings) and reads the
facts they publish; each published setting is then tried on its server (diagnose/app/settings_verify.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, replace

from diagnose.app.settings_verify import verify
from diagnose.engine.exitcodes import ExitCode
from diagnose.engine.facts import AUTOCONFIG_SETTINGS, MAILBOX_HOSTS, SUBMISSION_HOSTS, FactBoard
from diagnose.engine.plugin import CheckContext, Options
from diagnose.engine.registry import available, load
from diagnose.engine.runner import check_budget
from diagnose.knowledge.sanitize import clean

DISCOVERY_CHECKS = ("autoconfig.settings", "autodiscover.settings", "servers.discover", "provider.detect")
AUTODISCOVER_SETTINGS = "autodiscover.settings"  # as checks.autodiscover publishes it
PROVIDER_FACT = "provider.hosting"  # as checks.provider.signals publishes it
PUBLISHED = ("autoconfig file", "Autodiscover", "SRV")  # sources the domain publishes (tried on the servers)
SECURITY_BY_PORT = {993: "SSL/TLS", 995: "SSL/TLS", 465: "SSL/TLS", 143: "STARTTLS", 110: "STARTTLS", 587: "STARTTLS"}
PROTOCOL_BY_PORT = {993: "IMAP", 143: "IMAP", 995: "POP3", 110: "POP3", 465: "SMTP", 587: "SMTP"}


@dataclass(frozen=True)
class Setting:
    direction: str  # incoming / outgoing
    protocol: str  # IMAP, POP3, SMTP
    host: str
    port: int
    security: str  # SSL/TLS, STARTTLS, none
    source: str
    username: str = ""  # as the autoconfig file gives it (%EMAILADDRESS%, ...); not in the JSON
    server: str = ""  # published settings tried on the server: "" not tried, "ok", else how it disagrees
    reference: str = ""  # provider data: the URL of the provider's documentation
    authentication: str = ""  # as the autoconfig file names the sign-in: password-cleartext, OAuth2, ...

    def to_dict(self) -> dict:
        optional = ("server", "reference", "authentication")
        return {k: v for k, v in self.__dict__.items() if k != "username" and (k not in optional or v)}

    @property
    def methods(self) -> list[str]:
        return [m.strip().lower() for m in self.authentication.split(",") if m.strip()]

    @property
    def oauth2(self) -> bool:
        return "oauth2" in self.methods

    @property
    def oauth2_only(self) -> bool:
        return self.methods == ["oauth2"]

    @property
    def published(self) -> bool:
        return self.source.startswith(PUBLISHED)


# what a source names of each protocol (SRV labels, --imap-host / --pop-host / --smtp-host)
_MENTIONS = {"IMAP": ("imap",), "POP3": ("pop",), "SMTP": ("submission", "smtp")}


def source_for(source: str, protocol: str) -> str:
    """The part of a merged source ("SRV _imap._tcp; SRV _pop3._tcp") that gave ``protocol``'s port:
    the part naming the protocol, else the parts naming no protocol (e.g. "common name")."""
    parts = [p.strip() for p in source.split(";") if p.strip()]
    if len(parts) < 2:
        return source
    own = [p for p in parts if any(word in p.lower() for word in _MENTIONS.get(protocol, ()))]
    neutral = [p for p in parts if not any(w in p.lower() for words in _MENTIONS.values() for w in words)]
    return "; ".join(own or neutral or parts)


def settings_from_facts(autoconfig, submission, mailbox, autodiscover=None, hosting=None) -> list[Setting]:
    """Pure: merge the autoconfig file and Autodiscover (what the domain declares) with SRV/common-name
    findings, then the settings the recognised provider documents (shipped with maildoctor)."""
    out: list[Setting] = []

    def add(setting: Setting) -> None:  # the first source naming a host and port wins
        if not any((o.host, o.port) == (setting.host, setting.port) for o in out):
            out.append(setting)

    for declared, source in ((autoconfig, "autoconfig file"), (autodiscover, "Autodiscover")):
        for s in declared or ():
            security = {"SSL": "SSL/TLS", "STARTTLS": "STARTTLS"}.get(s.security, "none")
            add(Setting(s.direction, s.protocol.upper(), s.hostname, s.port, security, source, s.username,
                        authentication=getattr(s, "authentication", "")))
    for hosts, direction in ((mailbox or (), "incoming"), (submission or (), "outgoing")):
        for h in hosts:
            for port in h.ports:
                protocol = PROTOCOL_BY_PORT.get(port, "?")
                add(Setting(direction, protocol, h.name, port, SECURITY_BY_PORT.get(port, "?"),
                            source_for(h.source, protocol)))
    for provider in provider_in_use(hosting):
        for c in provider.settings:
            add(Setting("outgoing" if c.protocol == "SMTP" else "incoming", c.protocol, c.host, c.port,
                        "SSL/TLS" if c.security == "SSL" else "STARTTLS",
                        f"{provider.name} documentation", reference=provider.sources[0]))
    return out


def provider_in_use(hosting) -> list:
    """The mailbox providers the domain's MX, autodiscover or DKIM points at (an SPF include alone may be stale)."""
    if hosting is None:
        return []
    return [m.provider for m in hosting.matches
            if m.provider.kind == "mailbox" and m.in_use]


def render_text(domain: str, settings: list[Setting], address: str | None) -> str:
    lines = [f"Mail settings for {domain}", ""]
    for direction, title in (("incoming", "Incoming mail (reading)"), ("outgoing", "Outgoing mail (sending)")):
        lines.append(f"{title}:")
        found = [s for s in settings if s.direction == direction]
        for s in found:
            lines.append(
                f"  {s.protocol:<5} server {clean(s.host, limit=200)}  port {s.port:<3}  security {s.security:<8}"
                f"   (from {clean(s.source, limit=120)})"
            )
            if s.server not in ("", "ok"):
                lines.append(f"        ! but the server disagrees: {clean(s.server, limit=200)}")
        if not found:
            lines.append("  none found: ask your provider, or publish SRV records / an autoconfig file")
        lines.append("")
    lines += user_name_lines(domain, settings, address)
    lines += sign_in_lines(domain, settings, address)
    return "\n".join(lines) + "\n"


def sign_in_lines(domain: str, settings: list[Setting], address: str | None) -> list[str]:
    """When the autoconfig file asks for OAuth2: say that the mail program signs in through the
    provider's web page (no mailbox password), and how maildoctor tests such a login."""
    oauth = [s for s in settings if s.oauth2]
    if not oauth:
        return []
    servers = ", ".join(dict.fromkeys(f"{s.protocol} {clean(s.host, limit=200)}" for s in oauth))
    user = address or "you@" + domain
    password = ("the servers take no mailbox password" if all(s.oauth2_only for s in oauth) else
                "a password is offered too, where the provider still allows it")
    return ["", f"Sign-in: OAuth2 for {servers}, as the autoconfig file says: the mail program opens the "
                f"provider's sign-in page instead of asking for the mailbox password ({password}).",
            f"  To test it: `maildoctor login --provider NAME --user {user}`, then "
            f"`maildoctor check {domain} --user {user} --oauth2 NAME` (NAME: microsoft, google or your own)."]


_PLACEHOLDERS = {"%EMAILADDRESS%": "your full email address",
                 "%EMAILLOCALPART%": "the part of your address before the @", "%EMAILDOMAIN%": "your mail domain"}


def user_name_lines(domain: str, settings: list[Setting], address: str | None) -> list[str]:
    """The user name as the autoconfig file gives it (per server when they differ); without one,
    the usual guess, said as a guess."""
    example = address or "you@" + domain
    declared = [s for s in settings if s.authentication]  # as the autoconfig file declares it
    password = ("password: none, an OAuth2 sign-in (below)" if declared and all(s.oauth2_only for s in declared)
                else "password: your mailbox password, or an OAuth2 sign-in (below)" if any(s.oauth2 for s in declared)
                else "password: your mailbox password")
    given = {s.username for s in settings if s.username}
    where = " and ".join(dict.fromkeys(s.source for s in settings if s.username)) or "the autoconfig file"
    where = where.replace("autoconfig file", "the autoconfig file")
    if not given:
        return [f"User name: not published here; usually your full email address ({example}); "
                f"{password}."]

    def said(name: str) -> str:
        shown = clean(name, limit=80)
        meaning = _PLACEHOLDERS.get(name.upper())
        if meaning is None:
            return f"{shown}, as {where} says"
        value = {"%EMAILADDRESS%": example, "%EMAILLOCALPART%": example.rpartition("@")[0],
                 "%EMAILDOMAIN%": domain}[name.upper()]
        return f"{meaning} ({value}), as {where} says ({shown})"

    if len(given) == 1:
        return [f"User name: {said(given.pop())}; {password}."]
    lines = [f"User names, as {where} gives them ({password}):"]
    lines += [f"  {s.protocol:<5} {clean(s.host, limit=200)}: {said(s.username)}" for s in settings if s.username]
    return lines


async def collect(target, dns, options: Options) -> tuple[list[Setting], list]:
    # only the discovery checks' modules are imported (the registry knows the others from the index)
    checks = load(s for s in available().checks if s.id in DISCOVERY_CHECKS).checks
    board = FactBoard()
    ctx = CheckContext(target, dns, options, board)
    findings: list = []

    async def one(check) -> None:
        try:
            async with asyncio.timeout(check_budget(options)):
                async for finding in check.run(ctx):
                    findings.append(finding)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the other one
            print(f"maildoctor: warning: {check.id} failed: {type(exc).__name__}", file=sys.stderr)
        finally:
            for name in check.provides:
                board.withhold(name, f"{check.id} could not determine it")

    await asyncio.gather(*(one(c()) for c in checks))
    settings = settings_from_facts(board.value(AUTOCONFIG_SETTINGS), board.value(SUBMISSION_HOSTS),
                                   board.value(MAILBOX_HOSTS), board.value(AUTODISCOVER_SETTINGS),
                                   board.value(PROVIDER_FACT))
    return await verify(settings, dns, options), findings


def run_settings(request) -> ExitCode:
    """``request`` is a plan.Request (target, nameservers, timeout, ca_file, fmt), planned as for `check`."""
    from diagnose.app.plan import PlanError, make_plan
    from diagnose.app.session import open_dns

    async def main():
        # planned with the discovery checks alone: the other checks' modules are never imported
        plan = make_plan(replace(request, only=list(DISCOVERY_CHECKS)))
        dns = await open_dns(plan)
        return plan.target, await collect(plan.target, dns, plan.options)

    try:
        target, (settings, _findings) = asyncio.run(main())
    except PlanError as exc:
        print(f"maildoctor: error: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    if request.fmt == "json":
        sys.stdout.write(json.dumps({"domain": target.domain, "settings": [s.to_dict() for s in settings]},
                                    indent=2) + "\n")
    else:
        sys.stdout.write(render_text(target.domain, settings, target.address))
    if not settings:
        return ExitCode.FAIL
    return ExitCode.WARN if any(s.server not in ("", "ok") for s in settings) else ExitCode.OK
