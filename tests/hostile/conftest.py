"""Fixtures of the hostile suite: the kit process, the fake DNS zone and a runner for the real CLI.

Addresses: ``127.A.200.N`` of MAILDOCTOR_LAB_NET=127.A (default 127.77), apart from the lab's hosts.
Ports 25/53 need root: the suite skips (with that reason) when not run as root.
"""

from __future__ import annotations

import html.parser
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from diagnose.engine.report import Report
from diagnose.engine.timeouts import Timeouts
from reports import renderer

# the lab's hosts live at 127.A.0.x (or 127.A.B.x); the hostile kit takes 127.A.200.x of the same net
NET = ".".join(os.environ.get("MAILDOCTOR_LAB_NET", "127.77").split(".")[:2])
ZONE = "hostile.test"
DNS_INDEX = 53
MAILDOCTOR = str(Path(sys.executable).parent / "maildoctor")
ROOT = Path(__file__).resolve().parents[2]
# characters that must never reach a terminal from server text: ESC, BEL, backspace, C1 CSI, bidi override
# seconds a process may add to the diagnosis (override: MAILDOCTOR_HOSTILE_STARTUP)
STARTUP = float(os.environ.get("MAILDOCTOR_HOSTILE_STARTUP", "12"))
# seconds a diagnosis may run past the overall budget of diagnose.engine.timeouts (a loaded machine)
BUDGET_MARGIN = float(os.environ.get("MAILDOCTOR_HOSTILE_BUDGET_MARGIN", "3"))
UNSAFE = ("\x1b", "\x07", "\x08", "\x9b", "\u202e")


def addr(index: int) -> str:
    return f"{NET}.200.{index}"


def domain(case: str) -> str:
    return f"{case}.{ZONE}"


def case_records(case: str, index: int, *, services: tuple[str, ...] = ()) -> list:
    """MX (and, for ``services``, the common submission/IMAP/POP3 names) of ``case`` at address ``index``."""
    d = domain(case)
    records = [[d, "MX", f"10 mx.{d}."], [f"mx.{d}", "A", addr(index)]]
    records += [[f"{s}.{d}", "A", addr(index)] for s in services]
    return records


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the hostile servers bind ports 25 and 53 on loopback: run as root")


class Kit:
    """``python -m tests.hostile.kit CONFIG`` as a child process (optionally inside a netns)."""

    def __init__(self, config: dict, *, netns: str | None = None) -> None:
        needs_root()
        self.dir = Path(tempfile.mkdtemp(prefix="hostile-kit-"))
        path = self.dir / "config.json"
        path.write_text(json.dumps(config))
        argv = [sys.executable, "-m", "tests.hostile.kit", str(path)]
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline().strip() if ready else ""
        if line != "ready":
            self.stop()
            raise RuntimeError(f"hostile kit did not start: {line or 'no answer in 20 s'} "
                               f"{self.proc.stderr.read()[-2000:] if self.proc.stderr else ''}")
        self.lines: list[str] = []
        self._seen = threading.Condition()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout:
            with self._seen:
                self.lines.append(line.strip())
                self._seen.notify_all()

    def wait_for(self, text: str, *, timeout: float = 20.0) -> None:
        """Block until the kit printed a line containing ``text`` (e.g. "accepted 127.86.200.14 25")."""
        with self._seen:
            if not self._seen.wait_for(lambda: any(text in line for line in self.lines), timeout):
                raise AssertionError(f"the kit never printed {text!r}: {self.lines[-10:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass(repr=False)
class Run:
    argv: list[str]
    code: int
    stdout: str
    stderr: str
    elapsed: float
    report: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"$ {' '.join(self.argv)}\nexit {self.code} after {self.elapsed:.2f} s\n"
                f"--- stdout\n{self.stdout[-6000:]}\n--- stderr\n{self.stderr[-3000:]}")

    def codes(self, check: str | None = None) -> dict[str, str]:
        """finding code -> worst status seen for it (optionally only one check's findings)."""
        order = ["pass", "skip", "warn", "error", "fail"]
        out: dict[str, str] = {}
        for f in self.report.get("findings", []):
            if check is None or f["check"] == check:
                old = out.get(f["code"])
                if old is None or order.index(f["status"]) > order.index(old):
                    out[f["code"]] = f["status"]
        return out

    def statuses(self, check: str) -> set[str]:
        return {f["status"] for f in self.report.get("findings", []) if f["check"] == check}


