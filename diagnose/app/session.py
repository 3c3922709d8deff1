"""One `maildoctor check` run: turn the request into a target, resolver and plan, run it, render it.

This is the one boundary where domain errors become a line on stderr and an exit code.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from diagnose import __version__
from diagnose.engine.exitcodes import ExitCode, exit_code_for
from diagnose.engine.model import Finding, Status
from diagnose.engine.plugin import Check, Options
from diagnose.engine.registry import UnknownCheck, discover, select
from diagnose.engine.report import Report
from diagnose.engine.runner import CheckFinished, DiagnosisFinished, FindingEmitted, diagnose
from diagnose.engine.target import Target, TargetError, normalise_domain, parse_target
from diagnose.knowledge.redact import run_meta
from diagnose.net.resolver import Dns, Nameserver, ResolverUnreachable, parse_nameserver

MAX_TIMEOUT = 600.0
NOT_RUN = "not run: interrupted"  # the summary of each check Ctrl-C stopped


class Fatal(Exception):
    """The diagnosis cannot be made; the message is one line for stderr."""


@dataclass
class CheckRequest:
    target: str
    nameservers: list[str] = field(default_factory=list)
    timeout: float = 5.0
    fmt: str = "text"
    output: Path | None = None
    ca_file: Path | None = None
    dkim_selectors: list[str] = field(default_factory=list)
    dnsbl: list[str] = field(default_factory=list)
    servers: dict = field(default_factory=dict)  # --cert-warn-days, --ehlo, --smtp/imap/pop-host (Options fields)
    only: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    quiet: bool = False
    verbose: bool = False
    argv: list[str] = field(default_factory=list)
    fail_on: str | None = None  # --fail-on warn|fail (diagnose.engine.exitcodes)
    anonymize: bool = False
    profile: str = ""  # "NAME (path)" of the config profile used, for the report header
    expect: dict = field(default_factory=dict)  # expected facts of the profile (diagnose.engine.expect)
    extra: dict = field(default_factory=dict)  # Options.extra from the profile (servers, credential env names)
    login: dict = field(default_factory=dict)  # --user, --password-env, --smtp-user ... (names, never a password)
    allow_plaintext_auth: bool = False
    roundtrip: bool = False
    roundtrip_timeout: float = 120.0  # seconds
    to: str = ""  # --to ADDRESS for the round trip


def run_check(request: CheckRequest) -> ExitCode:
    try:
        report = make_report(request)
    except Fatal as exc:
        print(f"maildoctor: error: {exc}", file=sys.stderr)
        if request.fmt == "nagios":  # monitoring reads the status from stdout
            print("MAILDOCTOR UNKNOWN - " + str(exc).replace("|", "/"))
        return ExitCode.UNKNOWN
    try:
        _emit(report, request)
        sys.stdout.flush()
    except BrokenPipeError:
        # `maildoctor check … | head`: the reader left; the exit code still tells the verdict.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if report.interrupted:
        not_run = sorted({f.check for f in report.findings if f.summary.startswith(NOT_RUN)})
        print(
            f"maildoctor: interrupted: the report shows what was found so far; not run: {', '.join(not_run) or 'none'}",
            file=sys.stderr,
        )
        return ExitCode.INTERRUPTED
    return exit_code_for(report.worst, request.fail_on)


def _stderr_console() -> Console:
    """Rich's console for progress and diagnostics."""
    return Console(stderr=True, highlight=False)


def make_report(request: CheckRequest, err: Console | None = None) -> Report:
    """Run the diagnosis of ``request`` and return its report, the profile's expectations judged.
    Raises Fatal when no diagnosis can be made. The CLI and the Python API (diagnose.app.api) share it."""
    report = asyncio.run(_diagnose(request, err or _stderr_console()))
    if request.expect:
        from diagnose.engine.expect import evaluate

        report.findings.extend(evaluate(request.expect, report.findings, domain=report.target.get("domain", ""),
                                        config=request.profile or "the config file"))
    return report


def _validate(request: CheckRequest) -> tuple:
    try:
        target = parse_target(request.target)
    except TargetError as exc:
        raise Fatal(f"bad target: {exc}") from None
    if not 0 < request.timeout <= MAX_TIMEOUT:
        raise Fatal(f"--timeout must be between 0 and {MAX_TIMEOUT:g} seconds")
    try:
        nameservers = [parse_nameserver(ns) for ns in request.nameservers]
    except ValueError as exc:
        raise Fatal(str(exc)) from None
    if request.ca_file is not None:
        _readable_ca(request.ca_file)
    if request.output is not None and not request.output.resolve().parent.is_dir():
        raise Fatal(f"cannot write --output {request.output}: no such directory")  # before the run, not after
    found = discover()
    for problem in found.problems:
        print(f"maildoctor: warning: {problem}", file=sys.stderr)
    try:
        checks = select(found.checks, request.only, request.skip)
    except UnknownCheck as exc:
        raise Fatal(str(exc)) from None
    if not checks:
        raise Fatal("no checks selected")
    return target, nameservers, checks


