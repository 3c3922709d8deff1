"""maildoctor.toml: named profiles for CI and monitoring runs (``--config``, ``--profile``).

    [profiles.ci]
    target = "example.com"
    checks = ["dns", "mx", "tcp"]          # like --check; skip = [...] like --skip
    nameservers = ["192.0.2.53"]
    timeout = 3
    fail_on = "warn"
    servers = { smtp = ["smtp.example.com"], imap = ["imap.example.com"] }
    expect.mx = ["mx1.example.com"]
    expect.cert_min_days = 21
    require = ["bulk-sender"]              # like --require: rule sets judged on the results
    credentials = { user_env = "MAIL_USER", password_env = "MAIL_PASSWORD" }   # variable NAMES only
    # or an OAuth 2.0 access token: credentials.oauth2_token_env = "MAIL_TOKEN" (a variable's name), or
    # credentials.oauth2 = "microsoft" (the login cached by `maildoctor login --provider microsoft`)

Every problem (syntax, unknown key, wrong type) is one ConfigError line naming the file, the line
and the key. Values given on the command line win over the profile's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diagnose.engine.credentials import is_env_name
from diagnose.engine.timeouts import DEFAULT_TIMEOUT
from reports import RENDERERS

DEFAULT_PATH = Path("maildoctor.toml")
DEFAULT_PROFILE = "default"
FORMATS = tuple(RENDERERS)
SERVER_ROLES = {"smtp": "smtp_hosts", "imap": "imap_hosts", "pop": "pop_hosts"}


class ConfigError(ValueError):
    """A configuration problem, as one line for stderr."""


@dataclass(frozen=True)
class Profile:
    """One profile of the config file: the settings it gives, before the command line's."""

    name: str
    path: Path
    target: str | None = None
    checks: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    nameservers: tuple[str, ...] = ()
    timeout: float | None = None
    fail_on: str | None = None
    format: str | None = None
    output: str | None = None
    ca_file: str | None = None
    anonymize: bool | None = None
    require: tuple[str, ...] = ()  # rule sets judged after the run (--require), e.g. ("bulk-sender",)
    servers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # Options.extra key -> host names
    expect: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)  # e.g. password_env -> "MAIL_PASSWORD"


def _strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def _choice(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda v: v if v in options else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


# key -> (converter returning None when the value is wrong, what a right value looks like)
SCALARS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "target": (_text, "a domain or an email address (a string)"),
    "checks": (_strings, "a list of check ids or prefixes"),
    "skip": (_strings, "a list of check ids or prefixes"),
    "nameservers": (_strings, 'a list of resolver addresses, e.g. ["192.0.2.53"]'),
    "timeout": (_number, "a positive number of seconds"),
    "fail_on": (_choice(("warn", "fail")), '"warn" or "fail"'),
    "format": (_choice(FORMATS), "one of " + ", ".join(FORMATS)),
    "output": (_text, "a file name (a string)"),
    "ca_file": (_text, "a PEM file name (a string)"),
    "anonymize": (_bool, "true or false"),
    "require": (_strings, 'a list of rule sets, e.g. ["bulk-sender"]'),
}
EXPECT: dict[str, tuple[Callable[[Any], Any], str]] = {
    "mx": (_strings, 'a list of host names, e.g. ["mx1.example.com"]'),
    "cert_min_days": (lambda v: v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None,
                      "a whole number of days (0 or more)"),
}
CREDENTIALS = ("user_env", "password_env", "oauth2_token_env", "oauth2")
# credentials.oauth2: a name given to `maildoctor login` (a string: re compiles it when a profile has one)
_PROVIDER_NAME = r"[a-z0-9][a-z0-9_-]{0,39}"


def load_profile(path: Path | None, name: str | None) -> Profile | None:
    """The profile to use: ``name`` from ``path`` (default ./maildoctor.toml when it exists).

    No --profile: the profile called "default" if the file has one, else None (no profile)."""
    explicit = path is not None
    path = path if path is not None else DEFAULT_PATH
    if not path.exists():
        if explicit or name:
            raise ConfigError(f"{path}: no such config file" + ("" if explicit else f" (needed by --profile {name})"))
        return None
    profiles = load_config(path)
    if name is None:
        return profiles.get(DEFAULT_PROFILE)
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(f"{path}: no profile {name!r} (profiles in this file: {known})")
    return profiles[name]


def load_config(path: Path) -> dict[str, Profile]:
    import tomllib  # only when there is a config file: most runs have none

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None
    where = _Locator(path, text)
    for key in data:
        if key != "profiles":
            raise where.error(key, [], f"unknown key {key!r} (profiles go in [profiles.NAME] tables)")
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise where.error("profiles", [], "must be a table of [profiles.NAME] sections")
    result = {}
    for name, body in profiles.items():
        if not isinstance(body, dict):
            raise where.error(name, ["profiles"], f"profiles.{name} must be a table ([profiles.{name}])")
        result[name] = _profile(name, body, where)
    return result


def _profile(name: str, body: dict[str, Any], where: _Locator) -> Profile:
    scope = ["profiles", name]
    values: dict[str, Any] = {}
    for key, value in body.items():
        if key in SCALARS:
            convert, wanted = SCALARS[key]
            converted = convert(value)
            if converted is None:
                raise where.error(key, scope, f"must be {wanted}, not {_shown(value)}")
            values[key] = converted
        elif key == "servers":
            values["servers"] = _table(
                value, key, scope, where, {r: (_strings, "a list of host names") for r in SERVER_ROLES}
            )
            values["servers"] = {SERVER_ROLES[r]: hosts for r, hosts in values["servers"].items()}
        elif key == "expect":
            values["expect"] = _table(value, key, scope, where, EXPECT)
        elif key == "credentials":
            values["credentials"] = _credentials(value, scope, where)
        else:
            known = ", ".join([*SCALARS, "servers", "expect", "credentials"])
            raise where.error(key, scope, f"unknown key (known: {known})")
    return Profile(name=name, path=where.path, **values)


