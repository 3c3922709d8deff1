"""Helpers of the benchmark: timed runs, the resolver sandbox for peer tools, tables, the machine."""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAILDOCTOR = str(ROOT / ".venv" / "bin" / "maildoctor")
PLUGINS = Path("/usr/lib/nagios/plugins")
CHECKDMARC = str(ROOT / "bench" / ".venv-peers" / "bin" / "checkdmarc")


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + sys seconds of the process tree
    rc: int
    out: str
    maxrss_kb: int = 0  # only from timed_v()

    @property
    def first_line(self) -> str:
        return next((line.strip() for line in self.out.splitlines() if line.strip()), "")[:100]


class Sandbox:
    """Peer tools resolve names with the system resolver, which the bench must never use: each peer
    runs in a private mount namespace whose /etc/resolv.conf names only the lab's resolver."""

    def __init__(self, resolver: str) -> None:
        fd, path = tempfile.mkstemp(prefix="bench-resolv-", suffix=".conf")
        with os.fdopen(fd, "w") as fh:
            fh.write(f"nameserver {resolver}\noptions timeout:2 attempts:1\n")
        os.chmod(path, 0o644)
        self.path = path
        probe = subprocess.run(self.wrap(["cat", "/etc/resolv.conf"]), capture_output=True, text=True, timeout=30)
        if probe.returncode != 0 or f"nameserver {resolver}" not in probe.stdout:
            raise SystemExit(f"bench: cannot sandbox the peers' resolver (unshare -m as root): {probe.stderr.strip()}")

    def wrap(self, argv: list[str]) -> list[str]:
        return ["unshare", "-m", "--", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', self.path, *argv]

    def close(self) -> None:
        os.unlink(self.path)


def run(argv: list[str], *, sandbox: Sandbox | None = None, timeout: float = 900, stdin: str | None = None,
        env: dict | None = None) -> Run:
    """Run once; wall time, and CPU time of the whole process tree (from RUSAGE_CHILDREN deltas)."""
    argv = sandbox.wrap(argv) if sandbox else argv
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout, env={**os.environ, "NO_COLOR": "1", **(env or {})},
                              stdin=None if stdin is not None else subprocess.DEVNULL)
        rc, out = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as exc:
        rc, out = -9, f"timed out after {timeout:g} s: {exc.output or ''}"
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, rc, out)


def timed_v(argv: list[str], *, timeout: float = 1800) -> Run:
    """Run under /usr/bin/time -v for the peak memory (maximum resident set size)."""
    fd, report = tempfile.mkstemp(prefix="bench-time-")
    os.close(fd)
    try:
        r = run(["/usr/bin/time", "-v", "-o", report, *argv], timeout=timeout)
        text = Path(report).read_text()
    finally:
        os.unlink(report)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    r.maxrss_kb = int(m.group(1)) if m else 0
    return r


def median_run(argv: list[str], runs: int, **kw) -> Run:
    results = [run(argv, **kw) for _ in range(runs)]
    walls = [r.wall for r in results]
    best = results[walls.index(statistics.median_low(walls))]
    return best


def hyperfine(commands: dict[str, str], runs: int = 20) -> dict[str, dict]:
    """name -> {mean, stddev, user, system} in seconds, via hyperfine (no shell, warm-up 3)."""
    fd, path = tempfile.mkstemp(prefix="bench-hf-", suffix=".json")
    os.close(fd)
    try:
        argv = ["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), "--export-json", path, "--style", "none"]
        for name, cmd in commands.items():
            argv += ["-n", name, cmd]
        subprocess.run(argv, capture_output=True, text=True, timeout=600, check=True)
        data = json.loads(Path(path).read_text())
    finally:
        os.unlink(path)
    return {r["command"]: {k: r[k] for k in ("mean", "stddev", "user", "system")} for r in data["results"]}


def table(header: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + " |"  # noqa: E731
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells[1:])])


def secs(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def version(argv: list[str], pattern: str = r".+") -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout + ""
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    m = re.search(pattern, out)
    return re.sub(r"\s+", " ", m.group(0).strip())[:60] if m else "?"


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    debian = Path("/etc/debian_version").read_text().strip() if Path("/etc/debian_version").exists() else "?"
    return [f"CPU: {cpu}, {os.cpu_count()} logical cores", f"memory: {mem / 1048576:.1f} GiB",
            f"OS: Debian {debian}, Linux {platform.release()}, Python {platform.python_version()}",
            f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
            "(other work on the machine inflates wall times; CPU times are less affected)"]
