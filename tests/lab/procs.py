"""Process helpers: polling with deadlines, pid files, stopping process trees."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

POLL = 0.02


class LabError(RuntimeError):
    pass


def wait_for(what: str, predicate: Callable[[], bool], timeout: float) -> None:
    """Poll `predicate` until true or raise LabError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = POLL
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise LabError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


def tcp_open(addr: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((addr, port), timeout=timeout):
            return True
    except OSError:
        return False


def read_pid(pidfile: Path | str) -> int | None:
    try:
        text = Path(pidfile).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a process, None when it does not exist."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def environ(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().replace(b"\0", b"\n").decode(errors="replace")
    except OSError:
        return ""


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for p in all_pids():
        st = _stat(p)
        if st:
            children.setdefault(st[1], []).append(p)
    out: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def stop_tree(pid: int | None, expect_comm: str, timeout: float = 10.0) -> list[int]:
    """SIGTERM `pid` (if it is alive and its comm matches), wait for it and its
    descendants to exit, SIGKILL what is left. Returns pids that survived."""
    if not alive(pid) or comm(pid) != expect_comm:
        return []
    tree = {pid} | descendants(pid)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        wait_for(f"{expect_comm} (pid {pid}) to exit", lambda: not any(alive(p) for p in tree), timeout)
    except LabError:
        for p in tree:
            if alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            wait_for("killed processes to exit", lambda: not any(alive(p) for p in tree), 3)
        except LabError:
            pass
    return sorted(p for p in tree if alive(p))


def processes_mentioning(cmd_text: str, env_text: str | None = None) -> list[int]:
    """Live processes (not this one) whose command line contains `cmd_text` or
    whose environment contains the line `env_text`."""
    skip = set()
    p = os.getpid()
    while p > 1 and p not in skip:  # this process and its ancestors (our own CLI)
        skip.add(p)
        st = _stat(p)
        p = st[1] if st else 0
    found = []
    for p in all_pids():
        if p in skip or not alive(p):
            continue
        if cmd_text in cmdline(p) or (env_text and env_text in environ(p).splitlines()):
            found.append(p)
    return found
