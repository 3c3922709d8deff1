"""The command line: parse, call the engine, render, map outcomes to exit codes. Nothing else."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from diagnose import __version__
from diagnose.app.checkcmd import run_check_command
from diagnose.app.formats import Format
from diagnose.engine.exitcodes import ExitCode, FailOn
from diagnose.engine.timeouts import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from diagnose.app.plan import Request


def _help_defaults_false(option):  # type: ignore[no-untyped-def]
    """Typer coerces a --help flag that defaults to None through pydantic on every command run, and
    importing pydantic costs more than the rest of start-up; a False default skips that."""
    if option is not None and option.default is None:
        option.default = False
    return option


def _argument_name(param) -> str:  # type: ignore[no-untyped-def]
    return param.metavar or param.name.upper()


def _format_examples(self, ctx, formatter) -> None:  # type: ignore[no-untyped-def]
    """The epilog as an "Examples" section, one command per line as written (not re-wrapped)."""
    if self.epilog:
        with formatter.section("Examples"):
            for line in self.epilog.strip().splitlines():
                formatter.write(f"{'':>{formatter.current_indent}}{line.strip()}\n")


class _Command(typer.core.TyperCommand):
    """Plain help (no Rich): TARGET-style argument names, option panels, examples."""

    def get_help_option(self, ctx):  # type: ignore[no-untyped-def]
        return _help_defaults_false(super().get_help_option(ctx))

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        from diagnose.app.fastopts import install  # plain option values converted without pydantic

        install(self.get_params(ctx))
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx):  # type: ignore[no-untyped-def]
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument" and not getattr(param, "hidden", False):
                name = _argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx, formatter) -> None:  # type: ignore[no-untyped-def]
        args: list[tuple[str, str]] = []
        panels: dict[str, list[tuple[str, str]]] = {}  # rich_help_panel (or "Options") -> help records, in order
        for param in self.get_params(ctx):
            if getattr(param, "hidden", False):
                continue
            if param.param_type_name == "argument":
                args.append((_argument_name(param), getattr(param, "help", None) or ""))
            elif (record := param.get_help_record(ctx)) is not None:
                panels.setdefault(getattr(param, "rich_help_panel", None) or "Options", []).append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        order = [_P_TARGET, _P_SERVERS, _P_LOGIN, _P_TLS, _P_CHECKS, _P_OUTPUT]
        for title, records in sorted(panels.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99):
            with formatter.section(title):
                formatter.write_dl(records)

    format_epilog = _format_examples


class _Group(typer.core.TyperGroup):
    def get_help_option(self, ctx):  # type: ignore[no-untyped-def]
        return _help_defaults_false(super().get_help_option(ctx))

    def get_params(self, ctx):  # type: ignore[no-untyped-def]
        params = super().get_params(ctx)
        for param in params:  # --install-completion, --show-completion: as for --help (above)
            if param.name in ("install_completion", "show_completion"):
                _help_defaults_false(param)
        return params

    def resolve_command(self, ctx, args):  # type: ignore[no-untyped-def]
        name = args[0] if args else ""
        if name and self.get_command(ctx, name) is None and ("." in name or "@" in name) and not name.startswith("-"):
            ctx.fail(f"{name!r} is not a command; to diagnose it: maildoctor check {name}")
        return super().resolve_command(ctx, args)

    format_epilog = _format_examples


app = typer.Typer(
    cls=_Group,
    name="maildoctor",
    help="Find out why email is not working, and say so in plain words.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="maildoctor check example.com\nmaildoctor check you@example.com --roundtrip --password-env MAIL_PASSWORD\n"
    "maildoctor tui\nmaildoctor explain tls.cert_expired",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"maildoctor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Diagnose a mail domain: DNS, MX, reachability, TLS, authentication, delivery."""


# the panels of the options of `check` (and `tui`) in --help
_P_TARGET = "Target & DNS"
_P_SERVERS = "Servers"
_P_TLS = "TLS"
_P_LOGIN = "Login & round trip"
_P_CHECKS = "Checks"
_P_OUTPUT = "Output"

# the Examples of each command's --help (one command per line)
CHECK_EXAMPLES = """maildoctor check example.com
maildoctor check you@example.com --password-env MAIL_PASSWORD --roundtrip
maildoctor check you@example.com --oauth2 microsoft --roundtrip
maildoctor check example.com -c tls -f html -o report.html"""


