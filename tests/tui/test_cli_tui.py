"""`maildoctor tui` and `check --tui` from the command line: in a real pseudo-terminal, and not."""

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
ESCAPES = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|[()][0-9A-Z]|[=>])")


def run_in_pty(args, *, keys=b"", until=b"", timeout=30.0):
    """Run maildoctor in an 80x24 pseudo-terminal; press ``keys`` once ``until`` shows (or at
    once); return (exit code, screen text without escapes)."""
    import fcntl
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes maildoctor
        os.environ["TERM"] = "xterm-256color"
        os.execv(MAILDOCTOR, [MAILDOCTOR, *args])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    out, sent, deadline = b"", False, time.monotonic() + timeout
    status = None
    try:
        while time.monotonic() < deadline and status is None:
            if not sent and keys and until in ESCAPES.sub(b"", out):
                time.sleep(0.3)
                os.write(fd, keys)
                sent = True
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    out += os.read(fd, 65536)
                except OSError:  # the child closed the terminal
                    pass
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status = code
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"maildoctor did not exit within {timeout} s:\n{ESCAPES.sub(b'', out)[-2000:]!r}")
        while select.select([fd], [], [], 0.2)[0]:  # what the child wrote just before it exited
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), ESCAPES.sub(b"", out).decode("utf-8", "replace")


def test_tui_without_a_terminal_is_one_error_line():
    proc = subprocess.run([MAILDOCTOR, "tui", "example.test", "--nameserver", "127.0.0.1"], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "needs a terminal" in proc.stderr, proc.stderr
    assert proc.stdout == ""


def test_tui_with_a_bad_target_says_so_before_starting():
    code, text = run_in_pty(["tui", "not a domain!", "--nameserver", "127.0.0.1"])
    assert code == 3, text
    assert "maildoctor: error: bad target" in text and "Traceback" not in text, text


@pytest.mark.lab
def test_check_tui_runs_in_a_real_terminal_and_q_exits_with_the_verdict(lab):
    # Given the broken lab domain, When `check --tui` runs in a terminal and q is pressed once
    # the failure's remedy shows, Then it exits with the verdict's code (2 = fail) and no traceback
    code, text = run_in_pty(["check", lab.domain("refused"), "--tui", "--nameserver", lab.resolver, "--timeout", "1",
                             "-c", "dns.exists", "-c", "mx.records", "-c", "tcp.connect"],
                            keys=b"q", until=b"How to fix")
    assert code == 2, text[-2000:]
    assert "Traceback" not in text


def test_tui_without_a_target_opens_the_start_form():
    # Given no TARGET and no profile, When `maildoctor tui` runs in a terminal and Escape is pressed on the form
    code, text = run_in_pty(["tui", "--nameserver", "127.0.0.1"], keys=b"\x1b", until=b"Domain or email address")
    # Then the start form asked for the domain (no "give a TARGET" error) and the app quit cleanly
    assert "Domain or email address to diagnose" in text, text[-2000:]
    assert "give a TARGET" not in text and "Traceback" not in text, text[-2000:]
