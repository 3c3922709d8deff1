"""What servers answer, as values: an SMTP reply and the IMAP capability list. No I/O here, so
the evaluators in this package can parse replies without socket code."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SmtpReply:
    code: int
    lines: tuple[str, ...]

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


def imap_capabilities(line: str) -> tuple[str, ...]:
    """Capabilities from ``* CAPABILITY ...`` or a ``[CAPABILITY ...]`` response code, upper case."""
    m = re.search(r"\[CAPABILITY ([^\]]*)\]", line, re.I) or re.match(r"^\* CAPABILITY (.*)$", line, re.I)
    return tuple(c.upper() for c in m.group(1).split()) if m else ()
