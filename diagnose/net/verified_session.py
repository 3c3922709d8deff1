"""The probe's fast path: one session over a blocking socket that succeeds only when all is well.

Connect, greeting, EHLO/CAPABILITY/CAPA, STARTTLS (or TLS from the start) and a handshake that
OpenSSL verifies like a mail client (system roots plus --ca-file, the host name checked), then the
leaf's expiry from the verified certificate. Anything else (a refusal, an odd reply, no STARTTLS, a
certificate OpenSSL does not accept, an expiry inside the warning days) ends it with ``Quick.ok``
false, and the caller runs the full dialogue (diagnose.net.dialogue) and certificate judgement
(diagnose.knowledge.certs), which explain what is wrong. A wait that runs out is reported as such
(``timed_out``), so the caller never waits twice. Every wait is bounded by the phase limit and by
``deadline`` (time.monotonic()).

Nothing but CPython's socket and TLS C modules (diagnose.net.rawtls): no asyncio, no cryptography, and
none of socket, ssl, re, enum, functools, dataclasses, datetime, pathlib or typing either (each costs
the probe's start-up milliseconds; tests/test_probe_fastpath.py checks).
"""

from __future__ import annotations

import time

from diagnose.engine.timeouts import Timeouts
from diagnose.knowledge.replies import (
    MAX_LINE,
    MAX_REPLY_LINES,
    MAX_SESSION,
    SmtpReply,
    imap_capabilities,
    smtp_reply_line,
)
from diagnose.knowledge.sanitize import clean
from diagnose.net import rawtls
from diagnose.net.roots import load_system_roots

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name)
if TYPE_CHECKING:
    import _ssl


class _Stop(Exception):
    """The fast path ends here: ``timed_out`` when a wait ran out, else something to explain in full."""

    def __init__(self, phase: str, timed_out: bool = False, detail: str = "") -> None:
        super().__init__(phase)
        self.phase, self.timed_out, self.detail = phase, timed_out, detail


class Quick:
    """What the fast session saw. ``ok``: verified TLS, certificate valid for more than the warning days.
    The class attributes are the defaults (all immutable); the session sets them on its instance."""

    ok: bool = False
    connected: bool = False
    connect_error: OSError | None = None  # the connect() failure, for diagnose.net.tcp to classify
    timed_out_phase: str = ""  # the phase whose wait ran out ("" = none)
    timeout_detail: str = ""
    greeting: str = ""
    greeting_code: int | None = None
    greeting_ok: bool = False
    greeting_delay_s: float | None = None
    tls_version: str = ""  # set once a handshake verified
    chain_der: tuple[bytes, ...] = ()  # the certificates the server sent, leaf first (DER)
    days_left: int | None = None
    why_not: str = ""  # why the fast path stopped (for the record; the full path says it to the user)


_CONTEXTS: dict[str | None, _ssl._SSLContext] = {}  # mail_client_context()'s, by --ca-file


def mail_client_context(ca_file: str | None) -> _ssl._SSLContext:
    """A mail client's context, made once per --ca-file: host names checked against the subject alternative
    names only (never more lenient than knowledge.certs), the system's roots (diagnose.net.roots, as the
    full path's verifying contexts load them: the hashed directory, OpenSSL reading the one root a chain
    needs, rather than ~25 ms of parsing the bundle) plus --ca-file."""
    ctx = _CONTEXTS.get(ca_file)
    if ctx is None:
        # level 2: RSA keys under 2048 bits and SHA-1 signatures fail verification (knowledge.certs's weak
        # key and weak signature), whatever the system's openssl.cnf says
        ctx = rawtls.client_context("DEFAULT:@SECLEVEL=2")
        load_system_roots(ctx)
        if ca_file is not None:
            ctx.load_verify_locations(ca_file)
        _CONTEXTS[ca_file] = ctx
    return ctx


def forget_contexts() -> None:
    """Make the contexts anew at the next session (the trust store changed: tests)."""
    _CONTEXTS.clear()


