"""JSON: the versioned, machine-readable report (schema in docs/json-schema.md)."""

from __future__ import annotations

import json

from diagnose.report import Report


def render(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"
