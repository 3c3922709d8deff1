"""`maildoctor batch FILE`: the DNS-level and reachability checks for many targets, as JSON Lines.

Targets are diagnosed ``--concurrency`` at a time with one shared resolver and a bounded cache,
and each result is written as soon as it is known, one JSON object per line (schema in
diagnose.app.batchcore), so memory stays flat however long the list is and an interrupted run can be
resumed (``--resume`` skips the targets already in the output file). A summary table ends the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from diagnose.app.batchcore import (
    DEFAULT_CHECKS,
    SharedDns,
    Tally,
    aiter_entries,
    diagnose_entry,
    done_targets,
    read_entries,
    run_pool,
    stdin_entries,
)
from diagnose.app.batchworkers import CAN_FORK, Forked, child_argv, fork_workers, run_workers, worker_entries
from diagnose.app.plan import (
    BOUNDS,
    PlanError,
    fail_on_policy,
    parse_nameservers,
    readable_ca,
    require_sets,
    select_checks,
)
from diagnose.engine.exitcodes import ExitCode, FailOn, exit_code_for
from diagnose.engine.plugin import Check, Options
from diagnose.engine.report import escape_bidi
from diagnose.engine.timeouts import DEFAULT_TIMEOUT
from diagnose.knowledge.sanitize import clean
from diagnose.net.resolver import Nameserver, ResolverUnreachable
from diagnose.net.shared import SharedConnects

DEFAULT_CONCURRENCY = 32  # targets at a time: a laptop's resolver and file descriptors cope easily


class Bar(Protocol):
    def advance(self, problems: int) -> None: ...


# the CLI's progress bar: (number of targets, None when unknown) -> a context giving a Bar
BarFactory = Callable[[int | None], AbstractContextManager[Bar]]


@dataclass
class BatchRequest:
    source: str  # a file name, or "-" for stdin
    nameservers: list[str] = field(default_factory=list)
    timeout: float = DEFAULT_TIMEOUT
    concurrency: int = DEFAULT_CONCURRENCY
    output: Path | None = None
    resume: bool = False
    only: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    ca_file: Path | None = None
    fail_on: str | None = None
    progress: bool | None = None  # None: a bar when stderr is a terminal (and not CI)
    workers: int | str = 1  # processes (diagnose.app.batchworkers); 1: this one; "auto": one per usable core
    worker_mode: bool = False  # this process is a worker of another batch (hidden option)
    require: list[str] = field(default_factory=list)  # --require: rule sets judged on each target (bulk-sender)


@dataclass(frozen=True)
class BatchPlan:
    nameservers: list[Nameserver]
    checks: list[type[Check]]
    options: Options
    concurrency: int
    fail_on: FailOn | None = None
    workers: int = 1
    require: tuple[str, ...] = ()  # rule sets (diagnose.engine.bulksender.REQUIRE_SETS)


def make_batch_plan(request: BatchRequest) -> BatchPlan:
    """Validate the request with the validators `check` uses (PlanError with a one-line reason); no network."""
    concurrency = BOUNDS["concurrency"].check(request.concurrency)
    timeout = float(BOUNDS["timeout"].check(request.timeout))
    workers = worker_count(request.workers)
    if request.resume and request.output is None:
        raise PlanError("--resume needs --output FILE (the file whose targets are done)")
    nameservers = parse_nameservers(request.nameservers)
    ca_file = readable_ca(request.ca_file)
    fail_on = fail_on_policy(request.fail_on)
    require = require_sets(request.require)
    checks = select_checks(request.only, request.skip, default=DEFAULT_CHECKS + _rule_checks(require))
    options = Options(timeout=timeout, ca_file=ca_file, connects=SharedConnects())
    return BatchPlan(nameservers, checks, options, concurrency, fail_on, workers, require)


def _rule_checks(require: tuple[str, ...]) -> tuple[str, ...]:
    """The checks the --require rule sets are judged on, beyond batch's default ones: run when no --check
    is given (with --check, a rule whose checks did not run is reported as not tested)."""
    if not require:
        return ()
    from diagnose.engine.bulksender import checks_for

    return tuple(c for c in checks_for(require) if c not in DEFAULT_CHECKS)


def _diagnose(plan: BatchPlan, dns: SharedDns):  # type: ignore[no-untyped-def]
    """One target's work: the checks, then the --require rule sets judged on their findings."""
    return lambda entry: diagnose_entry(entry, plan.checks, dns, plan.options, require=plan.require)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, as taskset or a container limits it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def worker_count(value: int | str) -> int:
    """--workers: a whole number 1-64, or ``auto`` (one per usable core, at most 64)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return min(usable_cores(), int(BOUNDS["workers"].high))
        if not (text.isascii() and text.isdigit()):
            raise PlanError(f"--workers must be a whole number {BOUNDS['workers'].rule}, or auto")
        value = int(text)
    return int(BOUNDS["workers"].check(value))


class Sink:
    """Where result lines go: appended to --output, else standard output; flushed line by line."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fh: IO[str] | None = None
        if path is not None:
            try:
                self._fh = path.open("a", encoding="utf-8")
                if path.is_file() and self._fh.tell() > 0 and not _ends_with_newline(path):
                    self._fh.write("\n")  # an interrupted run cut its last line: start a fresh one
            except OSError as exc:
                raise PlanError(f"cannot write {path}: {exc.strerror or exc}") from None

    def write(self, result: dict) -> None:
        fh = self._fh or sys.stdout  # looked up each time: a progress bar may redirect stdout
        fh.write(escape_bidi(json.dumps(result, ensure_ascii=False, separators=(",", ":"))) + "\n")
        fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _open_source(source: str) -> tuple[IO[str], int | None]:
    """The input stream and, for a file, how many targets it holds (for the progress bar)."""
    if source == "-":
        return sys.stdin, None
    try:
        with open(source, encoding="utf-8", errors="replace") as fh:
            total = sum(1 for _ in read_entries(fh))
        return open(source, encoding="utf-8", errors="replace"), total
    except OSError as exc:
        raise PlanError(f"cannot read {source}: {exc.strerror or exc}") from None


