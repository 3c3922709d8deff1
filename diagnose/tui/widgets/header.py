"""One line at the top: the target, the resolver and the verdict (or the progress of the run)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from diagnose.knowledge.sanitize import clean
from diagnose.tui.state import PROBLEMS, DiagnosisState
from diagnose.tui.widgets.badges import badge, elapsed, running_badge


class StatusHeader(Static):
    def show(self, state: DiagnosisState, *, target: str, resolver: str, now: float, frame: int) -> None:
        line = Text()
        line.append(clean(target, keep_newlines=False), style="bold")
        line.append(f" · resolver {resolver} · ")
        if state.error:
            line.append("✘ no diagnosis: ", style="bold #e0303a")
            line.append(clean(state.error, keep_newlines=False))
        elif state.running:
            line.append_text(running_badge(frame))
            line.append(f"{state.done}/{len(state.in_run)} done · {elapsed(now - (state.run_started or now))}")
        elif state.report is not None:
            report = state.report
            problems = sum(1 for f in report.findings if f.status in PROBLEMS)
            line.append("Verdict ")
            line.append_text(badge(report.verdict))
            line.append(f"{problems} problem{'s' if problems != 1 else ''}" if problems else "no problems")
            line.append(f" · {report.duration_s:.2f} s")
        else:
            line.append("waiting for a target")
        self.update(line)
