"""One polite session with a mail server: connect, greeting, capabilities, STARTTLS or implicit TLS.

One session serves the greeting, capability, TLS and certificate checks (see diagnose.net.probes).
We wait for the greeting before speaking, match reply codes (never texts), bound every phase by
the timeout, and send SNI. Every failure is recorded with its phase and the server's own words,
so "could not test" is never confused with "not supported".
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass, field

from diagnose.engine.timeouts import Timeouts
from diagnose.knowledge.replies import imap_capabilities
from diagnose.net.guard import open_connection
from diagnose.net.mailports import IMPLICIT_TLS, PROTOCOL
from diagnose.net.protocol import Failure, LineReader, ProtocolError, Transcript, command_bytes
from diagnose.net.tcp import ConnectOutcome, classify_socket_error
from diagnose.net.tls import TlsInfo, probe_context, session_info, sni_name


@dataclass(frozen=True)
class Endpoint:
    """A mail server port to talk to: its role, name, address, port and protocol."""

    role: str  # "mx", "submission", "mailbox"
    host: str
    address: str
    port: int
    source: str = field(default="", compare=False)  # how the host was found ("common name" = a guess)
    # given for a non-standard port (`maildoctor probe --protocol/--tls`); otherwise read from the port
    speaks: str = ""  # "smtp", "imap", "pop3"
    tls_from_start: bool | None = None  # implicit TLS (True) or STARTTLS (False)

    @property
    def protocol(self) -> str:
        return self.speaks or PROTOCOL.get(self.port, "smtp")

    @property
    def implicit_tls(self) -> bool:
        return self.port in IMPLICIT_TLS if self.tls_from_start is None else self.tls_from_start


@dataclass(eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class Dialogue:
    """What one session saw. ``failure_phase`` is set when the dialogue stopped early."""

    endpoint: Endpoint
    connect: ConnectOutcome = ConnectOutcome.ERROR
    connect_detail: str = ""
    greeting: str = ""
    greeting_ok: bool = False
    greeting_code: int | None = None  # SMTP only
    greeting_delay_s: float | None = None
    connect_s: float | None = None  # the TCP connect (the waterfall's first bar)
    capabilities: dict[str, str] = field(default_factory=dict)  # before TLS (after it, for implicit TLS)
    capabilities_tls: dict[str, str] = field(default_factory=dict)  # after STARTTLS
    starttls_offered: bool = False
    starttls_reply: str = ""  # the server's words when STARTTLS was refused
    tls: TlsInfo | None = None
    tls_error: str = ""
    failure_phase: str = ""
    failure: str = ""  # a Failure value, "rejected" or "tls"
    failure_words: str = ""
    injected: bool = False  # the server sent data between STARTTLS's reply and the handshake
    transcript: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def connected(self) -> bool:
        return self.connect is ConnectOutcome.CONNECTED

    def stop(self, phase: str, failure: str, words: str = "") -> None:
        if not self.failure_phase:
            self.failure_phase, self.failure, self.failure_words = phase, failure, words


class _Session:
    def __init__(self, d: Dialogue, reader: LineReader, writer: asyncio.StreamWriter, limits: Timeouts) -> None:
        self.d, self.r, self.w, self.limits = d, reader, writer, limits

    async def send(self, line: str) -> None:
        data = command_bytes(line.encode("ascii", "replace").decode("ascii"))  # no CR/LF/NUL inside
        self.r.transcript.add("C", line)
        self.w.write(data)
        async with asyncio.timeout(self.limits.reply):
            await self.w.drain()

    async def starttls(self, phase: str) -> bool:
        if self.r.pending():
            self.d.injected = True  # plaintext that would be read as if it came through TLS
        ep = self.d.endpoint
        try:
            await self.w.start_tls(probe_context(), server_hostname=sni_name(ep.host),
                                   ssl_handshake_timeout=self.limits.tls)
        except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as exc:
            self.d.tls_error = _tls_error(exc)
            # silence is inconclusive (overload, tarpit); an error from the server is a verdict
            kind = Failure.TIMEOUT.value if _is_timeout(exc) else "tls"
            self.d.stop(phase, kind, self.d.tls_error)
            return False
        self.d.tls = session_info(self.w.get_extra_info("ssl_object"))
        return True


def _is_timeout(exc: BaseException) -> bool:
    """asyncio reports a handshake over ssl_handshake_timeout as ConnectionAbortedError("... taking longer than")."""
    return isinstance(exc, (TimeoutError, asyncio.TimeoutError)) or (
        isinstance(exc, ConnectionAbortedError) and "longer than" in str(exc))


def _tls_error(exc: BaseException) -> str:
    if _is_timeout(exc):
        return "the TLS handshake did not finish in time"
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def run_dialogue(ep: Endpoint, *, timeout: float, ehlo_name: str = "") -> Dialogue:
    """Talk to one endpoint; never raises for anything the server does, never exceeds the phases' limits
    (``timeout`` is --timeout: each phase asks diagnose.engine.timeouts for its own)."""
    limits = Timeouts(timeout)
    d = Dialogue(ep)
    start = time.monotonic()
    transcript = Transcript()
    writer = None
    try:
        try:
            async with asyncio.timeout(limits.connect):
                reader, writer = await open_connection(ep.address, ep.port)
        except (OSError, TimeoutError) as exc:
            d.connect, d.connect_detail = classify_socket_error(exc)
            d.stop("connect", d.connect.value, d.connect_detail)
            return d
        d.connect = ConnectOutcome.CONNECTED
        d.connect_s = time.monotonic() - start
        session = _Session(d, LineReader(reader, timeout=limits.reply, transcript=transcript), writer, limits)
        if ep.implicit_tls and not await session.starttls("TLS handshake"):
            return d
        connected_at = time.monotonic()
        name = ehlo_name or _ehlo_literal(writer)
        talk = {"smtp": _smtp, "imap": _imap, "pop3": _pop3}[ep.protocol]
        try:
            await talk(session, connected_at, name)
        except ProtocolError as exc:
            d.stop(exc.phase, exc.failure.value, exc.detail)
        except (ConnectionError, OSError, TimeoutError) as exc:
            d.stop("send", Failure.CLOSED.value, str(exc) or type(exc).__name__)
    finally:
        d.transcript = transcript.as_list()
        d.elapsed_s = time.monotonic() - start
        if writer is not None:
            writer.transport.abort()
    return d


def _ehlo_literal(writer: asyncio.StreamWriter) -> str:
    """RFC 5321 §4.1.4: a client without a usable host name says EHLO with its address literal."""
    sock = writer.get_extra_info("sockname") or ("127.0.0.1",)
    family = writer.get_extra_info("socket").family if writer.get_extra_info("socket") else socket.AF_INET
    return f"[IPv6:{sock[0]}]" if family == socket.AF_INET6 else f"[{sock[0]}]"


async def _smtp(s: _Session, connected_at: float, ehlo_name: str) -> None:
    d = s.d
    greeting = await s.r.smtp_reply("greeting")
    d.greeting_delay_s = time.monotonic() - connected_at
    d.greeting, d.greeting_code = greeting.text, greeting.code
    if greeting.code != 220:
        d.stop("greeting", "rejected", f"{greeting.code} {greeting.text}")
        await _quit(s, "QUIT")
        return
    d.greeting_ok = True
    ehlo = await _ehlo(s, ehlo_name, "EHLO")
    if ehlo is None:
        return
    d.capabilities = ehlo
    d.starttls_offered = "STARTTLS" in ehlo
    if d.starttls_offered and not s.d.endpoint.implicit_tls:
        await s.send("STARTTLS")
        reply = await s.r.smtp_reply("STARTTLS")
        if reply.code != 220:
            d.starttls_reply = f"{reply.code} {reply.text}"
            d.stop("STARTTLS", "rejected", d.starttls_reply)
            await _quit(s, "QUIT")
            return
        if not await s.starttls("STARTTLS handshake"):
            return
        after = await _ehlo(s, ehlo_name, "EHLO after STARTTLS")
        if after is None:
            return
        d.capabilities_tls = after
    await _quit(s, "QUIT")


async def _ehlo(s: _Session, name: str, phase: str) -> dict[str, str] | None:
    await s.send(f"EHLO {name}")
    reply = await s.r.smtp_reply(phase)
    if reply.code == 250:
        return reply.extensions()
    s.d.stop(phase, "rejected", f"{reply.code} {reply.text}")
    return None


async def _quit(s: _Session, command: str) -> None:
    """Say goodbye, but never wait long for the answer (the session's results are already in)."""
    try:
        await s.send(command)
        s.r.timeout = s.limits.goodbye
        await s.r.line("goodbye")
    except (ProtocolError, OSError, TimeoutError):
        pass


async def _imap(s: _Session, connected_at: float, _name: str) -> None:
    d = s.d
    greeting = await s.r.line("greeting")
    d.greeting_delay_s = time.monotonic() - connected_at
    d.greeting = greeting
    upper = greeting.upper()
    if not (upper.startswith("* OK") or upper.startswith("* PREAUTH")):
        d.stop("greeting", "rejected" if upper.startswith("* BYE") else Failure.GARBAGE.value, greeting)
        return
    d.greeting_ok = True
    caps = await _imap_caps(s, "a1", "CAPABILITY")
    d.capabilities = caps
    d.starttls_offered = "STARTTLS" in caps
    if d.starttls_offered and not d.endpoint.implicit_tls:
        await s.send("a2 STARTTLS")
        lines = await s.r.until("STARTTLS", lambda line: line.startswith("a2 "))
        if not lines[-1].upper().startswith("A2 OK"):
            d.starttls_reply = lines[-1][3:]
            d.stop("STARTTLS", "rejected", d.starttls_reply)
            return
        if not await s.starttls("STARTTLS handshake"):
            return
        d.capabilities_tls = await _imap_caps(s, "a3", "CAPABILITY after STARTTLS")
    await _quit(s, "a9 LOGOUT")


async def _imap_caps(s: _Session, tag: str, phase: str) -> dict[str, str]:
    await s.send(f"{tag} CAPABILITY")
    lines = await s.r.until(phase, lambda line: line.startswith(f"{tag} "))
    if not lines[-1].upper().startswith(f"{tag.upper()} OK"):
        raise ProtocolError(phase, Failure.GARBAGE, lines[-1])
    caps: dict[str, str] = {}
    for line in lines:
        for cap in imap_capabilities(line):
            caps[cap] = ""
    return caps


async def _pop3(s: _Session, connected_at: float, _name: str) -> None:
    d = s.d
    greeting = await s.r.line("greeting")
    d.greeting_delay_s = time.monotonic() - connected_at
    d.greeting = greeting
    if not greeting.startswith("+OK"):
        d.stop("greeting", "rejected" if greeting.startswith("-ERR") else Failure.GARBAGE.value, greeting)
        return
    d.greeting_ok = True
    d.capabilities = await _pop3_capa(s, "CAPA")
    d.starttls_offered = "STLS" in d.capabilities
    if d.starttls_offered and not d.endpoint.implicit_tls:
        await s.send("STLS")
        reply = await s.r.line("STLS")
        if not reply.startswith("+OK"):
            d.starttls_reply = reply
            d.stop("STLS", "rejected", reply)
            return
        if not await s.starttls("STLS handshake"):
            return
        d.capabilities_tls = await _pop3_capa(s, "CAPA after STLS")
    await _quit(s, "QUIT")


async def _pop3_capa(s: _Session, phase: str) -> dict[str, str]:
    await s.send("CAPA")
    first = await s.r.line(phase)
    if not first.startswith("+OK"):
        return {}  # CAPA is optional (RFC 2449); -ERR means no capability list
    lines = await s.r.until(phase, lambda line: line == ".")
    caps = {}
    for line in lines[:-1]:
        keyword, _, params = line.strip().partition(" ")
        if keyword:
            caps[keyword.upper()] = params
    return caps
