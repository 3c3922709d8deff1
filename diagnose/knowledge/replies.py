"""What servers answer, as values: an SMTP reply and the IMAP capability list. No I/O here, so
the evaluators in this package can parse replies without socket code."""

from __future__ import annotations

from diagnose.engine.value import Value

# the caps on reading a server, shared by the asyncio reader (diagnose.net.protocol) and the probe's
# blocking fast path (diagnose.net.verified_session)
MAX_LINE = 4096  # bytes; RFC 5321 §4.5.3.1.5 allows 512 for a reply line, IMAP lines can be longer
MAX_SESSION = 256 * 1024  # bytes read in one session, all phases together
MAX_REPLY_LINES = 200  # lines of one multi-line reply (an EHLO reply has ~10-20)



class SmtpReply(Value):
    """One SMTP reply: its code and the text of each line (a ``Value``: the probe's fast path reads replies)."""

    __slots__ = ("code", "lines")
    code: int
    lines: tuple[str, ...]

    def __init__(self, code: int, lines: tuple[str, ...]) -> None:
        self._init(code, lines)

    @property
    def text(self) -> str:
        return " ".join(line.strip() for line in self.lines).strip()

    def extensions(self) -> dict[str, str]:
        """EHLO keywords (upper case) -> parameters, from the lines after the first (RFC 5321 §4.1.1.1)."""
        out: dict[str, str] = {}
        for line in self.lines[1:]:
            keyword, _, params = line.strip().partition(" ")
            if keyword:
                out.setdefault(keyword.upper(), params.strip())
        return out


def smtp_reply_line(text: str, code: str | None) -> tuple[str, str, bool] | None:
    """One line of an SMTP reply: (code, text, last line?); None when it is not a reply line, or its
    code differs from ``code``, the one the reply's earlier lines carried (RFC 5321 §4.2.1).
    A code of three ASCII digits, the first 2-5, then a space, a hyphen (more lines follow) or the end;
    a line ending in one newline is read without it. (String tests rather than a regular expression:
    the probe's fast path reads replies, and ``re`` costs its start-up ~6 ms.)"""
    line = _one_line(text)
    if line is None or not (len(line) >= 3 and line[0] in "2345" and line[1] in _DIGITS and line[2] in _DIGITS):
        return None
    separator = line[3:4]
    if separator not in ("", " ", "-") or (code is not None and line[:3] != code):
        return None
    return line[:3], line[4:], separator != "-"


_DIGITS = "0123456789"


def _one_line(text: str) -> str | None:
    """``text`` without one final newline; None when a newline is left (not one line)."""
    text = text.removesuffix("\n")
    return None if "\n" in text else text


def imap_capabilities(line: str) -> tuple[str, ...]:
    """Capabilities from a ``[CAPABILITY ...]`` response code or else ``* CAPABILITY ...``, upper case."""
    if not line.isascii():  # case-insensitive matching beyond ASCII (re's): rare, and worth its import then
        return _imap_capabilities_re(line)
    upper = line.upper()
    start = upper.find("[CAPABILITY ")
    end = upper.find("]", start) if start >= 0 else -1
    if end >= 0:
        listed: str | None = line[start + len("[CAPABILITY "):end]
    elif upper.startswith("* CAPABILITY "):
        listed = _one_line(line[len("* CAPABILITY "):])
    else:
        listed = None
    return tuple(c.upper() for c in listed.split()) if listed is not None else ()


def _imap_capabilities_re(line: str) -> tuple[str, ...]:
    import re

    m = re.search(r"\[CAPABILITY ([^\]]*)\]", line, re.I) or re.match(r"^\* CAPABILITY (.*)$", line, re.I)
    return tuple(c.upper() for c in m.group(1).split()) if m else ()
