"""Shared, polite server probes for one diagnosis run.

Design: the greeting, TLS, certificate, auth and DANE checks all need the same dialogue with the
same server. Instead of each check connecting on its own, they ask ``probes(ctx)`` for it; the
first asker starts the session and everyone awaits the same task. The cache lives as long as the
run's CheckContext (a WeakKeyDictionary keyed by it), and is keyed by (host, address, port): the
host name is part of the key because it is the SNI, and one address may serve several names.
At most two connections at a time go to one server address (mail servers rate-limit and ban
scanners that open many at once). An address and port that let a connection or its greeting time
out are not asked again for the next name on them: what comes before TLS does not depend on the
name, and fifty MX names on one silent address must not take fifty timeouts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ssl
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diagnose.engine.facts import MAILBOX_HOSTS, MX_HOSTS, SUBMISSION_HOSTS, FactUnavailable
from diagnose.engine.plugin import CheckContext
from diagnose.engine.timeouts import Timeouts
from diagnose.net.dialogue import Dialogue, Endpoint, run_dialogue
from diagnose.net.guard import open_connection
from diagnose.net.protocol import Failure, LineReader, ProtocolError, command_bytes
from diagnose.net.tls import legacy_supported_here, probe_context, session_info, sni_name

if TYPE_CHECKING:
    from diagnose.knowledge.certs import Verdicts

# connections at a time to one server address: a mailbox host's four ports (143, 993, 110, 995) are
# tried at once; far below what servers allow one client (Postfix 50, Exchange 20 per source)
PER_ADDRESS = 4
SUBMISSION_PORTS = (587, 465)
MX_PORT = 25


@dataclass(frozen=True, eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class NoSniResult:
    """The chain a server sends a client that gives no server name (SNI)."""

    tested: bool
    chain: tuple = ()  # the chain sent to a client that gives no server name (many MTAs send no SNI)
    detail: str = ""


@dataclass(frozen=True, eq=False)
class LegacyResult:
    """Whether a server still accepts a TLS 1.0/1.1 handshake."""

    tested: bool
    accepted: bool = False
    version: str = ""  # what the server agreed to, e.g. "TLSv1.1"
    detail: str = ""  # why not tested, or the handshake error


class ProbeCache:
    def __init__(self, ctx: CheckContext) -> None:
        self.timeout = ctx.timeout  # --timeout, for the probes below
        self.limits: Timeouts = ctx.timeouts
        self.ehlo_name = str(getattr(ctx.options, "ehlo_name", "") or "")
        self._dialogues: dict[tuple, asyncio.Future] = {}
        self._legacy: dict[tuple, asyncio.Future] = {}
        self._no_sni: dict[tuple, asyncio.Future] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._timed_out: dict[tuple[str, int], Dialogue] = {}  # (address, port) -> a connect/greeting timeout

    @functools.cached_property
    def verdicts(self) -> Verdicts:
        """The certificates these sessions got, each judged once (see knowledge.certs.Verdicts)."""
        from diagnose.knowledge.certs import Verdicts  # cryptography: only once a certificate is judged

        return Verdicts()

    def _slot(self, address: str) -> asyncio.Semaphore:
        return self._slots.setdefault(address, asyncio.Semaphore(PER_ADDRESS))

    async def dialogue(self, ep: Endpoint) -> Dialogue:
        key = (ep.host, ep.address, ep.port)
        if key not in self._dialogues:
            self._dialogues[key] = asyncio.ensure_future(self._run(ep))
        return await asyncio.shield(self._dialogues[key])

    async def _run(self, ep: Endpoint) -> Dialogue:
        async with self._slot(ep.address):
            earlier = self._timed_out.get((ep.address, ep.port))
            if earlier is not None:
                return _same_address(earlier, ep)
            d = await run_dialogue(ep, timeout=self.timeout, ehlo_name=self.ehlo_name)
            if d.failure == Failure.TIMEOUT.value and d.failure_phase in ("connect", "greeting"):
                self._timed_out[(ep.address, ep.port)] = d
            return d

    async def legacy(self, ep: Endpoint) -> LegacyResult:
        """Does the server still accept TLS 1.0/1.1? A second session, offering only those."""
        key = (ep.host, ep.address, ep.port)
        if key not in self._legacy:
            self._legacy[key] = asyncio.ensure_future(self._legacy_run(ep))
        return await asyncio.shield(self._legacy[key])

    async def no_sni(self, ep: Endpoint) -> NoSniResult:
        """The certificate a client that sends no SNI gets (Postfix and many MTAs send none by default)."""
        key = (ep.host, ep.address, ep.port)
        if key not in self._no_sni:
            self._no_sni[key] = asyncio.ensure_future(self._no_sni_run(ep))
        return await asyncio.shield(self._no_sni[key])

    async def _no_sni_run(self, ep: Endpoint) -> NoSniResult:
        first = await self.dialogue(ep)
        if first.tls is None:
            return NoSniResult(False, detail="TLS did not work")
        if sni_name(ep.host) is None:
            return NoSniResult(True, first.tls.chain, "the host is an address: no SNI was sent anyway")
        async with self._slot(ep.address):
            try:
                async with asyncio.timeout(self.limits.second_session):
                    ok, _version, chain, detail = await _second_session(
                        ep, self.timeout, self.ehlo_name or "[127.0.0.1]", legacy=False, sni=False)
            except TimeoutError:
                return NoSniResult(False, detail="no answer in time")
        return NoSniResult(ok, chain, detail)

    async def _legacy_run(self, ep: Endpoint) -> LegacyResult:
        why = legacy_supported_here()
        if why:
            return LegacyResult(False, detail=why)
        first = await self.dialogue(ep)
        if first.tls is None and not (first.tls_error and first.failure == "tls"):
            return LegacyResult(False, detail="the session did not get as far as TLS")
        async with self._slot(ep.address):
            try:
                async with asyncio.timeout(self.limits.second_session):
                    ok, version, _chain, detail = await _second_session(
                        ep, self.timeout, self.ehlo_name or "[127.0.0.1]", legacy=True, sni=True)
            except TimeoutError:
                return LegacyResult(False, detail="no answer in time")
        if detail.startswith("refused"):
            return LegacyResult(True, False, detail=detail)
        return LegacyResult(ok, ok, version, detail)


def _same_address(earlier: Dialogue, ep: Endpoint) -> Dialogue:
    """``earlier``'s timeout (before any name-dependent step) as the result for ``ep`` on the same address."""
    note = f"not tried again: {ep.address} port {ep.port} already timed out for {earlier.endpoint.host}"
    return dataclasses.replace(earlier, endpoint=ep, transcript=[*earlier.transcript, note], elapsed_s=0.0,
                               failure_words=f"{earlier.failure_words} ({note})".strip())