def _table(value: Any, key: str, scope: list[str], where: _Locator, schema: dict) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.error(key, scope, f"must be a table, e.g. {key}.{next(iter(schema))} = ...")
    out = {}
    for sub, item in value.items():
        if sub not in schema:
            raise where.error(sub, [*scope, key], f"unknown key (known: {', '.join(schema)})")
        convert, wanted = schema[sub]
        converted = convert(item)
        if converted is None:
            raise where.error(sub, [*scope, key], f"must be {wanted}, not {_shown(item)}")
        out[sub] = converted
    return out


def _credentials(value: Any, scope: list[str], where: _Locator) -> dict[str, str]:
    if not isinstance(value, dict):
        raise where.error("credentials", scope, 'must be a table, e.g. credentials.password_env = "MAIL_PASSWORD"')
    out = {}
    for sub, item in value.items():
        if sub not in CREDENTIALS:
            raise where.error(sub, [*scope, "credentials"], f"unknown key (known: {', '.join(CREDENTIALS)}); a config "
                              "file names the environment variables that hold credentials, never the credentials")
        if sub == "oauth2":
            if not isinstance(item, str) or not re.fullmatch(_PROVIDER_NAME, item):
                raise where.error(sub, [*scope, "credentials"], "must be the provider name a `maildoctor login "
                                  "--provider NAME` was made with, e.g. \"microsoft\"")
        elif not isinstance(item, str) or not is_env_name(item):
            raise where.error(sub, [*scope, "credentials"], "must be the name of an environment variable (letters, "
                              "digits, _), e.g. \"MAIL_PASSWORD\"")
        out[sub] = item
    sources = [k for k in ("password_env", "oauth2_token_env", "oauth2") if k in out]
    if len(sources) > 1:
        raise where.error(sources[1], [*scope, "credentials"], f"name one way to log in, not {' and '.join(sources)}")
    return out


def _shown(value: Any) -> str:
    kind = {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "a table"}
    if isinstance(value, list) and value:
        odd = next((v for v in value if not isinstance(v, str)), value[0])
        return f"a list holding {kind.get(type(odd), type(odd).__name__)}"
    return kind.get(type(value), type(value).__name__)


class _Locator:
    """Finds the line a key is on (tomllib gives values, not positions) for the error message."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _ASSIGN = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    @staticmethod
    def _split(dotted: str) -> list[str]:
        return [part.strip().strip("\"'") for part in dotted.split(".")]

    def line_of(self, key: str, scope: list[str]) -> int | None:
        wanted = [*scope, key]
        table: list[str] = []
        for number, line in enumerate(self.lines, 1):
            header = self._HEADER.match(line)
            if header:
                table = self._split(header.group(1))
                if table == wanted:
                    return number
                continue
            assign = self._ASSIGN.match(line)
            if assign:
                full = table + self._split(assign.group(1))
                if full[: len(wanted)] == wanted or (full == wanted[: len(full)] and "{" in line):
                    return number
        return None

    def error(self, key: str, scope: list[str], message: str) -> ConfigError:
        line = self.line_of(key, scope)
        at = f", line {line}" if line else ""
        return ConfigError(f"{self.path}{at}: {'.'.join([*scope, key])}: {message}")


def merge(profile: Profile | None, given: dict[str, Any]) -> dict[str, Any]:
    """Settings for one run: what the command line gave (None / empty = not given) over the profile.

    Returns keyword arguments for plan.Request (plus ``expect``/``extra``/``profile``)."""
    p = profile or Profile(name="", path=DEFAULT_PATH)
    out = dict(given)
    for key in ("target", "timeout", "fail_on", "output", "ca_file"):
        if out.get(key) is None:
            out[key] = getattr(p, key)
    for key, attr in (("nameservers", "nameservers"), ("only", "checks"), ("skip", "skip"), ("require", "require")):
        if not out.get(key):
            out[key] = list(getattr(p, attr))
    if out.get("fmt") is None:
        out["fmt"] = p.format or _format_of(out.get("output")) or "text"
    if not out.get("anonymize"):
        out["anonymize"] = bool(p.anonymize)
    if out.get("timeout") is None:
        out["timeout"] = DEFAULT_TIMEOUT
    if isinstance(out.get("output"), str):
        out["output"] = Path(out["output"])
    if isinstance(out.get("ca_file"), str):  # from the profile: relative to the config file
        out["ca_file"] = p.path.parent / out["ca_file"]
    out["expect"] = dict(p.expect)
    out["extra"] = {
        **{k: tuple(v) for k, v in p.servers.items()},
        **({"credential_env": dict(p.credentials)} if p.credentials else {}),
    }
    out["profile"] = p.name and f"{p.name} ({p.path})"
    return out


SUFFIX_FORMATS = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html",
                  ".xml": "junit", ".txt": "text"}


def _format_of(output: Any) -> str | None:
    """--output report.html without --format writes HTML (likewise .md, .json, .xml = JUnit, .txt)."""
    return SUFFIX_FORMATS.get(Path(str(output)).suffix.lower()) if output else None


def settings_for(path: Path | None, profile_name: str | None, given: dict[str, Any], *,
                 need_target: bool = True) -> dict[str, Any]:
    """Load the profile (if any) and merge the command line over it; ConfigError on any problem
    (``need_target=False``: no target is fine, the TUI asks for one)."""
    settings = merge(load_profile(path, profile_name), given)
    if need_target and not settings.get("target"):
        raise ConfigError("give a TARGET (a domain or an email address), or a --profile whose config sets target")
    return settings
