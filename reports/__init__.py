"""Renderers: one module per format, all from the one report model (diagnose.engine.report.Report)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

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


def renderer(fmt: str) -> Callable[[Report], str]:
    module, _, func = RENDERERS[fmt].partition(":")
    return getattr(import_module(module), func)