@app.command(epilog=CHECK_EXAMPLES)
def check(
    target: str | None = typer.Argument(
        None, help="A domain (example.com) or an email address (you@example.com); may come from --profile."
    ),
    nameserver: list[str] = typer.Option(
        [],
        "--nameserver",
        "-n",
        metavar="IP[:PORT]",
        help="Send every DNS query to this resolver (repeatable). Default: the system's resolvers.",
        rich_help_panel=_P_TARGET,
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", "-t", metavar="SECONDS",
        help="Time limit for each network operation (more than 0, at most 600; default 5); "
               "the whole run stops after 6 x this + 5 s.",
        rich_help_panel=_P_TARGET,
    ),
    fmt: Format | None = typer.Option(
        None, "--format", "-f", help="Report format (default text).",
        rich_help_panel=_P_OUTPUT,
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Write the report to FILE.",
        rich_help_panel=_P_OUTPUT,
    ),
    ca_file: Path | None = typer.Option(
        None, "--ca-file", metavar="PEM", help="Also trust the CA certificates in PEM.",
        rich_help_panel=_P_TLS,
    ),
    dkim_selector: list[str] = typer.Option(
        [],
        "--dkim-selector",
        metavar="NAME",
        help="DKIM selector to test (the s= of your DKIM-Signature; repeatable). Default: common ones.",
        rich_help_panel=_P_TARGET,
    ),
    dnsbl: list[str] = typer.Option(
        [],
        "--dnsbl",
        metavar="ZONE",
        help="Look the MX addresses up on this blocklist (repeatable; 'default' = well-known public lists). "
        "Default: none.",
        rich_help_panel=_P_TARGET,
    ),
    cert_warn_days: int = typer.Option(
        14,
        "--cert-warn-days",
        metavar="DAYS",
        help="Warn when a server certificate expires within DAYS (0-3650, default 14).",
        show_default=False, rich_help_panel=_P_TLS,
    ),
    no_revocation: bool = typer.Option(
        False, "--no-revocation", help="Do not ask certificate authorities (OCSP, CRL, AIA): revocation not checked.",
        rich_help_panel=_P_TLS,
    ),
    ehlo: str = typer.Option(
        "", "--ehlo", metavar="NAME", help="EHLO name of the SMTP probes (default: this machine's address literal).",
        rich_help_panel=_P_SERVERS,
    ),
    smtp_host: list[str] = typer.Option(
        [],
        "--smtp-host",
        metavar="HOST",
        help="Test this submission server (587/465) instead of discovering it (repeatable).",
        rich_help_panel=_P_SERVERS,
    ),
    imap_host: list[str] = typer.Option(
        [], "--imap-host", metavar="HOST", help="Test this IMAP server (143/993) instead of discovering it.",
        rich_help_panel=_P_SERVERS,
    ),
    pop_host: list[str] = typer.Option(
        [], "--pop-host", metavar="HOST", help="Test this POP3 server (110/995) instead of discovering it.",
        rich_help_panel=_P_SERVERS,
    ),
    only: list[str] = typer.Option(
        [], "--check", "-c", metavar="ID", help="Run only these checks (id or prefix, repeatable).",
        rich_help_panel=_P_CHECKS,
    ),
    skip: list[str] = typer.Option(
        [], "--skip", metavar="ID", help="Do not run these checks (id or prefix, repeatable).",
        rich_help_panel=_P_CHECKS,
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="With --output: print nothing on stdout.",
        rich_help_panel=_P_OUTPUT,
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Also list skipped checks with their reason, and show the full report header.",
        rich_help_panel=_P_OUTPUT,
    ),
    fail_on: FailOn | None = typer.Option(
        None, "--fail-on", help="Lowest status that exits non-zero (default warn: 1 on warnings).",
        rich_help_panel=_P_CHECKS,
    ),
    require: list[str] = typer.Option(
        [], "--require", metavar="SET",
        help="Judge the results by a set of rules too (repeatable): bulk-sender = the Google, Yahoo and "
        "Microsoft rules for bulk senders.",
        rich_help_panel=_P_CHECKS,
    ),
    anonymize: bool = typer.Option(
        False, "--anonymize", help="Leave this machine's host name out of the report.",
        rich_help_panel=_P_OUTPUT,
    ),
    config: Path | None = typer.Option(
        None, "--config", metavar="TOML", help="Config file (default ./maildoctor.toml if present).",
        rich_help_panel=_P_TARGET,
    ),
    profile: str | None = typer.Option(
        None, "--profile", "-p", metavar="NAME", help="Use the settings of this profile of the config file.",
        rich_help_panel=_P_TARGET,
    ),
    user: str = typer.Option(
        "",
        "--user",
        "-u",
        metavar="NAME",
        help="Log in as NAME on submission, IMAP and POP3 "
        "(default: TARGET when it is an address). The password comes from --password-env or a prompt.",
        rich_help_panel=_P_LOGIN,
    ),
    password_env: str = typer.Option(
        "",
        "--password-env",
        metavar="VAR",
        help="Name of the environment variable that holds the password (never give a password on the command line).",
        rich_help_panel=_P_LOGIN,
    ),
    smtp_user: str = typer.Option(
        "", "--smtp-user", metavar="NAME", help="Outgoing (SMTP) user, when it differs.",
        rich_help_panel=_P_LOGIN,
    ),
    smtp_password_env: str = typer.Option(
        "", "--smtp-password-env", metavar="VAR", help="Outgoing password's variable.",
        rich_help_panel=_P_LOGIN,
    ),
    imap_user: str = typer.Option(
        "", "--imap-user", metavar="NAME", help="Incoming (IMAP and POP3) user, when it differs.",
        rich_help_panel=_P_LOGIN,
    ),
    imap_password_env: str = typer.Option(
        "", "--imap-password-env", metavar="VAR", help="Incoming password's variable.",
        rich_help_panel=_P_LOGIN,
    ),
    oauth2_token_env: str = typer.Option(
        "", "--oauth2-token-env", metavar="VAR",
        help="Log in with the OAuth 2.0 access token in this environment variable (XOAUTH2/OAUTHBEARER) "
        "instead of a password.",
        rich_help_panel=_P_LOGIN,
    ),
    oauth2_token_cmd: str = typer.Option(
        "", "--oauth2-token-cmd", metavar="CMD",
        help="Run CMD (sh -c) and log in with the access token it prints (read from a pipe, never shown).",
        rich_help_panel=_P_LOGIN,
    ),
    oauth2: str = typer.Option(
        "", "--oauth2", metavar="PROVIDER",
        help="Log in with the login cached by `maildoctor login --provider PROVIDER` (its token is refreshed).",
        rich_help_panel=_P_LOGIN,
    ),
    allow_plaintext_auth: bool = typer.Option(
        False,
        "--allow-plaintext-auth",
        help="Also send credentials over connections without TLS (default: only after TLS).",
        rich_help_panel=_P_LOGIN,
    ),
    roundtrip: bool = typer.Option(
        False,
        "--roundtrip",
        help="Send a test message to the account itself (or --to) "
        "and wait until it arrives in the mailbox; it is deleted afterwards.",
        rich_help_panel=_P_LOGIN,
    ),
    roundtrip_timeout: float = typer.Option(
        120.0,
        "--roundtrip-timeout",
        metavar="SECONDS",
        help="How long to wait for the round-trip message (1-3600, default 120).",
        show_default=False, rich_help_panel=_P_LOGIN,
    ),
    to: str = typer.Option(
        "", "--to", metavar="ADDRESS", help="Round trip to this address, read with the incoming credentials.",
        rich_help_panel=_P_LOGIN,
    ),
    tui: bool = typer.Option(
        False, "--tui", help="Watch the diagnosis live in the interactive terminal UI.",
        rich_help_panel=_P_OUTPUT,
    ),
) -> None:
    """Diagnose TARGET and print what works, what is broken and how to fix it."""
    # the whole command is Typer-free (diagnose.app.checkcmd): the console script runs it without Typer
    # when diagnose.app.checkargs reads the argv; the options are the same keyword arguments either way
    raise typer.Exit(run_check_command(**locals(), run_tui=_run_tui))