def run_cli(args: list[str], *, limit: float, netns: str | None = None, json_report: bool = False,
            env: dict | None = None) -> Run:
    """Run the real CLI. The diagnosis (the report's duration) must take at most ``limit`` seconds,
    and the whole process at most ``limit`` + STARTUP (Python start-up, imports and rendering are
    slow on a loaded 2-CPU machine; a hang still fails)."""
    with tempfile.TemporaryDirectory(prefix="hostile-out-") as out:
        return _run_cli(args, Path(out), limit=limit, netns=netns, json_report=json_report, env=env)


def _run_cli(args: list[str], out_dir: Path, *, limit: float, netns: str | None, json_report: bool,
             env: dict | None) -> Run:
    argv = [MAILDOCTOR, *args]
    if json_report:
        argv += ["--format", "json", "--output", str(out_dir / "report.json")]
    full = ["ip", "netns", "exec", netns, *argv] if netns else argv
    environment = {**os.environ, "CI": "1", "COLUMNS": "120", **(env or {})}
    environment.pop("NO_COLOR", None)
    start = time.monotonic()
    try:
        proc = subprocess.run(
            full,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=limit + STARTUP + 30,
            env=environment,
            errors="surrogateescape",
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"maildoctor hung: no exit within {limit + STARTUP + 30:.0f} s: {' '.join(argv)}\n{exc.stdout!r}")
    elapsed = time.monotonic() - start
    run = Run(argv, proc.returncode, proc.stdout, proc.stderr, elapsed)
    if json_report and (out_dir / "report.json").exists():
        run.report = json.loads((out_dir / "report.json").read_text())
    assert elapsed <= limit + STARTUP, f"took {elapsed:.1f} s, more than {limit:.1f} + {STARTUP:g} s\n{run}"
    if run.report:
        took = run.report["duration_s"]
        assert took <= limit, f"the diagnosis took {took:.1f} s, more than {limit:.1f} s\n{run}"
        if "--timeout" in args:  # every hostile run also ends within the documented overall budget
            budget = Timeouts(float(args[args.index("--timeout") + 1])).with_logins
            assert took <= budget + BUDGET_MARGIN, f"the diagnosis took {took:.1f} s, over its budget {budget:g} s"
    return run


def assert_clean(run: Run, *, error_line: bool = False, overrun_ok: bool = False) -> None:
    """No traceback, terminal-safe output, a known exit code; with ``error_line``: exactly one error line.
    ``overrun_ok``: a check stopped by the overall budget is fine (an error finding that says so)."""
    for stream in (run.stdout, run.stderr):
        assert "Traceback" not in stream, run
        for ch in UNSAFE:
            assert ch not in stream, f"raw {ch!r} in the output\n{run}"
    assert run.code in (0, 1, 2, 3), run
    if error_line:
        assert run.code == 3 and not run.stdout.strip(), run
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("maildoctor: error: "), run
    for f in run.report.get("findings", []):
        assert not f["code"].endswith(".crashed"), f"{f['code']}: {f['summary']}\n{run}"
        if f["code"].endswith(".overrun"):
            assert overrun_ok and f["status"] == "error", f"{f['code']}: {f['summary']}\n{run}"


@pytest.fixture(scope="session")
def md_timeout() -> float:
    return 1.0


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)


def assert_formats_safe(data: dict) -> None:
    """Every format renders the report with the server's text escaped (or stripped)."""
    report = Report.from_dict(data)
    for fmt in ("text", "markdown", "html", "junit", "nagios", "json"):
        out = renderer(fmt)(report)
        for ch in UNSAFE:
            assert ch not in out, f"{fmt}: raw {ch!r}"
        if fmt == "html":
            parser = _Tags()
            parser.feed(out)
            assert "script" not in parser.tags or out.count("<script") == parser.tags.count("script"), fmt
            assert "alert(" not in out or "<script>alert(" not in out, "server HTML reached the page"
        elif fmt == "markdown":  # rendered as a Markdown viewer would: no element from the server's text
            page = MarkdownIt("commonmark").render(out)
            assert "<script" not in page and "<b>bold</b>" not in page, "server HTML reached the rendered Markdown"
        elif fmt == "junit":
            ET.fromstring(out)  # well-formed XML even with the server's words in it
