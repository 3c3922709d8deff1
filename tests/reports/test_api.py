"""The Python API (diagnose.app.api): the CLI's diagnosis for scripts."""

from __future__ import annotations

import pytest

from diagnose import DiagnosisError, exit_code, load, render, run
from diagnose.engine.exitcodes import ExitCode
from tests.reports.sample import sample_report


def test_bad_target_raises_the_clis_error_line():
    with pytest.raises(DiagnosisError, match="bad target"):
        run("bad..example", nameservers=["127.0.0.1"])  # validation fails before any network


def test_no_target():
    with pytest.raises(DiagnosisError, match="give a target"):
        run()


def test_render_and_exit_code_of_a_report(tmp_path):
    report = sample_report()
    assert render(report, "nagios").startswith("MAILDOCTOR CRITICAL")
    with pytest.raises(ValueError, match="unknown format"):
        render(report, "pdf")
    assert exit_code(report) is ExitCode.FAIL
    path = tmp_path / "r.json"
    path.write_text(render(report, "json"))
    assert load(path).counts == report.counts
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DiagnosisError, match="not a maildoctor JSON report"):
        load(tmp_path / "x.json")


@pytest.mark.lab
def test_run_against_the_lab(lab):
    report = run(lab.domain("mixed"), nameservers=[lab.resolver], timeout=2, checks=["mx", "tcp"])
    assert exit_code(report) is ExitCode.WARN  # the backup MX works
    codes = {f.code for f in report.findings}
    assert {"mx.records", "tcp.refused", "tcp.connected"} <= codes
    assert report.meta["command"][:3] == ["maildoctor", "check", lab.domain("mixed")]
    assert "--nameserver" in report.meta["command"]
