"""`maildoctor batch` against the real lab: JSON lines per target, bad lines as results, resume,
check selection, the shared bounded DNS cache, and the lab's generated bulk domains."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from diagnose.app.batchcore import SharedDns
from diagnose.net.resolver import Outcome, parse_nameserver

pytestmark = pytest.mark.lab
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))


def batch(lab, *args, stdin=None, timeout=60):
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([MAILDOCTOR, "batch", *args, "--nameserver", lab.resolver, "--timeout", "1.5"],
                          input=stdin, capture_output=True, text=True, timeout=timeout, env=env)


def lines_of(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_stdin_batch_streams_one_line_per_target_and_reports_bad_lines(lab):
    # Given a list with a comment, a blank line, a bad line, an address and a repeated domain
    listing = "\n".join([
        "# our domains", lab.domain("healthy"), "", lab.domain("refused"), f"user@{lab.domain('mixed')}",
        lab.domain("nxdomain"), "not a domain!", lab.domain("healthy"),
    ]) + "\n"
    # When it is diagnosed from standard input
    proc = batch(lab, "-", stdin=listing)
    # Then every distinct target has exactly one JSON line, bad lines included, and no traceback
    assert "Traceback" not in proc.stderr, proc.stderr
    results = {r["target"]: r for r in lines_of(proc.stdout)}
    assert len(lines_of(proc.stdout)) == 5, proc.stdout
    healthy = results[lab.domain("healthy")]
    assert healthy["line"] == 2 and healthy["verdict"] in ("pass", "warn")
    assert healthy["counts"]["fail"] == 0
    codes = {f["code"] for f in healthy["findings"]}
    assert {"dns.exists", "mx.records", "tcp.connected"} <= codes
    assert {f["check"] for f in healthy["findings"]} <= {"dns.exists", "mx.records", "tcp.connect", "spf.record", "dmarc.record"}
    assert results[lab.domain("refused")]["verdict"] == "fail"
    assert any(f["code"] == "tcp.refused" for f in results[lab.domain("refused")]["findings"])
    assert results[f"user@{lab.domain('mixed')}"]["domain"] == lab.domain("mixed")
    assert any(f["code"] == "dns.nxdomain" for f in results[lab.domain("nxdomain")]["findings"])
    bad = results["not a domain!"]
    assert bad["verdict"] == "error" and "bad target" in bad["error"] and bad["findings"] == []
    # And the summary goes to stderr (stdout is the data); the exit code is the worst verdict's
    assert "maildoctor batch: 5 targets" in proc.stderr and "skipped" in proc.stderr
    assert proc.returncode == 2, proc.stderr


def test_worker_processes_give_the_same_lines(lab):
    # Given the same list diagnosed by one process and by two workers
    listing = "\n".join([lab.domain("healthy"), "not a domain!", lab.domain("refused"), lab.domain("nullmx"),
                         lab.domain("healthy")]) + "\n"
    one = lines_of(batch(lab, "-", stdin=listing).stdout)
    proc = batch(lab, "-", "--workers", "2", "--concurrency", "4", stdin=listing)
    two = lines_of(proc.stdout)
    # Then the targets, line numbers and verdicts agree, and the summary names the workers
    key = lambda rows: sorted((r["line"], r["target"], r["verdict"]) for r in rows)  # noqa: E731
    assert key(two) == key(one) and len(two) == 4, proc.stdout
    assert "2 workers" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_output_file_is_appended_and_resume_skips_what_is_done(lab, tmp_path):
    out = tmp_path / "results.jsonl"
    listing = tmp_path / "domains.txt"
    names = [lab.domain(n) for n in ("healthy", "refused", "nullmx", "implicit")]
    listing.write_text("\n".join(names[:2]) + "\n")
    first = batch(lab, str(listing), "--output", str(out), "--no-progress")
    assert first.returncode == 2, first.stderr
    assert "maildoctor batch: 2 targets" in first.stdout, "with --output the summary goes to stdout"
    # Given an interrupted run that left half a line behind
    with out.open("a") as fh:
        fh.write('{"target": "' + names[2][:3])
    # When the full list is run again with --resume
    listing.write_text("\n".join(names) + "\n")
    second = batch(lab, str(listing), "--output", str(out), "--resume")
    # Then only the two new targets ran, each target appears once, and the cut line is left alone
    assert "2 targets" in second.stdout and "skipped" in second.stdout, second.stdout
    done = [json.loads(line)["target"] for line in out.read_text().splitlines() if line.startswith('{"schema')]
    assert sorted(done) == sorted(names)


def test_check_and_skip_select_the_checks(lab):
    only = lines_of(batch(lab, "-", "--check", "dns.exists", stdin=lab.domain("healthy")).stdout)[0]
    assert {f["check"] for f in only["findings"]} == {"dns.exists"}
    without_tcp = lines_of(batch(lab, "-", "--skip", "tcp", stdin=lab.domain("refused")).stdout)[0]
    assert "tcp.connect" not in {f["check"] for f in without_tcp["findings"]}
    assert without_tcp["verdict"] != "fail", "port 25 is the refused domain's only failure"


def test_shared_dns_cache_is_bounded_and_shares_answers(lab):
    async def scenario():
        dns = SharedDns([parse_nameserver(lab.resolver)], timeout=2.0, entries=3)
        first = await dns.query(lab.domain("healthy"), "MX")
        again = await dns.query(lab.domain("healthy").upper() + ".", "mx")
        for name in ("refused", "nullmx", "implicit", "mixed"):
            await dns.query(lab.domain(name), "MX")
        return first, again, len(dns)

    first, again, size = asyncio.run(scenario())
    assert first.outcome is Outcome.ANSWER and again is first, "the second asker gets the same answer object"
    assert size == 3, "no more than `entries` answers are kept"


def test_bulk_domains_of_the_lab_all_pass(lab):
    from tests.lab.bulk import add_bulk_domains

    names = add_bulk_domains(lab, 25, label="bt")
    assert names[0] == f"bt00001.{lab.tld}" and len(names) == 25
    proc = batch(lab, "-", "--concurrency", "8", stdin="\n".join(names))
    results = lines_of(proc.stdout)
    assert len(results) == 25 and {r["verdict"] for r in results} == {"pass"}, proc.stdout[:2000]


def _group_members(pgid: int) -> list[int]:
    """Processes of a process group still alive (zombies included), from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_stops_at_once_keeps_finished_lines_and_resume_finishes(lab, tmp_path, workers):
    import signal
    import time

    out = tmp_path / "out.jsonl"
    listing = tmp_path / "list.txt"
    listing.write_text(f"{lab.domain('healthy')}\n{lab.domain('filtered')}\n")
    cmd = [MAILDOCTOR, "batch", str(listing), "--nameserver", lab.resolver, "--output", str(out), "--no-progress",
           "--workers", workers]
    # Given a run whose second target hangs on a filtered port (20 s timeout), in a process group of its own
    # (with --workers 2, the batch and the two workers it forked)
    proc = subprocess.Popen(cmd + ["--timeout", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (out.exists() and out.read_text().count("\n") >= 1):
        time.sleep(0.05)
    # When Ctrl-C interrupts the group once the first result is written
    start = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=15)
    while _group_members(proc.pid) and time.monotonic() - start < 5:
        time.sleep(0.05)
    assert not _group_members(proc.pid), "a worker outlived the batch"
    # Then it stops at once with 130, says so, and keeps the finished line
    assert proc.returncode == 130, stderr
    assert time.monotonic() - start < 5 and "Traceback" not in stderr, stderr
    assert "INTERRUPTED" in stdout and "--resume" in stdout, stdout
    assert [json.loads(line)["target"] for line in out.read_text().splitlines()] == [lab.domain("healthy")]
    # And --resume diagnoses only what is left
    again = subprocess.run(cmd + ["--timeout", "1", "--resume"], capture_output=True, text=True, timeout=60)
    assert "1 target " in again.stdout and "skipped" in again.stdout, again.stdout
    assert sorted(json.loads(line)["target"] for line in out.read_text().splitlines()) == sorted(
        [lab.domain("healthy"), lab.domain("filtered")])


@pytest.mark.parametrize("workers", ["1", "2"])
def test_require_bulk_sender_judges_each_target_as_check_does(lab, workers):
    # Given a healthy domain and one whose sending address has no PTR, in one list
    listing = f"{lab.domain('healthy')}\n{lab.domain('noptr')}\n"
    # When the batch is asked for the bulk-sender rules (in one process, and in two forked workers)
    proc = batch(lab, "-", "--require", "bulk-sender", "--ca-file", str(lab.ca_file), "--workers", workers,
                 "--no-progress", stdin=listing, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    results = {r["target"]: r for r in lines_of(proc.stdout)}
    rules = {t: {f["code"]: f["status"] for f in r["findings"] if f["check"] == "bulk_sender.rules"}
             for t, r in results.items()}
    # Then the checks the rules need ran too, and every rule of the healthy domain is met
    healthy = results[lab.domain("healthy")]
    assert {"dkim.keys", "ptr.fcrdns", "tls.handshake"} <= {f["check"] for f in healthy["findings"]}
    assert rules[lab.domain("healthy")] == {
        f"bulk_sender.{k}": "pass" for k in ("spf", "dkim", "dmarc", "ptr", "tls_mx", "tls_submission")}
    # And the missing PTR breaks the rule, failing the target and the run, as `check --require` judges it
    noptr = results[lab.domain("noptr")]
    assert rules[lab.domain("noptr")]["bulk_sender.ptr_broken"] == "fail" and noptr["verdict"] == "fail"
    assert proc.returncode == 2, proc.stderr
    single = subprocess.run([MAILDOCTOR, "check", lab.domain("noptr"), "--nameserver", lab.resolver, "--timeout", "1.5",
                             "--ca-file", str(lab.ca_file), "--require", "bulk-sender", "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    expected = {f["code"]: f["status"] for f in json.loads(single.stdout)["findings"]
                if f["check"] == "bulk_sender.rules"}
    assert rules[lab.domain("noptr")] == expected


def test_require_with_checks_given_reports_the_rules_it_cannot_judge(lab):
    # Given --check spf.record only: the DKIM, PTR and TLS rules have nothing to be judged on
    proc = batch(lab, "-", "--require", "bulk-sender", "--check", "spf.record", stdin=f"{lab.domain('healthy')}\n")
    [result] = lines_of(proc.stdout)
    rules = {f["code"]: f["status"] for f in result["findings"] if f["check"] == "bulk_sender.rules"}
    # Then they are errors (asked for, not tested), never a quiet pass
    assert rules["bulk_sender.spf"] == "pass" and rules["bulk_sender.dkim_unknown"] == "error", rules
    assert result["verdict"] == "error" and proc.returncode == 3


def test_an_unknown_rule_set_is_a_usage_error(lab):
    proc = batch(lab, "-", "--require", "bulk-senders", stdin=f"{lab.domain('healthy')}\n")
    assert proc.returncode == 3 and "unknown --require 'bulk-senders'" in proc.stderr and "Traceback" not in proc.stderr
