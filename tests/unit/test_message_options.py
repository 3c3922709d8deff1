"""The options `maildoctor message` gained for the re-checks: bad values are one error line and exit 3
(before anything is read or asked); --offline asks no DNS and says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
SIGNED = (b"Received: from out.sender.example (out.sender.example [192.0.2.25]) by mx.receiver.example with ESMTPS;"
          b" Thu, 3 Dec 2026 10:00:01 +0000\nDKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=s1; h=from;"
          b" bh=x; b=y\nFrom: ann@sender.example\n\nhi\n")


def _run(*args: str, stdin: bytes = SIGNED) -> subprocess.CompletedProcess:
    return subprocess.run([MAILDOCTOR, "message", "-", *args], input=stdin, capture_output=True, timeout=60)


def test_a_bad_nameserver_or_timeout_is_one_line_and_exit_3():
    for args, words in ((("--nameserver", "not-an-ip"), b"nameserver"), (("--timeout", "0"), b"--timeout"),
                        (("--timeout", "601"), b"--timeout")):
        proc = _run(*args)
        assert proc.returncode == 3, (args, proc.stderr)
        assert words in proc.stderr and b"Traceback" not in proc.stderr and proc.stderr.count(b"\n") == 1


def test_offline_reports_the_recheck_as_not_tested():
    proc = _run("--offline", "-f", "json")
    rep = json.loads(proc.stdout)
    [skip] = [f for f in rep["findings"] if f["code"] == "message.dkim_not_tested"]
    assert skip["status"] == "skip" and "--offline" in skip["summary"]
    assert not [f for f in rep["findings"] if f["code"].startswith(("message.dkim_valid", "message.spf_"))]


def test_help_lists_the_new_options():
    out = subprocess.run([MAILDOCTOR, "message", "--help"], capture_output=True, text=True, timeout=60,
                         env={"COLUMNS": "200", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}).stdout
    for option in ("--nameserver", "--timeout", "--offline", "--anonymize"):
        assert option in out, out