def _run_tui(request: Request) -> int:
    from diagnose.tui.launch import run_tui  # textual is imported only here

    return int(run_tui(request))


def _tui(**options: object) -> None:
    check(**options, tui=True)  # type: ignore[arg-type]


# `tui` takes exactly the options of `check` (whatever is added there later), TARGET optional.
_tui.__signature__ = inspect.signature(check, eval_str=True).replace(  # type: ignore[attr-defined]
    parameters=[p for p in inspect.signature(check, eval_str=True).parameters.values() if p.name != "tui"])
_tui.__doc__ = "Watch the diagnosis of TARGET live in an interactive terminal UI (asks for TARGET if not given)."
app.command("tui", epilog="maildoctor tui\nmaildoctor tui you@example.com --password-env MAIL_PASSWORD")(_tui)


@app.command("login", epilog="maildoctor login --provider microsoft --client-id ID --user you@example.com\n"
             "maildoctor login --provider google --client-id ID --client-secret-env GOOGLE_SECRET\n"
             "maildoctor check you@example.com --oauth2 microsoft\nmaildoctor login --provider microsoft --forget")
def login(
    provider: str = typer.Option(
        ..., "--provider", metavar="NAME",
        help="microsoft, google, or a name of your own for a custom provider (with --token-url)."),
    client_id: str = typer.Option("", "--client-id", metavar="ID",
                                  help="The application (client) id registered with the provider."),
    user: str = typer.Option("", "--user", "-u", metavar="ADDRESS", help="The mailbox to sign in (login hint)."),
    flow: str = typer.Option("", "--flow", metavar="device|browser",
                             help="Device code (RFC 8628) or browser with a loopback redirect (RFC 8252); "
                             "default: device, browser for google.", show_default=False),
    tenant: str = typer.Option("organizations", "--tenant", metavar="TENANT",
                               help="Microsoft: tenant id or domain (or organizations, consumers, common)."),
    scope: list[str] = typer.Option([], "--scope", metavar="SCOPE",
                                    help="Scopes instead of the preset's (repeatable)."),
    token_url: str = typer.Option("", "--token-url", metavar="URL", help="Custom provider: token endpoint."),
    device_url: str = typer.Option("", "--device-url", metavar="URL",
                                   help="Custom provider: device authorization endpoint."),
    authorize_url: str = typer.Option("", "--authorize-url", metavar="URL",
                                      help="Custom provider: authorization endpoint (browser flow)."),
    client_secret_env: str = typer.Option("", "--client-secret-env", metavar="VAR",
                                          help="Variable holding the client secret, where the provider needs one."),
    nameserver: list[str] = typer.Option([], "--nameserver", metavar="IP[:PORT]",
                                         help="DNS resolver to use for the provider's names."),
    ca_file: Path | None = typer.Option(None, "--ca-file", metavar="PEM", help="Also trust this CA."),
    timeout: float = typer.Option(10.0, "--timeout", metavar="SECONDS", help="Network timeout of one step."),
    forget: bool = typer.Option(False, "--forget", help="Delete the cached login of PROVIDER and exit."),
) -> None:
    """Sign in once with OAuth 2.0 and cache the refresh token for `check --oauth2 PROVIDER`."""
    from diagnose.app.loginflow import LoginRequest, run_login

    raise typer.Exit(int(run_login(LoginRequest(
        provider=provider, client_id=client_id, user=user, flow=flow, tenant=tenant, scopes=tuple(scope),
        token_url=token_url, device_url=device_url, authorize_url=authorize_url,
        client_secret_env=client_secret_env, nameservers=tuple(nameserver), ca_file=ca_file, timeout=timeout,
        forget=forget))))


