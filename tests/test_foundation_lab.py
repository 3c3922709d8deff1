"""The first checks against the real lab: Knot + Unbound for DNS, Postfix on port 25, iptables drops."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))


def run(*args, timeout=30):
    env = {**os.environ, "NO_COLOR": "1"}
    start = time.monotonic()
    proc = subprocess.run([MAILDOCTOR, *args], capture_output=True, text=True, timeout=timeout, env=env)
    proc.elapsed = time.monotonic() - start
    return proc


FOUNDATION = ("-c", "dns.exists", "-c", "mx.records", "-c", "tcp.connect")


def check_json(lab, scenario, *extra, timeout="2"):
    proc = run("check", lab.domain(scenario), "--nameserver", lab.resolver, "--timeout", timeout,
               "--format", "json", *FOUNDATION, *extra)
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    return proc, report


def by_code(report):
    return {f["code"]: f for f in report["findings"]}


def test_healthy_domain_passes(lab):
    proc, report = check_json(lab, "healthy")
    assert proc.returncode == 0, proc.stdout
    codes = by_code(report)
    assert codes["dns.exists"]["status"] == "pass"
    assert codes["mx.records"]["status"] == "pass"
    connected = [f for f in report["findings"] if f["code"] == "tcp.connected"]
    assert len(connected) >= 2, "both MX hosts of the healthy domain are reachable on port 25"
    assert all(f["subject"].endswith(":25") and "[" in f["subject"] for f in connected)
    assert report["schema_version"] == 2 and report["counts"]["fail"] == 0
    assert report["resolver"]["nameservers"] == [f"{lab.resolver}:53"]


def test_refused_port_fails(lab):
    proc, report = check_json(lab, "refused")
    assert proc.returncode == 2
    (refused,) = [f for f in report["findings"] if f["code"] == "tcp.refused"]
    assert refused["status"] == "fail" and "listening" in refused["explanation"]


def test_filtered_port_times_out_within_the_timeout(lab):
    proc, report = check_json(lab, "filtered", timeout="1.5")
    assert proc.returncode == 2
    (timeout,) = [f for f in report["findings"] if f["code"] == "tcp.timeout"]
    assert "firewall" in timeout["explanation"] and "ISP" in timeout["explanation"]
    assert report["duration_s"] < 1.5 + 1.5, report["duration_s"]


def test_null_mx_says_the_domain_accepts_no_mail(lab):
    proc, report = check_json(lab, "nullmx")
    assert proc.returncode == 2
    codes = by_code(report)
    assert codes["mx.null"]["status"] == "fail" and "accepts no mail" in codes["mx.null"]["summary"]
    skipped = [f for f in report["findings"] if f["check"] == "tcp.connect" and f["status"] == "skip"]
    assert skipped and "null MX" in skipped[0]["summary"]
    # tcp.connect was asked for (-c) and could not run: also an error saying so (the verdict stays fail)
    assert by_code(report)["tcp.connect.not_tested"]["status"] == "error"


def test_implicit_mx_warns_and_still_tests_the_address(lab):
    proc, report = check_json(lab, "implicit")
    assert proc.returncode == 1, proc.stdout
    assert by_code(report)["mx.implicit"]["status"] == "warn"
    assert by_code(report)["tcp.connected"]["status"] == "pass"


def test_cname_mx_warns(lab):
    proc, report = check_json(lab, "cnamemx")
    assert by_code(report)["mx.cname"]["status"] == "warn"
    assert proc.returncode == 1


def test_dangling_mx_fails(lab):
    proc, report = check_json(lab, "dangling")
    assert proc.returncode == 2
    assert by_code(report)["mx.target_nxdomain"]["status"] == "fail"


def test_ip_literal_mx_fails(lab):
    proc, report = check_json(lab, "ipliteral")
    assert proc.returncode == 2
    assert by_code(report)["mx.ip_literal"]["status"] == "fail"


def test_nonexistent_domain_fails_with_nxdomain(lab):
    proc, report = check_json(lab, "nxdomain")
    assert proc.returncode == 2
    assert by_code(report)["dns.nxdomain"]["status"] == "fail"


def test_domain_without_mx_or_address(lab):
    proc, report = check_json(lab, "nodata")
    assert proc.returncode == 2
    codes = by_code(report)
    assert codes["dns.exists"]["status"] == "pass" and codes["mx.none"]["status"] == "fail"


def test_one_broken_mx_among_working_ones_is_a_warning(lab):
    # Senders go on to the next MX: mail arrives, later; the verdict is what a sender experiences
    proc, report = check_json(lab, "mixed")
    assert proc.returncode == 1
    found = [f for f in report["findings"] if f["check"] == "tcp.connect"]
    assert sorted(f["status"] for f in found) == ["pass", "warn"]
    warn = next(f for f in found if f["status"] == "warn")
    assert warn["code"] == "tcp.refused" and "mail still arrives" in warn["summary"]


def test_text_output_groups_and_explains(lab):
    proc = run("check", lab.domain("refused"), "--nameserver", lab.resolver, "--timeout", "2", *FOUNDATION)
    assert proc.returncode == 2
    out = proc.stdout
    assert "Incoming mail" in out and "FAIL" in out and "How to fix" in out and "Verdict" in out
    assert "\x1b[" not in out, "piped output must carry no escape codes"


def test_output_file_is_written(lab, tmp_path):
    out = tmp_path / "r.json"
    proc = run("check", lab.domain("healthy"), "-n", lab.resolver, "-t", "2", "-f", "json", "-o", str(out), "-q",
               *FOUNDATION)
    assert proc.returncode == 0 and proc.stdout == ""
    assert json.loads(out.read_text())["target"]["domain"] == lab.domain("healthy")


def test_resolver_that_does_not_answer_exits_3(lab):
    # The lab resolver's address, on a port where nothing listens.
    proc = run("check", lab.domain("healthy"), "--nameserver", f"{lab.resolver}:5399", "--timeout", "1")
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and "resolver" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("target", ["not a domain!!", "", "a" * 300, "user@[192.0.2.1]", "exa mple.com"])
def test_bad_targets_exit_3_with_one_line(target):
    proc = run("check", target, "--nameserver", "127.0.0.1:9", "--timeout", "1")
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("maildoctor: error:"), proc.stderr
    assert proc.stdout == ""


def test_usage_errors_exit_3():
    proc = run("check", "example.test", "--no-such-option")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr


def test_version():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("maildoctor ")


def test_a_reader_that_leaves_early_does_not_change_the_exit_code(lab):
    # `maildoctor check … | head -1`: the exit code still tells the verdict (2 here), never Rich's 1.
    for fmt in ("text", "json"):
        proc = subprocess.Popen([MAILDOCTOR, "check", lab.domain("refused"), "-n", lab.resolver, "-t", "2",
                                 "-f", fmt, *FOUNDATION], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, "NO_COLOR": "1"})
        proc.stdout.close()  # before the diagnosis ends: its first write meets a closed pipe
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=30) == 2, (fmt, err)
        assert "Traceback" not in err
