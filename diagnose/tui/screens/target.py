"""Ask for the target (and credentials) when none was given on the command line."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, RadioButton, RadioSet, Static

from diagnose.tui.messages import TargetChosen
from diagnose.tui.state import FormCredentials, TargetEntry

SECRET_LABEL = {
    "password": "Password (optional; kept in memory only, never shown or saved)",
    "oauth2": "OAuth 2.0 access token (kept in memory only, never shown or saved)",
}


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
            yield Label(SECRET_LABEL["password"], id="password-label")
            yield Input(placeholder="password", password=True, id="password-input")
            with RadioSet(id="secret-kind"):  # after the input: tab order stays target, user, secret
                yield RadioButton("a password", value=True, id="kind-password")
                yield RadioButton("an OAuth 2.0 access token", id="kind-oauth2")
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

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        kind = self._kind()
        self.query_one("#password-label", Label).update(SECRET_LABEL[kind])
        self.query_one("#password-input", Input).placeholder = "password" if kind == "password" else "access token"

    def _kind(self) -> str:
        pressed = self.query_one("#secret-kind", RadioSet).pressed_button
        return "oauth2" if pressed is not None and pressed.id == "kind-oauth2" else "password"

    def _submit(self) -> None:
        password = self.query_one("#password-input", Input)
        entry = TargetEntry(
            self.query_one("#target-input", Input).value,
            FormCredentials(self.query_one("#user-input", Input).value.strip(), password.value, self._kind()),
        )
        self.app.post_message(TargetChosen(entry))
