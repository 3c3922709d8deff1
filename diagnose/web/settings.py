"""The server's settings, as `maildoctor serve` was started, and the rule that decides whether it
may start at all: beyond loopback only with a token or a proxy's authentication header."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from diagnose.engine.credentials import Secret, is_env_name
from diagnose.engine.timeouts import DEFAULT_TIMEOUT


class SettingsError(Exception):
    """`maildoctor serve` cannot start with these settings; the message is one line for stderr."""


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8025
    token: Secret | None = None  # from --token-env VAR: never on the command line, where ps shows it
    auth_header: str = ""  # --auth-header: a reverse proxy's header naming the authenticated user
    nameservers: tuple[str, ...] = ()  # --nameserver: the resolver every run asks
    timeout: float = DEFAULT_TIMEOUT  # --timeout of every run (seconds)
    ca_file: Path | None = None
    allow_private: bool = False  # --allow-private: runs may connect to private/loopback/own addresses
    keep_days: float = 30.0  # --keep-days: reports older than this are deleted
    db: Path = field(default_factory=lambda: default_db())
    max_runs: int = 4  # --max-runs: diagnoses running at once, all clients together
    queue: int = 16  # runs waiting for a free slot before new ones are refused (503)
    rate: int = 10  # --rate: diagnoses one client may start per minute
    trust_proxy: tuple[str, ...] = ()  # --forwarded-allow-ips: proxies whose X-Forwarded-For names the client

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def default_db() -> Path:
    """$XDG_DATA_HOME/maildoctor/serve.sqlite3 (~/.local/share/... by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "maildoctor" / "serve.sqlite3"


def is_loopback(host: str) -> bool:
    """Only this machine can reach ``host``: 127.0.0.0/8, ::1, or the name localhost."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def token_from_env(name: str, env: dict[str, str] | None = None) -> Secret:
    """The token held by environment variable ``name`` (SettingsError when unusable)."""
    env = dict(os.environ) if env is None else env
    if not is_env_name(name):  # not the token itself: that would show in the process list
        raise SettingsError("--token-env takes the NAME of an environment variable that holds the token "
                            "(letters, digits and _), not the token itself")
    value = env.get(name, "")
    if len(value) < 16:
        raise SettingsError(f"environment variable {name} must hold the token, at least 16 characters "
                            f"(it is {'unset' if name not in env else f'{len(value)} characters'})")
    return Secret(value)


def check_exposure(settings: ServeSettings) -> None:
    """Refuse to serve beyond loopback without authentication: a form that opens connections to any
    address is a scanner in the hands of whoever reaches it."""
    if settings.loopback or settings.token is not None or settings.auth_header:
        return
    raise SettingsError(
        f"refusing to listen on {settings.host}: beyond loopback (127.0.0.1, ::1) maildoctor serve needs "
        "--token-env VAR (a shared secret of at least 16 characters in that environment variable) or "
        "--auth-header NAME (the header your authenticating reverse proxy sets)")
