"""Human-readable text: findings grouped by side and host, then the problems explained, then a
verdict line (the last thing on the screen is what to fix)."""

from __future__ import annotations

import io
from collections import OrderedDict

from rich.console import Console
from rich.text import Text

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.report import Report
from diagnose.knowledge.sanitize import clean, env_columns
from reports.common import Problem, diagnosed, header_fields, headline

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
    ``header`` (or ``verbose``): also the full report header (when, from where, command line)."""
    with console:  # one write at the end instead of a flush per line (~120 lines)
        _print_report(report, console, verbose=verbose, header=header)


def _print_report(report: Report, console: Console, *, verbose: bool, header: bool) -> None:
    target = report.target.get("domain_unicode") or report.target.get("domain") or report.target.get("input") or "?"
    resolver = ", ".join(str(ns) for ns in report.resolver.get("nameservers", [])) or "?"
    head = Text.assemble(("maildoctor ", "bold"), (clean(str(report.tool.get("version", "")), keep_newlines=False), ""),
                         " · ", (clean(str(target), keep_newlines=False), "bold"),
                         "" if report.target.get("kind") == "message" else
                         f" · resolver {clean(resolver, keep_newlines=False)}")
    console.print(head)
    console.print(Text(headline(report), style="bold"))
    if header or verbose:  # the full header: saved text reports, and --verbose on a terminal
        for label, value in header_fields(report):
            console.print(Text(f"  {label}: {value}", style="dim"))
    check_width = min(max((len(f.check) for f in report.findings), default=8), 18)
    shown = [f for f in report.findings if verbose or f.status is not Status.SKIP]
    for side, hosts in _grouped(shown).items():
        console.print()
        console.print(Text(SIDE_TITLES[side], style="bold underline"))
        for host, findings in hosts.items():
            console.print(Text("  " + clean(host or str(target), keep_newlines=False), style="bold"))
            for f in findings:
                _print_finding(console, f, check_width, explain=verbose)
    hidden = len(report.findings) - len(shown)
    if hidden:
        console.print()
        console.print(Text(f"{hidden} check{'s' if hidden != 1 else ''} skipped (not applicable here or not "
                           "asked for); --verbose lists them with the reason.", style="dim"))
    todo = diagnosed(report)
    if todo:
        # The problems once more, root cause first, explained, at the end: what a person reads first
        # on a terminal. The same fact on several subjects is one problem; consequences are folded.
        console.print()
        console.print(Text(f"What to fix ({len(todo)})", style="bold underline"))
        for problem in todo:
            _print_finding(console, problem.finding, check_width, explain=True)
            _print_folded(console, problem, check_width)
    console.print()
    console.print(verdict_line(report))


PROBLEMS = (Status.FAIL, Status.ERROR, Status.WARN)


def _print_finding(console: Console, f: Finding, check_width: int, *, explain: bool) -> None:
    """One finding: badge and check id, then subject and summary and (with ``explain``) what it
    means and how to fix it, each wrapped with a hanging indent so the columns stay readable."""
    prefix = Text("    ")
    prefix.append_text(badge(f.status))
    prefix.append(" " + clean(f.check, keep_newlines=False).ljust(check_width) + " ", style="cyan")
    indent = prefix.cell_len
    body = Text(clean(f.subject, keep_newlines=False), style="bold" if f.status is not Status.PASS else "")
    body.append(" — " + clean(f.summary, keep_newlines=False))
    blocks = [body]
    if explain:
        for label, text in (("What it means", f.explanation), ("How to fix", f.remedy)):
            if text:
                block = Text(f"{label}: ", style="bold")
                block.append(clean(text, keep_newlines=False))
                blocks.append(block)
    width = max(console.width - indent, 30)
    first = True
    for block in blocks:
        for line in block.wrap(console, width):
            line.rstrip()
            console.print(Text.assemble(prefix if first else " " * indent, line), soft_wrap=True)
            first = False


def _print_folded(console: Console, problem: Problem, check_width: int) -> None:
    """The same fact's other subjects, then what follows from the problem, one line each."""
    indent = " " * (4 + 8 + check_width + 1)
    lines = []
    if problem.also:
        lines.append(Text("Also on: " + ", ".join(clean(f.subject, keep_newlines=False) for f in problem.also)))
    if problem.follows:
        n = len(problem.follows)
        lines.append(Text(f"{n} more problem{'s' if n != 1 else ''} follow{'s' if n == 1 else ''} from this:",
                          style="bold"))
        lines += [Text(f"· {clean(f.check, keep_newlines=False)} — {clean(f.subject, keep_newlines=False)} — "
                       f"{clean(f.summary, keep_newlines=False)}", style="dim") for f in problem.follows]
    width = max(console.width - len(indent) - 2, 30)
    for line in lines:
        for n, part in enumerate(line.wrap(console, width)):
            console.print(Text.assemble(indent + ("  " if n else ""), part), soft_wrap=True)


def _grouped(findings: list[Finding]) -> OrderedDict[Side, OrderedDict[str, list[Finding]]]:
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
    verdict = report.verdict
    problems = counts["fail"] + counts["warn"] + counts["error"]
    parts = [f"{counts[s.value]} {s.value}" for s in (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.SKIP)
             if counts[s.value]]
    if verdict in (Status.PASS, Status.SKIP):
        words = "no problems found so far" if report.interrupted else "mail looks healthy: no problems found"
    else:
        words = f"{problems} problem{'s' if problems != 1 else ''} found"
    text = Text("Verdict: ", style="bold")
    text.append_text(badge(verdict))
    text.append(f" {words} ({', '.join(parts) or 'no findings'}) in {report.duration_s:.2f} s")
    if report.interrupted:
        text.append(" — interrupted, some checks did not run", style="bold yellow")
    return text


def render(report: Report) -> str:
    """Plain text (no colour, no escape codes), e.g. for --output report.txt."""
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=110, height=25, no_color=True, force_terminal=False, highlight=False, emoji=False
    )
    print_report(report, console, header=True)
    return buffer.getvalue()


def human_console() -> Console:
    """The stdout console for people: colour on a terminal (unless NO_COLOR); piped, plain text
    wrapped at 100 columns (COLUMNS overrides) instead of Rich's 80."""
    import os
    import sys

    piped = not sys.stdout.isatty()
    width = env_columns() or (100 if piped else None)
    console = _PipeTolerantConsole(highlight=False, emoji=False, width=width,
                                   no_color=bool(os.environ.get("NO_COLOR")) or None)
    # measured once: Rich otherwise asks the terminal and environment at every line (a size set by
    # hand loses a column on a legacy Windows console, as a measured one does: added back)
    width, height = console.size
    console.size = (width + console.legacy_windows, height)
    return console


class _PipeTolerantConsole(Console):
    """`maildoctor check … | head`: when the reader goes away, stop printing quietly instead of
    Rich's SystemExit(1), so the exit code still tells the verdict."""

    def on_broken_pipe(self) -> None:
        import os

        self.quiet = True
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.file.fileno())
        except (OSError, ValueError, AttributeError):
            pass  # not a real file: nothing more will be written to it anyway
