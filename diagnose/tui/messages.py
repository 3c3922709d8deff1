"""Messages the diagnosis worker posts to the app: one small dataclass per runner event.

Every message carries the number of the run it belongs to, so events of a run that "rerun"
cancelled (already queued when it was cancelled) are recognised and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from diagnose.engine.model import Finding, Status
from diagnose.engine.report import Report
from diagnose.engine.runner import CheckFinished, CheckStarted, DiagnosisFinished, Event, FindingEmitted
from diagnose.tui.state import TargetEntry


@dataclass
class RunBegan(Message):
    run: int
    checks: tuple[str, ...]  # ids of the checks this run will execute


@dataclass
class CheckBegan(Message):
    run: int
    check: str


@dataclass
class FindingArrived(Message):
    run: int
    finding: Finding


@dataclass
class CheckEnded(Message):
    run: int
    check: str
    status: Status
    duration_s: float


@dataclass
class RunEnded(Message):
    run: int
    report: Report


@dataclass
class RunFailed(Message):
    """No diagnosis could be made (e.g. the resolver does not answer); ``reason`` is one line."""

    run: int
    reason: str


@dataclass
class TargetChosen(Message):
    """The target screen's form was submitted (the app validates it)."""

    entry: TargetEntry


def message_for(run: int, event: Event) -> Message:
    """The app's message for one runner event of run number ``run``."""
    if isinstance(event, CheckStarted):
        return CheckBegan(run, event.check)
    if isinstance(event, FindingEmitted):
        return FindingArrived(run, event.finding)
    if isinstance(event, CheckFinished):
        return CheckEnded(run, event.check, event.status, event.duration_s)
    if isinstance(event, DiagnosisFinished):
        return RunEnded(run, event.report)
    raise TypeError(f"unknown runner event {event!r}")
