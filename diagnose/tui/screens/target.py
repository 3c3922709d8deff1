"""Ask for the target (and credentials) when none was given on the command line."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from diagnose.tui.messages import TargetChosen
from diagnose.tui.state import FormCredentials, TargetEntry


class TargetScreen(Screen[TargetEntry]):
    """Returns the entry to the app, which validates it and shows ``error`` here when it is bad."""

    BINDINGS = [Binding("escape", "app.quit", "Quit")]

    def compose(self) -> ComposeResult:
        with Vertical(id="target-form"):
            yield Static("maildoctor — find out why email is not working", id="target-title")
            yield Label("Domain or email address to diagnose")
            yield Input(placeholder="example.com or you@example.com", id="target-input")
            yield Label("Mailbox user name (optional, for login tests)")
            yield Input(placeholder="you@example.com", id="user-input")
            yield Label("Password (optional; kept in memory only, never shown or saved)")
            yield Input(placeholder="password", password=True, id="password-input")
            yield Static("", id="target-error")
            yield Button("Diagnose", variant="primary", id="target-go")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#target-input", Input).focus()

    def show_error(self, message: str) -> None:
        self.query_one("#target-error", Static).update(message)
        self.query_one("#target-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "password-input" or event.input.id == "target-input" and event.value.strip():
            self._submit()
        else:
            self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._submit()

    def _submit(self) -> None:
        password = self.query_one("#password-input", Input)
        entry = TargetEntry(
            self.query_one("#target-input", Input).value,
            FormCredentials(self.query_one("#user-input", Input).value.strip(), password.value),
        )
        self.app.post_message(TargetChosen(entry))
