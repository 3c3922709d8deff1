"""JSON: the versioned, machine-readable report (schema in docs/json-schema.md)."""

from __future__ import annotations

import json
import re

from diagnose.redact import redact_argv
from diagnose.report import Report


def render(report: Report) -> str:
    data = report.to_dict()
    if isinstance(data.get("meta", {}).get("command"), list):  # never a secret, even from an old report
        data["meta"] = {**data["meta"], "command": redact_argv(str(a) for a in data["meta"]["command"])}
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return re.sub("[\ud800-\udfff]", "\ufffd", text) + "\n"  # lone surrogates (from a crafted file) cannot be written