async def _second_session(ep: Endpoint, timeout: float, ehlo: str, *, legacy: bool, sni: bool
                          ) -> tuple[bool, str, tuple, str]:
    """Connect again, up to and through the TLS handshake only: (ok, version, chain, detail)."""
    limits = Timeouts(timeout)
    writer = None
    try:
        async with asyncio.timeout(limits.connect):
            reader, writer = await open_connection(ep.address, ep.port)
        lines = LineReader(reader, timeout=limits.reply)
        if not ep.implicit_tls:
            await _upgrade_request(ep, lines, writer, ehlo)
        try:
            await writer.start_tls(probe_context(legacy=legacy), server_hostname=sni_name(ep.host) if sni else None,
                                   ssl_handshake_timeout=limits.tls)
        except (ssl.SSLError, ConnectionError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", "") or type(exc).__name__
            return False, "", (), f"refused: {reason}"
        info = session_info(writer.get_extra_info("ssl_object"))
        return True, info.version, info.chain, ""
    except (ProtocolError, OSError, TimeoutError) as exc:
        return False, "", (), f"the second session failed before TLS: {exc}"
    finally:
        if writer is not None:
            writer.transport.abort()


async def _upgrade_request(ep: Endpoint, lines: LineReader, writer: asyncio.StreamWriter, ehlo: str) -> None:
    """Greeting and STARTTLS/STLS, no more: the plain-text part of a second session."""
    def send(text: str) -> None:
        writer.write(command_bytes(text))  # raises for CR/LF/NUL inside, nothing written

    if ep.protocol == "smtp":
        await lines.smtp_reply("greeting")
        send(f"EHLO {ehlo}")
        await lines.smtp_reply("EHLO")
        send("STARTTLS")
        if (await lines.smtp_reply("STARTTLS")).code != 220:
            raise ProtocolError("STARTTLS", Failure.GARBAGE, "refused")
    elif ep.protocol == "imap":
        await lines.line("greeting")
        send("a1 STARTTLS")
        if not (await lines.until("STARTTLS", lambda s: s.startswith("a1 ")))[-1].upper().startswith("A1 OK"):
            raise ProtocolError("STARTTLS", Failure.GARBAGE, "refused")
    else:
        await lines.line("greeting")
        send("STLS")
        if not (await lines.line("STLS")).startswith("+OK"):
            raise ProtocolError("STLS", Failure.GARBAGE, "refused")


_caches: weakref.WeakKeyDictionary[CheckContext, ProbeCache] = weakref.WeakKeyDictionary()


def probes(ctx: CheckContext) -> ProbeCache:
    """The run's probe cache (one per CheckContext, i.e. per diagnosis)."""
    cache = _caches.get(ctx)
    if cache is None:
        cache = _caches[ctx] = ProbeCache(ctx)
    return cache


async def endpoints(ctx: CheckContext, roles: tuple[str, ...], ports: tuple[int, ...] | None = None
                    ) -> tuple[list[Endpoint], dict[str, str]]:
    """Every (host, address, port) of the roles' hosts; and for each role whose hosts are unknown, why."""
    found: list[Endpoint] = []
    missing: dict[str, str] = {}
    for role in roles:
        try:
            if role == "mx":
                hosts = [(h.name, h.addresses, (MX_PORT,), "MX") for h in await ctx.fact(MX_HOSTS)]
            elif role == "submission":
                hosts = [(h.name, h.addresses, h.ports, h.source) for h in await ctx.fact(SUBMISSION_HOSTS)]
            else:
                hosts = [(h.name, h.addresses, h.ports, h.source) for h in await ctx.fact(MAILBOX_HOSTS)]
        except FactUnavailable as exc:
            missing[role] = exc.reason
            continue
        for name, addresses, host_ports, source in hosts:
            for port in host_ports:
                if ports is None or port in ports:
                    found += [Endpoint(role, name, addr, port, source) for addr in addresses]
    return found, missing


def family(address: str) -> str:
    return "IPv6" if ":" in address else "IPv4"



async def certificate_verdict(ctx: CheckContext, ep: Endpoint):
    """The shared session's certificate verdict for ``ep`` (None without TLS), e.g. for an MTA-STS
    check: ``v = await certificate_verdict(ctx, Endpoint("mx", host, address, 25))`` then
    ``"tls.cert_name_mismatch" in v.codes()`` — no extra connection when the TLS checks ran."""
    import datetime as dt

    from diagnose.net.tls import trust_store

    cache = probes(ctx)
    d = await cache.dialogue(ep)
    if d.tls is None:
        return None
    store = trust_store(ctx.options.ca_file)
    return cache.verdicts.evaluate(d.tls.chain, ep.host, dt.datetime.now(dt.UTC),
                                   int(getattr(ctx.options, "cert_warn_days", 14)), anchors=store.anchors,
                                   intermediates=store.intermediates)
