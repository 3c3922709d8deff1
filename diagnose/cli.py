"""The command line: parse, call the engine, render, map outcomes to exit codes. Nothing else."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .exitcodes import ExitCode

app = typer.Typer(
    name="maildoctor",
    help="Find out why email is not working, and say so in plain words.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Format(str, enum.Enum):
    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"maildoctor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Diagnose a mail domain: DNS, MX, reachability, TLS, authentication, delivery."""


@app.command()
def check(
    target: str = typer.Argument(..., help="A domain (example.com) or an email address (you@example.com)."),
    nameserver: List[str] = typer.Option([], "--nameserver", "-n", metavar="IP[:PORT]",
                                         help="Send every DNS query to this resolver (repeatable). Default: the system's resolvers."),
    timeout: float = typer.Option(5.0, "--timeout", "-t", metavar="SECONDS", help="Time limit for each network operation."),
    fmt: Format = typer.Option(Format.text, "--format", "-f", help="Report format."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the report to FILE."),
    ca_file: Optional[Path] = typer.Option(None, "--ca-file", metavar="PEM", help="Also trust the CA certificates in PEM."),
    dkim_selector: List[str] = typer.Option([], "--dkim-selector", metavar="NAME",
                                            help="DKIM selector to test (the s= of your DKIM-Signature; repeatable). Default: common ones."),
    dnsbl: List[str] = typer.Option([], "--dnsbl", metavar="ZONE",
                                    help="Look the MX addresses up on this blocklist (repeatable; 'default' = well-known public lists). Default: none."),
    only: List[str] = typer.Option([], "--check", "-c", metavar="ID", help="Run only these checks (id or prefix, repeatable)."),
    skip: List[str] = typer.Option([], "--skip", metavar="ID", help="Do not run these checks (id or prefix, repeatable)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="With --output: print nothing on stdout."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Explain passing findings too."),
) -> None:
    """Diagnose TARGET and print what works, what is broken and how to fix it."""
    from .session import CheckRequest, run_check

    request = CheckRequest(target=target, nameservers=nameserver, timeout=timeout, fmt=fmt.value, output=output,
                           ca_file=ca_file, dkim_selectors=dkim_selector, dnsbl=dnsbl, only=only, skip=skip, quiet=quiet, verbose=verbose, argv=sys.argv[1:])
    raise typer.Exit(int(run_check(request)))


@app.command("settings")
def settings(
    target: str = typer.Argument(..., help="A domain (example.com) or an email address (you@example.com)."),
    nameserver: List[str] = typer.Option([], "--nameserver", "-n", metavar="IP[:PORT]",
                                         help="Send every DNS query to this resolver (repeatable). Default: the system's resolvers."),
    timeout: float = typer.Option(5.0, "--timeout", "-t", metavar="SECONDS", help="Time limit for each network operation."),
    ca_file: Optional[Path] = typer.Option(None, "--ca-file", metavar="PEM", help="Also trust the CA certificates in PEM."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Show the incoming (IMAP/POP3) and outgoing (SMTP) server settings to type into a mail program."""
    from .session import CheckRequest
    from .settings_cmd import run_settings

    request = CheckRequest(target=target, nameservers=nameserver, timeout=timeout, fmt="json" if json_out else "text",
                           ca_file=ca_file, argv=sys.argv[1:])
    raise typer.Exit(int(run_settings(request)))


@app.command("checks")
def list_checks() -> None:
    """List the installed check plugins."""
    from .registry import discover

    found = discover()
    for problem in found.problems:
        typer.echo(f"warning: {problem}", err=True)
    width = max((len(c.id) for c in found.checks), default=10)
    for c in found.checks:
        typer.echo(f"{c.id:<{width}}  {c.side.value:<8}  {c.title}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: usage errors exit 3 (not Click's 2, which means 'fail' here)."""
    try:
        code = app(args=argv, prog_name="maildoctor", standalone_mode=False)
    except typer.Abort:
        typer.echo("maildoctor: interrupted", err=True)
        code = ExitCode.INTERRUPTED
    except typer.TyperException as exc:  # Typer's (vendored Click's) usage errors and friends
        if type(exc).__name__ == "NoArgsIsHelpError":
            typer.echo(exc.format_message(), err=True)
        else:
            ctx = getattr(exc, "ctx", None)
            where = f"maildoctor {ctx.info_name} --help" if ctx and ctx.info_name != "maildoctor" else "maildoctor --help"
            typer.echo(f"maildoctor: error: {exc.format_message()} (see: {where})", err=True)
        code = ExitCode.UNKNOWN
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED
    sys.exit(int(code or 0))

