"""JUnit XML for CI systems (GitHub Actions, GitLab, Jenkins): one testcase per finding.

fail -> <failure>, error -> <error>, skip -> <skipped>; warn passes (its text is in <system-out>)
unless the run used ``--fail-on warn`` (``report.meta["fail_on"]``), then it is a <failure> too.
Test suites are the checks; the report header is in the suites' <properties>. Built with
ElementTree (which escapes markup) from text stripped of characters XML 1.0 forbids.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from diagnose.engine.exitcodes import counts_as_failure
from diagnose.engine.model import Finding, Status
from diagnose.engine.report import Report
from reports.common import header_fields, verdict_words, xml_text


def render(report: Report) -> str:
    fail_on = (report.meta or {}).get("fail_on")
    suites: dict[str, list[Finding]] = {}
    for f in report.findings:
        suites.setdefault(f.check, []).append(f)
    target = report.target.get("domain") or report.target.get("input") or "?"
    root = ET.Element("testsuites", name=xml_text(f"maildoctor {target}", newlines=False))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    header = header_fields(report)
    for check, findings in suites.items():
        suite = ET.SubElement(root, "testsuite", name=xml_text(check, newlines=False),
                              timestamp=xml_text(report.started_at, newlines=False))
        if len(root) == 1:  # the report header, once (CI systems show the first suite's properties)
            props = ET.SubElement(suite, "properties")
            for label, value in header:
                ET.SubElement(
                    props, "property", name=xml_text(label, newlines=False), value=xml_text(value, newlines=False)
                )
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for f in findings:
            counts["tests"] += 1
            kind = _testcase(suite, f, fail_on)
            if kind:
                counts[kind] += 1
        for key, n in counts.items():
            suite.set(key, str(n))
            totals[key] += n
        suite.set("time", f"{sum(f.duration_s for f in findings):.3f}")
    for key, n in totals.items():
        root.set(key, str(n))
    root.set("time", f"{report.duration_s:.3f}")
    ET.indent(root)
    comment = xml_text(f"maildoctor verdict: {report.verdict.value.upper()} - {verdict_words(report)}", newlines=False)
    comment = comment.replace("--", "- -")  # "--" may not appear inside an XML comment
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!-- {comment} -->\n{body}\n'


def _testcase(suite: ET.Element, f: Finding, fail_on: str | None) -> str | None:
    """Add one testcase; return which counter it raises (failures/errors/skipped) or None."""
    case = ET.SubElement(suite, "testcase", classname=xml_text(f.check, newlines=False),
                         name=xml_text(f"{f.code}: {f.subject}", newlines=False), time=f"{f.duration_s:.3f}")
    message = xml_text(f"{f.status.value.upper()}: {f.summary}", newlines=False)
    details = _details(f)
    if f.status is Status.ERROR:
        ET.SubElement(case, "error", message=message, type=xml_text(f.code, newlines=False)).text = details
        return "errors"
    if counts_as_failure(f.status, fail_on):
        ET.SubElement(case, "failure", message=message, type=xml_text(f.code, newlines=False)).text = details
        return "failures"
    if f.status is Status.SKIP:
        ET.SubElement(case, "skipped", message=message)
        return "skipped"
    ET.SubElement(case, "system-out").text = xml_text(f"{message}\n{details}" if f.status is Status.WARN else message)
    return None


def _details(f: Finding) -> str:
    parts = [f"{f.status.value.upper()} {f.subject}: {f.summary}"]
    if f.explanation:
        parts.append(f"What it means: {f.explanation}")
    if f.remedy:
        parts.append(f"How to fix: {f.remedy}")
    parts.append(f"More: maildoctor explain {f.code}")
    if f.evidence:
        parts.append("Evidence: " + json.dumps(f.evidence, indent=2, ensure_ascii=False, default=str))
    return xml_text("\n\n".join(parts))