class _Progress:
    """The CLI's bar (``bar``) when enabled; a no-op otherwise."""

    def __init__(self, bar: BarFactory | None, total: int | None) -> None:
        self._context = bar(total) if bar is not None else None
        self._bar: Bar | None = None

    def __enter__(self) -> _Progress:
        if self._context is not None:
            self._bar = self._context.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)  # type: ignore[arg-type]

    def advance(self, tally: Tally) -> None:
        if self._bar is not None:
            self._bar.advance(tally.done - tally.verdicts.get("pass", 0) - tally.verdicts.get("skip", 0))


async def _preflight(dns: SharedDns) -> None:
    try:
        await dns.preflight()
    except ResolverUnreachable as exc:
        raise PlanError(str(exc)) from None


def _per_worker(plan: BatchPlan) -> int:
    return -(-plan.concurrency // plan.workers)


def _worker_request(request: BatchRequest, per_worker: int) -> BatchRequest:
    """What a forked worker runs: the same checks and resolvers, targets from the parent (stdin), results to it."""
    return dataclasses.replace(request, source="-", worker_mode=True, workers=1, concurrency=per_worker,
                               output=None, resume=False, progress=False, fail_on=None)


async def _run(plan: BatchPlan, stream: IO[str], request: BatchRequest, sink: Sink, tally: Tally,
               progress: _Progress, forked: list[Forked]) -> None:
    dns = SharedDns(plan.nameservers, timeout=plan.options.timeout)
    if not forked:  # (forked workers were made after the same check)
        await _preflight(dns)
    if request.worker_mode:  # entries numbered by the parent, de-duplicated there; no summary
        await run_pool(worker_entries(stream), _diagnose(plan, dns), sink.write, plan.concurrency)
        return
    seen = done_targets(request.output) if request.resume and request.output else set()
    source = stdin_entries(stream) if stream is sys.stdin else read_entries(stream)

    async def fresh():
        async for entry in aiter_entries(source):
            if entry.text in seen:
                tally.skipped += 1
                progress.advance(tally)
                continue
            seen.add(entry.text)
            yield entry

    def emit(result: dict) -> None:
        sink.write(result)
        tally.add(result)
        progress.advance(tally)

    if forked:
        await run_workers(fresh(), forked, plan.workers, _per_worker(plan), emit)
    elif plan.workers > 1:
        per_worker = _per_worker(plan)
        argv = child_argv(
            nameservers=request.nameservers,
            timeout=request.timeout,
            per_worker=per_worker,
            only=request.only,
            skip=request.skip,
            ca_file=str(request.ca_file) if request.ca_file else None,
            require=list(plan.require),
        )
        await run_workers(fresh(), argv, plan.workers, per_worker, emit)
    else:
        await run_pool(fresh(), _diagnose(plan, dns), emit, plan.concurrency)


def run_batch(request: BatchRequest, bar: BarFactory | None = None) -> ExitCode:
    """The `batch` command: one error line and exit 3 when it cannot run; otherwise the exit code
    of the worst verdict (as for `check`, with --fail-on), 130 when interrupted. ``bar``: the CLI's
    progress bar, shown when stderr is a terminal (not CI, not --no-progress)."""
    try:
        plan = make_batch_plan(request)
        stream, total = _open_source(request.source)
        sink = Sink(request.output)
    except PlanError as exc:
        print(f"maildoctor: error: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    show = request.progress if request.progress is not None else sys.stderr.isatty() and not os.environ.get("CI")
    tally = Tally()
    gc.freeze()  # the modules and plan stay for the whole run: the cycle collector need not walk them again
    forked: list[Forked] = []
    try:
        if plan.workers > 1 and CAN_FORK and not request.worker_mode:
            # the resolver is checked once, here; then the workers are forked before any loop or thread runs
            asyncio.run(_preflight(SharedDns(plan.nameservers, timeout=plan.options.timeout)))
            work = _worker_request(request, _per_worker(plan))
            forked = fork_workers(plan.workers, lambda: run_batch(work))
        with _Progress(bar if show else None, total) as progress:
            asyncio.run(_run(plan, stream, request, sink, tally, progress, forked))
    except PlanError as exc:
        print(f"maildoctor: error: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    except KeyboardInterrupt:
        tally.interrupted = True
    except BrokenPipeError:  # e.g. `maildoctor batch list | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    finally:
        for worker in forked:  # normally reaped by run_workers; not when the run ended before it started
            if worker.returncode is None:
                worker.kill()
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(worker.pid, 0)
        sink.close()
        if stream is not sys.stdin:
            stream.close()
    if request.worker_mode:
        return ExitCode.INTERRUPTED if tally.interrupted else ExitCode.OK
    summary = clean(tally.render(plan.concurrency, workers=plan.workers), limit=20000)
    print(summary, file=sys.stderr if request.output is None else sys.stdout)
    if tally.interrupted:
        return ExitCode.INTERRUPTED
    return exit_code_for(tally.worst, plan.fail_on)
