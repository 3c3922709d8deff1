"""Status badges as rich Text: a symbol and a word, so a status reads the same without colour."""

from __future__ import annotations

from rich.text import Text

from diagnose.engine.model import Status
from reports.text import BADGES

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
# Colours that read on textual's dark and light themes alike (plain yellow vanishes on white).
COLOURS = {Status.PASS: "#2e9e44", Status.WARN: "#d08000", Status.FAIL: "bold #e0303a",
           Status.ERROR: "#b048c8", Status.SKIP: "#8a8a8a"}
RUNNING = "#2f8fd8"


def badge(status: Status) -> Text:
    symbol, word, _ = BADGES[status]
    return Text(f"{symbol} {word:<5} ", style=COLOURS[status])  # 8 columns, so labels line up


def running_badge(frame: int) -> Text:
    return Text(f"{SPINNER[frame % len(SPINNER)]} RUN   ", style=RUNNING)


def untested_badge() -> Text:
    return Text("· n/a   ", style="#8a8a8a")


def hop_badge(status: Status | str | None, frame: int) -> Text:
    if status == "running":
        return running_badge(frame)
    if status is None:
        return untested_badge()
    return badge(status)  # type: ignore[arg-type]


def elapsed(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60)} s"
