"""Nagios/Icinga plugin output: one status line with performance data, then the details.

    MAILDOCTOR CRITICAL - example.com: 1 problem found (1 fail, 5 pass) | time=0.512s;;;0 fail=1;;;0 ...

The process exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) is maildoctor's usual one, which is
the plugin convention. ``|`` separates text from performance data, so it never appears in text.
"""

from __future__ import annotations

from diagnose.engine.exitcodes import ExitCode, exit_code_for
from diagnose.engine.report import Report
from reports.common import header_fields, problems, safe, verdict_words

STATES = {ExitCode.OK: "OK", ExitCode.WARN: "WARNING", ExitCode.FAIL: "CRITICAL", ExitCode.UNKNOWN: "UNKNOWN"}


def nagios_text(value: object, limit: int = 300) -> str:
    """One line without the perfdata separator."""
    return safe(value, newlines=False, limit=limit).replace("|", "/").strip()


def render(report: Report) -> str:
    code = exit_code_for(report.worst, (report.meta or {}).get("fail_on"))
    state = STATES.get(code, "UNKNOWN")
    target = report.target.get("domain") or report.target.get("input") or "?"
    bad = problems(report)
    first = f"; {bad[0].code}: {bad[0].subject}: {bad[0].summary}" if bad else ""
    status = nagios_text(f"MAILDOCTOR {state} - {target}: {verdict_words(report)}{first}", limit=600)
    counts = report.counts
    perf = [f"time={report.duration_s:.3f}s;;;0"] + [
        f"{s}={counts[s]};;;0" for s in ("fail", "error", "warn", "pass", "skip")
    ]
    lines = [f"{status} | {' '.join(perf)}"]
    lines += [nagios_text(f"{f.status.value.upper()} {f.code} {f.subject}: {f.summary}") for f in bad]
    lines += [nagios_text(f"{label}: {value}") for label, value in header_fields(report)]
    return "\n".join(lines) + "\n"
