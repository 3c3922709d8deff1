"""The details pane: everything about the selected finding (or group), scrollable."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from diagnose.engine.model import Finding
from diagnose.engine.report import Report
from diagnose.knowledge.sanitize import clean
from diagnose.tui.state import PROBLEMS, CheckGroup, CheckRun, HostGroup, SideGroup
from diagnose.tui.widgets.badges import badge
from reports.common import diagnosed, verdict_words

MAX_EVIDENCE_LINES = 400  # a huge transcript must not freeze the pane


def evidence_lines(evidence: dict[str, Any]) -> list[str]:
    """Evidence as indented text lines: transcripts and record lists one item a line."""
    lines: list[str] = []
    for key, value in evidence.items():
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, (str, int, float)) for v in value):
            lines.append(f"{key}:")
            lines += [f"    {v}" for v in value]
        elif isinstance(value, str) and "\n" in value:
            lines.append(f"{key}:")
            lines += [f"    {v}" for v in value.splitlines()]
        elif isinstance(value, (dict, list, tuple)):
            body = json.dumps(value, indent=2, ensure_ascii=False, default=str).splitlines()
            lines.append(f"{key}: {body[0]}")
            lines += [f"  {b}" for b in body[1:]]
        else:
            lines.append(f"{key}: {value}")
    if len(lines) > MAX_EVIDENCE_LINES:
        lines = lines[:MAX_EVIDENCE_LINES] + [f"… {len(lines) - MAX_EVIDENCE_LINES} more lines (export the report)"]
    return [clean(line, keep_newlines=False, limit=500) for line in lines]


def _section(text: Text, title: str, body: str) -> None:
    text.append(f"\n{title}\n", style="bold underline")
    text.append(clean(body) + "\n")


def _diagnosis_lines(text: Text, f: Finding, report: Report | None) -> None:
    """Where the finding stands in the diagnosis: what caused it, or what follows from it."""
    if report is None or f.status not in PROBLEMS or f not in report.findings:
        return
    d = report.diagnosis
    fid = d.id_of(f)
    cause = d.caused_by.get(fid)
    if cause is not None:
        while cause in d.caused_by:  # the root of the chain is what to fix
            cause = d.caused_by[cause]
        root = d.by_id(cause)
        text.append("Follows from: ", style="bold")
        text.append(clean(f"{root.check} {root.subject} — {root.summary}", keep_newlines=False) + "\n")
        text.append("Fix that first; this problem should go away with it.\n", style="italic")
    follows = d.consequences(fid)
    if follows:
        text.append(f"{len(follows)} more problem{'s' if len(follows) != 1 else ''} follow from this:\n", style="bold")
        for c in follows:
            g = d.by_id(c)
            text.append(clean(f"  · {g.check} {g.subject} — {g.summary}", keep_newlines=False) + "\n", style="dim")


def finding_text(f: Finding, title: str = "", report: Report | None = None) -> Text:
    text = Text()
    text.append_text(badge(f.status))
    text.append(clean(f.subject, keep_newlines=False), style="bold")
    text.append("\n" + clean(f.summary) + "\n")
    _diagnosis_lines(text, f, report)
    if f.explanation:
        _section(text, "What it means", f.explanation)
    if f.remedy:
        _section(text, "How to fix", f.remedy)
    if f.evidence:
        text.append("\nEvidence\n", style="bold underline")
        text.append("\n".join(evidence_lines(f.evidence)) + "\n")
    text.append(f"\ncheck {f.check}", style="dim")
    if title:
        text.append(f" ({clean(title, keep_newlines=False)})", style="dim")
    text.append(f" · code {f.code} · {f.duration_s:.2f} s\n", style="dim")
    if f.status in PROBLEMS:
        text.append(f"more: maildoctor explain {f.code}\n", style="dim")
    return text


def overview_text(report: Report | None, error: str | None = None) -> Text:
    text = Text()
    if error:
        text.append("No diagnosis\n", style="bold #e0303a")
        text.append(clean(error) + "\n\nFix this and press r to run again.")
        return text
    if report is not None:
        text.append(clean(report.diagnosis.headline, keep_newlines=False) + "\n\n", style="bold")
        text.append("Verdict ")
        text.append_text(badge(report.verdict))
        text.append(verdict_words(report) + "\n\n")
        todo = diagnosed(report)
        if todo:
            text.append("What to fix, root cause first\n", style="bold underline")
            for n, p in enumerate(todo, 1):
                text.append(f"{n}. ")
                text.append_text(badge(p.finding.status))
                text.append(clean(f"{p.finding.check} {p.finding.subject} — {p.finding.summary}",
                                  keep_newlines=False) + "\n")
                extra = [f"also on {len(p.also)} more" if p.also else "",
                         f"{len(p.follows)} more problem{'s' if len(p.follows) != 1 else ''} follow from it"
                         if p.follows else ""]
                if any(extra):
                    text.append("   " + "; ".join(e for e in extra if e) + "\n", style="dim")
            text.append("\n")
    text.append("Select a check in the list (↑ ↓) to see what was found and how to fix it. "
                "Press ? for help.")
    return text


def group_text(payload: object, report: Report | None = None, error: str | None = None) -> Text:
    text = Text()
    if isinstance(payload, CheckRun):
        text.append(f"{payload.id} is running\n", style="bold")
        text.append(clean(payload.title) + "\n")
        if payload.findings:
            text.append(f"{len(payload.findings)} finding(s) so far\n")
        return text
    if isinstance(payload, CheckGroup):
        title, findings = f"{payload.check.id}: {payload.check.title}", payload.findings
        if payload.check.duration_s is not None:
            title += f" (took {payload.check.duration_s:.2f} s)"
    elif isinstance(payload, HostGroup):
        title, findings = payload.label, [f for c in payload.checks for f in c.findings]
    elif isinstance(payload, SideGroup):
        title, findings = payload.title, [f for h in payload.hosts for c in h.checks for f in c.findings]
        if payload.running:
            text.append(f"{len(payload.running)} check(s) still running\n", style="italic")
    else:
        return overview_text(report, error)
    text.append(clean(title, keep_newlines=False) + "\n", style="bold")
    for f in sorted(findings, key=lambda f: -f.status.rank):
        text.append_text(badge(f.status))
        text.append(clean(f"{f.check} {f.subject} — {f.summary}", keep_newlines=False) + "\n")
    return text


class DetailsPane(VerticalScroll):
    """Focus it (tab) to scroll with the arrow and page keys."""

    def compose(self):
        yield Static(id="details-body")

    def show(self, payload: object, titles: dict[str, str], *, report: Report | None = None,
             error: str | None = None, scroll_home: bool = True) -> None:
        body = self.query_one("#details-body", Static)
        if isinstance(payload, Finding):
            body.update(finding_text(payload, titles.get(payload.check, ""), report))
        else:
            body.update(group_text(payload, report, error))
        if scroll_home:
            self.scroll_home(animate=False)
