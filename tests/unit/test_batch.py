"""Batch mode without a network: input lines, resume bookkeeping, the bounded pool, the summary,
and the one-line errors of bad usage (all caught before any DNS query)."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from diagnose.app.batchcore import (
    DEFAULT_CHECKS,
    Entry,
    Tally,
    done_targets,
    error_line,
    read_entries,
    run_pool,
)

MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))


def test_blank_lines_and_comments_are_skipped_and_line_numbers_kept():
    lines = ["example.com\n", "\n", "  # a comment\n", "  user@example.org  \n", "#x\n", "bad line\n"]
    assert list(read_entries(lines)) == [Entry(1, "example.com"), Entry(4, "user@example.org"), Entry(6, "bad line")]


def test_done_targets_ignores_a_line_cut_short_by_an_interrupted_run(tmp_path):
    # Given an output file whose last line was cut in the middle of a write
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"target": "a.example", "verdict": "pass"}) + "\n"
                   + "not json\n" + json.dumps(["no", "object"]) + "\n" + '{"target": "b.exa')
    # Then only the complete result counts as done
    assert done_targets(out) == {"a.example"}
    assert done_targets(tmp_path / "missing.jsonl") == set()


def test_pool_runs_every_entry_and_never_more_than_the_concurrency_at_once():
    running, peak, results = 0, 0, []

    async def work(entry):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001 * (entry.line % 3))
        running -= 1
        return {"line": entry.line}

    entries = [Entry(n, f"d{n}.example") for n in range(1, 41)]
    asyncio.run(run_pool(entries, work, results.append, concurrency=4))
    assert sorted(r["line"] for r in results) == list(range(1, 41))
    assert peak == 4, f"at most 4 at a time, saw {peak}"


def test_error_line_has_the_documented_schema():
    line = error_line(Entry(7, "not a domain"), "bad target: it contains ' '")
    assert {"schema_version", "target", "line", "verdict", "counts", "findings", "error"} <= line.keys()
    assert line["verdict"] == "error" and line["findings"] == [] and line["line"] == 7
    json.dumps(line)


def test_summary_counts_verdicts_bad_lines_and_frequent_problems():
    tally = Tally()
    tally.add(error_line(Entry(1, "x"), "bad target"))
    for _ in range(3):
        tally.add({"verdict": "warn", "findings": [{"code": "dmarc.missing", "status": "warn"},
                                                    {"code": "dns.exists", "status": "pass"}]})
    tally.skipped = 2
    text = tally.render(concurrency=8)
    assert "4 targets" in text and "concurrency 8" in text
    assert "1 not a domain or address" in text and "skipped" in text
    assert "3  dmarc.missing (warn)" in text and "dns.exists" not in text
    assert tally.worst.value == "error"


def test_default_checks_are_the_dns_and_reachability_ones():
    assert DEFAULT_CHECKS == ("dns.exists", "mx.records", "tcp.connect", "spf.record", "dmarc.record")


def run_cli(*args, stdin=""):
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [MAILDOCTOR, "batch", *args], input=stdin, capture_output=True, text=True, timeout=60, env=env
    )


def test_bad_usage_is_one_error_line_and_exit_3(tmp_path):
    for args, words in (
        (["-", "--resume", "-n", "127.0.0.1"], "--resume needs --output"),
        (["-", "--concurrency", "0", "-n", "127.0.0.1"], "--concurrency must be between"),
        (["-", "--timeout", "0", "-n", "127.0.0.1"], "--timeout must be more than 0 and at most 600 seconds"),
        (["-", "--workers", "0", "-n", "127.0.0.1"], "--workers must be between"),
        (["-", "--workers", "many", "-n", "127.0.0.1"], "--workers must be a whole number between 1 and 64, or auto"),
        (["-", "-n", "not-an-ip"], "bad nameserver"),
        (["-", "--check", "nope", "-n", "127.0.0.1"], "no check called 'nope'"),
        ([str(tmp_path / "missing.txt"), "-n", "127.0.0.1"], "cannot read"),
    ):
        proc = run_cli(*args)
        assert proc.returncode == 3, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr, (args, proc.stderr)
        assert proc.stdout == ""


def test_workers_auto_is_one_per_usable_core():
    from diagnose.app.batch import usable_cores, worker_count

    assert worker_count("auto") == min(usable_cores(), 64) >= 1
    assert worker_count("3") == 3 and worker_count(" AUTO ") == worker_count("auto")


def test_shared_connects_try_each_address_once_and_share_it_between_askers():
    import socket

    from diagnose.net.shared import SharedConnects
    from diagnose.net.tcp import ConnectOutcome

    # Given a listening socket and a port where nothing listens
    with socket.create_server(("127.0.0.1", 0)) as server, socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port, dead = server.getsockname()[1], closed.getsockname()[1]
        closed.close()

        async def scenario():
            shared = SharedConnects(entries=1)
            # When many targets ask at once for the same address and port
            many = await asyncio.gather(*[shared.connect("127.0.0.1", port, timeout=2) for _ in range(20)])
            refused = await shared.connect("127.0.0.1", dead, timeout=2)
            return many, refused, len(shared._answers)

        many, refused, kept = asyncio.run(scenario())
    # Then they share one attempt (the same result object), a refusal is kept too, and no more than `entries`
    assert all(r is many[0] for r in many) and many[0].outcome is ConnectOutcome.CONNECTED
    assert refused.outcome is ConnectOutcome.REFUSED and kept == 1
