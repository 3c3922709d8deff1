"""`maildoctor check` without Typer (diagnose.app.checkargs, diagnose.app.checkcmd) against the real lab: a whole
diagnosis runs without importing Typer or Click, and reports what the same command line run through Typer reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.lab

# the console script's entry point (or, with FRONT=typer, the Typer CLI) in a fresh interpreter; then the
# heavy packages the whole run loaded
RUN = textwrap.dedent("""
    import os
    import sys
    if os.environ["FRONT"] == "typer":
        from diagnose.app.cli import main
    else:
        from diagnose.app.entry import main
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    loaded = {m.split(".")[0] for m in sys.modules} & {"typer", "click", "pydantic", "textual"}
    print("exit:%r loaded:%s" % (code, ",".join(sorted(loaded))), file=sys.stderr)
""")


def run(front: str, *argv: str) -> tuple[subprocess.CompletedProcess, str]:
    proc = subprocess.run([sys.executable, "-c", RUN, "check", *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "FRONT": front})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, proc.stderr.strip().splitlines()[-1]


def facts(report: dict) -> list[tuple]:
    """What the diagnosis found, without its times."""
    return sorted((f["check"], f["code"], f["subject"], f["status"]) for f in report["findings"])


def test_a_healthy_diagnosis_runs_without_typer_and_reports_what_typer_would(lab, tmp_path):
    # Given the healthy lab domain, asked for as monitoring would: JSON to a file, nothing on stdout
    out_fast, out_typer = tmp_path / "fast.json", tmp_path / "typer.json"
    argv = [lab.domain("healthy"), "--nameserver", lab.resolver, "--ca-file", str(lab.ca_file), "-t", "5",
            "--format=json", "-q"]
    # When it runs through the console script's entry point, and through the Typer CLI
    fast, fast_tail = run("entry", *argv, "-o", str(out_fast))
    slow, slow_tail = run("typer", *argv, "-o", str(out_typer))
    # Then the first imported neither Typer nor Click (the second did: the test can see it)
    assert fast_tail == "exit:0 loaded:", fast.stderr
    assert slow_tail.startswith("exit:0 loaded:") and "typer" in slow_tail, slow.stderr
    # and both found the same, said nothing on stdout and passed
    first, second = json.loads(out_fast.read_text()), json.loads(out_typer.read_text())
    assert (fast.stdout, first["verdict"], first["interrupted"]) == ("", "pass", False), fast.stdout
    assert facts(first) == facts(second)
    assert first["counts"] == second["counts"] and first["meta"]["command"][:-1] == second["meta"]["command"][:-1]


def test_a_profile_is_read_without_typer(lab, tmp_path):
    # Given a config file whose profile names the domain and the lab's resolver
    config = tmp_path / "md.toml"
    config.write_text(f'[profiles.lab]\ntarget = "{lab.domain("healthy")}"\nnameservers = ["{lab.resolver}"]\n'
                      f'ca_file = "{lab.ca_file}"\ntimeout = 5\nformat = "json"\n', encoding="utf-8")
    # When `check --config FILE -p lab --check dns.exists` runs through the entry point
    proc, tail = run("entry", "--config", str(config), "-p", "lab", "--check", "dns.exists")
    # Then the profile's target and format were used, without Typer
    assert tail == "exit:0 loaded:", proc.stderr
    report = json.loads(proc.stdout)
    assert report["target"]["domain"] == lab.domain("healthy") and report["verdict"] == "pass", proc.stdout


def test_a_config_error_reads_as_before(tmp_path):
    # Given a profile in a config file that does not exist: the same words and exit code as through Typer
    missing = str(tmp_path / "none.toml")
    fast, fast_tail = run("entry", "--config", missing, "--profile", "x")
    slow, slow_tail = run("typer", "--config", missing, "--profile", "x")
    assert fast_tail == "exit:3 loaded:", fast.stderr
    assert slow_tail.startswith("exit:3 ")
    assert fast.stderr.splitlines()[:-1] == slow.stderr.splitlines()[:-1] == [
        f"maildoctor: error: {missing}: no such config file"], fast.stderr
