"""SPF macros (RFC 7208 §7): tokenising a macro-string and expanding it for one SMTP transaction.

Pure. ``tokens(text)`` splits a macro-string into literals and macro-expands (None when the text is
outside the grammar); ``expand(text, sender)`` performs the expansion of §7.3 with the transformers
(digits, ``r``), the delimiters and upper-case letters (URL-escaped results), and the 253-character
truncation of §7.3 for domain names.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass

# macro-expand = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-"
MACRO_EXPAND = re.compile(r"%\{([slodiphcrtv])([0-9]*)(r?)([.\-+,/_=]*)\}|%[%_-]", re.I)
LITERAL = re.compile(r"[\x21-\x24\x26-\x7e]+")  # macro-literal: visible characters except "%"
EXP_ONLY = frozenset("crt")  # §7.1: allowed only in exp text
DOMAIN_MAX = 253  # §7.3: longer expansions lose labels on the left


@dataclass(frozen=True)
class Macro:
    """One macro-expand: ``letter`` ('%', '_' or '-' for the escapes), transformers, delimiters."""

    text: str
    letter: str
    digits: int | None = None
    reverse: bool = False
    delimiters: str = ""

    @property
    def escape(self) -> bool:
        return self.letter in "%_-"


Token = str | Macro


def tokens(text: str) -> list[Token] | None:
    """The macro-string ``text`` as literal strings and Macros, or None when it is not one (a "%"
    not starting a valid macro-expand, a space, a control or non-ASCII character)."""
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos] == "%":
            m = MACRO_EXPAND.match(text, pos)
            if not m:
                return None
            if m.group(1):
                digits = int(m.group(2)) if m.group(2) else None
                out.append(Macro(m.group(0), m.group(1), digits, bool(m.group(3)), m.group(4)))
            else:
                out.append(Macro(m.group(0), m.group(0)[1]))
            pos = m.end()
            continue
        m = LITERAL.match(text, pos)
        if not m:
            return None
        out.append(m.group(0))
        pos = m.end()
    return out


def macros_in(text: str) -> list[Macro]:
    return [t for t in tokens(text) or [] if isinstance(t, Macro)]


@dataclass(frozen=True)
class Sender:
    """What the macros of §7.2 stand for in one check_host() evaluation."""

    sender: str = ""  # MAIL FROM (or postmaster@HELO): %{s}
    domain: str = ""  # the current domain: %{d}
    ip: str = ""  # the client address: %{i}, %{c}, %{v}
    helo: str = ""  # %{h}
    validated: str = "unknown"  # %{p}: a validated name of the client (§7.3: "unknown" when none)
    receiver: str = "unknown"  # %{r}
    timestamp: int = 0  # %{t}

    def value(self, letter: str) -> str:
        local, _, sender_domain = self.sender.rpartition("@")
        addr = ipaddress.ip_address(self.ip) if self.ip else None
        if letter == "s":
            return self.sender
        if letter == "l":
            return local or "postmaster"  # §4.3: an empty local-part is "postmaster"
        if letter == "o":
            return sender_domain or self.sender
        if letter == "d":
            return self.domain
        if letter == "i":
            if addr is None:
                return ""
            if addr.version == 6:  # §7.3: dot-format, one nibble per label
                return ".".join(addr.exploded.replace(":", ""))
            return str(addr)
        if letter == "c":
            return str(addr) if addr else ""
        if letter == "v":
            return "ip6" if addr is not None and addr.version == 6 else "in-addr"
        if letter == "h":
            return self.helo
        if letter == "p":
            return self.validated
        if letter == "r":
            return self.receiver
        if letter == "t":
            return str(self.timestamp)
        raise ValueError(f"unknown macro letter {letter!r}")


def expand_macro(macro: Macro, sender: Sender) -> str:
    """One macro-expand's value (§7.3): split on the delimiters, reverse, keep the rightmost N parts,
    join with "."; an upper-case letter URL-escapes the result."""
    if macro.escape:
        return {"%": "%", "_": " ", "-": "%20"}[macro.letter]
    value = sender.value(macro.letter.lower())
    if macro.digits is not None or macro.reverse or macro.delimiters:
        parts = re.split("[" + re.escape(macro.delimiters or ".") + "]", value)
        if macro.reverse:
            parts.reverse()
        if macro.digits is not None and macro.digits > 0:  # §7.3: "0" is not allowed; we keep all
            parts = parts[-macro.digits:]
        value = ".".join(parts)
    if macro.letter.isupper():
        value = urllib.parse.quote(value, safe="-._~")  # RFC 3986 unreserved characters stay
    return value


def expand(text: str, sender: Sender, *, domain: bool = True) -> str:
    """The macro-string ``text`` expanded; ``domain``: the result is a name (truncated to 253
    characters by dropping labels on the left, §7.3). ValueError when ``text`` is not a macro-string."""
    parts = tokens(text)
    if parts is None:
        raise ValueError(f"{text!r} is not a macro-string")
    out = "".join(t if isinstance(t, str) else expand_macro(t, sender) for t in parts)
    if domain:
        while len(out) > DOMAIN_MAX and "." in out:
            out = out.split(".", 1)[1]
    return out
