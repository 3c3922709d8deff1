"""The report formats as a choice of the command line (``--format``), named without importing a renderer
or Typer: the CLI's options and `check`'s Typer-free argv reader (diagnose.app.checkargs) share it."""

from __future__ import annotations

import enum

from reports import RENDERERS

# the formats: reports.RENDERERS (built at run time, so mypy cannot list the members)
Format = enum.Enum("Format", {name: name for name in RENDERERS}, type=str)  # type: ignore[misc]