class _Lines:
    """CRLF lines from a blocking socket, with the caps of diagnose.net.protocol and a deadline."""

    def __init__(self, sock: rawtls.Socket | rawtls.TlsSocket, limits: Timeouts, deadline: float) -> None:
        self.sock, self.limits, self.deadline = sock, limits, deadline
        self.buf = bytearray()
        self.total = 0

    def wait(self, limit: float, phase: str) -> None:
        left = min(limit, self.deadline - time.monotonic())
        if left <= 0:
            raise _Stop(phase, timed_out=True, detail="no complete reply")
        self.sock.settimeout(left)

    def line(self, phase: str) -> str:
        until = time.monotonic() + self.limits.reply  # one whole reply within the reply limit
        while (end := self.buf.find(b"\n")) < 0:
            if len(self.buf) > MAX_LINE:
                raise _Stop(phase, detail="a line too long")
            self.wait(until - time.monotonic(), phase)
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                partial = clean(self.buf[:200].decode("utf-8", "replace"), keep_newlines=False)
                raise _Stop(phase, timed_out=True, detail=f"partial: {partial}" if partial else "") from None
            if not chunk:
                raise _Stop(phase, detail="closed")
            self.total += len(chunk)
            if self.total > MAX_SESSION:
                raise _Stop(phase, detail="too much data")
            self.buf += chunk
        raw = bytes(self.buf[:end])
        del self.buf[: end + 1]
        return clean(raw.rstrip(b"\r").decode("utf-8", "replace"), limit=MAX_LINE, keep_newlines=False)

    def smtp_reply(self, phase: str) -> SmtpReply:
        try:
            return self._smtp_reply(phase)
        except _Stop as stop:
            if stop.timed_out:
                stop.detail = "no complete reply"  # as diagnose.net.protocol words it
            raise

    def _smtp_reply(self, phase: str) -> SmtpReply:
        lines: list[str] = []
        code: str | None = None
        while len(lines) < MAX_REPLY_LINES:
            parsed = smtp_reply_line(self.line(phase), code)
            if parsed is None:
                raise _Stop(phase, detail="not an SMTP reply")
            code, rest, last = parsed
            lines.append(rest)
            if last:
                return SmtpReply(int(code), tuple(lines))
        raise _Stop(phase, detail="a reply too long")

    def until(self, phase: str, done) -> list[str]:
        lines: list[str] = []
        while len(lines) < MAX_REPLY_LINES:
            try:
                lines.append(self.line(phase))
            except _Stop as stop:
                if stop.timed_out:
                    stop.detail = "no complete reply"
                raise
            if done(lines[-1]):
                return lines
        raise _Stop(phase, detail="a reply too long")

    def send(self, text: str, phase: str) -> None:
        if any(c in text for c in "\r\n\0") or not text.isascii():
            raise _Stop(phase, detail="a command the full path must refuse or clean")
        self.wait(self.limits.reply, phase)
        try:
            self.sock.sendall(text.encode("ascii") + b"\r\n")
        except TimeoutError:
            raise _Stop(phase, timed_out=True, detail="could not send") from None
        except OSError as exc:
            raise _Stop(phase, detail=str(exc)) from None


def verified_session(*, host: str, address: str, port: int, protocol: str, implicit_tls: bool, timeout: float,
                     deadline: float, warn_days: int, ca_file: str | None, ehlo_name: str = "") -> Quick:
    """One session to ``address``:``port`` judged on the fast path (see the module); never raises for
    anything the server does. ``host``: the name the certificate must carry (SNI), or an IP address."""
    q = Quick()
    limits = Timeouts(timeout)
    r: _Lines | None = None
    if ":" in address and "%" in address:
        return q  # a scoped IPv6 address: the full path's connection handles its zone
    if not rawtls.AVAILABLE:
        q.why_not = "this Python's TLS module lacks what the fast path uses"
        return q
    try:
        left = min(limits.connect, deadline - time.monotonic())
        # ``address`` is an IP address: connect() directly (getaddrinfo would load the idna codec, ~5 ms)
        try:
            sock = rawtls.Socket(rawtls.AF_INET6 if ":" in address else rawtls.AF_INET, rawtls.SOCK_STREAM)
        except OSError as exc:  # no IPv6 here, say
            q.connect_error = exc
            return q
        try:
            sock.settimeout(max(left, 0.001))
            sock.connect((address, port))
        except OSError as exc:
            sock.close()
            q.connect_error = exc
            return q
        q.connected = True
        r = _Lines(sock, limits, deadline)
        if implicit_tls:
            r.sock = _handshake(r, host, ca_file, "TLS handshake", q)
        connected_at = time.monotonic()
        name = ehlo_name or _address_literal(r.sock)
        {"smtp": _smtp, "imap": _imap, "pop3": _pop3}[protocol](r, q, connected_at, name, host, ca_file,
                                                               implicit_tls)
        _judge_expiry(r.sock, q, warn_days)
    except _Stop as stop:
        q.ok = False
        q.why_not = f"{stop.phase}: {stop.detail}"
        if stop.timed_out:
            q.timed_out_phase, q.timeout_detail = stop.phase, stop.detail
    except OSError as exc:  # a reset, a TLS alert after the handshake: the full path says what happened
        q.ok = False
        q.why_not = f"{type(exc).__name__}: {exc}"
    finally:
        if r is not None:
            r.sock.close()  # the TLS socket once wrapped (the plain one is detached then)
    return q


