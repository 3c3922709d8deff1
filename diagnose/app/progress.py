"""Live progress on a terminal while checks run: which checks are running, how many are done."""

from __future__ import annotations

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from diagnose.engine.model import Status
from diagnose.engine.runner import CheckFinished, CheckStarted, Event, FindingEmitted


class LiveProgress:
    """An observer of the event stream; draws one transient status line on ``console``."""

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.total = total
        self.running: list[str] = []
        self.done = 0
        self.problems = 0
        self._spinner = Spinner("dots")
        self._live = Live(self._spinner, console=console, transient=True, refresh_per_second=12)

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        self._update()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(*exc)  # type: ignore[arg-type]

    def observe(self, event: Event) -> None:
        if isinstance(event, CheckStarted):
            self.running.append(event.check)
        elif isinstance(event, CheckFinished):
            if event.check in self.running:
                self.running.remove(event.check)
            self.done += 1
        elif isinstance(event, FindingEmitted) and event.finding.status in (Status.FAIL, Status.WARN, Status.ERROR):
            self.problems += 1
        self._update()

    def _update(self) -> None:
        line = Text(f" {self.done}/{self.total} checks done")
        if self.problems:
            line.append(f", {self.problems} problem{'s' if self.problems != 1 else ''} so far", style="yellow")
        if self.running:
            line.append(
                " · running: " + ", ".join(self.running[:4]) + (" …" if len(self.running) > 4 else ""), style="dim"
            )
        self._spinner.update(text=line)
