"""Diagnoses started from the page: each runs as a task in the server's event loop, inside the
connect guard, observed like the CLI's progress line observes its run (diagnose.app.session); what
the observer sees becomes the Server-Sent Events of the live page, and the finished report goes
into the history.

Bounded everywhere: ``max_runs`` at once (a semaphore shared by all clients), ``queue`` more
waiting, every run stopped by its own time budget (the runner's per-check budgets, and around the
whole run one more limit for safety); finished runs stay in memory for a few minutes only, so a
late page can still replay their events; after that the history answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from diagnose.app.plan import Plan, PlanError
from diagnose.app.session import arun_plan
from diagnose.engine.model import Finding
from diagnose.engine.report import Report
from diagnose.engine.runner import CheckFinished, CheckStarted, DiagnosisFinished, Event, FindingEmitted, check_budget
from diagnose.net.guard import Policy, guarded
from diagnose.web.store import Entry, History
from reports import renderer
from reports.common import headline, safe, verdict_words
from reports.hops import group_by_hop, hop_of, hop_state
from reports.svg import flow_svg

log = logging.getLogger("maildoctor.serve")
KEEP_FINISHED_S = 600  # a finished run's events stay replayable this long (then: the stored report)
MAX_IN_MEMORY = 100  # finished runs kept at most, whatever their age (each: its events, ~100 KB)


class Busy(Exception):
    """Too many runs running and waiting: try again later (503)."""


@dataclass
class Run:
    """One diagnosis from the page: its events as SSE messages, in order."""

    id: str
    target: str
    domain: str
    client: str
    services: dict[str, tuple[str, ...]]
    policy: Policy
    messages: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    hop_states: dict[str, str] = field(default_factory=dict)
    done: bool = False
    finished_at: float = 0.0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None

    def publish(self, kind: str, data: dict) -> None:
        """Append one SSE message (``id`` = its index, so a reconnecting page resumes after it)."""
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        self.messages.append(f"id: {len(self.messages)}\nevent: {kind}\ndata: {payload}\n\n")
        self.changed.set()
        self.changed = asyncio.Event()

    # -- the observer of the event stream ---------------------------------------------------------
    def observe(self, event: Event) -> None:
        if isinstance(event, CheckStarted):
            self.publish("started", {"check": event.check, "title": safe(event.title, newlines=False)})
        elif isinstance(event, FindingEmitted):
            f = event.finding
            self.findings.append(f)
            self.publish("finding", finding_data(f, self.services))
            self._flow_if_changed()
        elif isinstance(event, CheckFinished):
            self.publish("finished", {"check": event.check, "status": event.status.value,
                                      "duration_s": round(event.duration_s, 3)})
        elif isinstance(event, DiagnosisFinished):  # the final picture, every count in it
            self.publish("flow", {"svg": flow_svg(event.report.findings, self.services), "hops": self.hop_states})

    def _flow_if_changed(self) -> None:
        """The flow picture again when a hop changes colour (its worst tested status, as the picture
        draws it), not once per finding: the counts inside catch up with the final picture."""
        states = {hop: hop_state(found) for hop, found in group_by_hop(self.findings, self.services).items() if found}
        if states != self.hop_states:
            self.hop_states = states
            self.publish("flow", {"svg": flow_svg(self.findings, self.services), "hops": states})


def finding_data(f: Finding, services: dict[str, tuple[str, ...]]) -> dict:
    """What the live page shows of a finding; plain strings (the page sets them as text, never HTML)."""
    return {"check": f.check, "code": f.code, "status": f.status.value, "hop": hop_of(f, services),
            "subject": safe(f.subject, newlines=False, limit=300), "summary": safe(f.summary, limit=600)}


class Runs:
    """The runs of this server: start, follow, and finish into the history."""

    def __init__(self, history: History, *, max_runs: int, queue: int, allow_private: bool) -> None:
        self.history = history
        self.max_runs = max_runs
        self.queue = queue
        self.allow_private = allow_private
        self._slots: asyncio.Semaphore | None = None
        self._runs: dict[str, Run] = {}
        self.active = 0  # started and not finished (running or waiting for a slot)

    def start(self, plan: Plan, client: str) -> Run:
        """Start ``plan`` (Busy when the server is full); the run to follow."""
        self._forget_old()
        if self.active >= self.max_runs + self.queue:
            raise Busy(f"{self.active} diagnoses are running or waiting; try again in a minute")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_runs)
        t = plan.target
        run = Run(secrets.token_urlsafe(16), t.address or t.domain_unicode, t.domain, client,
                  {c.id: tuple(c.services) for c in plan.checks}, Policy(allow_private=self.allow_private))
        self._runs[run.id] = run
        self.active += 1
        run.task = asyncio.create_task(self._execute(run, plan), name=f"maildoctor-run-{run.id[:6]}")
        log.info("run %s started: %s (client %s, %d checks)", run.id[:6], t.domain, client, len(plan.checks))
        return run

    def get(self, run_id: str) -> Run | None:
        return self._runs.get(run_id)

    async def follow(self, run: Run, after: int = -1) -> AsyncIterator[str]:
        """The run's SSE messages after index ``after``, as they come, until it is done."""
        sent = after + 1
        while True:
            waiter = run.changed
            while sent < len(run.messages):
                yield run.messages[sent]
                sent += 1
            if run.done:
                return
            try:
                await asyncio.wait_for(waiter.wait(), timeout=15)
            except TimeoutError:
                yield ": keep-alive\n\n"  # a comment line keeps proxies from closing an idle stream

    async def _execute(self, run: Run, plan: Plan) -> None:
        assert self._slots is not None
        try:
            run.publish("queued", {"target": run.target, "checks": len(plan.checks), "running": self.active})
            async with self._slots:
                run.publish("running", {"target": run.target})
                with guarded(run.policy):
                    async with asyncio.timeout(run_limit(plan)):
                        report = await arun_plan(plan, run.observe)
            self._finish(run, report)
        except PlanError as exc:  # no resolver answered: nothing was diagnosed
            run.publish("failed", {"message": safe(str(exc), newlines=False)})
        except TimeoutError:
            run.publish("failed", {"message": f"the diagnosis overran its time limit ({run_limit(plan):g} s)"})
        except Exception as exc:  # noqa: BLE001 - a bug must end the run with a message, not hang the page
            log.exception("run %s crashed", run.id[:6])
            run.publish("failed", {"message": f"internal error: {type(exc).__name__}"})
        finally:
            run.done, run.finished_at = True, time.monotonic()
            run.findings = []  # the report is in the history now; the live picture is not needed
            self.active -= 1
            run.publish("end", {})

    def _finish(self, run: Run, report: Report) -> None:
        text = renderer("json")(report)
        words = headline(report)
        self.history.add(Entry(run.id, time.time(), run.domain, run.target, report.verdict.value, words), text)
        refused = [{"address": a, "why": w} for a, w in sorted(run.policy.refused.items())]
        run.publish("done", {"headline": words, "verdict": report.verdict.value, "words": verdict_words(report),
                             "report": f"/r/{run.id}", "refused": refused})
        log.info("run %s finished: %s %s%s", run.id[:6], run.domain, report.verdict.value,
                 f" ({len(refused)} addresses refused)" if refused else "")

    def _forget_old(self) -> None:
        now = time.monotonic()
        finished = sorted((r for r in self._runs.values() if r.done), key=lambda r: r.finished_at)
        excess = len(finished) - MAX_IN_MEMORY
        for n, r in enumerate(finished):
            if n < excess or now - r.finished_at > KEEP_FINISHED_S:
                del self._runs[r.id]

    async def close(self) -> None:
        """Stop every run (the server is shutting down)."""
        tasks = [r.task for r in self._runs.values() if r.task is not None and not r.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def run_limit(plan: Plan) -> float:
    """Seconds the whole run may take: the longest check budget, plus the resolver's start-up check
    and time to judge and store (generous; the runner's own budgets end it well before)."""
    longest = max((check_budget(plan.options, cls()) for cls in plan.checks), default=plan.options.timeout)
    return longest + 4 * plan.options.timeout + 10