def _handshake(r: _Lines, host: str, ca_file: str | None, phase: str, q: Quick) -> rawtls.TlsSocket:
    if r.buf:
        raise _Stop(phase, detail="data before the handshake")  # the full path reports the injection
    if not isinstance(r.sock, rawtls.Socket):
        raise _Stop(phase, detail="TLS inside TLS")
    r.wait(r.limits.tls, phase)
    try:
        tls = rawtls.TlsSocket(mail_client_context(ca_file), r.sock, host)
        tls.handshake()
    except TimeoutError:
        raise _Stop(phase, timed_out=True, detail="the TLS handshake did not finish in time") from None
    except (OSError, ValueError) as exc:  # ssl.SSLError (a certificate OpenSSL refuses) is an OSError
        raise _Stop(phase, detail=str(exc)) from None
    q.chain_der, verified = tls.chains_der()
    # --ca-file may hold intermediates a client would not have: knowledge.certs reports a chain that needs them
    used = verified[:-1]  # but the root
    if not used or any(der not in q.chain_der for der in used):
        raise _Stop(phase, detail="verified through a CA certificate the server does not send")
    q.tls_version = tls.version()
    return tls


def _judge_expiry(tls: rawtls.Socket | rawtls.TlsSocket, q: Quick, warn_days: int) -> None:
    """OK only for a verified certificate valid for at least ``warn_days`` more (days as knowledge.certs counts)."""
    if not isinstance(tls, rawtls.TlsSocket):
        raise _Stop("TLS", detail="no TLS")
    not_after = _asn1_time(tls.getpeercert().get("notAfter"))
    if not_after is None:
        raise _Stop("TLS", detail="no expiry date")
    seconds = not_after - time.time()
    q.days_left = int(seconds // 86400)
    if seconds < warn_days * 86400:
        raise _Stop("certificate", detail="expires within the warning days")
    q.ok = True


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _asn1_time(text: object) -> float | None:
    """Seconds since the epoch of getpeercert()'s "Jan  5 09:34:43 2027 GMT" (ssl.cert_time_to_seconds
    without its strptime, calendar and locale imports, ~6 ms; nor datetime's); None for anything else."""
    parts = str(text or "").split()
    if len(parts) != 5 or parts[0] not in _MONTHS or parts[4] != "GMT" or parts[2].count(":") != 2:
        return None
    try:
        year, day = int(parts[3]), int(parts[1])
        hour, minute, second = (int(x) for x in parts[2].split(":"))
    except ValueError:
        return None
    if not (1 <= day <= 31 and 0 <= hour < 24 and 0 <= minute < 60 and 0 <= second < 60 and 1 <= year <= 9999):
        return None
    days = _days_from_civil(year, _MONTHS.index(parts[0]) + 1, day)
    return float(days * 86400 + hour * 3600 + minute * 60 + second)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's days_from_civil)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _address_literal(sock: rawtls.Socket | rawtls.TlsSocket) -> str:
    """RFC 5321 §4.1.4: EHLO with the client's address literal (as diagnose.net.dialogue)."""
    addr = sock.getsockname()[0]
    return f"[IPv6:{addr}]" if sock.family == rawtls.AF_INET6 else f"[{addr}]"


def _smtp(r: _Lines, q: Quick, connected_at: float, name: str, host: str, ca_file: str | None,
          implicit: bool) -> None:
    greeting = r.smtp_reply("greeting")
    q.greeting_delay_s = time.monotonic() - connected_at
    q.greeting, q.greeting_code = greeting.text, greeting.code
    if greeting.code != 220:
        raise _Stop("greeting", detail="refused")
    q.greeting_ok = True
    r.send(f"EHLO {name}", "EHLO")
    ehlo = r.smtp_reply("EHLO")
    if ehlo.code != 250:
        raise _Stop("EHLO", detail="refused")
    if not implicit:
        if "STARTTLS" not in ehlo.extensions():
            raise _Stop("EHLO", detail="no STARTTLS")
        r.send("STARTTLS", "STARTTLS")
        if r.smtp_reply("STARTTLS").code != 220:
            raise _Stop("STARTTLS", detail="refused")
        r.sock = _handshake(r, host, ca_file, "STARTTLS handshake", q)
        r.send(f"EHLO {name}", "EHLO after STARTTLS")
        if r.smtp_reply("EHLO after STARTTLS").code != 250:
            raise _Stop("EHLO after STARTTLS", detail="refused")
    _goodbye(r, "QUIT")


def _imap(r: _Lines, q: Quick, connected_at: float, _name: str, host: str, ca_file: str | None,
          implicit: bool) -> None:
    greeting = r.line("greeting")
    q.greeting_delay_s = time.monotonic() - connected_at
    q.greeting = greeting
    if not greeting.upper().startswith(("* OK", "* PREAUTH")):
        raise _Stop("greeting", detail="refused")
    q.greeting_ok = True
    if not implicit:
        if "STARTTLS" not in _imap_caps(r, "a1", "CAPABILITY"):
            raise _Stop("CAPABILITY", detail="no STARTTLS")
        r.send("a2 STARTTLS", "STARTTLS")
        if not r.until("STARTTLS", lambda line: line.startswith("a2 "))[-1].upper().startswith("A2 OK"):
            raise _Stop("STARTTLS", detail="refused")
        r.sock = _handshake(r, host, ca_file, "STARTTLS handshake", q)
    _imap_caps(r, "a3", "CAPABILITY after STARTTLS" if not implicit else "CAPABILITY")
    _goodbye(r, "a9 LOGOUT")


def _imap_caps(r: _Lines, tag: str, phase: str) -> set[str]:
    r.send(f"{tag} CAPABILITY", phase)
    lines = r.until(phase, lambda line: line.startswith(f"{tag} "))
    if not lines[-1].upper().startswith(f"{tag.upper()} OK"):
        raise _Stop(phase, detail="refused")
    return {cap for line in lines for cap in imap_capabilities(line)}


def _pop3(r: _Lines, q: Quick, connected_at: float, _name: str, host: str, ca_file: str | None,
          implicit: bool) -> None:
    greeting = r.line("greeting")
    q.greeting_delay_s = time.monotonic() - connected_at
    q.greeting = greeting
    if not greeting.startswith("+OK"):
        raise _Stop("greeting", detail="refused")
    q.greeting_ok = True
    r.send("CAPA", "CAPA")
    if not r.line("CAPA").startswith("+OK"):
        raise _Stop("CAPA", detail="no capability list")
    caps = {line.strip().partition(" ")[0].upper() for line in r.until("CAPA", lambda line: line == ".")}
    if not implicit:
        if "STLS" not in caps:
            raise _Stop("CAPA", detail="no STLS")
        r.send("STLS", "STLS")
        if not r.line("STLS").startswith("+OK"):
            raise _Stop("STLS", detail="refused")
        r.sock = _handshake(r, host, ca_file, "STLS handshake", q)
        r.send("CAPA", "CAPA after STLS")
        if r.line("CAPA after STLS").startswith("+OK"):
            r.until("CAPA after STLS", lambda line: line == ".")
    _goodbye(r, "QUIT")


def _goodbye(r: _Lines, command: str) -> None:
    """Say goodbye without waiting long for the answer (the results are in), as diagnose.net.dialogue."""
    try:
        r.send(command, "goodbye")
        r.limits = Timeouts(r.limits.goodbye)
        r.line("goodbye")
    except (_Stop, OSError):
        pass
