"""Reading a message someone hands us: an .eml file, an mbox holding one message, or pasted headers.

Untrusted and possibly huge or not mail at all, so: read at most ``MAX_BYTES`` (the rest is left
unread and said so), refuse what is clearly not a message (binary data, no header), and parse with
the lenient stdlib parser (``compat32``: broken MIME gives defects, never an exception).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

MAX_BYTES = 2 * 1024 * 1024  # read this much: the report parts come first, the returned original (attachments) last
MAX_DELIMITERS = 1000  # lines starting "--" (MIME boundaries) read; a bounce has a handful
MAX_HEADER_BYTES = 1024 * 1024  # header block kept (10,000 Received lines fit; the parser stays fast)
_HEADER_LINE = re.compile(rb"^[!-9;-~]{1,80}:")  # field name (printable ASCII but ':') then a colon


class NotAMessage(ValueError):
    """The input is not an email message; the text says why, in plain words."""


@dataclass
class Loaded:
    message: Message
    size: int  # bytes read
    truncated: bool  # the input was longer than MAX_BYTES
    notes: list[str] = field(default_factory=list)  # what was done to read it (mbox, headers only...)
    headers_only: bool = False
    unread_part: bool = False  # part of the header (over MAX_HEADER_BYTES) or the body (nested too deep) not read
    raw: bytes = b""  # the message's bytes as read (mbox envelope removed): what DKIM signatures cover

    @property
    def partial(self) -> bool:
        """Was part of the input left unread?"""
        return self.truncated or self.unread_part


def load(data: bytes, *, truncated: bool = False) -> Loaded:
    """Parse ``data`` (at most MAX_BYTES of the input) as one message, or raise NotAMessage."""
    notes: list[str] = []
    if truncated:
        notes.append(f"only the first {MAX_BYTES // (1024 * 1024)} MB were read")
    if not data.strip():
        raise NotAMessage("the input is empty")
    sample = data[:65536]
    if b"\x00" in sample or _binary_share(sample) > 0.3:
        raise NotAMessage("the input is binary data, not an email message (give an .eml file, an mbox or the "
                          "message's header as text)")
    data = data.removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n\t ")  # a UTF-8 BOM (Windows editors), blank lines
    if data.startswith(b"From "):  # mbox: the envelope line, then the message up to the next "From " line
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
        parts = re.split(rb"\r?\n\r?\nFrom \S+ ", data, maxsplit=1)
        if len(parts) > 1:
            notes.append("the mbox holds more than one message: the first one was read")
        data = re.sub(rb"^>(>*From )", rb"\1", parts[0], flags=re.M)  # mboxrd quoting
        notes.append("read as an mbox")
    if not _HEADER_LINE.match(data):
        raise NotAMessage("no mail header found: an email message starts with header lines such as "
                          "'From: ...' or 'Received: ...'")
    head, sep, body = _split_header(data)
    unread_part = len(head) > MAX_HEADER_BYTES
    if unread_part:
        head = head[:MAX_HEADER_BYTES].rsplit(b"\n", 1)[0] + b"\n"
        notes.append(f"the header is longer than {MAX_HEADER_BYTES // 1024} KB: the rest of it was not read")
    cut = _nth(body, b"\n--", MAX_DELIMITERS)
    if cut >= 0:  # the stdlib parser takes ~20 microseconds a part: bound the parts, not only the bytes
        body = body[:cut + 1]
        notes.append(f"more than {MAX_DELIMITERS} MIME boundaries: the rest was not read")
        unread_part = True
    headers_only = not body.strip()
    if headers_only:
        notes.append("header only (no body)")
    try:
        message = message_from_bytes(head + (sep or b"\n") + body, policy=compat32)
    except RecursionError:  # MIME parts nested thousands deep: the header is still worth reading
        message = BytesHeaderParser(policy=compat32).parsebytes(head)
        notes.append("the MIME parts are nested too deeply: only the header was read, the body was not")
        unread_part = True
    return Loaded(message, len(data), truncated, notes, headers_only, unread_part, raw=data)


def _nth(data: bytes, needle: bytes, n: int) -> int:
    """Position of the n-th occurrence of ``needle`` (1-based), or -1 when there are fewer."""
    pos = -1
    for _ in range(n):
        pos = data.find(needle, pos + 1)
        if pos < 0:
            return -1
    return pos


def _split_header(data: bytes) -> tuple[bytes, bytes, bytes]:
    m = re.search(rb"\r?\n\r?\n", data)
    if not m:
        return data if data.endswith(b"\n") else data + b"\n", b"", b""
    return data[:m.start()] + b"\n", b"\n", data[m.end():]


def _binary_share(sample: bytes) -> float:
    """Share of bytes that are control characters other than tab, CR, LF, FF (text in any charset has few)."""
    if not sample:
        return 0.0
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return controls / len(sample)
