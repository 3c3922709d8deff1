"""Export the report: pick a format and a path (default: HTML in the current directory)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from diagnose.app.session import write_atomically
from diagnose.engine.report import Report

PREFERRED = ("html", "json", "text")  # the default is the first one installed


@dataclass(frozen=True)
class ExportRequest:
    fmt: str
    path: Path


def write_report(report: Report, choice: ExportRequest) -> str | None:
    """Render and write the report; None when done, else the one-line reason it failed."""
    from reports import renderer

    try:
        write_atomically(choice.path, renderer(choice.fmt)(report))
    except SystemExit as exc:  # write_atomically's one-line error, meant for the CLI
        return str(exc).removeprefix("maildoctor: error: ")
    return None


def formats() -> list[str]:
    from reports import RENDERERS

    return list(RENDERERS)


def default_format(available: list[str]) -> str:
    return next((f for f in PREFERRED if f in available), available[0])


def default_path(domain: str, fmt: str, directory: Path | None = None) -> Path:
    from reports import EXTENSIONS

    name = f"maildoctor-{domain or 'report'}.{EXTENSIONS.get(fmt, fmt)}"
    return (directory or Path.cwd()) / name


class ExportScreen(ModalScreen[ExportRequest | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, domain: str, fmt: str | None = None, path: Path | None = None) -> None:
        super().__init__()
        self.domain = domain
        self.available = formats()
        self.fmt = fmt if fmt in self.available else default_format(self.available)
        self.path = path or default_path(domain, self.fmt)

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog", classes="dialog"):
            yield Static("Export the report", classes="dialog-title")
            yield Label("Format")
            yield Select([(f, f) for f in self.available], value=self.fmt, allow_blank=False, id="export-format")
            yield Label("File (enter to save)")
            yield Input(str(self.path), id="export-path")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="export-save")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        field = self.query_one("#export-path", Input)
        old_default = str(default_path(self.domain, self.fmt, Path(field.value).parent))
        self.fmt = str(event.value)
        if field.value == old_default:  # the user has not typed a name of their own
            field.value = str(default_path(self.domain, self.fmt, Path(old_default).parent))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "export-save":
            self._save()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _save(self) -> None:
        value = self.query_one("#export-path", Input).value.strip()
        if value:
            self.dismiss(ExportRequest(self.fmt, Path(value).expanduser()))
