"""Expected facts (expect.*), the explanations catalogue, the redaction helper and the exit-code policy."""

from __future__ import annotations

import inspect
import re
from dataclasses import replace

import pytest

from diagnose.engine.catalogue import catalogue, explain
from diagnose.engine.exitcodes import ExitCode, counts_as_failure, exit_code_for
from diagnose.engine.expect import Expectations, evaluate
from diagnose.engine.model import Side, Status
from diagnose.engine.registry import discover
from diagnose.knowledge.redact import redact_argv, run_meta
from reports.hops import hop_of
from tests.reports.sample import finding, sample_report

# --- expectations ----------------------------------------------------------------------------


def test_expected_mx_matches():
    (f,) = evaluate({"mx": ("MX1.example.com.", "mx2.example.com")}, sample_report().findings, domain="example.com")
    assert f.code == "expect.mx" and f.status is Status.PASS


def test_expected_mx_differs_is_a_failure_with_a_remedy():
    (f,) = evaluate({"mx": ("mx9.example.com",)}, sample_report().findings, domain="example.com", config="ci (x.toml)")
    assert f.code == "expect.mx_differs" and f.status is Status.FAIL
    assert f.evidence["missing"] == ["mx9.example.com"] and f.evidence["unexpected"] == [
        "mx1.example.com",
        "mx2.example.com",
    ]
    assert "ci (x.toml)" in f.remedy and "MX 10 mx9.example.com." in f.remedy


def test_expected_mx_unknown_when_mx_check_did_not_run():
    (f,) = evaluate({"mx": ("mx1.example.com",)}, [], domain="example.com")
    assert f.code == "expect.mx_unknown" and f.status is Status.SKIP


def test_certificate_days():
    findings = sample_report().findings  # tls.certificate with days_left 9
    (low,) = evaluate({"cert_min_days": 21}, findings, domain="example.com")
    assert low.code == "expect.cert_days_low" and low.status is Status.FAIL and "9 days" in low.summary
    (ok,) = evaluate({"cert_min_days": 5}, findings, domain="example.com")
    assert ok.code == "expect.cert_days" and ok.status is Status.PASS
    (unknown,) = evaluate({"cert_min_days": 5}, [], domain="example.com")
    assert unknown.code == "expect.cert_unknown" and unknown.status is Status.SKIP


# --- catalogue -------------------------------------------------------------------------------

INSTALLED = [*discover().checks, Expectations]
# self.finding("code", Status.X, ...) or self.finding(f"{p}.code", Status.X, ...) in a check's (or its base's) source
EMITS = re.compile(r"""finding\(\s*f?["']([a-z0-9_.\-{}]+)["']\s*,\s*Status\.([A-Z]+)""")
# Problem codes whose remedy is still missing, reported to their owners. The test fails when one is
# fixed (remove it here) or when a new one appears.
KNOWN_GAPS: set[str] = set()


def emitted(check) -> dict[str, set[str]]:
    """code pattern -> statuses, for every literal finding(...) call in the check's module and bases."""
    out: dict[str, set[str]] = {}
    for cls in inspect.getmro(check):
        try:
            source = inspect.getsource(inspect.getmodule(cls))
        except (OSError, TypeError):
            continue
        for code, status in EMITS.findall(source):
            out.setdefault(code, set()).add(status.lower())
    return out


def codes_matching(pattern: str, codes) -> list[str]:
    """``{p}.connect_error`` (an f-string) matches smtp.connect_error etc."""
    rx = re.compile("^" + re.sub(r"\\{[^}]*\\}", r"[a-z0-9_\\-]+", re.escape(pattern)) + "$")
    return [c for c in codes if rx.match(c)]


@pytest.mark.parametrize("check", INSTALLED, ids=lambda c: c.id)
def test_every_code_of_every_check_is_explained(check):
    entries = catalogue([check])
    assert set(check.texts) <= set(entries)
    problems = set()
    for pattern, statuses in emitted(check).items():
        matches = codes_matching(pattern, entries)  # the check's texts, or the runner's generic entries
        if "{" not in pattern:
            assert matches, f"{check.id} can emit {pattern!r} but has no catalogue entry (texts)"
        if statuses - {"pass", "skip"}:
            problems.update(matches)
    for code, (explanation, remedy) in check.texts.items():
        if explanation.strip() and not remedy.strip() and code not in problems:
            continue  # a pass/skip code may explain itself without a remedy (dnssec.validated)
        if code in problems or explanation.strip() or remedy.strip():
            complete = bool(explanation.strip() and remedy.strip())
            if code in KNOWN_GAPS:
                assert not complete, f"{code} is fixed now: remove it from KNOWN_GAPS"
            else:
                assert complete, f"{check.id}: {code} needs both an explanation and a remedy"


