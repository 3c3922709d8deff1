"""`maildoctor check` without Typer: from its options (the keyword arguments Typer hands the `check`
command of diagnose.app.cli, or diagnose.app.checkargs gives from argv) to the exit code. The settings
of --config/--profile merged, the plan built, then the console run (or the TUI, which only
diagnose.app.cli starts: tests/unit/test_layering.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diagnose.engine.exitcodes import ExitCode

if TYPE_CHECKING:
    from collections.abc import Callable

    from diagnose.app.formats import Format
    from diagnose.app.plan import Request
    from diagnose.engine.exitcodes import FailOn


def run_check_command(
    *, target: str | None, nameserver: list[str], timeout: float | None, fmt: Format | None, output: Path | None,
    ca_file: Path | None, dkim_selector: list[str], dnsbl: list[str], cert_warn_days: int, no_revocation: bool,
    ehlo: str, smtp_host: list[str], imap_host: list[str], pop_host: list[str], only: list[str], skip: list[str],
    quiet: bool, verbose: bool, fail_on: FailOn | None, require: list[str], anonymize: bool, config: Path | None,
    profile: str | None, user: str, password_env: str, smtp_user: str, smtp_password_env: str, imap_user: str,
    imap_password_env: str, oauth2_token_env: str, oauth2_token_cmd: str, oauth2: str, allow_plaintext_auth: bool,
    roundtrip: bool, roundtrip_timeout: float, to: str, tui: bool, run_tui: Callable[[Request], int] | None = None,
) -> int:
    """Diagnose TARGET (or the --profile's), live in the TUI with ``tui`` (started by ``run_tui``): the exit code."""
    from diagnose.app.config import ConfigError, settings_for
    from diagnose.app.plan import Request, Servers
    from diagnose.engine.credentials import CredentialRequest

    given = dict(target=target, nameservers=nameserver, timeout=timeout, fmt=fmt.value if fmt else None, output=output,
                 ca_file=ca_file, only=only, skip=skip, fail_on=fail_on.value if fail_on else None, anonymize=anonymize,
                 require=require)
    try:
        settings = settings_for(config, profile, given, need_target=not tui)
    except ConfigError as exc:
        print_error(f"maildoctor: error: {exc}")
        return int(ExitCode.UNKNOWN)
    login = CredentialRequest(user=user, password_env=password_env, smtp_user=smtp_user,
                              smtp_password_env=smtp_password_env, imap_user=imap_user,
                              imap_password_env=imap_password_env, oauth2_token_env=oauth2_token_env,
                              oauth2_token_cmd=oauth2_token_cmd, oauth2_provider=oauth2)
    servers = Servers(cert_warn_days=cert_warn_days, ehlo_name=ehlo, smtp_hosts=tuple(smtp_host),
                      imap_hosts=tuple(imap_host), pop_hosts=tuple(pop_host), revocation=not no_revocation)
    request = Request(
        **settings,
        dkim_selectors=dkim_selector,
        dnsbl=dnsbl,
        servers=servers,
        quiet=quiet,
        verbose=verbose,
        argv=sys.argv[1:],
        login=login,
        allow_plaintext_auth=allow_plaintext_auth,
        roundtrip=roundtrip,
        roundtrip_timeout=roundtrip_timeout,
        to=to,
    )
    if tui:
        if run_tui is None:
            raise ValueError("check --tui: the TUI is started by diagnose.app.cli")
        return int(run_tui(request))
    from diagnose.app.progress import live_progress
    from diagnose.app.session import run_check

    return int(run_check(request, live_progress))


def main(args: list[str]) -> None:
    """The console script's `check ARGS` without Typer: sys.exit with its exit code, after what
    diagnose.app.cli.main does around a command (COLUMNS/LINES made safe for Rich, Ctrl-C as exit 130).
    Returns, having done nothing, when Typer must read ARGS (diagnose.app.checkargs is not sure of them)
    or they ask for the TUI (diagnose.app.cli starts it; importing textual costs far more than Typer)."""
    from diagnose.app.checkargs import parse

    options = parse(args)
    if options is None or options["tui"]:
        return
    from diagnose.knowledge.sanitize import drop_unusable_size_env

    drop_unusable_size_env()
    try:
        code = run_check_command(**options)
    except KeyboardInterrupt:  # Typer: Exit(130)
        code = int(ExitCode.INTERRUPTED)
    except EOFError:  # Ctrl-D at the password prompt. Typer: a new line, then Abort, which cli.main reports
        print(file=sys.stderr)
        print_error("maildoctor: interrupted")
        code = int(ExitCode.INTERRUPTED)
    except BrokenPipeError:  # the reader of the output has gone. Typer: exit 1, nothing more written
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)


# Click's pattern of an ANSI escape sequence (click._compat._ansi_re): typer.echo drops them when stderr is
# not a terminal, and an error printed here reads exactly as one printed through Typer.
_ANSI = r"\033\[[;?0-9]*[a-zA-Z]"


def print_error(message: str) -> None:
    """``message`` on stderr, as ``typer.echo(message, err=True)`` prints it."""
    if "\033" in message and not _isatty(sys.stderr):
        import re

        message = re.sub(_ANSI, "", message)
    print(message, file=sys.stderr, flush=True)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:  # noqa: BLE001 - click.utils's rule: a stream that cannot tell is no terminal
        return False
