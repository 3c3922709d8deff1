"""The CLI's progress displays, observers of the event stream (the only app code that draws with
Rich besides the text report): live check progress for `check`, a bar for `batch`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from diagnose.engine.model import Status
from diagnose.engine.runner import CheckFinished, CheckStarted, Event, FindingEmitted

if TYPE_CHECKING:  # Rich is imported only when something is drawn: `check -q`, pipes and cron never pay for it
    from rich.console import Console


class LiveProgress:
    """An observer of the event stream; draws one transient status line on ``console``."""

    def __init__(self, console: Console, total: int) -> None:
        from rich.live import Live
        from rich.spinner import Spinner

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
        from rich.text import Text

        line = Text(f" {self.done}/{self.total} checks done")
        if self.problems:
            line.append(f", {self.problems} problem{'s' if self.problems != 1 else ''} so far", style="yellow")
        if self.running:
            line.append(
                " · running: " + ", ".join(self.running[:4]) + (" …" if len(self.running) > 4 else ""), style="dim"
            )
        self._spinner.update(text=line)


@contextmanager
def live_progress(total: int) -> Iterator[Callable[[Event], None] | None]:
    """For `check`: a LiveProgress observer while stderr is a terminal (and not CI), else None."""
    if os.environ.get("CI") or not (sys.stderr.isatty() or os.environ.get("FORCE_TERMINAL")):
        yield None  # no terminal to draw on (Rich would say so too, at the price of importing it)
        return
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    if not console.is_terminal:
        yield None
        return
    with LiveProgress(console, total) as progress:
        yield progress.observe


class BatchBar:
    """For `batch`: a bar on stderr; ``advance(problems)`` after each target."""

    def __init__(self, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("diagnosing"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[problems]} with problems"), TimeRemainingColumn(),
                             console=Console(stderr=True), transient=True)
        self._task = self._bar.add_task("batch", total=total, problems=0)

    def __enter__(self) -> BatchBar:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)  # type: ignore[arg-type]

    def advance(self, problems: int) -> None:
        self._bar.update(self._task, advance=1, problems=problems)