@app.command("report",
             epilog="maildoctor check example.com -f json -o run.json\nmaildoctor report run.json -f markdown")
def report(
    file: Path = typer.Argument(
        ..., metavar="FILE.json", help="A JSON report saved by `maildoctor check --format json`."
    ),
    fmt: Format = typer.Option(Format["text"], "--format", "-f", help="Format to render it in."),
    output: Path | None = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the report to FILE."),
    anonymize: bool = typer.Option(False, "--anonymize", help="Leave the host name out."),
    fail_on: FailOn | None = typer.Option(None, "--fail-on", help="Lowest status that exits non-zero (default warn)."),
) -> None:
    """Render a saved JSON report in another format (exit code: the report's verdict, as for check)."""
    from diagnose.app.rerender import rerender

    raise typer.Exit(
        int(rerender(file, fmt.value, output, anonymize=anonymize, fail_on=fail_on.value if fail_on else None))
    )


@app.command("message", epilog="maildoctor message bounce.eml\nmaildoctor message - -f markdown < headers.txt")
def message(
    file: str = typer.Argument(..., metavar="FILE",
                               help="A bounce or message: .eml, an mbox with one message, or its header ('-': stdin)."),
    fmt: Format = typer.Option(Format["text"], "--format", "-f", help="Report format (default text).",
                               show_default=False),
    output: Path | None = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the report to FILE."),
    fail_on: FailOn | None = typer.Option(None, "--fail-on", help="Lowest status that exits non-zero (default warn)."),
    require: list[str] = typer.Option(
        [], "--require", metavar="SET",
        help="Also judge the message by these rules: bulk-sender (one-click unsubscribe, RFC 8058)."),
    nameserver: list[str] = typer.Option(
        [], "--nameserver", "-n", metavar="IP[:PORT]",
        help="Send the DNS queries of the DKIM, SPF and DMARC re-checks to this resolver (repeatable). "
             "Default: the system's resolvers.",
    ),
    timeout: float = typer.Option(
        DEFAULT_TIMEOUT, "--timeout", "-t", metavar="SECONDS",
        help="Time limit for each DNS lookup (more than 0, at most 600).",
    ),
    offline: bool = typer.Option(False, "--offline", help="Ask no DNS: hops, verdicts and spam headers only."),
    anonymize: bool = typer.Option(
        False, "--anonymize", help="Hide the message's addresses, host names and IP addresses in the report.",
    ),
) -> None:
    """Read a bounce, auto-reply or message header: why mail failed, its hops and the receiver's verdicts."""
    from diagnose.app.message import run_message
    from diagnose.app.message_recheck import Lookup
    from diagnose.app.plan import BOUNDS, PlanError, require_sets

    try:
        sets = require_sets(require)
        BOUNDS["timeout"].check(timeout)
    except PlanError as exc:
        typer.echo(f"maildoctor: error: {exc}", err=True)
        raise typer.Exit(int(ExitCode.UNKNOWN)) from None
    lookup = None if offline else Lookup(tuple(nameserver), timeout)
    raise typer.Exit(int(run_message(file, fmt.value, output, fail_on=fail_on.value if fail_on else None,
                                     require=sets, lookup=lookup, anonymize=anonymize)))


