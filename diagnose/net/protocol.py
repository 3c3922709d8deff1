"""Reading server replies line by line, safely: SMTP, IMAP and POP3 over asyncio streams.

Servers are untrusted. Every read has a time limit (seconds), a line-length cap and a cap on the
bytes of one session, so a hostile or broken server gives a ``ProtocolError`` naming the phase,
never a hang or unbounded memory. Replies are parsed however the server splits them across TCP
segments: we read up to CRLF, never "one recv() is one reply" (sslyze's STARTTLS helper broke
exactly there on multi-line EHLO replies).
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field

from diagnose.knowledge.replies import MAX_LINE, MAX_REPLY_LINES, MAX_SESSION, SmtpReply, smtp_reply_line
from diagnose.knowledge.sanitize import clean

MAX_TRANSCRIPT = 80  # lines kept in the evidence


class Failure(str, enum.Enum):
    TIMEOUT = "timeout"  # nothing (complete) arrived in time
    CLOSED = "closed"  # the server closed the connection
    TOO_LONG = "too_long"  # a line or the session exceeded its cap
    GARBAGE = "garbage"  # not a reply of this protocol


class ProtocolError(Exception):
    """The dialogue broke in ``phase`` (e.g. "greeting", "EHLO", "STARTTLS")."""

    def __init__(self, phase: str, failure: Failure, detail: str = "") -> None:
        super().__init__(f"{phase}: {failure.value}{': ' + detail if detail else ''}")
        self.phase = phase
        self.failure = failure
        self.detail = detail


class UnsafeLine(ProtocolError):
    """A command we were about to send holds CR, LF or NUL: it would smuggle a second command."""


def command_bytes(line: str, phase: str = "send") -> bytes:
    """One protocol line, CRLF-terminated; UnsafeLine (nothing written) when ``line`` holds CR, LF or
    NUL. The last guard: options are checked before any connection (credentials.line_safe)."""
    if any(c in line for c in "\r\n\0"):
        raise UnsafeLine(phase, Failure.GARBAGE, "refused to send a command containing CR, LF or NUL")
    return line.encode("utf-8") + b"\r\n"


@dataclass(eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class Transcript:
    """The dialogue as sanitized lines, "S: ..." from the server and "C: ..." from us."""

    lines: list[str] = field(default_factory=list)
    dropped: int = 0

    def add(self, who: str, text: str) -> None:
        if len(self.lines) >= MAX_TRANSCRIPT:
            self.dropped += 1
            return
        self.lines.append(f"{who}: {clean(text, limit=300, keep_newlines=False)}")

    def as_list(self) -> list[str]:
        return self.lines + ([f"… {self.dropped} more lines"] if self.dropped else [])


class LineReader:
    """Read CRLF (or bare LF) terminated lines from a StreamReader with caps and time limits."""

    def __init__(self, reader: asyncio.StreamReader, *, timeout: float, transcript: Transcript | None = None,
                 max_line: int = MAX_LINE, max_total: int = MAX_SESSION) -> None:
        self.reader = reader
        self.timeout = timeout  # seconds, for each operation (one whole reply)
        self.transcript = transcript if transcript is not None else Transcript()
        self.max_line = max_line
        self.max_total = max_total
        self.total = 0
        self._buf = bytearray()

    async def line(self, phase: str) -> str:
        """One line without its line ending; bounded by ``timeout`` seconds."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._line(phase)
        except TimeoutError:
            partial = clean(self._buf[:200].decode("utf-8", "replace"), keep_newlines=False)
            raise ProtocolError(phase, Failure.TIMEOUT, f"partial: {partial}" if partial else "") from None

    async def _line(self, phase: str) -> str:
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                raw = bytes(self._buf[:end])
                del self._buf[: end + 1]
                if len(raw) > self.max_line:
                    raise ProtocolError(phase, Failure.TOO_LONG, f"a line of {len(raw)} bytes")
                # sanitized here, once: every reply text (greeting, capabilities, refusals) is server-supplied
                text = clean(raw.rstrip(b"\r").decode("utf-8", "replace"), limit=self.max_line, keep_newlines=False)
                self.transcript.add("S", text)
                return text
            if len(self._buf) > self.max_line:
                raise ProtocolError(phase, Failure.TOO_LONG, f"a line longer than {self.max_line} bytes")
            chunk = await self.reader.read(4096)
            if not chunk:
                if self._buf:
                    self.transcript.add("S", self._buf.decode("utf-8", "replace"))
                raise ProtocolError(phase, Failure.CLOSED, "the server closed the connection")
            self.total += len(chunk)
            if self.total > self.max_total:
                raise ProtocolError(phase, Failure.TOO_LONG, f"more than {self.max_total} bytes in one session")
            self._buf += chunk

    def pending(self) -> bool:
        """Bytes already received but not read (e.g. a server that talks before the greeting)."""
        return bool(self._buf)

    async def exactly(self, n: int, phase: str) -> bytes:
        """``n`` raw bytes (an IMAP literal, RFC 9051 §4.3), within ``timeout``; not added to the transcript."""
        if n > self.max_total:
            raise ProtocolError(phase, Failure.TOO_LONG, f"a literal of {n} bytes")
        try:
            async with asyncio.timeout(self.timeout):
                while len(self._buf) < n:
                    chunk = await self.reader.read(65536)
                    if not chunk:
                        raise ProtocolError(phase, Failure.CLOSED, "the server closed the connection")
                    self.total += len(chunk)
                    if self.total > self.max_total:
                        raise ProtocolError(phase, Failure.TOO_LONG, f"more than {self.max_total} bytes in one session")
                    self._buf += chunk
        except TimeoutError:
            raise ProtocolError(phase, Failure.TIMEOUT, f"a literal of {n} bytes did not arrive") from None
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    async def smtp_reply(self, phase: str) -> SmtpReply:
        """A complete SMTP reply: ``250-a`` ... ``250 z`` (RFC 5321 §4.2.1), all lines in ``timeout``."""
        try:
            async with asyncio.timeout(self.timeout):
                lines: list[str] = []
                code: str | None = None
                while len(lines) < MAX_REPLY_LINES:
                    text = await self._line(phase)
                    parsed = smtp_reply_line(text, code)
                    if parsed is None:
                        raise ProtocolError(phase, Failure.GARBAGE, f"not an SMTP reply: {clean(text, limit=120)}")
                    code, rest, last = parsed
                    lines.append(rest)
                    if last:
                        return SmtpReply(int(code), tuple(lines))
                raise ProtocolError(phase, Failure.TOO_LONG, f"a reply of more than {MAX_REPLY_LINES} lines")
        except TimeoutError:
            raise ProtocolError(phase, Failure.TIMEOUT, "no complete reply") from None

    async def until(self, phase: str, done, *, max_lines: int = MAX_REPLY_LINES) -> list[str]:
        """Lines until ``done(line)`` is true (that line included), all within ``timeout``."""
        try:
            async with asyncio.timeout(self.timeout):
                lines: list[str] = []
                while len(lines) < max_lines:
                    lines.append(await self._line(phase))
                    if done(lines[-1]):
                        return lines
                raise ProtocolError(phase, Failure.TOO_LONG, f"more than {max_lines} lines")
        except TimeoutError:
            raise ProtocolError(phase, Failure.TIMEOUT, "no complete reply") from None

