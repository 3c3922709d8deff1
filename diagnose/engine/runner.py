"""Run checks concurrently and stream what happens as events, for the CLI, the TUI and reports."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from diagnose.engine.credentials import scrub_value
from diagnose.engine.facts import FactBoard, FactUnavailable
from diagnose.engine.model import Finding, Status
from diagnose.engine.plugin import Check, CheckContext, Options, Resolver
from diagnose.engine.report import Report
from diagnose.engine.required import unmet
from diagnose.engine.target import Target


@dataclass(frozen=True, eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class CheckStarted:
    """Event: a check began."""

    check: str
    title: str


@dataclass(frozen=True, eq=False)
class FindingEmitted:
    """Event: a check said something."""

    finding: Finding


@dataclass(frozen=True, eq=False)
class CheckFinished:
    """Event: a check ended, with its worst status."""

    check: str
    status: Status
    duration_s: float


@dataclass(frozen=True, eq=False)
class DiagnosisFinished:
    """Event: the run ended; the report is complete."""

    report: Report


Event = CheckStarted | FindingEmitted | CheckFinished | DiagnosisFinished


def check_budget(options: Options, check: Check | None = None) -> float:
    """Seconds one check may run from the start of the run, waits for other checks' facts included:
    the run's overall budget (``options.timeouts.run``). A check that waits on purpose (logins,
    the round trip's delivery) says how long with ``min_budget_s(options)``."""
    base = options.timeouts.run
    own = getattr(check, "min_budget_s", None)
    return max(base, float(own(options))) if own is not None else base


def quiet_orphaned_network_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The run's loop exception handler: a network error left on a future nobody awaited is no news.

    A peer that resets a connection while asyncio's stream or TLS machinery holds a future of it
    (seen in the second TLS session of the probes) leaves "Future exception was never retrieved"
    for the garbage collector to print; the check that owned the connection has already judged
    the outcome through its own path. Anything else goes to asyncio's default handler.
    """
    exc = context.get("exception")
    if isinstance(exc, (OSError, EOFError)) and "never retrieved" in str(context.get("message", "")):
        return
    loop.default_exception_handler(context)


async def diagnose(
    target: Target, checks: list[type[Check]], dns: Resolver, options: Options, *, meta: dict[str, Any] | None = None
) -> AsyncIterator[Event]:
    """Run ``checks`` on ``target`` at once; yield events as they happen, ending with the report."""
    started_at = datetime.now(UTC)
    start = time.monotonic()
    facts = FactBoard()
    ctx = CheckContext(target, dns, options, facts)
    queue: asyncio.Queue[Event] = asyncio.Queue()
    findings: list[Finding] = []
    provided = {fact for cls in checks for fact in cls.provides}
    for cls in checks:
        for fact in (set(cls.needs) | set(cls.wants)) - provided:
            facts.withhold(fact, f"it needs {fact}, which no selected check provides")
    loop = asyncio.get_running_loop()
    if loop.get_exception_handler() is None:
        loop.set_exception_handler(quiet_orphaned_network_errors)
    began = loop.time()  # every check's budget counts from here
    first = [cls for cls in checks if not cls.background]
    later = [cls for cls in checks if cls.background]
    tasks = [asyncio.create_task(_run_check(cls(), ctx, facts, queue, began)) for cls in first]
    if later:
        tasks.append(asyncio.create_task(_start_later(later, first, ctx, facts, queue, began, tasks)))
    pending = len(checks)
    interrupted = False
    try:
        while pending:
            event = await queue.get()
            if isinstance(event, FindingEmitted):
                findings.append(event.finding)
            elif isinstance(event, CheckFinished):
                pending -= 1
            yield event
    except (asyncio.CancelledError, GeneratorExit):
        interrupted = True
        raise
    finally:
        for task in tasks:
            task.cancel()
        if interrupted:
            await asyncio.gather(*tasks, return_exceptions=True)
    for finding in unmet(findings, tuple(options.required)):  # asked for, nothing tested: an error
        findings.append(finding)
        yield FindingEmitted(finding)
    report = Report.of_run(target, checks, dns.describe(), findings, started_at=started_at,
                           duration_s=time.monotonic() - start, meta=meta)
    yield DiagnosisFinished(report)


BACKGROUND_DELAY_S = 0.05  # background checks start at the latest this long after the run began


async def _start_later(later: list[type[Check]], first: list[type[Check]], ctx: CheckContext, facts: FactBoard,
                       queue: asyncio.Queue[Event], began: float, tasks: list[asyncio.Task[None]]) -> None:
    """Start the background checks once the facts of the checks that need nothing themselves (the
    servers' addresses from DNS) have come or failed, or after BACKGROUND_DELAY_S, whichever is
    sooner: a slow lookup never holds them back for long."""
    settled = [facts.settled(name) for cls in first if not cls.needs for name in cls.provides]
    if settled:
        await asyncio.wait(settled, timeout=BACKGROUND_DELAY_S)
    tasks.extend(asyncio.create_task(_run_check(cls(), ctx, facts, queue, began)) for cls in later)


async def _run_check(check: Check, ctx: CheckContext, facts: FactBoard, queue: asyncio.Queue[Event],
                     began: float) -> None:
    await queue.put(CheckStarted(check.id, check.title))
    start = time.monotonic()
    subject = ctx.target.domain
    own: list[Finding] = []

    creds = ctx.options.credentials

    def emit(f: Finding) -> None:
        if creds is not None:  # the last guard: no form of a password leaves a check, whatever a server echoed
            f = replace(f, summary=scrub_value(f.summary, creds), explanation=scrub_value(f.explanation, creds),
                        remedy=scrub_value(f.remedy, creds), evidence=scrub_value(f.evidence, creds))
        own.append(f)
        queue.put_nowait(FindingEmitted(f))

    budget = check_budget(ctx.options, check)
    try:
        async with asyncio.timeout_at(began + budget):
            async for finding in check.run(ctx):
                emit(finding)
    except FactUnavailable as exc:
        emit(check.finding(f"{check.id}.skipped", Status.SKIP, subject, f"not tested: {exc.reason}",
                           reason=exc.reason))
    except TimeoutError:
        done = f"; its {len(own)} finding(s) so far are kept" if own else ", before it reported anything"
        emit(check.finding(f"{check.id}.overrun", Status.ERROR, subject,
                           f"not finished: {check.title} was stopped by the overall time budget "
                           f"({budget:g} s at --timeout {ctx.options.timeout:g}){done}",
                           evidence={"budget_s": budget, "timeout_s": ctx.options.timeout,
                                     "findings_before": len(own)}))
    except Exception as exc:  # noqa: BLE001 - a plugin bug becomes an error finding, never a crash
        emit(check.finding(f"{check.id}.crashed", Status.ERROR, subject,
                           f"the check failed internally: {type(exc).__name__}: {exc}",
                           evidence={"exception": type(exc).__name__}))
    finally:
        for name in check.provides:
            facts.withhold(name, _withheld_because(check, own))
        queue.put_nowait(CheckFinished(check.id, Status.worst([f.status for f in own]), time.monotonic() - start))


def _withheld_because(check: Check, own: list[Finding]) -> str:
    """Why ``check``'s facts did not come, for the checks that needed them: its skip reason
    when it skipped altogether."""
    if own and all(f.status is Status.SKIP for f in own):
        return f"{check.id} was skipped: {own[0].reason}"
    return f"the {check.id} check could not determine it"
