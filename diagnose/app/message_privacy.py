"""`maildoctor message --anonymize`: the report with the message's addresses, host names and IP
addresses replaced by consistent stand-ins (diagnose.knowledge.redact.Pseudonyms), in every format,
and without this machine's name (as `check --anonymize`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from diagnose.engine.report import Report
from diagnose.knowledge import bounce, headers
from diagnose.knowledge.redact import Pseudonyms


def pseudonyms_for(msg: Any) -> Pseudonyms:
    """Stand-ins for every name the message's header (and a returned original's) identifies someone by."""
    names = Pseudonyms()
    messages = [msg]
    try:
        original = bounce.original_header(msg)
    except RecursionError:
        original = None
    if original is not None:
        messages.append(original)
    for m in messages:
        for name in headers.identifying_names(m):
            names.add(name)
    return names


def anonymized(report: Report, msg: Any) -> Report:
    names = pseudonyms_for(msg)
    findings = [replace(f, subject=names.apply(f.subject), summary=names.apply(f.summary),
                        explanation=names.apply(f.explanation), remedy=names.apply(f.remedy),
                        evidence=names.deep(f.evidence), host=names.apply(f.host), reason=names.apply(f.reason))
                for f in report.findings]
    meta = {k: v for k, v in names.deep(report.meta).items() if k != "host"}
    meta["anonymized"] = True
    return replace(report, target=names.deep(report.target), findings=findings, meta=meta)
