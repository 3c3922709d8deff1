"""On a real terminal (a pty): the live progress display survives hostile servers and Ctrl-C, and
leaves the terminal as it found it (cursor shown again, no server escape sequences)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time

import pytest

from tests.hostile.conftest import DNS_INDEX, MAILDOCTOR, ROOT, Kit, addr, case_records, domain

SILENT, EVIL = 14, 19


@pytest.fixture(scope="module")
def kit():
    k = Kit({"dns": {"address": addr(DNS_INDEX),
                     "records": case_records("silent", SILENT) + case_records("escapes", EVIL)},
             "servers": [{"address": addr(SILENT), "ports": [25], "behaviour": "silent"},
                         {"address": addr(EVIL), "ports": [25], "behaviour": "hostile_text"}]})
    yield k
    k.stop()


def run_in_pty(args: list[str], *, interrupt_when=None, limit: float = 30.0) -> tuple[int, str]:
    main, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    env.update(TERM="xterm-256color", COLUMNS="100", LINES="40")
    proc = subprocess.Popen([MAILDOCTOR, *args], cwd=ROOT, stdin=child, stdout=child, stderr=child, env=env,
                            close_fds=True)
    os.close(child)
    out = bytearray()
    deadline = time.monotonic() + limit
    interrupted = False
    try:
        while time.monotonic() < deadline:
            if interrupt_when is not None and not interrupted and interrupt_when():
                proc.send_signal(signal.SIGINT)
                interrupted = True
            ready, _, _ = select.select([main], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: the child side is closed
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            pytest.fail(f"no exit within {limit} s on a terminal:\n{out.decode(errors='replace')[-3000:]}")
        return proc.wait(5), out.decode("utf-8", "replace")
    finally:
        os.close(main)


def assert_terminal_restored(text: str) -> None:
    assert "Traceback" not in text, text[-3000:]
    hidden = text.rfind("\x1b[?25l")
    assert hidden < 0 or text.rfind("\x1b[?25h") > hidden, "the cursor was left hidden"
    for server_escape in ("\x1b]0;owned-title", "\x1b[2J", "\x1b]8;;http://evil"):
        assert server_escape not in text, f"server escape {server_escape!r} reached the terminal"


def test_hostile_banner_on_a_terminal(kit):
    code, text = run_in_pty(["check", domain("escapes"), "--nameserver", addr(DNS_INDEX), "--timeout", "1"])
    assert code in (0, 1, 2), text[-3000:]
    assert "Verdict" in text
    assert_terminal_restored(text)


def test_ctrl_c_on_a_terminal_with_the_live_display(kit):
    kit.lines.clear()
    code, text = run_in_pty(["check", domain("silent"), "--nameserver", addr(DNS_INDEX), "--timeout", "8"],
                            interrupt_when=lambda: any(f"accepted {addr(SILENT)} 25" in line for line in kit.lines))
    assert code == 130, text[-3000:]
    assert "interrupted" in text and "not run" in text, text[-3000:]
    assert_terminal_restored(text)
