"""One `maildoctor check` run: the request becomes a plan (diagnose.app.plan), the plan a report.

``run_plan``/``make_report`` are the core (the API's too); ``run_check`` is the CLI's: the one
boundary where a PlanError becomes a line on stderr and an exit code. Progress is an observer of
the runner's events that the CLI hands in; nothing here imports Rich.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

from diagnose.app.plan import MAX_TIMEOUT, Fatal, Plan, PlanError, Request, make_plan
from diagnose.engine.exitcodes import ExitCode, exit_code_for
from diagnose.engine.model import Finding, Status
from diagnose.engine.report import Report
from diagnose.engine.runner import CheckFinished, DiagnosisFinished, Event, FindingEmitted, diagnose
from diagnose.net.resolver import Dns, ResolverUnreachable

__all__ = ["MAX_TIMEOUT", "CheckRequest", "Fatal", "Plan", "PlanError", "arun_plan", "make_plan", "make_report",
           "run_check", "run_plan", "open_dns", "write_atomically"]

CheckRequest = Request  # the name `check`, `tui` and the tests build requests by
INTERRUPTED = "interrupted (Ctrl-C) before this check finished"  # the reason of each check Ctrl-C stopped
Observer = Callable[[Event], None]
# the CLI's progress display: (number of checks) -> a context giving an observer of the events
Progress = Callable[[int], AbstractContextManager[Observer | None]]


def run_check(request: CheckRequest, progress: Progress | None = None) -> ExitCode:
    """`maildoctor check`: plan, run (``progress`` watching the events), render; the exit code."""
    try:
        plan = make_plan(request)
        with progress(len(plan.checks)) if progress else nullcontext(None) as observe:
            report = run_plan(plan, observe)
    except PlanError as exc:
        print(f"maildoctor: error: {exc}", file=sys.stderr)
        if request.fmt == "nagios":  # monitoring reads the status from stdout
            print("MAILDOCTOR UNKNOWN - " + str(exc).replace("|", "/"))
        return ExitCode.UNKNOWN
    try:
        _emit(report, plan)
        sys.stdout.flush()
    except BrokenPipeError:
        # `maildoctor check … | head`: the reader left; the exit code still tells the verdict.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if report.interrupted:
        not_run = sorted({f.check for f in report.findings if f.reason == INTERRUPTED})
        print(
            f"maildoctor: interrupted: the report shows what was found so far; not run: {', '.join(not_run) or 'none'}",
            file=sys.stderr,
        )
        return ExitCode.INTERRUPTED
    return exit_code_for(report.worst, plan.fail_on)


def make_report(request: CheckRequest, observe: Observer | None = None) -> Report:
    """The report of ``request`` (PlanError when no diagnosis can be made); the Python API's path."""
    return run_plan(make_plan(request), observe)


def run_plan(plan: Plan, observe: Observer | None = None) -> Report:
    """Run the plan, ``observe`` seeing every event; the report with the profile's expectations judged."""
    return asyncio.run(arun_plan(plan, observe))


async def arun_plan(plan: Plan, observe: Observer | None = None) -> Report:
    """``run_plan`` inside a running event loop (`maildoctor serve` runs many at once in its own)."""
    report = await _diagnose(plan, observe)
    report.add(plan.judge(report.findings))
    return report


async def open_dns(plan: Plan) -> Dns:
    """A fresh resolver (and cache) for one run, once it has answered (else Fatal)."""
    try:
        dns = Dns(plan.nameservers, timeout=plan.options.timeout)
        await dns.preflight()
    except ResolverUnreachable as exc:
        raise PlanError(str(exc)) from None
    return dns


async def _diagnose(plan: Plan, observe: Observer | None) -> Report:
    dns = await open_dns(plan)
    events = diagnose(plan.target, plan.checks, dns, plan.options, meta=plan.meta)
    report = None
    started_at, start = datetime.now(UTC), time.monotonic()
    findings: list[Finding] = []
    finished: set[str] = set()
    try:
        async for event in events:
            if observe is not None:
                observe(event)
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
    not_run = [cls().finding(f"{cls.id}.skipped", Status.SKIP, target.domain, f"not run: {INTERRUPTED}",
                             reason=INTERRUPTED)
               for cls in plan.checks if cls.id not in finished]
    return Report.of_run(target, plan.checks, dns.describe(), findings + not_run, started_at=started_at,
                         duration_s=duration_s, meta=plan.meta, interrupted=True)


def _emit(report: Report, plan: Plan) -> None:
    from reports import renderer

    out = plan.output
    if out.path is not None:
        write_atomically(out.path, renderer(out.fmt)(report))
        if not out.quiet:
            _print_human(report, out.verbose)
            print(f"report written to {out.path}", file=sys.stderr)
    elif out.fmt == "text":
        _print_human(report, out.verbose)
    else:
        sys.stdout.write(renderer(out.fmt)(report))


def _print_human(report: Report, verbose: bool) -> None:
    from reports.text import human_console, print_report

    print_report(report, human_console(), verbose=verbose)


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