def test_runner_codes_are_in_the_catalogue():
    entries = catalogue()
    for check in discover().checks:
        for suffix in ("crashed", "overrun", "skipped"):
            assert entries[f"{check.id}.{suffix}"].explanation


def test_explain_prints_an_entry_with_its_standard():
    text = explain("mx.null")
    assert "What it means" in text and "How to fix" in text and "rfc7505" in text and "<domain>" in text
    assert explain("no.such.code") is None


# --- redaction, exit codes, hops --------------------------------------------------------------

@pytest.mark.parametrize("argv, hidden", [
    (["check", "x.example", "--password", "hunter2"], "hunter2"),
    (["check", "--smtp-password=hunter2", "x.example"], "hunter2"),
    (["check", "--imap-pass", "hunter2"], "hunter2"),
    (["check", "--token", "hunter2"], "hunter2"),
    (["check", "--api-key=hunter2"], "hunter2"),
    (["check", "smtp://user:hunter2@mail.example"], "hunter2"),
])
def test_secrets_never_survive_redaction(argv, hidden):
    out = redact_argv(argv)
    assert hidden not in " ".join(out) and "REDACTED" in " ".join(out) and len(out) == len(argv)


def test_redaction_keeps_what_is_not_secret():
    argv = ["check", "x.example", "--password-env", "MAIL_PASSWORD", "--timeout", "3", "--passes", "2"]
    assert redact_argv(argv) == argv


def test_run_meta_anonymized():
    meta = run_meta(["check", "x.example"], "laptop", anonymize=True, fail_on="warn")
    assert "host" not in meta and meta["anonymized"] and meta["fail_on"] == "warn"
    assert meta["command"] == ["maildoctor", "check", "x.example"]


@pytest.mark.parametrize("worst, fail_on, code", [
    (Status.PASS, None, ExitCode.OK), (Status.SKIP, None, ExitCode.OK), (Status.WARN, None, ExitCode.WARN),
    (Status.WARN, "warn", ExitCode.WARN), (Status.WARN, "fail", ExitCode.OK), (Status.FAIL, "fail", ExitCode.FAIL),
    (Status.ERROR, "fail", ExitCode.UNKNOWN), (Status.FAIL, None, ExitCode.FAIL),
])
def test_exit_code_policy(worst, fail_on, code):
    assert exit_code_for(worst, fail_on) is code


def test_junit_failure_policy():
    assert counts_as_failure(Status.FAIL) and not counts_as_failure(Status.WARN)
    assert counts_as_failure(Status.WARN, "warn") and not counts_as_failure(Status.WARN, "fail")


@pytest.mark.parametrize("check, subject, evidence, hop", [
    ("tcp.connect", "mx1.example.com [192.0.2.1]:25", {"port": 25}, "mx"),
    ("smtp.greeting", "smtp.example.com [192.0.2.5]:587", {}, "submission"),
    ("smtp.greeting", "mx1.example.com [192.0.2.1]:25", {}, "mx"),
    ("tls.certificate", "imap.example.com [192.0.2.6]:993", {}, "mailbox"),
    ("pop3.greeting", "example.com", {}, "mailbox"),
    ("dns.exists", "example.com", {}, "dns"),
    ("spf.record", "example.com", {}, "dns"),
    ("mx.records", "example.com", {}, "mx"),
    ("thirdparty.thing", "example.com", {}, "other"),
])
def test_findings_land_on_their_hop(check, subject, evidence, hop):
    f = finding(check, check, subject, Status.PASS, evidence=evidence)
    assert hop_of(f, {}) == hop


def test_a_new_check_falls_in_place_by_its_services():
    f = finding("acme.submission_probe", "acme.x", "example.com", Status.WARN)
    assert hop_of(f, {"acme.submission_probe": ("submission",)}) == "submission"
    assert hop_of(f, {"acme.submission_probe": ("imap",)}) == "mailbox"
    both = finding("acme.discover", "acme.found", "example.com", Status.PASS, side=Side.INCOMING)
    assert hop_of(both, {"acme.discover": ("submission", "imap", "pop3")}) == "mailbox"
    assert hop_of(replace(both, side=Side.OUTGOING), {"acme.discover": ("submission", "imap", "pop3")}) == "submission"
    assert hop_of(replace(both, side=Side.BOTH), {"acme.discover": ("submission", "imap", "pop3")}) == "other"
