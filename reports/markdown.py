"""Markdown for tickets, issues and chats: header, summary table, then each problem explained.

Every piece of report text goes through ``md_inline`` (one escaped line, also safe in a table cell),
``md_text`` (explanations and remedies: their code spans kept, each in a fence its content cannot
close, the rest escaped) or ``md_code_block`` (a fence longer than any backtick run inside), so a
hostile banner cannot add table columns, links, HTML or formatting.
"""

from __future__ import annotations

import json

from diagnose.engine.model import Finding, Status
from diagnose.engine.report import Report
from reports.common import (
    STATUS_WORDS,
    Problem,
    by_severity,
    diagnosed,
    header_fields,
    headline,
    md_code_block,
    md_inline,
    md_text,
    verdict_words,
)

ICONS = {"pass": "✅", "skip": "⚪", "warn": "⚠️", "error": "❗", "fail": "❌"}


def status_cell(status: Status) -> str:
    return f"{ICONS[status.value]} {STATUS_WORDS[status.value]}"


def render(report: Report) -> str:
    target = report.target.get("domain_unicode") or report.target.get("domain") or report.target.get("input") or "?"
    out = [f"# maildoctor report: {md_inline(target)}", "", f"**{md_inline(headline(report))}**", ""]
    out += ["| | |", "|---|---|"]
    out += [f"| {md_inline(label)} | {md_inline(value)} |" for label, value in header_fields(report)]
    out += ["", f"**Verdict: {status_cell(report.verdict)}** — {md_inline(verdict_words(report))}", ""]

    out += ["## Summary", "", "| Check | Subject | Status | Summary |", "|---|---|---|---|"]
    for f in by_severity(report.findings):
        out.append(
            f"| {md_inline(f.check)} | {md_inline(f.subject)} | {status_cell(f.status)} | {md_inline(f.summary)} |"
        )
    out.append("")

    todo = diagnosed(report)
    out += ["## Problems", ""]
    if not todo:
        out += ["No problems found.", ""]
    for n, problem in enumerate(todo, 1):
        out += problem_section(n, problem.finding)
        out += folded_lines(problem)
    return "\n".join(out).rstrip() + "\n"


def folded_lines(problem: Problem) -> list[str]:
    """The same fact's other subjects and the problems that follow from it, as a list."""
    lines = []
    if problem.also:
        lines += [f"Also on: {', '.join(md_inline(f.subject) for f in problem.also)}", ""]
    if problem.follows:
        n = len(problem.follows)
        lines += [f"**{n} more problem{'s' if n != 1 else ''} follow{'s' if n == 1 else ''} from this:**", ""]
        lines += [f"- {status_cell(f.status)} {md_inline(f.check)} — {md_inline(f.subject)} — {md_inline(f.summary)}"
                  for f in problem.follows]
        lines.append("")
    return lines


def problem_section(n: int, f: Finding) -> list[str]:
    lines = [f"### {n}. {status_cell(f.status)} {md_inline(f.subject)}", "",
             f"{md_inline(f.summary)} (code {md_inline(f.code)}, check {md_inline(f.check)})", ""]
    if f.explanation:
        lines += [f"**What it means:** {md_text(f.explanation)}", ""]
    if f.remedy:
        lines += [f"**How to fix:** {md_text(f.remedy)}", ""]
    lines += [f"More: {md_inline('maildoctor explain ' + f.code)}", ""]
    evidence = dict(f.evidence or {})
    transcript = evidence.pop("transcript", None)
    if isinstance(transcript, list) and transcript:
        lines += ["Transcript:", "", md_code_block("\n".join(str(line) for line in transcript)), ""]
    if evidence:
        lines += [
            "Evidence:",
            "",
            md_code_block(json.dumps(evidence, indent=2, ensure_ascii=False, default=str), "json"),
            "",
        ]
    return lines