_SELECTOR = re.compile(
    r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$"
)


def _policy_options(request: CheckRequest) -> dict:
    """--dkim-selector and --dnsbl values, checked (Fatal with the reason)."""
    selectors = []
    for sel in request.dkim_selectors:
        sel = sel.strip().rstrip(".")
        if len(sel) > 200 or not _SELECTOR.match(sel):
            raise Fatal(f"bad --dkim-selector {sel[:60]!r}: give the s= value of a DKIM-Signature, e.g. 'default'")
        selectors.append(sel.lower())
    zones = []
    for zone in request.dnsbl:
        if zone.strip().lower() == "default":
            zones.append("default")
            continue
        try:
            zones.append(normalise_domain(zone)[0])
        except TargetError as exc:
            raise Fatal(f"bad --dnsbl zone: {exc}") from None
    return {"dkim_selectors": tuple(dict.fromkeys(selectors)), "dnsbl_zones": tuple(dict.fromkeys(zones))}


def _login_options(
    request: CheckRequest, target: Target, prompt: Callable[[str], str] | None | str = "terminal"
) -> dict:
    """Credentials (from environment variables or a prompt on a terminal) and round-trip settings."""
    from diagnose.engine.credentials import CredentialError, CredentialRequest, RoundTrip, resolve

    if request.roundtrip and not 1 <= request.roundtrip_timeout <= 3600:
        raise Fatal("--roundtrip-timeout must be between 1 and 3600 seconds")
    to = request.to.strip()
    if to:
        try:
            to = parse_target(to).address or ""
        except TargetError:
            to = ""
        if not to:
            raise Fatal(f"--to needs an email address, not {request.to[:80]!r}")
    ask = CredentialRequest(**request.login, profile_env=dict(request.extra.get("credential_env", {})))
    if prompt == "terminal":
        prompt = None
        if sys.stdin.isatty():
            import getpass

            prompt = getpass.getpass
    try:
        creds = resolve(ask, address=target.address, prompt=prompt, required=request.roundtrip)
    except CredentialError as exc:
        raise Fatal(str(exc)) from None
    return {"credentials": creds, "allow_plaintext_auth": request.allow_plaintext_auth,
            "roundtrip": RoundTrip(to, request.roundtrip_timeout) if request.roundtrip else None}


_EHLO = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,252}))$")


def _server_options(request: CheckRequest) -> dict:
    """--ehlo and --smtp/imap/pop-host go into protocol lines: one strict shape, else Fatal."""
    out = dict(request.servers)
    for key in ("smtp_hosts", "imap_hosts", "pop_hosts"):
        if not out.get(key):
            out[key] = request.extra.get(key, ())  # a config profile's servers.smtp/imap/pop
        hosts = []
        for host in out.get(key, ()):
            try:
                hosts.append(str(ipaddress.ip_address(host.strip().strip("[]"))))
            except ValueError:
                try:
                    hosts.append(normalise_domain(host.strip())[0])
                except (TargetError, ValueError) as exc:
                    raise Fatal(f"bad --{key[:-6]}-host {host[:60]!r}: {exc}") from None
        out[key] = tuple(dict.fromkeys(hosts))
    ehlo = out.get("ehlo_name", "")
    if ehlo and not _EHLO.match(ehlo):
        raise Fatal(f"bad --ehlo {ehlo[:60]!r}: give a host name or an address literal like [192.0.2.1]")
    return out


