"""The diagnosis form: its posted fields, the names a public server refuses before any lookup, and
the plan it becomes (through ``plan_from_form``, the TUI's start-form path: the password, or the OAuth 2.0
access token when the form says so, answers the credential prompt in memory and lives on only as a
Secret in the plan)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qs

from diagnose.app.plan import Plan, PlanError, Request, plan_from_form
from diagnose.engine.credentials import OAUTH2, PASSWORD
from diagnose.engine.target import TargetError, parse_target
from diagnose.web.settings import ServeSettings

MAX_FORM = 16 * 1024  # bytes of a posted form
MAX_SELECTORS = 10
# names that only ever mean a private network (refused before any lookup; the guard checks addresses)
PRIVATE_SUFFIXES = ("localhost", "local", "internal", "intranet", "lan", "home", "corp", "private", "arpa")
_CLI_PASSWORD_HINT = ("--password-env VAR (the name of an environment variable holding it), "
                      "or run in a terminal to be asked")  # diagnose.engine.credentials.resolve's advice


def parse_form(body: bytes) -> dict[str, list[str]] | None:
    """An application/x-www-form-urlencoded body (None when it is too large or not text)."""
    if len(body) > MAX_FORM:
        return None
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        return None


def one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


@dataclass(frozen=True)
class Fields:
    """What the form asked for, the secret aside (it goes straight into the plan)."""

    target: str
    user: str = ""
    checks: tuple[str, ...] = ()  # families ticked; none: every check
    selectors: str = ""  # as typed: comma separated
    roundtrip: bool = False
    secret_kind: str = PASSWORD  # what the secret field holds: PASSWORD or OAUTH2 (an access token)

    @classmethod
    def of(cls, form: dict[str, list[str]], families: tuple[str, ...]) -> Fields:
        return cls(one(form, "target").strip(), one(form, "user").strip(),
                   tuple(c for c in form.get("check", []) if c in families), one(form, "dkim_selector"),
                   one(form, "roundtrip") == "1", OAUTH2 if one(form, "secret_kind") == OAUTH2 else PASSWORD)

    @property
    def selector_list(self) -> list[str]:
        return [s.strip() for s in self.selectors.split(",") if s.strip()][:MAX_SELECTORS]


def make_form_plan(settings: ServeSettings, fields: Fields, password: str) -> Plan:
    """The plan of the form (PlanError with a line for the form); the server's resolver, timeout and
    CA file, the form's target, login, checks and selectors. ``password`` is the secret field: an
    access token when ``fields.secret_kind`` is OAUTH2."""
    base = Request(target=None, nameservers=list(settings.nameservers), timeout=settings.timeout, fmt="json",
                   ca_file=settings.ca_file, dkim_selectors=fields.selector_list, only=list(fields.checks),
                   roundtrip=fields.roundtrip, argv=equivalent_argv(settings, fields))
    try:
        return plan_from_form(base, fields.target, fields.user, password, kind=fields.secret_kind)
    except PlanError as exc:  # the CLI's advice does not fit a form
        message = str(exc).replace(_CLI_PASSWORD_HINT, "the password in the form")
        if fields.secret_kind == OAUTH2:  # the token field was left empty: the same prompt, in its words
            message = message.replace("no password for", "no access token for").replace(
                "the password in the form", "the access token in the form")
        raise PlanError(message) from None


def name_refused(target: str) -> str | None:
    """Why a public server refuses ``target`` before any lookup: an address literal or a name that
    exists only on private networks (the connect guard then checks every address it resolves to)."""
    try:
        domain = parse_target(target).domain
    except TargetError:
        return None  # make_plan says what is wrong with it
    try:
        ipaddress.ip_address(domain)
        return f"{domain} is an IP address; give the mail domain"
    except ValueError:
        pass
    if "." not in domain.rstrip(".") or any(domain == s or domain.endswith("." + s) for s in PRIVATE_SUFFIXES):
        return (f"{domain} is a name of a private or reserved network; this server diagnoses public mail "
                "domains only")
    return None


def equivalent_argv(settings: ServeSettings, fields: Fields) -> list[str]:
    """The `maildoctor check` command line of this run, for the report header (never a password)."""
    argv = ["check", fields.target]
    for ns in settings.nameservers:
        argv += ["--nameserver", ns]
    argv += ["--timeout", f"{settings.timeout:g}"]
    if settings.ca_file is not None:
        argv += ["--ca-file", str(settings.ca_file)]
    argv += [a for c in fields.checks for a in ("--check", c)]
    argv += [a for s in fields.selector_list for a in ("--dkim-selector", s)]
    return argv + (["--roundtrip"] if fields.roundtrip else [])
