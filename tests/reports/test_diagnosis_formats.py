"""Every format starts with the headline and shows the root cause first, its consequences folded
under it; JSON carries ids, caused_by and the diagnosis block."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from diagnose.engine.model import Side, Status
from diagnose.engine.report import Report
from reports import renderer
from tests.reports.sample import finding

D = "example.test"


def bogus_dnssec_report() -> Report:
    lookups = [("mx.records", "mx.lookup_failed", "MX lookup for example.test failed"),
               ("dmarc.record", "dmarc.lookup_failed", "DMARC lookup failed"),
               ("dns.exists", "dns.servfail", "DNS lookups for example.test fail (SERVFAIL)"),
               ("spf.record", "spf.lookup_failed", "SPF lookup for example.test failed")]
    findings = [finding(c, code, D, Status.FAIL, s, side=Side.BOTH) for c, code, s in lookups]
    findings.insert(2, finding("dnssec.chain", "dnssec.bogus", D, Status.FAIL, "DNSSEC of example.test is broken"))
    findings += [finding("tls.certificate", "tls.cert_expiring", f"mx.example.test [192.0.2.1]:{p}", Status.WARN,
                         "certificate expires in 5 days", host="mx.example.test") for p in (25, 465, 993)]
    findings.append(finding("mx.records", "mx.ok", D, Status.PASS, "1 MX record"))
    return Report(target={"input": D, "domain": D, "domain_unicode": D, "address": None},
                  started_at="2026-12-03T08:00:00+00:00", duration_s=0.5, resolver={"nameservers": ["127.0.0.1"]},
                  findings=findings, tool={"name": "maildoctor", "version": "test"})


HEADLINE = "Mail to example.test cannot be delivered: DNSSEC of example.test is broken. 4 other problems follow"


def test_json_has_ids_causes_and_the_diagnosis():
    data = json.loads(renderer("json")(bogus_dnssec_report()))
    ids = [f["id"] for f in data["findings"]]
    assert len(set(ids)) == len(ids)
    by_id = {f["id"]: f for f in data["findings"]}
    root = by_id[data["diagnosis"]["root_causes"][0]]
    assert root["code"] == "dnssec.bogus" and root["caused_by"] is None
    assert {f["code"] for f in data["findings"] if f["caused_by"]} == {
        "mx.lookup_failed", "dmarc.lookup_failed", "dns.servfail", "spf.lookup_failed"}
    assert data["diagnosis"]["headline"].startswith(HEADLINE)
    [group] = data["diagnosis"]["groups"]
    assert len(group["ids"]) == 3 and all(by_id[i]["code"] == "tls.cert_expiring" for i in group["ids"])


def test_json_ids_are_stable_whatever_the_completion_order():
    a, b = bogus_dnssec_report(), bogus_dnssec_report()
    b.findings.reverse()
    b = Report(**{**b.__dict__})
    assert renderer("json")(a) == renderer("json")(b)


def test_text_starts_with_the_headline_and_folds_consequences():
    text = renderer("text")(bogus_dnssec_report())
    assert text.splitlines()[1].startswith(HEADLINE[:60])
    fix = text[text.index("What to fix"):]
    assert fix.startswith("What to fix (2)")  # the DNSSEC root and the one certificate group
    assert fix.index("DNSSEC of example.test is broken") < fix.index("4 more problems follow from this")
    assert fix.count("certificate expires in 5 days") == 1 and "Also on:" in fix


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_markdown_and_html_start_with_the_headline_and_fold(fmt):
    out = renderer(fmt)(bogus_dnssec_report())
    problems = out[out.index("Problems</h2>" if fmt == "html" else "## Problems"):]
    assert out.index("Mail to example.test cannot be delivered") < out.index("Problems")
    assert problems.index("DNSSEC of example.test is broken") < problems.index("4 more problems follow from this")
    assert problems.count("Also on:") == 1


def test_nagios_and_junit_name_the_root_cause_first():
    nagios = renderer("nagios")(bogus_dnssec_report()).splitlines()
    assert "dnssec.bogus" in nagios[0] and nagios[1].startswith("FAIL dnssec.bogus")
    ET.fromstring(renderer("junit")(bogus_dnssec_report()))


def test_tui_details_say_what_a_problem_follows_from_and_what_follows_from_it():
    from diagnose.tui.widgets.details import finding_text, overview_text

    report = bogus_dnssec_report()
    spf = next(f for f in report.findings if f.code == "spf.lookup_failed")
    dnssec = next(f for f in report.findings if f.code == "dnssec.bogus")
    assert "Follows from: dnssec.chain" in finding_text(spf, report=report).plain
    assert "4 more problems follow from this" in finding_text(dnssec, report=report).plain
    overview = overview_text(report).plain
    assert overview.startswith("Mail to example.test cannot be delivered")
    assert overview.index("1. ") < overview.index("dnssec.chain") < overview.index("2. ")
