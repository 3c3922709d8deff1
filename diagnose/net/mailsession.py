"""An authenticated session with a submission, IMAP or POP3 server, for the login and round-trip checks.

Credentials go only over TLS whose certificate verifies (system roots + --ca-file, host name
checked), unless --allow-plaintext-auth. The transcript shows ``AUTH PLAIN ****``, ``PASS ****``:
the secret part of a command is replaced before it is recorded, and every line recorded is also
scrubbed of the password and its base64 forms, in case a server echoes it.

With an OAuth 2.0 access token (``Credentials.kind`` "oauth2") the login is SASL XOAUTH2 or OAUTHBEARER
(RFC 7628), whichever the capabilities offer; a refused token gets an error challenge (334 / +, base64
JSON) that is decoded into ``Login.challenge`` and answered (empty line, or 0x01 for OAUTHBEARER) so the
server's real failure arrives.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import re
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from diagnose.engine.credentials import (
    ERROR_ANSWER,
    MASK,
    OAUTH_MECHANISMS,
    Credentials,
    sasl_oauth_response,
    scrub,
)
from diagnose.engine.timeouts import Timeouts
from diagnose.knowledge.authreply import (
    Outcome,
    imap_caps,
    imap_outcome,
    imap_quotable,
    oauth_challenge,
    oauth_mechanisms_offered,
    password_mechanisms_offered,
    pop_caps,
    pop_outcome,
    quote,
    smtp_outcome,
)
from diagnose.knowledge.replies import SmtpReply
from diagnose.knowledge.sanitize import clean
from diagnose.net.dialogue import Endpoint
from diagnose.net.guard import open_connection
from diagnose.net.protocol import Failure, LineReader, ProtocolError, Transcript, command_bytes
from diagnose.net.tcp import classify_socket_error
from diagnose.net.tls import sni_name, verifying_context

MAX_BYTES = 4 * 1024 * 1024  # one session, all replies together (the round trip fetches a header block)


class ScrubbedTranscript(Transcript):
    """Lines scrubbed of the credentials; a long session (the round trip's polling) keeps its first
    ``head`` lines (the login) and its last ``tail`` lines (where it ended), not just the beginning."""

    def __init__(self, creds: Credentials | None, head: int = 30, tail: int = 50) -> None:
        super().__init__()
        self.creds = creds
        self.head = head
        self.tail: deque[str] = deque(maxlen=tail)

    def add(self, who: str, text: str) -> None:
        shown = clean(scrub(text, self.creds) if self.creds else text, limit=300, keep_newlines=False)
        if self.creds:  # again after cleaning: control characters inside an echo must not hide a password
            shown = scrub(shown, self.creds)
        line = f"{who}: {shown}"
        if len(self.lines) < self.head:
            self.lines.append(line)
            return
        if len(self.tail) == self.tail.maxlen:
            self.dropped += 1
        self.tail.append(line)

    def as_list(self) -> list[str]:
        return self.lines + ([f"… {self.dropped} lines left out"] if self.dropped else []) + list(self.tail)


@dataclass
class Login:
    """How one login went; ``words`` is the server's own (sanitized) answer."""

    endpoint: Endpoint
    user: str
    outcome: Outcome = Outcome.BROKEN
    mechanism: str = ""
    tls_version: str = ""  # "" when the credentials went without TLS
    words: str = ""
    code: int | None = None  # SMTP reply code of the AUTH answer
    offered: list[str] = field(default_factory=list)  # mechanisms the server offered
    transcript: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds (connect, greeting, TLS, auth)
    challenge: dict[str, str] = field(default_factory=dict)  # the decoded XOAUTH2/OAUTHBEARER error challenge
    alerts: list[str] = field(default_factory=list)  # IMAP [ALERT] texts the server sent during the login


class MailSession:
    """Connect, secure, log in; then the round trip keeps using ``smtp()``/``imap()``/``pop()``."""

    def __init__(self, ep: Endpoint, creds: Credentials, *, timeout: float, ca_file: Path | None = None,
                 allow_plaintext: bool = False, ehlo_name: str = "") -> None:
        self.ep, self.creds, self.timeout = ep, creds, timeout
        self.limits = Timeouts(timeout)  # every wait below asks the policy
        self.ca_file, self.allow_plaintext, self.ehlo_name = ca_file, allow_plaintext, ehlo_name
        self.transcript = ScrubbedTranscript(creds)
        self.result = Login(ep, creds.user)
        self.reader: LineReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.caps: dict[str, str] = {}
        self._tag = 0
        self._start = self._last = time.monotonic()

    @property
    def connected_reader(self) -> LineReader:
        """The reader of the open connection; ConnectionError when there is none."""
        if self.reader is None:
            raise ConnectionError("the mail session is not connected")
        return self.reader

    @property
    def connected_writer(self) -> asyncio.StreamWriter:
        """The writer of the open connection; ConnectionError when there is none."""
        if self.writer is None:
            raise ConnectionError("the mail session is not connected")
        return self.writer

    def _mark(self, phase: str) -> None:
        now = time.monotonic()
        self.result.timings[phase] = round(self.result.timings.get(phase, 0.0) + now - self._last, 4)
        self._last = now

    # -- plumbing -------------------------------------------------------------
    async def send(self, line: str, shown: str | None = None) -> None:
        """Send one line; the transcript records ``shown`` instead when the line carries a secret."""
        data = command_bytes(line)  # raises (nothing written) for CR/LF/NUL inside the line
        self.transcript.add("C", line if shown is None else shown)
        self.connected_writer.write(data)
        async with asyncio.timeout(self.limits.reply):
            await self.connected_writer.drain()

    def done(self, outcome: Outcome, words: str = "", **kw) -> Login:
        r = self.result
        r.outcome, r.words = outcome, scrub(words, self.creds)[:400]
        answered = (Outcome.OK, Outcome.REJECTED, Outcome.LOCKED, Outcome.EXPIRED, Outcome.TEMPORARY)
        self._mark("auth" if r.mechanism or outcome in answered else "setup")
        for k, v in kw.items():
            setattr(r, k, v)
        r.transcript = self.transcript.as_list()
        r.elapsed_s = time.monotonic() - self._start
        return r

    async def close(self, polite: str = "") -> None:
        if self.writer is None:
            return
        try:
            if polite:
                await self.send(polite)
                self.connected_reader.timeout = self.limits.goodbye
                await self.connected_reader.line("goodbye")
        except (ProtocolError, OSError, TimeoutError):
            pass
        finally:
            self.connected_writer.transport.abort()
            self.writer = None
            self.result.transcript = self.transcript.as_list()

    async def _tls(self, phase: str) -> bool:
        try:
            await self.connected_writer.start_tls(verifying_context(self.ca_file),
                                                  server_hostname=sni_name(self.ep.host),
                                                  ssl_handshake_timeout=self.limits.tls)
        except ssl.SSLCertVerificationError as exc:
            self.done(Outcome.TLS_UNTRUSTED, exc.verify_message or exc.reason or str(exc))
            return False
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            self.done(
                Outcome.TLS_REQUIRED, f"{phase} failed: {getattr(exc, 'reason', '') or exc or type(exc).__name__}"
            )
            return False
        self.result.tls_version = self.connected_writer.get_extra_info("ssl_object").version() or "TLS"
        self._mark("TLS")
        return True

    # -- the whole login --------------------------------------------------------
    async def login(self) -> Login:
        """Connect, greet, secure and authenticate; never raises for what the server does."""
        ep = self.ep
        try:
            async with asyncio.timeout(self.limits.connect):
                reader, self.writer = await open_connection(ep.address, ep.port)
        except (OSError, TimeoutError) as exc:
            outcome, detail = classify_socket_error(exc)
            return self.done(Outcome.UNREACHABLE, f"{outcome.value}: {detail}")
        self._mark("connect")
        self.reader = LineReader(reader, timeout=self.limits.reply, transcript=self.transcript, max_total=MAX_BYTES)
        if ep.implicit_tls and not await self._tls("TLS handshake"):
            return self.result
        try:
            return await {"smtp": self._smtp, "imap": self._imap, "pop3": self._pop3}[ep.protocol]()
        except ProtocolError as exc:
            return self.done(Outcome.BROKEN, f"{exc.phase}: {exc.failure.value} {exc.detail}".strip())
        except (OSError, TimeoutError) as exc:
            return self.done(Outcome.BROKEN, f"connection lost: {exc or type(exc).__name__}")

    def _secured(self) -> Outcome | None:
        """None: go on (TLS is up, or plaintext is allowed); else why the credentials stay here."""
        if self.result.tls_version or self.allow_plaintext:
            return None
        return Outcome.TLS_REQUIRED

    def _b64(self, raw: str) -> str:
        return base64.b64encode(raw.encode("utf-8")).decode("ascii")

    def _oauth_choice(self, offered: list[str]) -> str | None:
        """The OAuth mechanism to use (OAUTHBEARER first, RFC 7628), or None; records the choice."""
        names = oauth_mechanisms_offered(offered)
        mech = next((m for m in OAUTH_MECHANISMS if m in names), None)
        if mech:
            self.result.mechanism = mech
        return mech

    def _no_oauth(self) -> Login:
        offered = " ".join(self.result.offered) or "nothing"
        return self.done(Outcome.NO_MECHANISM, f"no OAuth mechanism (XOAUTH2, OAUTHBEARER) offered; offered: {offered}")

    def _password_refused_here(self) -> Login | None:
        """A password where the server offers only OAuth mechanisms: it no longer accepts passwords (nothing
        is sent). With other mechanisms besides (GSSAPI ...) it stays "no usable mechanism"."""
        oauth = oauth_mechanisms_offered(self.result.offered)
        if oauth and len(oauth) == len(self.result.offered) and not password_mechanisms_offered(self.result.offered):
            return self.done(Outcome.OAUTH_REQUIRED, f"the server offers only OAuth ({' '.join(oauth)}), no "
                             "login with a password")
        return None

    def _answer_challenge(self, mech: str, text: str) -> str:
        """Record the error challenge (base64 JSON) and give the answer that lets the failure arrive."""
        self.result.challenge = oauth_challenge(text)
        return ERROR_ANSWER[mech]

    def _wait(self, login: bool) -> float:
        """The limit of one reply; a login's answer may come late (``Timeouts.login_reply``)."""
        return self.limits.login_reply if login else self.limits.reply

    # -- SMTP (RFC 4954) ---------------------------------------------------------
    async def smtp(self, line: str, phase: str, shown: str | None = None, *, login: bool = False) -> SmtpReply:
        await self.send(line, shown)
        self.connected_reader.timeout = self._wait(login)
        try:
            return await self.connected_reader.smtp_reply(phase)
        finally:
            self.connected_reader.timeout = self.limits.reply

    async def smtp_reply_only(self, phase: str) -> SmtpReply:
        """The reply to something already written (the end of a message's data)."""
        async with asyncio.timeout(self.limits.reply):
            await self.connected_writer.drain()
        return await self.connected_reader.smtp_reply(phase)

    async def _smtp(self) -> Login:
        greeting = await self.connected_reader.smtp_reply("greeting")
        self._mark("greeting")
        if greeting.code != 220:
            return self.done(Outcome.UNREACHABLE, f"{greeting.code} {greeting.text}", code=greeting.code)
        name = self.ehlo_name or "[127.0.0.1]"
        ehlo = await self.smtp(f"EHLO {name}", "EHLO")
        caps = ehlo.extensions() if ehlo.code == 250 else {}
        if not self.ep.implicit_tls and "STARTTLS" in caps:
            reply = await self.smtp("STARTTLS", "STARTTLS")
            if reply.code == 220:
                if not await self._tls("STARTTLS handshake"):
                    return self.result
                caps = (await self.smtp(f"EHLO {name}", "EHLO after STARTTLS")).extensions()
        self.caps = caps
        why = self._secured()
        if why:
            return self.done(why, "the server offers no STARTTLS" if "STARTTLS" not in caps else "STARTTLS failed")
        mechs = caps.get("AUTH", "").upper().split()
        self.result.offered = mechs
        if "AUTH" not in caps:
            if not self.result.tls_version:
                return self.done(Outcome.DISABLED_BEFORE_TLS, "no AUTH offered on the unencrypted connection")
            return self.done(Outcome.NO_MECHANISM, "the server offers no AUTH")
        user, pw = self.creds.user, self.creds.password.reveal()
        token = self.creds.oauth2
        if token:
            mech = self._oauth_choice(mechs) or ""
            if not mech:
                return self._no_oauth()
            payload = sasl_oauth_response(mech, user, pw)
            if len(f"AUTH {mech} {payload}") <= 510:  # RFC 4954 §4: within SMTP's 512-octet command line
                reply = await self.smtp(f"AUTH {mech} {payload}", "AUTH", f"AUTH {mech} {MASK}", login=True)
            else:  # a long token (Entra ID's JWTs): the response after the server's empty 334 (RFC 4954 §4)
                reply = await self.smtp(f"AUTH {mech}", "AUTH")
                if reply.code == 334:
                    reply = await self.smtp(payload, "AUTH response", MASK, login=True)
            if reply.code == 334:
                reply = await self.smtp(self._answer_challenge(mech, reply.text), "AUTH error challenge", login=True)
            return self.done(smtp_outcome(reply, bool(self.result.tls_version), token=True),
                             f"{reply.code} {reply.text}", mechanism=mech, code=reply.code)
        refused = self._password_refused_here()
        if refused:
            return refused
        if "PLAIN" in mechs:
            payload = self._b64(f"\0{user}\0{pw}")
            reply = await self.smtp(f"AUTH PLAIN {payload}", "AUTH", f"AUTH PLAIN {MASK}", login=True)
            mech = "PLAIN"
        elif "LOGIN" in mechs:
            mech = "LOGIN"
            reply = await self.smtp("AUTH LOGIN", "AUTH")
            if reply.code == 334:
                reply = await self.smtp(self._b64(user), "AUTH LOGIN user", MASK)
            if reply.code == 334:
                reply = await self.smtp(self._b64(pw), "AUTH LOGIN password", MASK, login=True)
        elif "CRAM-MD5" in mechs:  # RFC 2195: an HMAC of the server's challenge, the password stays here
            mech = "CRAM-MD5"
            reply = await self.smtp("AUTH CRAM-MD5", "AUTH")
            if reply.code == 334:
                try:
                    challenge = base64.b64decode(reply.text.strip(), validate=True)
                except ValueError:
                    return self.done(Outcome.BROKEN, "CRAM-MD5 challenge is not base64", mechanism=mech)
                digest = hmac.new(pw.encode("utf-8"), challenge, "md5").hexdigest()
                reply = await self.smtp(self._b64(f"{user} {digest}"), "AUTH CRAM-MD5 response", MASK, login=True)
        else:
            return self.done(Outcome.NO_MECHANISM, f"offered: {' '.join(mechs) or 'nothing'}")
        return self.done(smtp_outcome(reply, bool(self.result.tls_version)), f"{reply.code} {reply.text}",
                         mechanism=mech, code=reply.code)

    # -- IMAP (RFC 9051) ------------------------------------------------------------
    async def imap(self, command: str, phase: str, shown: str | None = None, *, login: bool = False,
                   on_continue: str | None = None, literals: list[bytes] | None = None,
                   on_challenge: Callable[[str], str] | None = None) -> list[str]:
        """Send a tagged command; the untagged lines and the tagged status line (last).

        ``on_continue``: the line to send after a ``+`` continuation (SASL). ``on_challenge``: for a
        later ``+`` (a SASL error challenge), the answer to send, given the challenge text. ``literals``:
        IMAP literals in the answer ({n} at a line end) are collected there, raw."""
        self._tag += 1
        tag = f"m{self._tag}"
        await self.send(f"{tag} {command}", f"{tag} {shown}" if shown else None)
        self.connected_reader.timeout = self._wait(login)
        lines: list[str] = []
        try:
            # one deadline for the whole reply, not per line: a server that trickles untagged
            # lines for ever must not hold the check past its time budget
            async with asyncio.timeout(self._wait(login)):
                for _ in range(100_000):
                    line = await self.connected_reader.line(phase)
                    if line.startswith("+") and on_continue is not None:
                        await self.send(on_continue, MASK)
                        on_continue = None
                        continue
                    if line.startswith("+") and on_challenge is not None:
                        await self.send(on_challenge(line[1:].strip()))
                        on_challenge = None
                        continue
                    m = re.search(r"\{(\d{1,9})\}$", line)
                    if m:
                        data = await self.connected_reader.exactly(int(m.group(1)), phase)
                        if literals is not None:
                            literals.append(data)
                    lines.append(line)
                    if line.upper().startswith(f"{tag.upper()} "):
                        lines[-1] = line[len(tag) + 1:]
                        return lines
                raise ProtocolError(phase, Failure.TOO_LONG, "too many lines")
        except TimeoutError:
            raise ProtocolError(phase, Failure.TIMEOUT, "no complete reply in time") from None
        finally:
            self.connected_reader.timeout = self.limits.reply

    async def _imap(self) -> Login:
        greeting = await self.connected_reader.line("greeting")
        self._mark("greeting")
        if not greeting.upper().startswith("* OK"):
            return self.done(Outcome.UNREACHABLE, greeting)
        caps = imap_caps(await self.imap("CAPABILITY", "CAPABILITY"))
        if not self.ep.implicit_tls and "STARTTLS" in caps:
            if (await self.imap("STARTTLS", "STARTTLS"))[-1].upper().startswith("OK"):
                if not await self._tls("STARTTLS handshake"):
                    return self.result
                caps = imap_caps(await self.imap("CAPABILITY", "CAPABILITY after STARTTLS"))
        self.caps = caps
        why = self._secured()
        if why:
            return self.done(why, "the server offers no STARTTLS" if "STARTTLS" not in caps else "STARTTLS failed")
        self.result.offered = [c[5:] for c in caps if c.startswith("AUTH=")] + (
            [] if "LOGINDISABLED" in caps else ["LOGIN"]
        )
        user, pw = self.creds.user, self.creds.password.reveal()
        if self.creds.oauth2:
            return await self._imap_oauth(caps, user, pw)
        if "LOGINDISABLED" in caps and not self.result.tls_version:
            return self.done(Outcome.DISABLED_BEFORE_TLS, "the server says LOGINDISABLED on the unencrypted connection")
        if "AUTH=PLAIN" not in caps and "LOGINDISABLED" in caps:
            refused = self._password_refused_here()
            if refused:
                return refused
        if "AUTH=PLAIN" in caps:
            mech, payload = "AUTHENTICATE PLAIN", self._b64(f"\0{user}\0{pw}")
            if "SASL-IR" in caps:
                lines = await self.imap(f"AUTHENTICATE PLAIN {payload}", "AUTHENTICATE", f"AUTHENTICATE PLAIN {MASK}",
                                        login=True)
            else:
                lines = await self.imap("AUTHENTICATE PLAIN", "AUTHENTICATE", login=True, on_continue=payload)
        elif "LOGINDISABLED" not in caps and imap_quotable(user) and imap_quotable(pw):
            mech = "LOGIN"
            lines = await self.imap(f"LOGIN {quote(user)} {quote(pw)}", "LOGIN", f"LOGIN {quote(user)} {MASK}",
                                    login=True)
        else:
            return self.done(Outcome.NO_MECHANISM, f"offered: {' '.join(self.result.offered) or 'nothing'}")
        return self._imap_done(lines, mech)

    def _imap_done(self, lines: list[str], mech: str) -> Login:
        status = lines[-1]
        self.caps = imap_caps(lines) or self.caps  # servers announce the logged-in capabilities (e.g. UIDPLUS) here
        alerts = [clean(m.group(1), limit=300) for line in lines
                  for m in [re.search(r"\[ALERT\]\s*(.*)", line, re.I)] if m]
        self.result.alerts = alerts
        outcome = imap_outcome(status, bool(self.result.tls_version), token=self.creds.oauth2, alerts=tuple(alerts))
        return self.done(outcome, status, mechanism=mech)

    async def _imap_oauth(self, caps: dict[str, str], user: str, token: str) -> Login:
        mech = self._oauth_choice([c[5:] for c in caps if c.startswith("AUTH=")])
        if not mech:
            return self._no_oauth()
        payload = sasl_oauth_response(mech, user, token)
        answer = lambda text: self._answer_challenge(mech, text)  # noqa: E731 - one line, used twice
        if "SASL-IR" in caps:  # RFC 4959: the initial response in the command itself
            lines = await self.imap(f"AUTHENTICATE {mech} {payload}", "AUTHENTICATE", f"AUTHENTICATE {mech} {MASK}",
                                    login=True, on_challenge=answer)
        else:
            lines = await self.imap(f"AUTHENTICATE {mech}", "AUTHENTICATE", login=True, on_continue=payload,
                                    on_challenge=answer)
        return self._imap_done(lines, f"AUTHENTICATE {mech}")

    # -- POP3 (RFC 1939, RFC 5034) -------------------------------------------------------
    async def pop(self, command: str, phase: str, shown: str | None = None, *, login: bool = False,
                  multiline: bool = False) -> list[str]:
        """The status line, then (``multiline`` and +OK) the lines up to ".", dot-unstuffed."""
        await self.send(command, shown)
        self.connected_reader.timeout = self._wait(login)
        try:
            first = await self.connected_reader.line(phase)
            if not (multiline and first.startswith("+OK")):
                return [first]
            body = await self.connected_reader.until(phase, lambda s: s == ".", max_lines=100_000)
            return [first] + [s[1:] if s.startswith("..") else s for s in body[:-1]]
        finally:
            self.connected_reader.timeout = self.limits.reply

    async def _pop3(self) -> Login:
        greeting = await self.connected_reader.line("greeting")
        self._mark("greeting")
        if not greeting.startswith("+OK"):
            return self.done(Outcome.UNREACHABLE, greeting)
        caps = pop_caps(await self.pop("CAPA", "CAPA", multiline=True))
        if not self.ep.implicit_tls and "STLS" in caps:
            if (await self.pop("STLS", "STLS"))[0].startswith("+OK"):
                if not await self._tls("STLS handshake"):
                    return self.result
                caps = pop_caps(await self.pop("CAPA", "CAPA after STLS", multiline=True))
        self.caps = caps
        why = self._secured()
        if why:
            return self.done(why, "the server offers no STLS" if "STLS" not in caps else "STLS failed")
        sasl = caps.get("SASL", "").upper().split()
        self.result.offered = (["USER"] if "USER" in caps or not caps else []) + [f"SASL {m}" for m in sasl]
        user, pw = self.creds.user, self.creds.password.reveal()
        if self.creds.oauth2:
            return await self._pop3_oauth(sasl, user, pw)
        if "PLAIN" not in sasl and "USER" not in caps and caps:
            refused = self._password_refused_here()
            if refused:
                return refused
        if "PLAIN" in sasl:
            mech = "SASL PLAIN"
            payload = self._b64(f"\0{user}\0{pw}")
            status = (await self.pop(f"AUTH PLAIN {payload}", "AUTH", f"AUTH PLAIN {MASK}", login=True))[0]
        elif "USER" in caps or not caps:  # no CAPA at all: USER/PASS is the RFC 1939 default
            mech = "USER/PASS"
            status = (await self.pop(f"USER {user}", "USER"))[0]
            if status.startswith("+OK"):
                status = (await self.pop(f"PASS {pw}", "PASS", f"PASS {MASK}", login=True))[0]
        else:
            if not self.result.tls_version:
                return self.done(Outcome.DISABLED_BEFORE_TLS, "no login offered on the unencrypted connection")
            return self.done(Outcome.NO_MECHANISM, f"offered: {' '.join(self.result.offered) or 'nothing'}")
        return self.done(pop_outcome(status, bool(self.result.tls_version)), status, mechanism=mech)

    async def _pop3_oauth(self, sasl: list[str], user: str, token: str) -> Login:
        mech = self._oauth_choice(sasl)
        if not mech:
            return self._no_oauth()
        payload = sasl_oauth_response(mech, user, token)
        if len(f"AUTH {mech} {payload}") <= 255:  # RFC 5034 §4: longer initial responses go after a "+"
            status = (await self.pop(f"AUTH {mech} {payload}", "AUTH", f"AUTH {mech} {MASK}", login=True))[0]
        else:
            status = (await self.pop(f"AUTH {mech}", "AUTH", login=True))[0]
            if status.startswith("+") and not status.startswith("+OK"):
                status = (await self.pop(payload, "AUTH response", MASK, login=True))[0]
        if status.startswith("+") and not status.startswith("+OK"):  # the error challenge
            status = (await self.pop(self._answer_challenge(mech, status[1:].strip()), "AUTH error challenge",
                                     login=True))[0]
        return self.done(pop_outcome(status, bool(self.result.tls_version), token=True), status,
                         mechanism=f"SASL {mech}")
