"""--require bulk-sender: the Google, Yahoo and Microsoft bulk-sender rules judged on findings, and
RFC 8058 one-click unsubscribe judged on a message."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

import pytest

from diagnose.app.bulkmessage import auth_findings, unsubscribe_finding
from diagnose.app.config import load_profile, merge
from diagnose.app.plan import PlanError, Request, make_plan, require_sets
from diagnose.engine.bulksender import RULES, BulkSender, evaluate
from diagnose.engine.catalogue import catalogue
from diagnose.engine.model import Finding, Status
from diagnose.knowledge.unsubscribe import one_click

MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))


def f(check: str, code: str, status: Status, subject: str = "example.com", summary: str = "x") -> Finding:
    return Finding(check, code, subject, status, summary)


HEALTHY = [
    f("spf.record", "spf.record", Status.PASS), f("dkim.keys", "dkim.key", Status.PASS),
    f("dmarc.record", "dmarc.p_none", Status.WARN), f("ptr.fcrdns", "ptr.ok", Status.PASS, "mx1 [192.0.2.1]"),
    f("ptr.fcrdns", "ptr.generic", Status.WARN, "mx2 [192.0.2.2]"),
    f("tls.handshake", "tls.ok", Status.PASS, "mx1.example.com [192.0.2.1]:25"),
    f("tls.handshake", "tls.ok", Status.PASS, "smtp.example.com [192.0.2.3]:587"),
]


def by_rule(findings: list[Finding]) -> dict[str, tuple[str, Status]]:
    return {x.code.removeprefix("bulk_sender.").removesuffix("_broken").removesuffix("_unknown"): (x.code, x.status)
            for x in findings}


def test_a_domain_meeting_every_rule_passes_them_all():
    # p=none is enough (at least p=none), a generic but forward-confirmed PTR too
    judged = by_rule(evaluate(HEALTHY, domain="example.com"))
    assert set(judged) == {r.key for r in RULES}
    assert all(status is Status.PASS for _, status in judged.values()), judged


@pytest.mark.parametrize("finding, rule, providers", [
    (f("spf.record", "spf.too_many_lookups", Status.FAIL), "spf", ("Google", "Yahoo", "Microsoft")),
    (f("dkim.keys", "dkim.weak_key", Status.FAIL), "dkim", ("Google", "Yahoo", "Microsoft")),
    (f("dmarc.record", "dmarc.missing", Status.WARN), "dmarc", ("Google", "Yahoo", "Microsoft", "5.7.515")),
    (f("ptr.fcrdns", "ptr.mismatch", Status.WARN, "mx1 [192.0.2.1]"), "ptr", ("Google", "Yahoo")),
    (f("tls.handshake", "tls.no_starttls", Status.FAIL, "mx1.example.com [192.0.2.1]:25"), "tls_mx", ("Google",)),
    (f("tls.handshake", "tls.handshake_failed", Status.FAIL, "smtp [192.0.2.3]:465"), "tls_submission", ("Google",)),
])
def test_each_broken_rule_names_the_providers_and_the_fix(finding, rule, providers):
    # Given a healthy diagnosis with one problem put in
    findings = [x for x in HEALTHY if x.check != finding.check] + [finding]
    judged = {x.code: x for x in evaluate(findings, domain="example.com")}
    broken = judged[f"bulk_sender.{rule}_broken"]
    # Then that rule fails, naming every provider whose rule it breaks, with a remedy
    assert broken.status is Status.FAIL
    for name in providers:
        assert name in broken.explanation, broken.explanation
    assert broken.remedy and "example.com" in broken.explanation
    if rule.startswith("tls"):  # the other TLS rule is judged on the other port only
        other = "tls_submission" if rule == "tls_mx" else "tls_mx"
        assert f"bulk_sender.{other}_unknown" in judged


def test_a_rule_nothing_could_judge_is_an_error_with_the_reason():
    findings = [f("dkim.keys", "dkim.none_found", Status.SKIP, summary="no DKIM key at the selectors tried")]
    judged = {x.code: x for x in evaluate(findings, domain="example.com")}
    dkim = judged["bulk_sender.dkim_unknown"]
    assert dkim.status is Status.ERROR and "selectors tried" in dkim.summary
    assert judged["bulk_sender.spf_unknown"].status is Status.ERROR


def test_every_bulk_sender_code_is_in_the_catalogue():
    known = catalogue()
    for code in BulkSender.texts:
        assert code in known, code


def test_require_is_checked_in_the_plan_and_the_profile(tmp_path, monkeypatch):
    assert require_sets(["Bulk-Sender", "bulk-sender"]) == ("bulk-sender",)
    with pytest.raises(PlanError, match="known: bulk-sender"):
        require_sets(["bulk"])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "maildoctor.toml").write_text(textwrap.dedent("""
        [profiles.news]
        target = "example.com"
        require = ["bulk-sender"]
    """))
    settings = merge(load_profile(tmp_path / "maildoctor.toml", "news"), {"require": []})
    plan = make_plan(Request(**settings))
    assert plan.require == ("bulk-sender",) and plan.judges
    # judged after the run, as --require on the command line would
    codes = {x.code for x in plan.judge(HEALTHY)}
    assert "bulk_sender.spf" in codes
    # an unknown set on the command line: one line, exit 3, before any network
    proc = subprocess.run([MAILDOCTOR, "check", "example.com", "--nameserver", "127.0.0.1:9", "--require", "bulky"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3 and "unknown --require 'bulky'; known: bulk-sender" in proc.stderr, proc.stderr


# -- RFC 8058 one-click unsubscribe -----------------------------------------------------------------
GOOD = b"""From: News <news@example.com>
To: you@example.net
Subject: offers
Authentication-Results: mx.example.net; dkim=pass header.d=example.com header.s=s1;
 spf=pass smtp.mailfrom=bounce.example.com; dmarc=pass header.from=example.com
DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1;
 h=from:to:subject:list-unsubscribe:list-unsubscribe-post; bh=x; b=y
List-Unsubscribe: <mailto:leave@example.com>, <https://example.com/u?id=42>
List-Unsubscribe-Post: List-Unsubscribe=One-Click

body
"""


def message(data: bytes):
    return message_from_bytes(data, policy=compat32)


def test_one_click_unsubscribe_as_rfc8058_writes_it():
    verdict = one_click(message(GOOD))
    assert verdict.ok and verdict.https == ("https://example.com/u?id=42",) and verdict.verified is True
    finding = unsubscribe_finding(message(GOOD))
    assert finding.code == "bulk_sender.unsubscribe" and finding.status is Status.PASS


@pytest.mark.parametrize("change, problem", [
    ((b"<mailto:leave@example.com>, <https://example.com/u?id=42>", b"<mailto:leave@example.com>"), "https://"),
    ((b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\n", b""), "no List-Unsubscribe-Post"),
    ((b"List-Unsubscribe=One-Click", b"One-Click"), "exactly"),
    ((b"list-unsubscribe:list-unsubscribe-post", b"list-unsubscribe"), "DKIM signature covers"),
    ((b"dkim=pass header.d=example.com", b"dkim=fail header.d=example.com"), "did not verify"),
    ((b"List-Unsubscribe: <mailto:leave@example.com>, <https://example.com/u?id=42>\n", b""), "no List-Unsubscribe"),
])
def test_what_breaks_one_click_is_named(change, problem):
    data = GOOD.replace(*change)
    verdict = one_click(message(data))
    assert not verdict.ok and any(problem in p for p in verdict.problems), verdict.problems
    finding = unsubscribe_finding(message(data))
    assert finding.code == "bulk_sender.unsubscribe_broken" and finding.status is Status.FAIL
    assert "Google" in finding.explanation and "Yahoo" in finding.explanation
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in finding.remedy


def test_spf_dkim_dmarc_judged_on_the_receivers_verdicts():
    assert {f.code: f.status for f in auth_findings(message(GOOD))} == {
        "bulk_sender.spf": Status.PASS, "bulk_sender.dkim": Status.PASS, "bulk_sender.dmarc": Status.PASS}
    failed = GOOD.replace(b"dmarc=pass", b"dmarc=fail")
    dmarc = {f.code: f for f in auth_findings(message(failed))}["bulk_sender.dmarc_broken"]
    assert dmarc.status is Status.FAIL and "dmarc=fail" in dmarc.explanation and "Microsoft" in dmarc.explanation
    bare = b"\n".join(line for line in GOOD.split(b"\n") if not line.startswith((b"Authentication", b" spf")))
    unknown = {f.code: f for f in auth_findings(message(bare))}
    assert unknown["bulk_sender.spf_unknown"].status is Status.ERROR
    assert "Authentication-Results" in unknown["bulk_sender.spf_unknown"].explanation


def test_message_command_judges_unsubscribe_only_when_asked(tmp_path):
    path = tmp_path / "sent.eml"
    path.write_bytes(GOOD.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\n", b""))
    plain = subprocess.run([MAILDOCTOR, "message", str(path), "-f", "json", "--offline"], capture_output=True,
                           text=True, timeout=60)
    assert "bulk_sender" not in plain.stdout, plain.stdout
    asked = subprocess.run([MAILDOCTOR, "message", str(path), "-f", "json", "--require", "bulk-sender", "--offline"],
                           capture_output=True, text=True, timeout=60)
    report = json.loads(asked.stdout)
    codes = {x["code"]: x["status"] for x in report["findings"]}
    assert codes["bulk_sender.unsubscribe_broken"] == "fail" and asked.returncode == 2, asked.stderr
    bad = subprocess.run([MAILDOCTOR, "message", str(path), "--require", "nope"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 3 and "known: bulk-sender" in bad.stderr and "Traceback" not in bad.stderr
