"""`maildoctor batch --workers N`: spread the targets over N worker processes, one core each.

One event loop uses one core; the DNS parsing and the checks' Python cost about as much CPU as the
network waits allow, so on a machine with several cores the batch runs in N child processes, each
with its own resolver cache and a share of --concurrency. Where the system can fork (Linux), the
workers are forked from the batch before its event loop starts (``fork_workers``): they have the
modules and the plan already, where a fresh interpreter (`maildoctor batch --worker-mode`, the way
elsewhere) spends about 0.6 s of CPU importing before its first target.
The parent keeps everything else: reading and de-duplicating the input, --resume, writing the one
output, the progress bar and the summary. Each child gets the next target when it has fewest in
flight, and at most ``2 x its concurrency`` are queued to it, so memory stays bounded.

Worker protocol: the parent writes ``LINE<TAB>TARGET`` lines to a child's stdin and reads one JSON
result line per target from its stdout; a child that dies turns its unanswered targets into error
lines.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable

from diagnose.app.batchcore import Entry, error_line

INTERRUPTED = (130, -signal.SIGINT, -signal.SIGTERM)  # a worker's exit code when Ctrl-C or we stopped it


CAN_FORK = sys.platform.startswith("linux")  # fork without exec is safe there (no Objective-C runtime, ...)
READ_LIMIT = 1 << 20  # bytes of one result line read from a worker


class Forked:
    """A worker made by ``fork_workers``, with the parts of asyncio's Process that run_workers uses."""

    def __init__(self, pid: int, to_child: int, from_child: int) -> None:
        self.pid, self._to_child, self._from_child = pid, to_child, from_child
        self.stdin: asyncio.StreamWriter | None = None
        self.stdout: asyncio.StreamReader | None = None
        self.returncode: int | None = None
        self._reaped: asyncio.Future[int] | None = None

    async def attach(self) -> Forked:
        """Its pipes as asyncio streams of the running loop."""
        loop = asyncio.get_running_loop()
        self.stdout = asyncio.StreamReader(limit=READ_LIMIT)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(self.stdout),  # type: ignore[arg-type]
                                     os.fdopen(self._from_child, "rb", 0))
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                            os.fdopen(self._to_child, "wb", 0))
        self.stdin = asyncio.StreamWriter(transport, protocol, None, loop)
        return self

    async def wait(self) -> int:
        """Its exit code once it has ended: one waitpid per worker, shared by every caller. Its reader and
        the clean-up after Ctrl-C both wait, and a second waitpid failed with ECHILD (a traceback and exit
        code 1 instead of 130)."""
        if self.returncode is not None:
            return self.returncode
        if self._reaped is None:
            self._reaped = asyncio.ensure_future(asyncio.to_thread(self._reap))
        return await asyncio.shield(self._reaped)  # a cancelled caller leaves the reaping to the others

    def _reap(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def fork_workers(count: int, work: Callable[[], int]) -> list[Forked]:
    """Fork ``count`` workers; each runs ``work()`` with the parent's targets on its standard input and
    its result lines on its standard output, and exits with what it returns. Call it before any event
    loop or thread of this process runs (a child gets only the forking thread)."""
    sys.stdout.flush()
    sys.stderr.flush()
    made: list[Forked] = []
    for _ in range(count):
        down_r, down_w = os.pipe()  # targets to the child
        up_r, up_w = os.pipe()  # results from it
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            # Ctrl-C reaches the whole process group; the parent answers it (it stops reading, sums up and
            # kills the workers). A worker that also stopped on it could be interrupted inside asyncio's own
            # clean-up and leave an unclosed loop whose finaliser, run on the reader thread, printed
            # "Exception ignored in BaseEventLoop.__del__" on the terminal.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                for fd in [down_w, up_r] + [fd for w in made for fd in (w._to_child, w._from_child)]:
                    os.close(fd)  # the other workers' pipes: their ends must close when the parent's do
                os.dup2(down_r, 0)
                os.dup2(up_w, 1)
                os.close(down_r)
                os.close(up_w)
                sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)
                sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
                code = int(work())
                sys.stdout.flush()
            except KeyboardInterrupt:
                code = 130
            except BaseException as exc:  # noqa: BLE001 - a worker reports and exits; the parent says it died
                print(f"maildoctor: batch worker: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                os._exit(code)
        os.close(down_r)
        os.close(up_w)
        made.append(Forked(pid, down_w, up_r))
    return made


async def run_workers(entries: AsyncIterator[Entry], child_argv: list[str] | list[Forked], workers: int,
                      per_worker: int, emit: Callable[[dict], None]) -> None:
    """Give each entry to the worker with fewest in flight; ``child_argv``: the command of a worker to
    start (``workers`` of them), or the workers ``fork_workers`` made."""
    cap = 2 * per_worker
    if child_argv and isinstance(child_argv[0], Forked):
        procs: list = [await w.attach() for w in child_argv if isinstance(w, Forked)]
    else:
        procs = [await asyncio.create_subprocess_exec(*child_argv, stdin=asyncio.subprocess.PIPE,
                                                      stdout=asyncio.subprocess.PIPE, limit=READ_LIMIT)
                 for _ in range(workers)]
    inflight: list[dict[int, Entry]] = [{} for _ in procs]
    room = asyncio.Condition()

    async def read(n: int) -> None:
        proc = procs[n]
        assert proc.stdout is not None
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                break
            try:
                result = json.loads(raw)
                entry = inflight[n].pop(int(result["line"]))
            except (ValueError, KeyError, TypeError):
                continue  # not a result line of ours
            result["target"] = entry.text
            emit(result)
            async with room:
                room.notify_all()
        code = await proc.wait()
        if not (stopping or code in INTERRUPTED):  # a crash: what it held is not diagnosed, and says so
            for entry in list(inflight[n].values()):
                emit(error_line(entry, f"internal error: batch worker exited (code {code})"))
        # interrupted (Ctrl-C reaches the workers too): its targets are not written, so --resume runs them
        inflight[n].clear()
        async with room:
            room.notify_all()

    readers = [asyncio.create_task(read(n)) for n in range(len(procs))]
    stopping = False
    try:
        async for entry in entries:
            async with room:
                await room.wait_for(lambda: all(r.done() for r in readers)
                                    or any(len(f) < cap for n, f in enumerate(inflight) if not readers[n].done()))
                alive = [i for i in range(len(procs)) if not readers[i].done()]
                if not alive:
                    emit(error_line(entry, "internal error: no batch worker is left"))
                    continue
                n = min(alive, key=lambda i: len(inflight[i]))
                inflight[n][entry.line] = entry
            stdin = procs[n].stdin
            assert stdin is not None
            text = entry.text.replace("\t", " ").replace("\n", " ")
            stdin.write(f"{entry.line}\t{text}\n".encode("utf-8", "replace"))
            try:
                await stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass  # its reader reports the targets it held
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
        await asyncio.gather(*readers)
        for proc in procs:
            await proc.wait()
    except BaseException:  # Ctrl-C (cancelled) or a failure here: the workers are stopped, not crashed
        stopping = True
        raise
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        for task in readers:
            task.cancel()


def child_argv(*, nameservers: list[str], timeout: float, per_worker: int, only: list[str], skip: list[str],
               ca_file: str | None, require: list[str] | None = None) -> list[str]:
    argv = [sys.executable, "-c", "from diagnose.app.entry import main; main()", "batch", "-", "--worker-mode",
            "--no-progress", "--timeout", repr(timeout), "--concurrency", str(per_worker)]
    for ns in nameservers:
        argv += ["--nameserver", ns]
    for c in only:
        argv += ["--check", c]
    for c in skip:
        argv += ["--skip", c]
    if ca_file:
        argv += ["--ca-file", ca_file]
    for name in require or []:
        argv += ["--require", name]
    return argv


async def worker_entries(stream) -> AsyncIterator[Entry]:
    """In a worker: ``LINE<TAB>TARGET`` lines from the parent."""
    while True:
        raw = await asyncio.to_thread(stream.readline)
        if not raw:
            return
        number, _, text = raw.rstrip("\n").partition("\t")
        if number.isdigit():
            yield Entry(int(number), text)
