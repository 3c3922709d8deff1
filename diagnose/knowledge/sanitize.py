"""Server-supplied text is untrusted: make it safe to show in a terminal or a report."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name)
if TYPE_CHECKING:
    import re

_PATTERNS: list[re.Pattern[str]] = []  # _patterns()'s, once compiled


def _patterns() -> list[re.Pattern[str]]:
    """ANSI/VT escape sequences (CSI, OSC, single-char escapes), then any other control character
    (+ lone surrogates: unencodable). Imported and compiled on first need (re with functools and
    enum: ~6 ms of start-up, which the probe's healthy path, whose text is plain, does without)."""
    if not _PATTERNS:
        import re

        _PATTERNS.append(re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])"))
        _PATTERNS.append(re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"))
    return _PATTERNS


def clean(text: str, *, limit: int = 2000, keep_newlines: bool = True) -> str:
    """Strip terminal escapes and control characters, and cap the length."""
    if not (text.isascii() and text.isprintable()):  # printable ASCII has no escape, control, newline or tab
        escapes, controls = _patterns()
        text = escapes.sub("", text)
        text = controls.sub("\ufffd", text)
        if not keep_newlines:
            text = text.replace("\n", " ").replace("\t", " ")
    if len(text) > limit:
        text = text[:limit] + f"… [{len(text) - limit} more characters]"
    return text


def drop_unusable_size_env() -> None:
    """Remove a COLUMNS or LINES that is not a plain number: Rich int()s anything str.isdigit()
    accepts, such as '²', and crashes. Called once where maildoctor starts (CLI, Python API)."""
    import os

    for name in ("COLUMNS", "LINES"):
        value = os.environ.get(name)
        if value is not None and not (value.isascii() and value.isdigit()):
            os.environ.pop(name)


def env_columns() -> int | None:
    """COLUMNS as a number, or None when unset (see drop_unusable_size_env)."""
    import os

    value = os.environ.get("COLUMNS", "")
    return int(value) if value.isascii() and value.isdigit() and int(value) > 0 else None
