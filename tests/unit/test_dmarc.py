"""DMARC: record parsing, organizational-domain fallback and findings on constructed answers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from checks.dmarc import DmarcCheck, DmarcLookup, organizational_domain, parse_dmarc, select_dmarc
from diagnose.engine.model import Status
from tests.unit.dnsdata import answer, nxdomain, servfail, timeout


def evaluate(domain, own, org=None, auth=None):
    lookup = DmarcLookup(domain, organizational_domain(domain), own, org, auth or {})
    return {f.code: f for f in DmarcCheck().evaluate_dmarc(lookup)}


def test_organizational_domain_uses_the_bundled_public_suffix_list():
    assert organizational_domain("mail.example.com") == "example.com"
    assert organizational_domain("a.b.example.co.uk") == "example.co.uk"
    assert organizational_domain("mx1.healthy.test") == "healthy.test"  # unknown TLD: the "*" rule
    assert organizational_domain("example.com.") == "example.com"


def test_public_suffix_list_loads_without_network():
    # Given an interpreter that refuses every socket operation (an audit hook)
    code = (
        "import sys\n"
        "def hook(event, args):\n"
        "    if event.startswith('socket.'):\n"
        "        raise RuntimeError('network used: ' + event)\n"
        "sys.addaudithook(hook)\n"
        "from checks.dmarc import organizational_domain\n"
        "print(organizational_domain('www.example.org'))\n"
    )
    # When the PSL is loaded and used
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    # Then it works offline
    assert proc.returncode == 0 and proc.stdout.strip() == "example.org", proc.stderr


def test_healthy_policy_passes():
    fs = evaluate("example.com", answer("_dmarc.example.com", "TXT", "v=DMARC1; p=reject; rua=mailto:d@example.com"))
    assert list(fs) == ["dmarc.policy"] and fs["dmarc.policy"].status is Status.PASS


def test_missing_record_fails_and_fallback_to_org_domain():
    fs = evaluate("example.com", nxdomain("_dmarc.example.com", "TXT"))
    assert fs["dmarc.missing"].status is Status.WARN
    assert "_dmarc.example.com. 3600 IN TXT" in fs["dmarc.missing"].remedy
    # a subdomain inherits the org domain's sp= policy
    fs = evaluate("news.example.com", nxdomain("_dmarc.news.example.com", "TXT"),
                  answer("_dmarc.example.com", "TXT", "v=DMARC1; p=reject; sp=none; rua=mailto:d@example.com"))
    assert fs["dmarc.p_none"].status is Status.WARN and "inherited from example.com" in fs["dmarc.p_none"].explanation
    fs = evaluate("news.example.com", nxdomain("_dmarc.news.example.com", "TXT"), nxdomain("_dmarc.example.com", "TXT"))
    assert "organizational domain example.com" in fs["dmarc.missing"].explanation


def test_p_none_is_a_warning_with_the_fixed_record():
    fs = evaluate("example.com", answer("_dmarc.example.com", "TXT", "v=DMARC1; p=none; rua=mailto:d@example.com"))
    f = fs["dmarc.p_none"]
    assert f.status is Status.WARN
    assert "v=DMARC1; p=quarantine; rua=mailto:d@example.com" in f.remedy


def test_two_records_fail():
    fs = evaluate("example.com", answer("_dmarc.example.com", "TXT", "v=DMARC1; p=reject", "v=DMARC1; p=none"))
    assert fs["dmarc.multiple"].status is Status.FAIL


@pytest.mark.parametrize("text, error", [
    ("v=DMARC1", "p= tag"),
    ("v=DMARC1; p=block", "p=block"),
    ("v=DMARC1; p=reject; pct=200", "pct=200"),
    ("v=DMARC1; p=reject; rua=dmarc@example.com", "mailto"),
    ("v=DMARC1; p=reject; adkim=x", "adkim"),
    ("v=DMARC1; p=reject; p=none", "twice"),
    ("v=DMARC1; p=reject; garbage", "tag=value"),
])
def test_syntax_errors(text, error):
    record = parse_dmarc(text)
    assert any(error in e for e in record.errors), record.errors
    fs = evaluate("example.com", answer("_dmarc.example.com", "TXT", text))
    assert fs["dmarc.syntax"].status is Status.FAIL


def test_select_ignores_other_txt_records():
    assert select_dmarc(["v=spf1 -all", "v=DMARC1; p=none", "v=DMARC10; p=none", "x v=DMARC1"]) == ["v=DMARC1; p=none"]


def test_pct_sp_and_missing_rua_warn():
    fs = evaluate("example.com", answer("_dmarc.example.com", "TXT", "v=DMARC1; p=reject; sp=none; pct=20"))
    assert {c: f.status for c, f in fs.items()} == {
        "dmarc.sp_none": Status.WARN, "dmarc.pct": Status.WARN, "dmarc.no_rua": Status.WARN}


def test_external_report_destination_needs_authorization():
    own = answer(
        "_dmarc.example.com", "TXT", "v=DMARC1; p=reject; rua=mailto:x@reports.example.net,mailto:y@example.com"
    )
    fs = evaluate(
        "example.com",
        own,
        auth={"reports.example.net": nxdomain("example.com._report._dmarc.reports.example.net", "TXT")},
    )
    f = fs["dmarc.report_unauthorized"]
    assert f.status is Status.WARN and "example.com._report._dmarc.reports.example.net" in f.remedy
    ok = {"reports.example.net": answer("example.com._report._dmarc.reports.example.net", "TXT", "v=DMARC1")}
    assert list(evaluate("example.com", own, auth=ok)) == ["dmarc.policy"]


def test_lookup_failures_never_pass():
    for bad in (servfail, timeout):
        fs = evaluate("example.com", bad("_dmarc.example.com", "TXT"))
        assert fs["dmarc.lookup_failed"].status is Status.FAIL


def test_hostile_record():
    fs = evaluate("example.com", answer("_dmarc.example.com", "TXT", "v=DMARC1; p=\x1b[2Jreject;" + "x=y;" * 2000))
    assert all("\x1b" not in f.summary + f.explanation for f in fs.values())
