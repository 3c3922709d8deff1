"""Renderers: one module per format, all from the one report model (diagnose.engine.report.Report)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the report model is not needed to name the formats (`--help`, `--version`)
    from diagnose.engine.report import Report

# format name -> "module:function"; imported only when that format is asked for
RENDERERS = {
    "text": "reports.text:render",
    "json": "reports.json_report:render",
    "markdown": "reports.markdown:render",
    "html": "reports.html:render",
    "junit": "reports.junit:render",
    "nagios": "reports.nagios:render",
}

# format name -> file name extension, and media type, for a saved or downloaded report (TUI export, serve)
EXTENSIONS = {"html": "html", "json": "json", "markdown": "md", "text": "txt", "junit": "xml", "nagios": "nagios.txt"}
MEDIA_TYPES = {"html": "text/html", "json": "application/json", "markdown": "text/markdown",
               "text": "text/plain", "junit": "application/xml", "nagios": "text/plain"}


def renderer(fmt: str) -> Callable[[Report], str]:
    module, _, func = RENDERERS[fmt].partition(":")
    return getattr(import_module(module), func)
