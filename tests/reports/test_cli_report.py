"""`maildoctor report FILE.json` and `maildoctor explain CODE`, as a user runs them (no network)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reports import renderer
from tests.reports.sample import hostile_report, sample_report
from tests.reports.test_renderers import markdown_tokens

MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))


def run(*args, timeout=30):
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([MAILDOCTOR, *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def saved(tmp_path) -> Path:
    path = tmp_path / "customer.json"
    path.write_text(renderer("json")(sample_report()))
    return path


@pytest.mark.parametrize("fmt", ["html", "markdown", "junit", "nagios", "text", "json"])
def test_report_rerenders_a_saved_json(saved, fmt):
    proc = run("report", str(saved), "--format", fmt)
    assert proc.returncode == 2, proc.stderr  # the saved report's verdict is fail
    assert "example.com" in proc.stdout and "Traceback" not in proc.stderr
    assert proc.stdout == renderer(fmt)(sample_report()) or fmt == "text"


def test_report_writes_atomically_and_anonymizes(saved, tmp_path):
    out = tmp_path / "report.html"
    proc = run("report", str(saved), "--format", "html", "--output", str(out), "--anonymize")
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    page = out.read_text()
    assert "support-laptop" not in page and "withheld" in page
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report.html.")] == []  # no temp file left


def test_report_junit_with_fail_on_warn(saved):
    proc = run("report", str(saved), "--format", "junit", "--fail-on", "warn")
    root = ET.fromstring(proc.stdout.encode())
    assert root.get("failures") == "2"


@pytest.mark.parametrize("content", [b"not json at all", b'{"hello": "world"}', b"[1, 2]", b"\xff\xfe\x00",
                                     b'{"schema_version": "x", "findings": []}',
                                     b'{"schema_version": 1, "findings": [{"check": 1}]}',
                                     b'{"schema_version": 1, "findings": [{"check": "a", "code": "b", "subject": "c",'
                                     b' "status": "pass", "summary": "d", "evidence": [1]}]}',
                                     b'{"schema_version": 99, "findings": []}'])
def test_report_refuses_what_is_not_a_maildoctor_report(tmp_path, content):
    path = tmp_path / "other.json"
    path.write_bytes(content)
    proc = run("report", str(path), "--format", "html")
    assert proc.returncode == 3, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("maildoctor: error:") and str(path) in lines[0], proc.stderr
    assert proc.stdout == ""


def test_report_missing_file(tmp_path):
    proc = run("report", str(tmp_path / "nope.json"))
    assert proc.returncode == 3 and "cannot read" in proc.stderr and "Traceback" not in proc.stderr


def test_report_of_a_hostile_saved_json_is_safe(tmp_path):
    path = tmp_path / "hostile.json"
    path.write_text(renderer("json")(hostile_report()))
    for fmt in ("html", "text", "markdown", "nagios", "junit"):
        proc = run("report", str(path), "--format", fmt)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert "\x1b" not in proc.stdout and "s3cret" not in proc.stdout
        if fmt in ("html", "junit"):
            assert "<script>" not in proc.stdout
        if fmt == "markdown":
            html_bits = {c.content for t in markdown_tokens(proc.stdout) if t.type == "inline"
                         for c in t.children or [] if c.type == "html_inline"}
            assert html_bits <= {"<br>"}, html_bits


def test_explain_known_and_unknown_codes():
    proc = run("explain", "tcp.refused")
    assert proc.returncode == 0 and "How to fix" in proc.stdout and "<port>" in proc.stdout
    proc = run("explain", "tcp.nonsense")
    assert proc.returncode == 3 and "no finding code 'tcp.nonsense'" in proc.stderr and "tcp.refused" in proc.stderr


def test_unknown_format_is_a_usage_error():
    proc = run("check", "example.com", "--format", "pdf")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr


def test_nagios_prints_unknown_when_no_diagnosis_is_possible():
    # Given a resolver address where nothing answers (a free loopback address of this lab net)
    net = os.environ.get("MAILDOCTOR_LAB_NET", "127.77")
    proc = run("check", "example.com", "--nameserver", f"{net}.252.53", "--timeout", "0.5", "--format", "nagios")
    assert proc.returncode == 3
    assert proc.stdout.startswith("MAILDOCTOR UNKNOWN - no DNS resolver answered"), proc.stdout


def test_explain_without_a_code_lists_the_catalogue():
    proc = run("explain")
    assert proc.returncode == 0, proc.stderr
    problems, _, passing = proc.stdout.partition("\nPassing or informational results (nothing to fix):\n")
    codes = [line.split()[0] for line in problems.splitlines()]
    assert "tcp.refused" in codes and "mx.null" in codes and "expect.mx_differs" in codes
    assert "tcp.connect.crashed" not in codes  # the runner's generic codes are one line at the end
    # passing codes are listed apart, not as problems with "(a passing result)"
    assert "(a passing result)" not in proc.stdout
    assert "tls.cert_ok" not in codes and "tcp.connected" not in codes
    assert {"tls.cert_ok", "tcp.connected"} <= {c.strip(" ,") for c in passing.split()}


def test_explain_suggests_the_closest_codes_first():
    proc = run("explain", "mx.nul")
    assert proc.returncode == 3
    suggested = proc.stderr.split("(similar: ", 1)[1].split(")")[0].split(", ")
    assert suggested[0] == "mx.null", proc.stderr
