"""JSON: the versioned, machine-readable report (schema in docs/json-schema.md)."""

from __future__ import annotations

import json
import re

from diagnose.engine.report import Report, escape_bidi
from diagnose.knowledge.redact import redact_argv
from diagnose.knowledge.sanitize import clean


def render(report: Report) -> str:
    data = report.to_dict()
    if isinstance(data.get("meta", {}).get("command"), list):  # never a secret, even from an old report
        data["meta"] = {**data["meta"], "command": redact_argv(str(a) for a in data["meta"]["command"])}
    text = json.dumps(_clean_strings(data), indent=2, ensure_ascii=False, default=str)
    text = re.sub("[\ud800-\udfff]", "\ufffd", text)  # lone surrogates (from a crafted file) cannot be written
    return escape_bidi(text) + "\n"


def _clean_strings(value):
    """Server text anywhere in the data (certificate names, evidence) without terminal escapes or
    control characters: `jq -r` prints decoded strings straight to a terminal."""
    if isinstance(value, str):
        return clean(value, limit=1_000_000)
    if isinstance(value, dict):
        return {k: _clean_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_strings(v) for v in value]
    return value
