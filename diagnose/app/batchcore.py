"""The parts of `maildoctor batch` that do not touch the command line: reading targets, the
bounded pool, the shared DNS cache, result lines and the summary tally.

Result line (schema_version 2: the check ids and codes of report schema 2), one per target, in the
order the targets finish (``line`` gives the input order):

    {"schema_version": 2, "target": "<the input line, stripped>", "line": 12,
     "domain": "example.com", "verdict": "pass|skip|warn|error|fail",
     "counts": {"pass": 4, "skip": 0, "warn": 1, "error": 0, "fail": 0}, "duration_s": 0.041,
     "findings": [{"check": "dmarc.record", "code": "dmarc.missing", "status": "warn",
                   "subject": "example.com", "summary": "..."}, ...]}

A line that is not a domain or address gets ``"verdict": "error"``, an ``"error"`` reason and no
findings (it is a result, not a crash). ``maildoctor explain CODE`` explains any finding code.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from diagnose.engine.model import Status, count_by_status
from diagnose.engine.plugin import Check, Options
from diagnose.engine.target import TargetError, parse_target
from diagnose.net.resolver import Dns, DnsResult, Nameserver, Outcome
from diagnose.net.shared import SharedAnswers

SCHEMA_VERSION = 2
# The documented default: the checks that need only DNS and one TCP connect per MX address.
DEFAULT_CHECKS = ("dns.exists", "mx.records", "tcp.connect", "spf.record", "dmarc.record")
CACHE_ENTRIES = 4096  # shared DNS answers kept (least recently used dropped first): flat memory
CACHE_MAX_AGE_S = 300.0  # a batch can run for hours: no answer is reused for longer than this ...
CACHE_NEGATIVE_S = 30.0  # ... or its TTL; non-answers (NXDOMAIN, timeouts) for 30 s



@dataclass(frozen=True)
class Entry:
    line: int
    text: str


MAX_TARGET = 1000  # characters of an input line kept (a domain is at most 253; an address 254 + a name)


def bounded(text: str, limit: int = MAX_TARGET) -> str:
    """An input line as echoed in results and summaries: at most ``limit`` characters and a marker,
    so a 20 MB junk line costs a short error line, not 20 MB of output per mention."""
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text) - limit} more characters]"


def read_entries(lines: Iterable[str]) -> Iterator[Entry]:
    """Targets of an input: one per line; blank lines and lines starting with # are ignored."""
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if text and not text.startswith("#"):
            yield Entry(number, bounded(text))


def done_targets(path: Path) -> set[str]:
    """The targets already answered in an output file (for --resume); unreadable lines are ignored."""
    done: set[str] = set()
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for raw in fh:
                try:
                    target = json.loads(raw).get("target")
                except (ValueError, AttributeError):
                    continue  # e.g. the last line of an interrupted run, cut short
                if isinstance(target, str):
                    done.add(target)
    except FileNotFoundError:
        pass
    return done


class SharedDns(Dns):
    """One resolver and cache for the whole batch: answers for names many targets share (the MX
    hosts of a hosting provider, common SPF includes) are asked once. Unlike a single run's cache
    it is bounded (least recently used answers are dropped) and entries expire after their TTL,
    at most ``CACHE_MAX_AGE_S`` (diagnose.net.shared)."""

    def __init__(self, nameservers: list[Nameserver], *, timeout: float, entries: int = CACHE_ENTRIES) -> None:
        super().__init__(nameservers, timeout=timeout)
        self.entries = entries
        self._shared: SharedAnswers[DnsResult] = SharedAnswers(entries=entries, lifetime=_dns_lifetime)

    def __len__(self) -> int:
        return len(self._shared)

    async def query(self, name: str, rdtype: str) -> DnsResult:
        key = (name.lower().rstrip("."), rdtype.upper())
        return await self._shared.get(key, lambda: self._query(*key), max_age=CACHE_MAX_AGE_S)


def _dns_lifetime(result: DnsResult) -> float:
    """Seconds an answer is reused: its TTL; a non-answer (NXDOMAIN, a timeout) CACHE_NEGATIVE_S."""
    return result.ttl if result.outcome is Outcome.ANSWER and result.ttl is not None else CACHE_NEGATIVE_S


