"""`maildoctor batch FILE`: the DNS-level and reachability checks for many targets, as JSON Lines.

Targets are diagnosed ``--concurrency`` at a time with one shared resolver and a bounded cache,
and each result is written as soon as it is known, one JSON object per line (schema in
diagnose.app.batchcore), so memory stays flat however long the list is and an interrupted run can be
resumed (``--resume`` skips the targets already in the output file). A summary table ends the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

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
from diagnose.app.batchworkers import child_argv, run_workers, worker_entries
from diagnose.engine.exitcodes import ExitCode, exit_code_for
from diagnose.engine.plugin import Check, Options
from diagnose.knowledge.sanitize import clean
from diagnose.net.resolver import Nameserver, ResolverUnreachable, parse_nameserver

DEFAULT_CONCURRENCY = 32  # targets at a time: a laptop's resolver and file descriptors cope easily
MAX_CONCURRENCY = 1024
MAX_TIMEOUT = 600.0
MAX_WORKERS = 64


class Fatal(Exception):
    """The batch cannot run at all; the message is one line for stderr."""


@dataclass
class BatchRequest:
    source: str  # a file name, or "-" for stdin
    nameservers: list[str] = field(default_factory=list)
    timeout: float = 5.0
    concurrency: int = DEFAULT_CONCURRENCY
    output: Path | None = None
    resume: bool = False
    only: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    ca_file: Path | None = None
    fail_on: str | None = None
    progress: bool | None = None  # None: a bar when stderr is a terminal (and not CI)
    workers: int = 1  # processes (diagnose.app.batchworkers); 1: this one
    worker_mode: bool = False  # this process is a worker of another batch (hidden option)


@dataclass(frozen=True)
class BatchPlan:
    nameservers: list[Nameserver]
    checks: list[type[Check]]
    options: Options
    concurrency: int


def make_batch_plan(request: BatchRequest) -> BatchPlan:
    """Validate the request (Fatal with a one-line reason); no network."""
    from diagnose.engine.registry import UnknownCheck, discover, select

    if not 1 <= request.concurrency <= MAX_CONCURRENCY:
        raise Fatal(f"--concurrency must be between 1 and {MAX_CONCURRENCY}")
    if not 0 < request.timeout <= MAX_TIMEOUT:
        raise Fatal(f"--timeout must be between 0 and {MAX_TIMEOUT:g} seconds")
    if not 1 <= request.workers <= MAX_WORKERS:
        raise Fatal(f"--workers must be between 1 and {MAX_WORKERS}")
    if request.resume and request.output is None:
        raise Fatal("--resume needs --output FILE (the file whose targets are done)")
    try:
        nameservers = [parse_nameserver(ns) for ns in request.nameservers]
    except ValueError as exc:
        raise Fatal(str(exc)) from None
    found = discover()
    for problem in found.problems:
        print(f"maildoctor: warning: {problem}", file=sys.stderr)
    installed = {c.id for c in found.checks}
    only = request.only or [c for c in DEFAULT_CHECKS if c in installed]
    try:
        checks = select(found.checks, only, request.skip)
    except UnknownCheck as exc:
        raise Fatal(str(exc)) from None
    if not checks:
        raise Fatal("no checks selected")
    options = Options(timeout=request.timeout, ca_file=request.ca_file)
    return BatchPlan(nameservers, checks, options, request.concurrency)


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
                raise Fatal(f"cannot write {path}: {exc.strerror or exc}") from None

    def write(self, result: dict) -> None:
        fh = self._fh or sys.stdout  # looked up each time: a progress bar may redirect stdout
        fh.write(json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n")
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
        raise Fatal(f"cannot read {source}: {exc.strerror or exc}") from None


class _Progress:
    """A bar on stderr when it is a terminal; a no-op otherwise."""

    def __init__(self, enabled: bool, total: int | None) -> None:
        self._bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("diagnosing"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[problems]} with problems"), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=True)
            self._task = self._bar.add_task("batch", total=total, problems=0)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def advance(self, tally: Tally) -> None:
        if self._bar is not None:
            problems = tally.done - tally.verdicts.get("pass", 0) - tally.verdicts.get("skip", 0)
            self._bar.update(self._task, advance=1, problems=problems)


async def _run(plan: BatchPlan, stream: IO[str], request: BatchRequest, sink: Sink, tally: Tally,
               progress: _Progress) -> None:
    dns = SharedDns(plan.nameservers, timeout=plan.options.timeout)
    try:
        await dns.preflight()
    except ResolverUnreachable as exc:
        raise Fatal(str(exc)) from None
    if request.worker_mode:  # entries numbered by the parent, de-duplicated there; no summary
        await run_pool(worker_entries(stream), lambda e: diagnose_entry(e, plan.checks, dns, plan.options),
                       sink.write, plan.concurrency)
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

    if request.workers > 1:
        per_worker = -(-plan.concurrency // request.workers)
        argv = child_argv(
            nameservers=request.nameservers,
            timeout=request.timeout,
            per_worker=per_worker,
            only=request.only,
            skip=request.skip,
            ca_file=str(request.ca_file) if request.ca_file else None,
        )
        await run_workers(fresh(), argv, request.workers, per_worker, emit)
    else:
        await run_pool(fresh(), lambda e: diagnose_entry(e, plan.checks, dns, plan.options), emit, plan.concurrency)


def run_batch(request: BatchRequest) -> ExitCode:
    """The `batch` command: one error line and exit 3 when it cannot run; otherwise the exit code
    of the worst verdict (as for `check`, with --fail-on), 130 when interrupted."""
    try:
        plan = make_batch_plan(request)
        stream, total = _open_source(request.source)
        sink = Sink(request.output)
    except Fatal as exc:
        print(f"maildoctor: error: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    show = request.progress if request.progress is not None else sys.stderr.isatty() and not os.environ.get("CI")
    tally = Tally()
    try:
        with _Progress(show, total) as progress:
            asyncio.run(_run(plan, stream, request, sink, tally, progress))
    except Fatal as exc:
        print(f"maildoctor: error: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    except KeyboardInterrupt:
        tally.interrupted = True
    except BrokenPipeError:  # e.g. `maildoctor batch list | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    finally:
        sink.close()
        if stream is not sys.stdin:
            stream.close()
    if request.worker_mode:
        return ExitCode.INTERRUPTED if tally.interrupted else ExitCode.OK
    summary = clean(tally.render(plan.concurrency, workers=request.workers), limit=20000)
    print(summary, file=sys.stderr if request.output is None else sys.stdout)
    if tally.interrupted:
        return ExitCode.INTERRUPTED
    return exit_code_for(tally.worst, request.fail_on)
