"""The mail-flow overview: each hop of outgoing and incoming mail marked by its worst status."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from diagnose.tui.state import DiagnosisState
from diagnose.tui.widgets.badges import hop_badge
from reports.hops import DNS, MAILBOX, MX, SUBMISSION

NAMES = {DNS: "DNS", SUBMISSION: "submission server", MX: "MX", MAILBOX: "mailbox server"}
# (title, start, hops, end): what a message passes through, in order.
FLOWS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("Outgoing", "you", (SUBMISSION,), "internet"),
    ("Incoming", "internet", (DNS, MX, MAILBOX), "you"),
)
ARROW = " → "


def flow_line(state: DiagnosisState, title: str, start: str, hops: tuple[str, ...], end: str, frame: int) -> Text:
    line = Text(f"{title:<9}", style="bold")
    line.append(start)
    for hop in hops:
        line.append(ARROW, style="dim")
        line.append_text(hop_badge(state.hop_status(hop), frame))
        line.append(NAMES[hop], style="bold")
    line.append(ARROW, style="dim")
    line.append(end)
    return line


class FlowOverview(Static):
    def show(self, state: DiagnosisState, frame: int) -> None:
        lines = [flow_line(state, *flow, frame) for flow in FLOWS]
        self.update(Text("\n").join(lines))
