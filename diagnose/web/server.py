"""Start `maildoctor serve`: check the settings (no listening beyond loopback without
authentication), open the history, and run the app on uvicorn until Ctrl-C."""

from __future__ import annotations

import importlib.util
import logging
import socket
import sqlite3
import sys
from pathlib import Path

from diagnose.app.plan import BOUNDS, PlanError, parse_nameservers, readable_ca
from diagnose.engine.exitcodes import ExitCode
from diagnose.web.settings import ServeSettings, SettingsError, check_exposure, default_db, token_from_env

CONNECTIONS = 256  # at most this many open connections at once (each live page holds one)
INSTALL_HINT = ("maildoctor serve needs the web extra (Starlette and uvicorn): pip install 'maildoctor[web]' "
                "(in a checkout: .venv/bin/pip install -e '.[web]')")

log = logging.getLogger("maildoctor.serve")


def run_serve(*, host: str, port: int, token_env: str, auth_header: str, nameservers: list[str], timeout: float,
              ca_file: Path | None, allow_private: bool, keep_days: float, db: Path | None, max_runs: int, rate: int,
              forwarded_allow_ips: list[str]) -> ExitCode:
    """`maildoctor serve`: the options checked into settings (one line on stderr when they are not
    usable), then ``serve``."""
    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"maildoctor: error: {INSTALL_HINT}; missing: {', '.join(missing)}", file=sys.stderr)
        return ExitCode.UNKNOWN
    try:
        settings = settings_from_options(
            host=host, port=port, token_env=token_env, auth_header=auth_header, nameservers=nameservers,
            timeout=timeout, ca_file=ca_file, allow_private=allow_private, keep_days=keep_days, db=db,
            max_runs=max_runs, rate=rate, forwarded_allow_ips=forwarded_allow_ips)
    except (SettingsError, PlanError) as exc:
        print(f"maildoctor: error: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    return serve(settings)


def settings_from_options(*, host: str, port: int, token_env: str, auth_header: str, nameservers: list[str],
                          timeout: float, ca_file: Path | None, allow_private: bool, keep_days: float,
                          db: Path | None, max_runs: int, rate: int,
                          forwarded_allow_ips: list[str]) -> ServeSettings:
    """Every option checked (SettingsError or PlanError naming the option and its range)."""
    if not 1 <= port <= 65535:
        raise SettingsError("--port must be between 1 and 65535")
    if not (0 < keep_days <= 3650):
        raise SettingsError("--keep-days must be more than 0 and at most 3650")
    if not 1 <= max_runs <= 256:
        raise SettingsError("--max-runs must be between 1 and 256")
    if not 1 <= rate <= 10_000:
        raise SettingsError("--rate must be between 1 and 10000")
    if auth_header and not all(c.isalnum() or c == "-" for c in auth_header):
        raise SettingsError(f"--auth-header takes a header name (letters, digits, -), not {auth_header[:40]!r}")
    parse_nameservers(nameservers)
    return ServeSettings(
        host=host.strip().strip("[]") or "127.0.0.1", port=port,
        token=token_from_env(token_env) if token_env else None, auth_header=auth_header,
        nameservers=tuple(nameservers), timeout=float(BOUNDS["timeout"].check(timeout)), ca_file=readable_ca(ca_file),
        allow_private=allow_private, keep_days=keep_days, db=db or default_db(), max_runs=max_runs,
        queue=4 * max_runs, rate=rate, trust_proxy=tuple(forwarded_allow_ips))


def serve(settings: ServeSettings) -> ExitCode:
    """Run the server; the exit code (UNKNOWN with one line on stderr when it cannot start)."""
    try:
        check_exposure(settings)
        _check_port(settings.host, settings.port)
        from diagnose.web.app import create_app
        from diagnose.web.store import History

        history = History(settings.db, settings.keep_days)
    except SettingsError as exc:
        print(f"maildoctor: error: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    except (OSError, sqlite3.Error) as exc:  # the history's directory or file
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"maildoctor: error: cannot open the history {settings.db}: {why}", file=sys.stderr)
        return ExitCode.UNKNOWN
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="maildoctor serve: %(message)s", stream=sys.stderr)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    resolver = ", ".join(settings.nameservers) or "the system's resolvers"
    targets = "private targets allowed" if settings.allow_private else "public targets only"
    print(f"maildoctor serve: http://{host}:{settings.port}/  (DNS: {resolver}; history: {settings.db}, kept "
          f"{settings.keep_days:g} days; {targets})",
          file=sys.stderr, flush=True)
    config = uvicorn.Config(create_app(settings, history), host=settings.host, port=settings.port,
                            access_log=False,  # our own log lines carry no query strings, forms or tokens
                            log_level="warning", server_header=False,
                            proxy_headers=bool(settings.trust_proxy),
                            forwarded_allow_ips=list(settings.trust_proxy) or None,
                            limit_concurrency=CONNECTIONS,  # open connections (live pages included), then 503
                            timeout_graceful_shutdown=5)
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        pass
    return ExitCode.OK


def _check_port(host: str, port: int) -> None:
    """A clear error for a port in use or an address not on this machine, before uvicorn starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except (socket.gaierror, UnicodeError) as exc:
            raise SettingsError(f"cannot listen on {host!r}: {exc}") from None
        except OSError as exc:
            raise SettingsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
