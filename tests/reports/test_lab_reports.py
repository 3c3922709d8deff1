"""Every report format from real diagnoses of the lab (Knot, Unbound, Postfix, Dovecot), via the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.reports.test_renderers import assert_junit_shape, assert_well_nested, markdown_tokens, parse_html

pytestmark = pytest.mark.lab
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))


def run(*args, cwd=None, timeout=60):
    env = {**os.environ, "NO_COLOR": "1"}
    start = time.monotonic()
    proc = subprocess.run([MAILDOCTOR, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    proc.elapsed = time.monotonic() - start
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def check(lab, scenario, *extra):
    return run("check", lab.domain(scenario), "--nameserver", lab.resolver, "--timeout", "2",
               "--ca-file", str(lab.ca_file), *extra)


@pytest.fixture(scope="module")
def healthy_json(lab, tmp_path_factory):
    path = tmp_path_factory.mktemp("reports") / "healthy.json"
    proc = check(lab, "healthy", "--format", "json", "--output", str(path), "--quiet")
    assert proc.returncode in (0, 1), proc.stderr  # healthy: no failures (a missing DMARC may warn)
    return path


def test_junit_from_a_broken_domain(lab):
    proc = check(lab, "refused", "--format", "junit")
    assert proc.returncode == 2, proc.stderr
    root = ET.fromstring(proc.stdout.encode())
    assert_junit_shape(root)
    cases = list(root.iter("testcase"))
    assert int(root.get("tests")) == len(cases) > 3
    refused = [c for c in cases if c.get("name").startswith("tcp.refused:")]
    assert refused and refused[0].find("failure") is not None
    assert lab.host("refused") in refused[0].get("name")
    assert int(root.get("failures")) >= 1


def test_html_from_a_healthy_domain(lab, healthy_json):
    proc = run("report", str(healthy_json), "--format", "html")
    assert_well_nested(proc.stdout)
    doc = parse_html(proc.stdout)
    tags = [t for t, _ in doc.tags]
    assert "script" not in tags and tags.count("svg") == 3  # the mail flow (wide and narrow) and the waterfall
    assert not any(name == "src" or (name == "href" and not value.startswith("#")) for _, attrs in doc.tags
                   for name, value in attrs.items())
    flow = proc.stdout.split('class="flow"')[1].split("</svg>")[0]
    assert 'hop hop-pass"><title>Recipient MX: PASS' in flow, flow
    waterfall = proc.stdout.split('class="waterfall"')[1].split("</svg>")[0]
    assert f"{lab.hostname('mx1')} [{lab.host('mx1')}]:25" in waterfall
    # every endpoint's row starts with its connect, also where no tcp.connect ran (submission, IMAP, POP3)
    for port in (587, 465, 143, 993, 110, 995):
        host = "smtp" if port in (587, 465) else "imap"
        assert re.search(rf"{re.escape(lab.hostname(host))} \[{re.escape(lab.host(host))}\]:{port}: connect \d+ ms",
                         waterfall), (port, waterfall)
    assert lab.resolver in proc.stdout  # the header names the resolver


def test_html_marks_the_failing_hop(lab, tmp_path):
    out = tmp_path / "refused.html"
    proc = check(lab, "refused", "--format", "html", "--output", str(out), "--quiet")
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout
    page = out.read_text()
    assert 'hop hop-fail"><title>Recipient MX: FAIL' in page
    assert "tcp.refused" in page and "How to fix" in page


def test_markdown_from_a_broken_domain(lab):
    proc = check(lab, "dangling", "--format", "markdown")
    assert proc.returncode == 2
    tokens = markdown_tokens(proc.stdout)
    assert [t.type for t in tokens].count("table_open") == 2
    assert "mx.target_nxdomain" in proc.stdout.replace("\\_", "_")
    head = proc.stdout.split("## Summary")[0]
    assert lab.resolver in head and "--nameserver" in head


def test_nagios_exit_codes_follow_the_verdict(lab):
    proc = check(lab, "refused", "--format", "nagios")
    assert proc.returncode == 2 and proc.stdout.startswith("MAILDOCTOR CRITICAL - ")
    assert " | time=" in proc.stdout.splitlines()[0]
    proc = check(lab, "nxdomain", "--format", "nagios")
    assert proc.returncode == 2 and "dns.nxdomain" in proc.stdout


def test_anonymize_and_no_secrets_on_a_real_run(lab):
    import socket

    proc = check(lab, "healthy", "--format", "json", "--anonymize", "--check", "dns", "--check", "mx")
    data = json.loads(proc.stdout)
    assert "host" not in data["meta"] and data["meta"]["anonymized"] is True
    # the host name as a name of its own: a short one ("vm") may occur inside the lab's random temp paths
    name = re.escape(socket.gethostname())
    assert not re.search(rf"(?<![A-Za-z0-9_-]){name}(?![A-Za-z0-9_-])", json.dumps(data["meta"])), data["meta"]


def test_profile_drives_a_ci_run_and_fail_on_decides_the_exit_code(lab, tmp_path):
    mx1, mx2 = lab.hostname("mx1"), lab.hostname("mx2")
    (tmp_path / "maildoctor.toml").write_text(f"""
[profiles.ci]
target = "{lab.domain('healthy')}"
checks = ["dns.exists", "mx", "tcp", "spf", "dmarc"]
nameservers = ["{lab.resolver}"]
timeout = 2
format = "junit"
expect.mx = ["{mx1}", "{mx2}"]

[profiles.moved]
target = "{lab.domain('healthy')}"
checks = ["dns.exists", "mx"]
nameservers = ["{lab.resolver}"]
timeout = 2
expect.mx = ["mx9.{lab.domain('healthy')}"]
""")
    # Given the healthy domain (no DMARC record: a warning), the exit code follows --fail-on
    warn = run("check", "--profile", "ci", "--fail-on", "warn", cwd=tmp_path)
    root = ET.fromstring(warn.stdout.encode())
    expect_cases = [c for c in root.iter("testcase") if c.get("classname") == "expect"]
    assert [c.get("name").split(":")[0] for c in expect_cases] == ["expect.mx"]
    statuses = {c.get("name").split(":")[0] for c in root.iter("testcase")}
    if "dmarc.missing" in statuses:
        assert warn.returncode == 1 and int(root.get("failures")) >= 1, warn.stdout
        relaxed = run("check", "--profile", "ci", "--fail-on", "fail", cwd=tmp_path)
        assert relaxed.returncode == 0, relaxed.stdout
        assert ET.fromstring(relaxed.stdout.encode()).get("failures") == "0"
    # And a profile whose expected MX differs fails the run with a finding that says so
    moved = run("check", "--profile", "moved", "--format", "json", cwd=tmp_path)
    assert moved.returncode == 2, moved.stdout
    data = json.loads(moved.stdout)
    (differs,) = [f for f in data["findings"] if f["code"] == "expect.mx_differs"]
    assert differs["evidence"]["unexpected"] == sorted([mx1, mx2]) and "moved" in data["meta"]["profile"]


def test_text_report_header(lab, tmp_path):
    # on stdout with --verbose, and always in a saved text report
    proc = check(lab, "healthy", "--check", "dns.exists", "--verbose")
    assert "When:" in proc.stdout and "Command: maildoctor check" in proc.stdout and lab.resolver in proc.stdout
    out = tmp_path / "r.txt"
    check(lab, "healthy", "--check", "dns.exists", "--output", str(out), "--quiet")
    assert "Total time:" in out.read_text() and "From:" in out.read_text()
