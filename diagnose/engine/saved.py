"""Read a saved JSON report back (``maildoctor report FILE.json``), refusing anything else clearly."""

from __future__ import annotations

import json
import re
from pathlib import Path

from diagnose.engine.report import Report

MAX_BYTES = 50 * 1024 * 1024
MAX_DEPTH = 64  # nesting of arrays/objects; ours is < 10 deep. Deeper is refused before parsing: the
# parser and every renderer recurse, and a file 1,000 levels deep would end in a RecursionError
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")
_TEXT_FIELDS = ("check", "code", "subject", "summary", "explanation", "remedy", "host", "reason")


class NotAReport(ValueError):
    """The file is not a maildoctor JSON report; the message is one line."""


def load_report(path: Path) -> Report:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise NotAReport(f"{path} is larger than {MAX_BYTES // 2**20} MB; not a maildoctor JSON report")
        raw = path.read_bytes()
    except OSError as exc:
        raise NotAReport(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
        if nesting(text) > MAX_DEPTH:
            raise NotAReport(f"{path} is not a maildoctor JSON report (nested more than {MAX_DEPTH} levels deep)")
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else f"not JSON: {exc}"
        raise NotAReport(f"{path} is not a maildoctor JSON report ({why})") from None
    try:
        _shape(data)
        return Report.from_dict(data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise NotAReport(f"{path} is not a maildoctor JSON report ({exc})") from None


def nesting(text: str) -> int:
    """Pure: the deepest nesting of arrays and objects in JSON ``text`` (strings ignored), without parsing."""
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if m.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _shape(data: object) -> None:
    """Types the renderers rely on (Report.from_dict checks the rest)."""
    if not isinstance(data, dict) or "schema_version" not in data or "findings" not in data:
        raise ValueError("no schema_version/findings")
    if not isinstance(data["schema_version"], int) or isinstance(data["schema_version"], bool):
        raise ValueError("schema_version is not a number")
    if not isinstance(data["findings"], list):
        raise ValueError("findings is not a list")
    for key in ("target", "resolver", "tool", "meta"):
        if not isinstance(data.get(key, {}), dict):
            raise ValueError(f"{key} is not an object")
    if not isinstance(data.get("checks", []), list) or not isinstance(data.get("started_at", ""), str):
        raise ValueError("checks/started_at have the wrong type")
    for n, f in enumerate(data["findings"]):
        if not isinstance(f, dict):
            raise ValueError(f"finding {n} is not an object")
        for key in _TEXT_FIELDS:
            if not isinstance(f.get(key, ""), str):
                raise ValueError(f"finding {n}: {key} is not text")
        if not isinstance(f.get("evidence", {}), dict):
            raise ValueError(f"finding {n}: evidence is not an object")
        duration = f.get("duration_s", 0)
        if not isinstance(duration, (int, float)) or isinstance(duration, bool):
            raise ValueError(f"finding {n}: duration_s is not a number")