@dataclass
class Tally:
    """What the summary table shows; counters only, so it does not grow with the batch."""

    verdicts: Counter = field(default_factory=Counter)
    codes: Counter = field(default_factory=Counter)  # (code, status) of every non-passing finding
    bad_lines: int = 0
    skipped: int = 0  # already in the output (--resume) or repeated in the input
    started: float = field(default_factory=time.monotonic)
    interrupted: bool = False

    @property
    def done(self) -> int:
        return sum(self.verdicts.values())

    @property
    def worst(self) -> Status:
        return Status.worst([Status(v) for v in self.verdicts])

    def add(self, result: dict) -> None:
        self.verdicts[result["verdict"]] += 1
        if "error" in result and not str(result["error"]).startswith("internal error"):
            self.bad_lines += 1  # "not a domain or address"; an internal error is not the line's fault
        for f in result["findings"]:
            if f["status"] not in ("pass", "skip"):
                self.codes[(f["code"], f["status"])] += 1

    def render(self, concurrency: int, top: int = 10, workers: int = 1) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        lines = [f"maildoctor batch: {self.done} target{'s' if self.done != 1 else ''} in {elapsed:.1f} s "
                 f"({rate:.0f}/s, concurrency {concurrency}{f', {workers} workers' if workers > 1 else ''})"
                 f"{' - INTERRUPTED' if self.interrupted else ''}",
                 "  verdict   targets"]
        for status in sorted(Status, key=lambda s: -s.rank):
            n = self.verdicts.get(status.value, 0)
            note = f"  ({self.bad_lines} not a domain or address)" if status is Status.ERROR and self.bad_lines else ""
            lines.append(f"  {status.value:<8} {n:>8}{note}")
        if self.skipped:
            lines.append(f"  {'skipped':<8} {self.skipped:>8}  (already in the output, or repeated)")
        if self.codes:
            lines.append("  most frequent problems:")
            lines += [f"  {n:>8}  {code} ({status})" for (code, status), n in self.codes.most_common(top)]
        if self.interrupted:
            lines.append("  interrupted: run again with --resume to finish the rest")
        return "\n".join(lines)


def result_line(entry: Entry, report) -> dict:
    """The JSON object of one diagnosed target (a diagnose.engine.report.Report)."""
    return {
        "schema_version": SCHEMA_VERSION, "target": entry.text, "line": entry.line,
        "domain": report.target.get("domain", ""), "verdict": report.verdict.value, "counts": report.counts,
        "duration_s": round(report.duration_s, 3),
        "findings": [{"check": f.check, "code": f.code, "status": f.status.value, "subject": f.subject,
                      "summary": f.summary} for f in report.findings],
    }


def error_line(entry: Entry, reason: str) -> dict:
    return {"schema_version": SCHEMA_VERSION, "target": entry.text, "line": entry.line, "domain": "",
            "verdict": Status.ERROR.value, "counts": count_by_status([]), "duration_s": 0.0,
            "error": reason, "findings": []}


async def diagnose_entry(entry: Entry, checks: list[type[Check]], dns: Dns, options: Options, *,
                         require: tuple[str, ...] = ()) -> dict:
    """One target through the runner, its findings then judged by the ``require`` rule sets; never
    raises (a bad line or a bug becomes an error line)."""
    from diagnose.engine.runner import DiagnosisFinished, diagnose

    try:
        target = parse_target(entry.text)
    except TargetError as exc:
        return error_line(entry, f"bad target: {exc}")
    try:
        async for event in diagnose(target, checks, dns, options):
            if isinstance(event, DiagnosisFinished):
                if require:
                    from diagnose.engine.bulksender import judge_sets

                    event.report.add(judge_sets(require, event.report.findings, domain=target.domain))
                return result_line(entry, event.report)
    except Exception as exc:  # noqa: BLE001 - one target's bug must not end the batch
        return error_line(entry, f"internal error: {type(exc).__name__}: {exc}")
    return error_line(entry, "internal error: the diagnosis ended without a report")


async def run_pool(entries: Iterable[Entry] | AsyncIterator[Entry], work: Callable[[Entry], Awaitable[dict]],
                   emit: Callable[[dict], None], concurrency: int) -> None:
    """Run ``work`` on every entry, at most ``concurrency`` at a time, emitting results as they come."""
    slots = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task] = set()

    async def one(entry: Entry) -> None:
        try:
            emit(await work(entry))
        finally:
            slots.release()

    try:
        async for entry in aiter_entries(entries):
            await slots.acquire()
            task = asyncio.create_task(one(entry))
            running.add(task)
            task.add_done_callback(running.discard)
        while running:
            await asyncio.gather(*list(running))
    finally:
        for task in running:
            task.cancel()


async def aiter_entries(entries: Iterable[Entry] | AsyncIterator[Entry]) -> AsyncIterator[Entry]:
    if hasattr(entries, "__aiter__"):
        async for e in entries:
            yield e
    else:
        for e in entries:
            yield e


async def stdin_entries(stream: IO[str]) -> AsyncIterator[Entry]:
    """Lines of a pipe read in a thread, so a slow producer does not stall running diagnoses."""
    number = 0
    while True:
        raw = await asyncio.to_thread(stream.readline)
        if not raw:
            return
        number += 1
        text = raw.strip()
        if text and not text.startswith("#"):
            yield Entry(number, bounded(text))
