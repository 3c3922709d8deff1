"""Ctrl-C (SIGINT) during a run: the findings so far are printed, the rest marked as not run,
exit code 130, and no half-written --output file or temp file is left behind."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import time

import pytest

from tests.hostile.conftest import DNS_INDEX, MAILDOCTOR, ROOT, UNSAFE, Kit, addr, case_records, domain, needs_root

SILENT = 14
SLOW_T = 8.0  # seconds: long enough that the run is surely still going when Ctrl-C comes


@pytest.fixture(scope="module")
def kit():
    k = Kit({"dns": {"address": addr(DNS_INDEX), "records": case_records("silent", SILENT)},
             "servers": [{"address": addr(SILENT), "ports": [25], "behaviour": "silent"}]})
    yield k
    k.stop()


def start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "CI": "1", "COLUMNS": "120"}
    return subprocess.Popen([MAILDOCTOR, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def interrupt(proc: subprocess.Popen) -> tuple[str, str, float]:
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running 10 s after Ctrl-C\n{out}\n{err}")
    return out, err, time.monotonic() - sent


def test_ctrl_c_prints_what_was_found_and_exits_130(kit):
    kit.lines.clear()
    proc = start(["check", domain("silent"), "--nameserver", addr(DNS_INDEX), "--timeout", str(SLOW_T)])
    kit.wait_for(f"accepted {addr(SILENT)} 25")  # the run is talking to the silent server now
    out, err, after = interrupt(proc)
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert after < 3, f"took {after:.1f} s to stop"
    assert "Traceback" not in out + err and not any(ch in out + err for ch in UNSAFE), err
    assert "PASS  mx.records" in out and "1 MX record" in out, out  # what was found before Ctrl-C
    assert "interrupted, some checks did not run" in out, out
    headline = out.splitlines()[1]  # no claim on what did not run, whatever was found before the Ctrl-C
    assert headline.startswith("Interrupted before every check ran") and "looks healthy" not in out, out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("maildoctor: interrupted: the report shows what was found so far; "
                                                   "not run: ") and "smtp.greeting" in lines[0], err


def test_ctrl_c_with_output_file_leaves_a_complete_report_and_no_temp_file(kit, tmp_path):
    target = tmp_path / "report.json"
    target.write_text("previous report\n")
    target.chmod(0o640)
    kit.lines.clear()
    proc = start(["check", domain("silent"), "--nameserver", addr(DNS_INDEX), "--timeout", str(SLOW_T),
                  "--format", "json", "--output", str(target), "--quiet"])
    kit.wait_for(f"accepted {addr(SILENT)} 25")
    out, err, _ = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    data = json.loads(target.read_text())  # complete JSON, not half of one
    assert data["interrupted"] is True
    not_run = [f for f in data["findings"] if f["summary"].startswith("not run: interrupted")]
    assert not_run and all(f["status"] == "skip" for f in not_run), data["findings"]
    assert "smtp.greeting" in {f["check"] for f in not_run}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"], "a temp file was left behind"
    assert target.stat().st_mode & 0o777 == 0o640, "the report's mode changed"


def test_ctrl_c_while_waiting_for_the_resolver():
    needs_root()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind((addr(97), 53))  # a resolver that never answers
        proc = start(["check", domain("silent"), "--nameserver", addr(97), "--timeout", str(SLOW_T)])
        ready, _, _ = select.select([sink], [], [], 20)  # the first query arrived: maildoctor is waiting
        assert ready, "maildoctor never asked the resolver"
        out, err, after = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in out + err and after < 3


def test_ctrl_c_twice(kit):
    kit.lines.clear()
    proc = start(["check", domain("silent"), "--nameserver", addr(DNS_INDEX), "--timeout", str(SLOW_T)])
    kit.wait_for(f"accepted {addr(SILENT)} 25")
    proc.send_signal(signal.SIGINT)
    out, err, after = interrupt(proc)  # the second one, right behind the first
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert "Traceback" not in out + err and after < 3, err