@app.command("explain", epilog="maildoctor explain tls.cert_expired\nmaildoctor explain")
def explain(
    code: str | None = typer.Argument(None, help="A finding code, e.g. tcp.refused; none: list every code."),
) -> None:
    """Explain a finding code: what it means, why it matters and how to fix it."""
    from diagnose.app.message import catalogue_checks
    from diagnose.engine.catalogue import explain as explain_code
    from diagnose.engine.catalogue import listing, similar

    known = catalogue_checks()
    if code is None:
        typer.echo(listing(known), nl=False)
        return
    text = explain_code(code, known)
    if text is None:
        near = similar(code, checks=known)
        hint = f" (similar: {', '.join(near)})" if near else " (see `maildoctor checks`)"
        typer.echo(f"maildoctor: error: no finding code {code!r}{hint}", err=True)
        raise typer.Exit(int(ExitCode.UNKNOWN))
    typer.echo(text, nl=False)


@app.command("settings", epilog="maildoctor settings you@example.com\nmaildoctor settings example.com --json")
def settings(
    target: str = typer.Argument(..., help="A domain (example.com) or an email address (you@example.com)."),
    nameserver: list[str] = typer.Option(
        [],
        "--nameserver",
        "-n",
        metavar="IP[:PORT]",
        help="Send every DNS query to this resolver (repeatable). Default: the system's resolvers.",
    ),
    timeout: float = typer.Option(
        DEFAULT_TIMEOUT, "--timeout", "-t", metavar="SECONDS",
        help="Time limit for each network operation (more than 0, at most 600).",
    ),
    ca_file: Path | None = typer.Option(
        None, "--ca-file", metavar="PEM", help="Also trust the CA certificates in PEM."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Show the incoming (IMAP/POP3) and outgoing (SMTP) server settings to type into a mail program."""
    from diagnose.app.plan import Request
    from diagnose.app.settings_cmd import run_settings

    request = Request(target=target, nameservers=nameserver, timeout=timeout, fmt="json" if json_out else "text",
                           ca_file=ca_file, argv=sys.argv[1:])
    raise typer.Exit(int(run_settings(request)))


@app.command("batch", epilog="maildoctor batch domains.txt -o results.jsonl\n"
             "printf 'example.com\\nexample.org\\n' | maildoctor batch -")
def batch(
    file: str = typer.Argument(
        ...,
        metavar="FILE",
        help="Targets, one domain or address per line ('-': standard input; blank lines and # comments are ignored).",
    ),
    nameserver: list[str] = typer.Option(
        [],
        "--nameserver",
        "-n",
        metavar="IP[:PORT]",
        help="Send every DNS query to this resolver (repeatable). Default: the system's resolvers.",
    ),
    timeout: float = typer.Option(
        DEFAULT_TIMEOUT, "--timeout", "-t", metavar="SECONDS",
        help="Time limit for each network operation (more than 0, at most 600).",
    ),
    concurrency: int = typer.Option(
        32, "--concurrency", "-j", metavar="N", help="Targets diagnosed at a time (1-1024)."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Append the JSON lines to FILE (the summary then goes to stdout)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Skip the targets already in the --output file."),
    only: list[str] = typer.Option(
        [],
        "--check",
        "-c",
        metavar="ID",
        help="Run these checks instead of the default dns.exists, mx.records, tcp.connect, "
        "spf, dmarc (id or prefix, repeatable).",
    ),
    skip: list[str] = typer.Option(
        [], "--skip", metavar="ID", help="Do not run these checks (id or prefix, repeatable)."
    ),
    ca_file: Path | None = typer.Option(
        None, "--ca-file", metavar="PEM", help="Also trust the CA certificates in PEM."
    ),
    fail_on: FailOn | None = typer.Option(None, "--fail-on", help="Lowest verdict that exits non-zero (default warn)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar, even on a terminal."),
    workers: str = typer.Option(
        "1", "--workers", "-w", metavar="N|auto",
        help="Worker processes sharing --concurrency (1-64, or auto: one per usable core).",
    ),
    require: list[str] = typer.Option(
        [], "--require", metavar="SET",
        help="Judge each target by a set of rules too (repeatable): bulk-sender = the Google, Yahoo and Microsoft "
        "rules for bulk senders (adds the DKIM, PTR and TLS checks they need unless --check is given).",
    ),
    worker_mode: bool = typer.Option(False, "--worker-mode", hidden=True),
) -> None:
    """Diagnose many domains (DNS, MX, port 25, SPF, DMARC): one JSON line per target, then a summary."""
    from diagnose.app.batch import BatchRequest, run_batch

    request = BatchRequest(source=file, nameservers=nameserver, timeout=timeout, concurrency=concurrency,
                           output=output, resume=resume, only=only, skip=skip, ca_file=ca_file,
                           fail_on=fail_on.value if fail_on else None, progress=False if no_progress else None,
                           workers=workers, worker_mode=worker_mode, require=require)
    raise typer.Exit(int(run_batch(request, _batch_bar)))


def _batch_bar(total: int | None):  # type: ignore[no-untyped-def]
    """The progress bar of `batch` (Rich is imported only when it is shown)."""
    from diagnose.app.progress import BatchBar

    return BatchBar(total)


@app.command("serve", epilog="maildoctor serve\nmaildoctor serve --nameserver 192.0.2.53 --keep-days 7\n"
             "MAILDOCTOR_TOKEN=$(openssl rand -hex 16) maildoctor serve --host 0.0.0.0 --token-env MAILDOCTOR_TOKEN")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", metavar="ADDRESS",
                             help="Listen on this address; beyond loopback only with --token-env or --auth-header."),
    port: int = typer.Option(8025, "--port", metavar="PORT", help="Listen on this TCP port (1-65535)."),
    token_env: str = typer.Option("", "--token-env", metavar="VAR",
                                  help="Require the access token held by environment variable VAR (16+ characters)."),
    auth_header: str = typer.Option("", "--auth-header", metavar="NAME",
                                    help="Trust this header, set by an authenticating reverse proxy, as the user "
                                    "(requests without it are refused)."),
    nameserver: list[str] = typer.Option([], "--nameserver", "-n", metavar="IP[:PORT]",
                                         help="The resolver every diagnosis asks (repeatable). Default: the system's."),
    timeout: float = typer.Option(DEFAULT_TIMEOUT, "--timeout", "-t", metavar="SECONDS",
                                  help="Time limit of each network operation (more than 0, at most 600)."),
    ca_file: Path | None = typer.Option(None, "--ca-file", metavar="PEM", help="Also trust these CA certificates."),
    allow_private: bool = typer.Option(False, "--allow-private",
                                       help="Let diagnoses connect to private, loopback, link-local and this "
                                       "server's own addresses (internal use; refused by default)."),
    keep_days: float = typer.Option(30, "--keep-days", metavar="DAYS",
                                    help="Keep reports this many days (more than 0, at most 3650)."),
    db: Path | None = typer.Option(None, "--db", metavar="FILE",
                                   help="The SQLite history (default: ~/.local/share/maildoctor/serve.sqlite3)."),
    max_runs: int = typer.Option(4, "--max-runs", metavar="N", help="Diagnoses running at once, all users (1-256)."),
    rate: int = typer.Option(10, "--rate", metavar="N", help="Diagnoses one client may start per minute (1-10000)."),
    forwarded_allow_ips: list[str] = typer.Option(
        [], "--forwarded-allow-ips", metavar="IP",
        help="Proxies whose X-Forwarded-For names the client (rate limits; repeatable)."),
) -> None:
    """Serve the diagnosis as a web page: a form, a live view, reports with a history (needs maildoctor[web])."""
    from diagnose.web.server import run_serve  # the web layer (and Starlette) only here

    raise typer.Exit(int(run_serve(host=host, port=port, token_env=token_env, auth_header=auth_header,
                                   nameservers=nameserver, timeout=timeout, ca_file=ca_file,
                                   allow_private=allow_private, keep_days=keep_days, db=db, max_runs=max_runs,
                                   rate=rate, forwarded_allow_ips=forwarded_allow_ips)))


@app.command("probe", add_help_option=False,
             context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
def probe(
    args: list[str] = typer.Argument(None, metavar="HOST[:PORT] [OPTIONS]", show_default=False),
) -> None:
    """Check one mail port for monitoring (greeting, TLS, certificate): Nagios output (probe -h)."""
    # `maildoctor probe` normally never gets here: diagnose.app.entry hands it over before Typer loads
    from diagnose.app.probe import main as probe_main

    raise typer.Exit(probe_main(list(args or [])))


@app.command("checks", epilog="maildoctor checks\nmaildoctor check example.com -c tls.certificate")
def list_checks() -> None:
    """List the installed check plugins."""
    from diagnose.engine.registry import describe  # reads the plugins' metadata without importing them: fast

    infos, problems = describe()
    for problem in problems:
        typer.echo(f"warning: {problem}", err=True)
    width = max((len(c.id) for c in infos), default=10)
    for c in infos:
        typer.echo(f"{c.id:<{width}}  {c.side:<8}  {c.title}")


def _app_for(args: list[str]) -> typer.Typer:
    """The app with only the command ``args`` names, when it names one: Typer builds a Click command from
    every registered function's signature on each run (~8 ms for all eleven, `check` and `tui` the
    largest); a run of one command needs only that one. Help, --version, shell completion and names that
    are no command get the whole app."""
    import os

    name = args[0] if args else ""
    if not name or name.startswith("-") or os.environ.get("_MAILDOCTOR_COMPLETE"):
        return app
    chosen = [info for info in app.registered_commands if _command_name(info) == name]
    if len(chosen) != 1:
        return app
    import copy

    one = copy.copy(app)
    one.registered_commands = chosen
    return one


def _command_name(info: typer.models.CommandInfo) -> str:
    """The name Typer gives a registered command (its function's name, dashed, unless named)."""
    return info.name or (info.callback.__name__.lower().replace("_", "-") if info.callback else "")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: usage errors exit 3 (not Click's 2, which means 'fail' here)."""
    for info in app.registered_commands:  # every command, whoever added it (fast start-up, above)
        if not isinstance(info.cls, type) or info.cls is typer.core.TyperCommand:
            info.cls = _Command
    from diagnose.knowledge.sanitize import drop_unusable_size_env

    drop_unusable_size_env()
    try:
        code = _app_for(sys.argv[1:] if argv is None else argv)(args=argv, prog_name="maildoctor",
                                                                 standalone_mode=False)
    except typer.Abort:
        typer.echo("maildoctor: interrupted", err=True)
        code = ExitCode.INTERRUPTED
    except typer.TyperException as exc:  # Typer's (vendored Click's) usage errors and friends
        if type(exc).__name__ == "NoArgsIsHelpError":
            typer.echo(exc.format_message(), err=True)
        else:
            ctx = getattr(exc, "ctx", None)
            where = (
                f"maildoctor {ctx.info_name} --help" if ctx and ctx.info_name != "maildoctor" else "maildoctor --help"
            )
            typer.echo(f"maildoctor: error: {exc.format_message()} (see: {where})", err=True)
        code = ExitCode.UNKNOWN
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED
    sys.exit(int(code or 0))

