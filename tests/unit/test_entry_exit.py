"""The console script's quick exit: what was printed is flushed, the exit status is sys.exit's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from diagnose.app.entry import quick_exit_is_safe


def _run(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered, as a console script is
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("code,status", [("None", 0), ("0", 0), ("2", 2), ("3", 3), ("130", 130)])
def test_the_status_is_what_sys_exit_would_give_and_buffered_output_is_written(code, status):
    # print() to a pipe is block-buffered: without the flush the text would be lost with os._exit
    proc = _run(f"from diagnose.app.entry import exit_now; print('report text', end=''); exit_now({code})")
    assert (proc.returncode, proc.stdout, proc.stderr) == (status, "report text", "")


def test_a_message_is_printed_to_stderr_with_status_1():
    proc = _run("from diagnose.app.entry import exit_now; exit_now('maildoctor: error: bad')")
    assert (proc.returncode, proc.stderr) == (1, "maildoctor: error: bad\n")


def test_a_reader_that_went_away_is_no_traceback():
    # the text waits in the buffer until the reader (`true`) has gone: the flush meets a closed pipe
    script = "import time; from diagnose.app.entry import exit_now; print('x' * 1000); time.sleep(0.5); exit_now(2)"
    proc = subprocess.run(f'env -u PYTHONUNBUFFERED {sys.executable} -c "{script}" | true; echo "status ${{PIPESTATUS[0]}}" >&2',
                          shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60)
    assert proc.stderr == "status 2\n"  # no traceback, no "Exception ignored", the status kept


@pytest.mark.parametrize("args,safe", [
    (["check", "example.com"], True), (["report", "r.json"], True), (["explain", "spf.none"], True),
    (["check", "example.com", "--tui"], False), (["tui"], False), (["serve"], False), (["batch", "f"], False),
    (["login"], False), ([], False), (["--version"], False),
])
def test_only_commands_that_leave_nothing_running_exit_quickly(args, safe):
    assert quick_exit_is_safe(args) is safe


def test_bounded_commands_run_without_the_cycle_collector_and_others_keep_it():
    from diagnose.app.entry import NO_CYCLE_COLLECTOR

    probe = ("import gc, sys\nfrom diagnose.app import entry\n"
             "def done(code=0):\n    print('gc', gc.isenabled()); sys.stdout.flush(); entry.os._exit(0)\n"
             "entry.exit_now = done\nsys.argv = ['maildoctor', {cmd!r}, '--help']\n"
             "try:\n    entry.main()\nexcept SystemExit:\n    done()\n")
    for cmd, enabled in (("check", False), ("explain", False), ("message", True), ("batch", True)):
        proc = _run(probe.format(cmd=cmd))
        assert proc.stdout.strip().endswith(f"gc {enabled}"), (cmd, proc.stdout[-200:], proc.stderr[-500:])
    assert "message" not in NO_CYCLE_COLLECTOR and "check" in NO_CYCLE_COLLECTOR
