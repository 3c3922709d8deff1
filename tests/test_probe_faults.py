"""`maildoctor probe` against hostile servers real Postfix/Dovecot will not imitate: silent after
connect, silent after STARTTLS's 220, hostile text in a refusal. Each fake listens on a free port of
127.0.0.1 (`--protocol smtp` names the protocol), so no root is needed. The probe runs as the real
console script; every run must end within its --timeout (plus a generous start-up allowance)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

MAILDOCTOR = str(Path(sys.executable).parent / "maildoctor")
STARTUP_ALLOWANCE = 10.0  # seconds: a loaded machine's interpreter start, never a hang


@contextmanager
def fake_server(behaviour: Callable[[socket.socket], None]) -> Iterator[int]:
    """Serve ``behaviour(conn)`` on 127.0.0.1:<free port> in a thread; yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(30)
                try:
                    behaviour(conn)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def probe(port: int, *args: str, timeout: float = 1.0) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = subprocess.run([MAILDOCTOR, "probe", f"127.0.0.1:{port}", "--protocol", "smtp", "--timeout", str(timeout),
                           *args], capture_output=True, text=True, timeout=timeout + STARTUP_ALLOWANCE + 20)
    return proc, time.monotonic() - start


def _silent(conn: socket.socket) -> None:
    time.sleep(2.5)  # connected, says nothing (longer than any --timeout below)


def _stalls_after_starttls(conn: socket.socket) -> None:
    conn.sendall(b"220 fake ESMTP\r\n")
    buf = b""
    while b"STARTTLS" not in buf.upper():
        data = conn.recv(1024)
        if not data:
            return
        buf += data
        if b"EHLO" in buf.upper() and b"250" not in buf:
            conn.sendall(b"250-fake\r\n250 STARTTLS\r\n")
            buf += b"250"
    conn.sendall(b"220 go ahead\r\n")
    time.sleep(2.5)  # never answers the ClientHello


def _hostile_refusal(conn: socket.socket) -> None:
    conn.sendall(b"554 \x1b[2J\x1b]0;owned\x07go away | now\r\n")
    time.sleep(0.5)


def test_a_silent_server_is_critical_within_the_timeout():
    # Given a server that accepts the connection and never greets
    with fake_server(_silent) as port:
        # When probed with --timeout 1
        proc, took = probe(port, timeout=1.0)
    # Then CRITICAL (2) naming the greeting, well within the timeout plus start-up
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout.startswith("MAILDOCTOR CRITICAL - smtp 127.0.0.1:"), proc.stdout
    assert "greeting" in proc.stdout.splitlines()[0], proc.stdout
    assert took < 1.0 + STARTUP_ALLOWANCE, took


def test_a_server_silent_after_starttls_is_bounded_by_the_timeout():
    # Given a server that greets, offers STARTTLS, says 220 and then never answers the handshake
    with fake_server(_stalls_after_starttls) as port:
        proc, took = probe(port, timeout=1.5)
    # Then the probe ends by its own --timeout, CRITICAL, the handshake named
    assert proc.returncode == 2, proc.stdout + proc.stderr
    first = proc.stdout.splitlines()[0]
    assert "handshake" in first.lower() or "timed out" in first, proc.stdout
    assert took < 1.5 + STARTUP_ALLOWANCE, took


def test_hostile_text_in_a_refusal_is_sanitised_and_keeps_the_perfdata_separator_alone():
    # Given a 554 refusal carrying terminal escapes and a '|'
    with fake_server(_hostile_refusal) as port:
        proc, _ = probe(port)
    # Then CRITICAL, with no control character in the output, and '|' only before the performance data
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout, repr(proc.stdout)
    lines = proc.stdout.splitlines()
    assert lines[0].count("|") == 1 and "time=" in lines[0].split("|")[1], proc.stdout
    assert any("go away / now" in line for line in lines[1:]), proc.stdout


def test_a_closed_port_is_critical_connection_refused():
    # Given a port nothing listens on (bound, then closed)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, _ = probe(port)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "connection refused" in proc.stdout.splitlines()[0], proc.stdout
