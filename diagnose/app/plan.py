"""The one front door: every way in (CLI options, a maildoctor.toml profile, the TUI's start form,
the Python API) fills a ``Request``; ``make_plan`` validates it into one frozen ``Plan`` or raises
one ``PlanError`` with a one-line reason. ``batch`` shares the same validators (timeout, resolver,
trust, checks). No network here, and no Rich: presentation lives in the CLI.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from diagnose.engine.credentials import (
    OAUTH2,
    PASSWORD,
    CredentialError,
    CredentialRequest,
    CredentialSet,
    RoundTrip,
    Secret,
    line_safe,
    resolve,
    token_safe,
)
from diagnose.engine.exitcodes import FailOn
from diagnose.engine.model import Finding
from diagnose.engine.plugin import Check, Options
from diagnose.engine.registry import UnknownCheck, available, load, matches, select
from diagnose.engine.required import requirements_for
from diagnose.engine.target import Target, TargetError, normalise_domain, parse_target
from diagnose.engine.timeouts import DEFAULT_TIMEOUT
from diagnose.knowledge.redact import run_meta
from diagnose.net.resolver import Nameserver, parse_nameserver
from reports import RENDERERS


class PlanError(Exception):
    """No diagnosis can be made from these settings; the message is one line for stderr."""


Fatal = PlanError  # the name the front doors have always caught


# -- numeric options: one documented range each ---------------------------------------------------
@dataclass(frozen=True)
class Bound:
    """The allowed range of one numeric option; ``low_open``: the low end itself is not allowed."""

    option: str
    low: float
    high: float
    unit: str = ""
    low_open: bool = False
    whole: bool = False

    @property
    def rule(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.low_open:
            return f"more than {self.low:g} and at most {self.high:g}{unit}"
        return f"between {self.low:g} and {self.high:g}{unit}"

    def check(self, value: Any) -> Any:
        """``value`` when it is in range, else PlanError naming the option and its range."""
        ok_type = isinstance(value, int) if self.whole else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            kind = "a whole number" if self.whole else "a number"
            raise PlanError(f"{self.option} must be {kind} {self.rule}")
        above = value > self.low if self.low_open else value >= self.low
        if not (above and value <= self.high):  # NaN fails both comparisons
            raise PlanError(f"{self.option} must be {self.rule}")
        return value


MAX_TIMEOUT = 600.0
BOUNDS = {
    "timeout": Bound("--timeout", 0, MAX_TIMEOUT, "seconds", low_open=True),
    "roundtrip_timeout": Bound("--roundtrip-timeout", 1, 3600, "seconds"),
    "cert_warn_days": Bound("--cert-warn-days", 0, 3650, "days", whole=True),
    "concurrency": Bound("--concurrency", 1, 1024, whole=True),
    "workers": Bound("--workers", 1, 64, whole=True),
}


# -- what the user asked for (names and values, not yet validated) ---------------------------------
@dataclass(frozen=True)
class Servers:
    """--cert-warn-days, --ehlo and the servers to test instead of discovering them."""

    cert_warn_days: int = 14
    ehlo_name: str = ""
    smtp_hosts: tuple[str, ...] = ()
    imap_hosts: tuple[str, ...] = ()
    pop_hosts: tuple[str, ...] = ()
    revocation: bool = True  # --no-revocation: False


REVOCATION_ON = ("OCSP, then the CRL, for the certificate and the intermediates sent, answers verified against their "
                 "CA (OCSP stapling not tested)")


@dataclass
class Request:
    """One run as asked for, from any front door; ``make_plan`` turns it into a Plan."""

    target: str | None
    nameservers: list[str] = field(default_factory=list)
    timeout: float = DEFAULT_TIMEOUT  # --timeout: the base of diagnose.engine.timeouts.Timeouts
    fmt: str = "text"
    output: Path | None = None
    ca_file: Path | None = None
    dkim_selectors: list[str] = field(default_factory=list)
    dnsbl: list[str] = field(default_factory=list)
    servers: Servers = field(default_factory=Servers)
    only: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    quiet: bool = False
    verbose: bool = False
    argv: list[str] = field(default_factory=list)
    fail_on: str | None = None  # --fail-on warn|fail (diagnose.engine.exitcodes.FailOn)
    anonymize: bool = False
    profile: str = ""  # "NAME (path)" of the config profile used, for the report header
    expect: dict = field(default_factory=dict)  # expected facts of the profile (diagnose.engine.expect)
    extra: dict = field(default_factory=dict)  # Options.extra from the profile (servers, credential env names)
    login: CredentialRequest = field(default_factory=CredentialRequest)  # names only, never a password
    allow_plaintext_auth: bool = False
    roundtrip: bool = False
    roundtrip_timeout: float = 120.0  # seconds
    to: str = ""  # --to ADDRESS for the round trip
    require: list[str] = field(default_factory=list)  # --require: rule sets judged after the run (bulk-sender)


# -- the validated plan -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Output:
    """Where and how the report is written."""

    fmt: str = "text"
    path: Path | None = None
    quiet: bool = False
    verbose: bool = False


@dataclass(frozen=True)
class Plan:
    """A validated request: what to diagnose, with which checks and settings (no network yet).
    Shared by `check`, `settings`, the TUI (which runs the same plan again on "rerun") and the API."""

    target: Target
    nameservers: list[Nameserver]
    checks: list[type[Check]]
    options: Options
    meta: dict = field(compare=False)  # where and how it ran (argv, host): not part of what runs
    output: Output = field(default_factory=Output)
    fail_on: FailOn | None = None
    expect: dict = field(default_factory=dict)
    profile: str = ""
    require: tuple[str, ...] = ()  # rule sets (diagnose.engine.bulksender.REQUIRE_SETS)

    @property
    def judges(self) -> bool:
        """Are findings judged after the run (a profile's expectations, --require)?"""
        return bool(self.expect or self.require)

    def judge(self, findings: list[Finding]) -> list[Finding]:
        """The profile's expectations and the --require rule sets judged on ``findings`` (the one place;
        `check` and the TUI)."""
        if not self.judges:
            return []  # nothing to judge: the rule modules are not even imported
        from diagnose.engine.bulksender import BulkSender, judge_sets
        from diagnose.engine.expect import Expectations, evaluate

        found = [f for f in findings if f.check not in (Expectations.id, BulkSender.id)]
        out = []
        if self.expect:
            out += evaluate(self.expect, found, domain=self.target.domain, config=self.profile or "the config file")
        return out + judge_sets(self.require, found, domain=self.target.domain)


def make_plan(request: Request, *, prompt: Callable[[str], str] | None | str = "terminal",
              token: tuple[Secret, str] | None = None) -> Plan:
    """Validate the request (raises PlanError with a one-line reason); no network but for the OAuth 2.0
    token sources (--oauth2 refreshes the cached login, --oauth2-token-cmd runs its command). ``prompt`` asks
    for a password that no variable holds: "terminal" = getpass when stdin is a terminal; None =
    never ask (the TUI, which owns the terminal, gets a PlanError to show instead of a hung prompt).
    ``token``: an OAuth 2.0 access token given in memory (the TUI's start form) and where it came from."""
    try:
        target = parse_target(request.target or "")
    except TargetError as exc:
        raise PlanError(f"bad target: {exc}") from None
    timeout = float(BOUNDS["timeout"].check(request.timeout))
    nameservers = parse_nameservers(request.nameservers)
    ca_file = readable_ca(request.ca_file)
    fail_on = fail_on_policy(request.fail_on)
    if request.fmt not in RENDERERS:
        raise PlanError(f"unknown format {request.fmt!r}; known: {', '.join(RENDERERS)}")
    if request.output is not None and not request.output.resolve().parent.is_dir():
        raise PlanError(f"cannot write --output {request.output}: no such directory")  # before the run, not after
    checks = select_checks(request.only, request.skip)
    options = Options(
        timeout=timeout,
        ca_file=ca_file,
        extra=dict(request.extra),
        **_policy_options(request),
        **_server_options(request),
        **_login_options(request, target, prompt, nameservers, ca_file, timeout, token),
    )
    # the checks asked for (--check, credentials, --roundtrip): one that cannot test anything is an error
    options = replace(options, required=requirements_for(checks, request.only, matches, options))
    meta = run_meta(request.argv, socket.gethostname(), anonymize=request.anonymize,
                    fail_on=fail_on.value if fail_on else None, profile=request.profile)
    if any(c.id == "tls.revocation" for c in checks):  # the report header says how revocation was checked
        meta["revocation"] = REVOCATION_ON if options.revocation else "not checked (--no-revocation)"
    require = require_sets(request.require)
    if require:
        meta["require"] = list(require)
    return Plan(target, nameservers, checks, options, meta,
                Output(request.fmt, request.output, request.quiet, request.verbose), fail_on,
                dict(request.expect), request.profile, require)


def plan_from_form(base: Request, target: str, user: str = "", password: str = "", *, kind: str = PASSWORD) -> Plan:
    """The TUI's start form: ``base`` (the command line's request) with the typed target and login.
    The typed password answers the credential prompt in memory; with none typed there is no prompt
    at all (never one on the terminal the app owns): a missing password is a PlanError. ``kind``
    OAUTH2: the typed secret is an OAuth 2.0 access token, used in memory like the password."""
    login = base.login
    if user or (password and "@" in target):
        login = replace(login, user=user or target.strip())
    if kind == OAUTH2 and password:
        try:
            token = (Secret(token_safe(password, "the access token typed in the form")), "the start form")
        except CredentialError as exc:
            raise PlanError(str(exc)) from None
        return make_plan(replace(base, target=target, login=login), prompt=None, token=token)
    answer = (lambda _question: password) if password else None
    return make_plan(replace(base, target=target, login=login), prompt=answer)


# -- the validators every front door shares ---------------------------------------------------------
def parse_nameservers(given: list[str]) -> list[Nameserver]:
    try:
        return [parse_nameserver(ns) for ns in given]
    except ValueError as exc:
        raise PlanError(str(exc)) from None


def readable_ca(path: Path | None) -> Path | None:
    """``path`` when it holds at least one readable PEM certificate, else PlanError."""
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlanError(f"cannot read --ca-file {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise PlanError(f"--ca-file {path} holds no PEM certificate")
    from diagnose.knowledge.certs import load_pem_bundle

    if not load_pem_bundle(data):
        raise PlanError(f"--ca-file {path} holds no readable certificate (damaged PEM: base64 or DER)")
    return path


def require_sets(given: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The --require rule sets, checked (PlanError naming the known ones)."""
    if not given:
        return ()
    from diagnose.engine.bulksender import REQUIRE_SETS

    out = []
    for name in given:
        key = str(name).strip().lower()
        if key not in REQUIRE_SETS:
            raise PlanError(f"unknown --require {str(name)[:40]!r}; known: {', '.join(REQUIRE_SETS)}")
        out.append(key)
    return tuple(dict.fromkeys(out))


def fail_on_policy(value: FailOn | str | None) -> FailOn | None:
    if value is None or value == "":
        return None
    try:
        return FailOn(value)
    except ValueError:
        raise PlanError(f"--fail-on must be one of {', '.join(p.value for p in FailOn)}, "
                        f"not {str(value)[:40]!r}") from None


def select_checks(only: list[str], skip: list[str], *, default: tuple[str, ...] = ()) -> list[type[Check]]:
    """The installed checks picked by --check/--skip (``default``: the ids run when no --check). Only
    the picked ones are imported (the registry knows the others from their package's index)."""
    found = available()
    if not only and default:
        installed = {c.id for c in found.checks}
        only = [c for c in default if c in installed]
    try:
        picked = select(found.checks, list(only), list(skip))
    except UnknownCheck as exc:
        _warn(found.problems)
        raise PlanError(str(exc)) from None
    loaded = load(picked)
    _warn(found.problems + loaded.problems)
    checks = loaded.checks
    if not checks:
        raise PlanError("no checks selected")
    return checks


def _warn(problems: list[str]) -> None:
    for problem in problems:
        print(f"maildoctor: warning: {problem}", file=sys.stderr)


# --dkim-selector and --ehlo: strings, compiled by re when the option is given
_SELECTOR = r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$"


def _policy_options(request: Request) -> dict:
    """--dkim-selector and --dnsbl values, checked (PlanError with the reason)."""
    selectors = []
    for sel in request.dkim_selectors:
        sel = sel.strip().rstrip(".")
        if len(sel) > 200 or not re.match(_SELECTOR, sel):
            raise PlanError(f"bad --dkim-selector {sel[:60]!r}: give the s= value of a DKIM-Signature, e.g. 'default'")
        selectors.append(sel.lower())
    zones = []
    for zone in request.dnsbl:
        if zone.strip().lower() == "default":
            zones.append("default")
            continue
        try:
            zones.append(normalise_domain(zone)[0])
        except TargetError as exc:
            raise PlanError(f"bad --dnsbl zone: {exc}") from None
    return {"dkim_selectors": tuple(dict.fromkeys(selectors)), "dnsbl_zones": tuple(dict.fromkeys(zones))}


def _login_options(
    request: Request, target: Target, prompt: Callable[[str], str] | None | str = "terminal",
    nameservers: list[Nameserver] | None = None, ca_file: Path | None = None, timeout: float = DEFAULT_TIMEOUT,
    given_token: tuple[Secret, str] | None = None,
) -> dict:
    """Credentials (from environment variables, a prompt on a terminal, or an OAuth 2.0 token source) and
    round-trip settings."""
    roundtrip_timeout = float(BOUNDS["roundtrip_timeout"].check(request.roundtrip_timeout))
    _line_safe(request.to, "--to")  # before strip(): "a@b\r\n" must not become "a@b" silently either
    to = request.to.strip()
    if to:
        try:
            to = parse_target(to).address or ""
        except TargetError:
            to = ""
        if not to:
            raise PlanError(f"--to needs an email address, not {request.to[:80]!r}")
    login = request.login
    if not login.profile_env and request.extra.get("credential_env"):
        login = _with_profile_login(login, dict(request.extra["credential_env"]))
    asker: Callable[[str], str] | None = None if isinstance(prompt, str) else prompt
    if prompt == "terminal" and sys.stdin.isatty():
        import getpass

        asker = getpass.getpass
    try:
        token = given_token
        # with a password too, resolve() refuses both before anything runs
        if token is None and login.oauth and not login.passwords:
            from diagnose.app.oauth import Net, cached_user, obtain_token

            token = obtain_token(login, Net(list(nameservers or []), ca_file, timeout))
            if login.oauth2_provider and not (login.user or target.address):
                login = replace(login, user=cached_user(login.oauth2_provider))
        creds: CredentialSet | None = resolve(login, address=target.address, prompt=asker,
                                              required=request.roundtrip, token=token)
    except CredentialError as exc:
        raise PlanError(str(exc)) from None
    return {"credentials": creds, "allow_plaintext_auth": request.allow_plaintext_auth,
            "roundtrip": RoundTrip(to, roundtrip_timeout) if request.roundtrip else None}


def _with_profile_login(login: CredentialRequest, named: dict[str, str]) -> CredentialRequest:
    """The profile's credentials table under the command line's: its user and password variables
    (looked up by ``resolve``), and its OAuth 2.0 token source when the command line gave no way to
    log in of its own (a password or token source given there wins)."""
    login = replace(login, profile_env={k: v for k, v in named.items() if k in ("user_env", "password_env")})
    if login.passwords or login.oauth:
        return login
    return replace(login, oauth2_token_env=named.get("oauth2_token_env", ""), oauth2_provider=named.get("oauth2", ""))


def _line_safe(value: str, what: str) -> None:
    """CR, LF or NUL in a value that goes into a protocol line: PlanError (credentials.line_safe)."""
    try:
        line_safe(value, what)
    except CredentialError as exc:
        raise PlanError(str(exc)) from None


_EHLO = r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,252}))$"


def _server_options(request: Request) -> dict:
    """--cert-warn-days in range; --ehlo and --smtp/imap/pop-host go into protocol lines: one strict
    shape, else PlanError."""
    given = request.servers
    out: dict[str, Any] = {"cert_warn_days": BOUNDS["cert_warn_days"].check(given.cert_warn_days),
                           "ehlo_name": given.ehlo_name, "revocation": given.revocation}
    for key in ("smtp_hosts", "imap_hosts", "pop_hosts"):
        hosts = []
        for host in getattr(given, key) or request.extra.get(key, ()):  # else a profile's servers.smtp/imap/pop
            try:
                hosts.append(str(ipaddress.ip_address(host.strip().strip("[]"))))
            except ValueError:
                try:
                    hosts.append(normalise_domain(host.strip())[0])
                except (TargetError, ValueError) as exc:
                    raise PlanError(f"bad --{key[:-6]}-host {host[:60]!r}: {exc}") from None
        out[key] = tuple(dict.fromkeys(hosts))
    _line_safe(given.ehlo_name, "--ehlo")
    if given.ehlo_name and not re.fullmatch(_EHLO, given.ehlo_name):  # fullmatch: "$" alone lets a final LF through
        raise PlanError(f"bad --ehlo {given.ehlo_name[:60]!r}: give a host name or an address literal like [192.0.2.1]")
    return out
