"""What servers answer, as values: an SMTP reply and the IMAP capability list. No I/O here, so
the evaluators in this package can parse replies without socket code."""

from __future__ import annotations

import re

from diagnose.engine.value import Value

# the caps on reading a server, shared by the asyncio reader (diagnose.net.protocol) and the probe's
# blocking fast path (diagnose.net.verified_session)
MAX_LINE = 4096  # bytes; RFC 5321 §4.5.3.1.5 allows 512 for a reply line, IMAP lines can be longer
MAX_SESSION = 256 * 1024  # bytes read in one session, all phases together
MAX_REPLY_LINES = 200  # lines of one multi-line reply (an EHLO reply has ~10-20)

_SMTP_LINE = re.compile(r"^([2-5][0-9][0-9])([ -]|$)(.*)$")  # RFC 5321 §4.2.1


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
    code differs from ``code``, the one the reply's earlier lines carried (RFC 5321 §4.2.1)."""
    m = _SMTP_LINE.match(text)
    if not m or (code is not None and m.group(1) != code):
        return None
    return m.group(1), m.group(3), m.group(2) != "-"


def imap_capabilities(line: str) -> tuple[str, ...]:
    """Capabilities from ``* CAPABILITY ...`` or a ``[CAPABILITY ...]`` response code, upper case."""
    m = re.search(r"\[CAPABILITY ([^\]]*)\]", line, re.I) or re.match(r"^\* CAPABILITY (.*)$", line, re.I)
    return tuple(c.upper() for c in m.group(1).split()) if m else ()
