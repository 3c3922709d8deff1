"""Help: the keys and what the status words mean."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from diagnose.engine.model import Status
from diagnose.tui.widgets.badges import badge, running_badge, untested_badge

KEYS = (
    ("↑ ↓", "move in the list of checks (details on the right)"),
    ("space", "fold or unfold a group"),
    ("tab", "move to the details pane (scroll with ↑ ↓ PgUp PgDn)"),
    ("r", "run every check again"),
    ("t", "run the selected check again (and the checks it needs)"),
    ("f", "show only problems / show everything"),
    ("e", "export the report to a file (HTML, JSON, text, ...)"),
    ("c", "copy the selected finding as Markdown (for a ticket)"),
    ("d", "switch between the dark and the light theme"),
    ("?", "this help"),
    ("q", "quit (running probes are stopped)"),
)
MEANINGS = (
    (Status.PASS, "works"),
    (Status.WARN, "works, but is a risk or breaks a rule: worth fixing"),
    (Status.FAIL, "broken: it does not work as it must (the details say what that stops)"),
    (Status.ERROR, "maildoctor could not run this test (see why in the details)"),
    (Status.SKIP, "not tested, because something it needs is missing or broken"),
)


def help_text() -> Text:
    text = Text()
    text.append("Keys\n", style="bold underline")
    for key, what in KEYS:
        text.append(f"  {key:<6}", style="bold")
        text.append(f"{what}\n")
    text.append("\nStatus\n", style="bold underline")
    for status, what in MEANINGS:
        text.append("  ")
        text.append_text(badge(status))
        text.append(f" {what}\n")
    text.append("  ")
    text.append_text(running_badge(0))
    text.append(" still running\n  ")
    text.append_text(untested_badge())
    text.append(" no check of this kind ran\n")
    text.append("\nThe top lines follow a message: outgoing (you → your submission server) and incoming "
                "(internet → DNS → MX → mailbox server → you); each hop shows its worst status.\n")
    text.append("\nPress escape, q or ? to close.", style="italic")
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Static(help_text())

    def action_close(self) -> None:
        self.dismiss(None)