def _readable_ca(path: Path) -> None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Fatal(f"cannot read --ca-file {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise Fatal(f"--ca-file {path} holds no PEM certificate")
    from diagnose.knowledge.certs import load_pem_bundle

    if not load_pem_bundle(data):
        raise Fatal(f"--ca-file {path} holds no readable certificate (damaged PEM: base64 or DER)")


@dataclass(frozen=True)
class Plan:
    """A validated request: what to diagnose, with which checks and settings (no network yet).
    Shared by `check` and the TUI, which runs the same plan again on "rerun"."""

    target: Target
    nameservers: list[Nameserver]
    checks: list[type[Check]]
    options: Options
    meta: dict


def make_plan(request: CheckRequest, *, prompt: Callable[[str], str] | None | str = "terminal") -> Plan:
    """Validate the request (raises Fatal with a one-line reason); no network. ``prompt`` asks for
    a password that no variable holds: "terminal" = getpass when stdin is a terminal; None = never
    ask (the TUI, which owns the terminal, gets a Fatal to show instead of a hung prompt)."""
    target, nameservers, checks = _validate(request)
    options = Options(
        timeout=request.timeout,
        ca_file=request.ca_file,
        extra=dict(request.extra),
        **_policy_options(request),
        **_server_options(request),
        **_login_options(request, target, prompt),
    )
    meta = run_meta(request.argv, socket.gethostname(), anonymize=request.anonymize, fail_on=request.fail_on,
                    profile=request.profile)
    return Plan(target, nameservers, checks, options, meta)


async def open_dns(plan: Plan) -> Dns:
    """A fresh resolver (and cache) for one run, once it has answered (else Fatal)."""
    try:
        dns = Dns(plan.nameservers, timeout=plan.options.timeout)
        await dns.preflight()
    except ResolverUnreachable as exc:
        raise Fatal(str(exc)) from None
    return dns


async def _diagnose(request: CheckRequest, err: Console) -> Report:
    plan = make_plan(request)
    dns = await open_dns(plan)
    events = diagnose(plan.target, plan.checks, dns, plan.options, meta=plan.meta)
    show_progress = err.is_terminal and not os.environ.get("CI")
    report = None
    started_at, start = datetime.now(UTC), time.monotonic()
    findings: list[Finding] = []
    finished: set[str] = set()
    try:
        if show_progress:
            from diagnose.app.progress import LiveProgress

            with LiveProgress(err, len(plan.checks)) as progress:
                async for event in events:
                    progress.observe(event)
                    report = _gather(event, findings, finished) or report
        else:
            async for event in events:
                report = _gather(event, findings, finished) or report
    except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancelled us; the runner has stopped its checks
        return _interrupted_report(plan, dns, findings, finished, started_at, time.monotonic() - start)
    assert report is not None
    return report


def _gather(event, findings: list[Finding], finished: set[str]) -> Report | None:
    if isinstance(event, FindingEmitted):
        findings.append(event.finding)
    elif isinstance(event, CheckFinished):
        finished.add(event.check)
    elif isinstance(event, DiagnosisFinished):
        return event.report
    return None


def _interrupted_report(plan: Plan, dns: Dns, findings: list[Finding], finished: set[str], started_at: datetime,
                        duration_s: float) -> Report:
    """What was found before Ctrl-C, and each unfinished check marked as not run."""
    target = plan.target
    not_run = [cls().finding(f"{cls.id}.skipped", Status.SKIP, target.domain,
                             f"{NOT_RUN} (Ctrl-C) before this check finished")
               for cls in plan.checks if cls.id not in finished]
    return Report(
        target={"input": target.raw, "domain": target.domain, "domain_unicode": target.domain_unicode,
                "address": target.address},
        started_at=started_at.isoformat(timespec="seconds"), duration_s=duration_s, resolver=dns.describe(),
        findings=findings + not_run, tool={"name": "maildoctor", "version": __version__},
        checks=[{"id": c.id, "title": c.title, "side": c.side.value} for c in plan.checks], meta=plan.meta,
        interrupted=True,
    )


def _emit(report: Report, request: CheckRequest) -> None:
    from reports import renderer

    if request.output is not None:
        write_atomically(request.output, renderer(request.fmt)(report))
        if not request.quiet:
            _print_human(report, request)
            print(f"report written to {request.output}", file=sys.stderr)
    elif request.fmt == "text":
        _print_human(report, request)
    else:
        sys.stdout.write(renderer(request.fmt)(report))


def _print_human(report: Report, request: CheckRequest) -> None:
    from reports.text import human_console, print_report

    print_report(report, human_console(), verbose=request.verbose)


def _file_mode(path: Path) -> int:
    """The mode a plain write would give: the old file's, else 0666 less the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def write_atomically(path: Path, content: str) -> None:
    """Write to a temp file beside ``path`` and rename, so no half-written report is ever left.

    A path that is not a plain file (``/dev/null``, ``/dev/stdout``, a FIFO, a symlink) is written
    into instead: renaming over it would replace the device or link itself (as root, ``-o /dev/null``
    would turn /dev/null into a regular file for the whole machine)."""
    tmp = None
    try:
        if path.is_symlink() or (path.exists() and not path.is_file()):
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(content)
            return
        directory = path.resolve().parent
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.chmod(tmp, _file_mode(path))  # mkstemp's 0600 would make every report private
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        print(f"maildoctor: error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(int(ExitCode.UNKNOWN)) from None  # not 1: that means "warnings found"
    finally:
        if tmp is not None:  # a full disk or a second Ctrl-C: leave nothing half-written behind
            try:
                os.unlink(tmp)
            except OSError:
                pass
