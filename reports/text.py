"""Human-readable text: findings grouped by side and host, problems explained, a verdict line."""

from __future__ import annotations

import io
from collections import OrderedDict

from rich.console import Console
from rich.text import Text

from diagnose.model import Finding, Side, Status
from diagnose.report import Report
from diagnose.sanitize import clean

# Symbol and word, so the status reads the same without colour.
BADGES = {
    Status.PASS: ("✔", "PASS", "green"),
    Status.WARN: ("▲", "WARN", "yellow"),
    Status.FAIL: ("✘", "FAIL", "bold red"),
    Status.SKIP: ("○", "SKIP", "dim"),
    Status.ERROR: ("!", "ERROR", "magenta"),
}
SIDE_TITLES = {
    Side.BOTH: "Domain",
    Side.INCOMING: "Incoming mail (other servers deliver to you)",
    Side.OUTGOING: "Outgoing mail (you send through your server)",
}


def badge(status: Status) -> Text:
    symbol, word, style = BADGES[status]
    return Text(f"{symbol} {word:<5}", style=style)


def print_report(report: Report, console: Console, *, verbose: bool = False, header: bool = False) -> None:
    """Print the report to a Rich console (all server text goes through Text, never markup).
    ``header``: also the full report header (when, from where, command line), as in saved reports."""
    target = report.target.get("domain_unicode") or report.target.get("domain", "?")
    resolver = ", ".join(str(ns) for ns in report.resolver.get("nameservers", [])) or "?"
    head = Text.assemble(("maildoctor ", "bold"), (clean(str(report.tool.get("version", "")), keep_newlines=False), ""),
                         " · ", (clean(str(target), keep_newlines=False), "bold"),
                         f" · resolver {clean(resolver, keep_newlines=False)}")
    console.print(head)
    if header:
        from .common import header_fields

        for label, value in header_fields(report):
            console.print(Text(f"  {label}: {value}", style="dim"))
    for side, hosts in _grouped(report.findings).items():
        console.print()
        console.print(Text(SIDE_TITLES[side], style="bold underline"))
        for host, findings in hosts.items():
            console.print(Text("  " + clean(host or str(target), keep_newlines=False), style="bold"))
            for f in findings:
                _print_finding(console, f, verbose=verbose)
    console.print()
    console.print(verdict_line(report))


def _print_finding(console: Console, f: Finding, *, verbose: bool) -> None:
    line = Text("    ")
    line.append_text(badge(f.status))
    line.append(f" {clean(f.check, keep_newlines=False):<14} ", style="cyan")
    line.append(clean(f.subject, keep_newlines=False), style="bold" if f.status is not Status.PASS else "")
    line.append(" — " + clean(f.summary, keep_newlines=False))
    console.print(line)
    if f.status in (Status.WARN, Status.FAIL, Status.ERROR) or verbose:
        for label, body in (("What it means", f.explanation), ("How to fix", f.remedy)):
            if body:
                text = Text(f"        {label}: ", style="bold")
                text.append(clean(body))
                console.print(text)


def _grouped(findings: list[Finding]) -> "OrderedDict[Side, OrderedDict[str, list[Finding]]]":
    groups: OrderedDict[Side, OrderedDict[str, list[Finding]]] = OrderedDict()
    for side in (Side.BOTH, Side.OUTGOING, Side.INCOMING):
        for f in findings:
            if f.side is side:
                groups.setdefault(side, OrderedDict()).setdefault(f.host, []).append(f)
    for hosts in groups.values():
        for items in hosts.values():
            items.sort(key=lambda f: (f.check, f.subject))
    return groups


def verdict_line(report: Report) -> Text:
    counts = report.counts
    worst = report.worst
    problems = counts["fail"] + counts["warn"] + counts["error"]
    parts = [f"{counts[s.value]} {s.value}" for s in (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.SKIP)
             if counts[s.value]]
    if worst in (Status.PASS, Status.SKIP):
        words = "mail looks healthy: no problems found"
    else:
        words = f"{problems} problem{'s' if problems != 1 else ''} found"
    text = Text("Verdict: ", style="bold")
    text.append_text(badge(worst))
    text.append(f" {words} ({', '.join(parts) or 'no findings'}) in {report.duration_s:.2f} s")
    if report.interrupted:
        text.append(" — interrupted, some checks did not run", style="bold yellow")
    return text


def render(report: Report) -> str:
    """Plain text (no colour, no escape codes), e.g. for --output report.txt."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=110, no_color=True, force_terminal=False, highlight=False, emoji=False)
    print_report(report, console, header=True)
    return buffer.getvalue()
