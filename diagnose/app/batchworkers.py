"""`maildoctor batch --workers N`: spread the targets over N worker processes, one core each.

One event loop uses one core; the DNS parsing and the checks' Python cost about as much CPU as the
network waits allow, so on a machine with several cores the batch runs in N child processes
(`maildoctor batch --worker-mode`, each with its own resolver cache and a share of --concurrency).
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
import signal
import sys
from collections.abc import AsyncIterator, Callable

from diagnose.app.batchcore import Entry, error_line

INTERRUPTED = (130, -signal.SIGINT, -signal.SIGTERM)  # a worker's exit code when Ctrl-C or we stopped it


async def run_workers(entries: AsyncIterator[Entry], child_argv: list[str], workers: int, per_worker: int,
                      emit: Callable[[dict], None]) -> None:
    cap = 2 * per_worker
    procs = [await asyncio.create_subprocess_exec(*child_argv, stdin=asyncio.subprocess.PIPE,
                                                  stdout=asyncio.subprocess.PIPE, limit=1 << 20)
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
               ca_file: str | None) -> list[str]:
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
