"""Shared judgement of a server's greeting and capability phases (SMTP, IMAP, POP3 checks).

"Inconclusive is not fail": a busy/refusing greeting, a connection closed mid-dialogue or a
server that stays silent (a tarpit) is status ``error`` with the phase and the server's own
words, "could not be tested from here"; only a server that is reachable and demonstrably broken
fails. Failures in the STARTTLS/TLS phases belong to the TLS check, not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from checks.servercheck import ServerCheck, subject
from diagnose.engine.model import Finding, Status
from diagnose.engine.plugin import CheckContext
from diagnose.net.dialogue import Dialogue, Endpoint
from diagnose.net.probes import probes
from diagnose.net.tcp import ConnectOutcome

SLOW_GREETING_S = 3.0  # seconds; a healthy server greets in well under a second, some clients wait ~30 s
SIBLING = {587: 465, 465: 587, 143: 993, 993: 143, 110: 995, 995: 110}
GREETING_PHASES = ("greeting", "EHLO", "CAPABILITY", "CAPA", "send")


def common_texts(p: str, proto: str) -> dict[str, tuple[str, str]]:
    """Finding texts every greeting check shares, for code prefix ``p`` and protocol name ``proto``."""
    inconclusive = ("This is inconclusive, not a verdict on the server: it could not be tested from here.")
    return {
        f"{p}.greeting": ("", ""),
        f"{p}.not_offered": ("", ""),
        f"{p}.greeting_slow": (
            "{host} took {delay:.1f} s to send its greeting (a healthy server greets within a second). "
            + ("Other mail servers wait for it (RFC 5321 §4.5.3.2 gives them 5 minutes), so mail still "
               "arrives, only later; but mail programs sending through this server wait too, users see "
               "slow sending, and a delay that grows under load runs into the time limits of "
               "impatient clients. " if proto == "SMTP" else
               "Mail programs wait for it on every connection, so users see slow mail checks, and a "
               "delay that grows under load runs into the programs' time limits. ")
            + "Usual causes: slow reverse-DNS or blocklist lookups of the client address on the "
            "server, or a deliberate greeting pause.",
            "Check the server's DNS resolver (slow reverse lookups of the client address) and any "
            "greeting pause: Postfix `postscreen_greet_wait` (postscreen, port 25 only), Sendmail "
            "`greet_pause`. Users' ports (submission, IMAP, POP3) should greet at once.",
        ),
        f"{p}.greeting_timeout": (
            "{host} accepted the connection on port {port} but sent no greeting within {timeout:g} s. "
            "Either the server is overloaded, or it deliberately delays clients it distrusts (a "
            "tarpit), which can be aimed at this machine's address. " + inconclusive,
            "Run again with a longer --timeout (e.g. --timeout 30). If it never greets, check the "
            "server's load and its logs for this connection, and any greet-delay or tarpit setting.",
        ),
        f"{p}.greeting_rejected": (
            "{host} answered on port {port} but refused to serve this client in its greeting: "
            "\"{words}\". Servers send this when they are busy, when the client address is "
            "blocklisted or rate-limited, or to every client when the service is switched off. " + inconclusive,
            "Read the server's words above. If the server refuses everybody, fix its configuration "
            "(e.g. Postfix `smtpd_client_restrictions`, connection limits); if it is about this "
            "machine's address, test from another network.",
        ),
        f"{p}.closed": (
            "{host} closed the connection during the {phase} phase. Servers do this when they "
            "rate-limit or distrust a client, or when they crash. " + inconclusive,
            "Look at the server's log for this connection; if it is a rate limit, wait and run "
            "again, or test from another network.",
        ),
        f"{p}.dialogue_failed": (
            "The {proto} dialogue with {host} stopped in the {phase} phase ({failure}): \"{words}\". " + inconclusive,
            "Run again with a longer --timeout; if it persists, check the server's log for this connection.",
        ),
        f"{p}.not_{proto.lower()}": (
            "Something answers on {host} port {port}, but it does not speak {proto}: \"{words}\". "
            "Mail programs and servers that connect there fail.",
            "Make the {proto} server listen on port {port}, or move the other service off that port.",
        ),
        f"{p}.refused": (
            "{host} ({address}) refused connections on port {port}: no {proto} server listens there. "
            "Clients configured for this port cannot connect.",
            "Start the {proto} service on port {port} and make sure it listens on {address} "
            "(check with `ss -ltn 'sport = :{port}'`), or stop pointing clients at this port.",
        ),
        f"{p}.connect_timeout": (
            "Nothing answered on {host} ({address}) port {port} within {timeout:g} s: packets are "
            "being dropped by a firewall, at the server or on the way.",
            "Open TCP port {port} in the server's firewall and any cloud security group; check "
            "first that this network does not block outgoing port {port}.",
        ),
        f"{p}.unreachable": (
            "There is no route from here to {address} ({words}), so {host} port {port} was not tested.",
            "Check that {address} is the right address for {host}.",
        ),
        f"{p}.connect_error": (
            "Connecting to {address} port {port} failed with an error maildoctor does not recognise: "
            "{words}. The server could not be tested from here.",
            "Run the check again; if it persists, test the connection by hand (`nc -vz {address} {port}`) "
            "and check this machine's network settings (firewall, proxy, routing).",
        ),
        f"{p}.family_differs": (
            "{host} port {port} works over {good} but not over {bad} ({why}). Clients and servers that "
            "prefer {bad} (most prefer IPv6 when they have it) wait for a time-out, then retry over "
            "{good} or queue the mail: slow or delayed {proto}.",
            "Make the service listen on the {bad} address too and open the firewall for it, or remove "
            "the {record} record of {host} if {bad} is not meant to work.",
        ),
    }


def family_differences(dialogues: list[Dialogue]) -> list[tuple[Dialogue, Dialogue]]:
    """Pure: (working, failing) pairs for the same host and port over IPv4 and IPv6."""
    by_key: dict[tuple[str, int], dict[bool, list[Dialogue]]] = {}
    for d in dialogues:
        by_key.setdefault((d.endpoint.host, d.endpoint.port), {}).setdefault(":" in d.endpoint.address, []).append(d)
    pairs = []
    for fams in by_key.values():
        if len(fams) < 2:
            continue
        v4_ok = [d for d in fams[False] if d.greeting_ok]
        v6_ok = [d for d in fams[True] if d.greeting_ok]
        v4_bad = [d for d in fams[False] if not d.greeting_ok and d.connect is not ConnectOutcome.NO_LOCAL_SUPPORT]
        v6_bad = [d for d in fams[True] if not d.greeting_ok and d.connect is not ConnectOutcome.NO_LOCAL_SUPPORT]
        if v4_ok and v6_bad and not v6_ok:
            pairs.append((v4_ok[0], v6_bad[0]))
        elif v6_ok and v4_bad and not v4_ok:
            pairs.append((v6_ok[0], v4_bad[0]))
    return pairs


class GreetingCheck(ServerCheck):
    prefix: ClassVar[str] = "smtp"
    proto: ClassVar[str] = "SMTP"

    async def judge(self, ctx: CheckContext, ep: Endpoint, d: Dialogue) -> list[Finding]:
        sibling_ok = False
        if not d.connected and ep.port in SIBLING:
            twin = Endpoint(ep.role, ep.host, ep.address, SIBLING[ep.port], ep.source)
            sibling_ok = (await probes(ctx).dialogue(twin)).greeting_ok
        return self.evaluate(ep, d, timeout=ctx.timeout, sibling_ok=sibling_ok)

    def evaluate(self, ep: Endpoint, d: Dialogue, *, timeout: float, sibling_ok: bool = False) -> list[Finding]:
        """Pure: the greeting/capability verdict for one endpoint's dialogue."""
        p = self.prefix
        ev = {
            "phase": d.failure_phase or "done",
            "greeting": d.greeting,
            "transcript": d.transcript,
            "capabilities": d.capabilities,
            "capabilities_after_tls": d.capabilities_tls,
            "elapsed_ms": round(d.elapsed_s * 1000, 1),
            "source": ep.source,
        }
        if d.connect_s is not None:
            ev["connect_ms"] = round(d.connect_s * 1000, 1)
        if d.greeting_delay_s is not None:
            ev["greeting_delay_ms"] = round(d.greeting_delay_s * 1000, 1)
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, duration_s=d.elapsed_s, host=ep.host, address=ep.address, port=ep.port,
                  timeout=timeout, proto=self.proto, phase=d.failure_phase, failure=d.failure,
                  words=d.failure_words or d.connect_detail, delay=d.greeting_delay_s or 0.0)
        s = subject(ep)
        if not d.connected:
            if d.connect is ConnectOutcome.NO_LOCAL_SUPPORT:
                return [self.skip(ep, f"this machine cannot reach {ep.address} ({d.connect_detail})")]
            if ep.role == "mx":
                return [self.skip(ep, f"port {ep.port} did not connect ({d.connect.value}; see tcp.connect)")]
            if d.connect is ConnectOutcome.REFUSED:
                if sibling_ok or ep.source == "common name" and ep.port in (110, 995):
                    why = f"port {SIBLING[ep.port]} works" if sibling_ok else "a guessed name; IMAP may be all there is"
                    return [
                        self.finding(f"{p}.not_offered", Status.SKIP, s, f"port {ep.port} not offered ({why})", **kw)
                    ]
                return [self.finding(f"{p}.refused", Status.FAIL, s, f"connection to port {ep.port} refused", **kw)]
            if d.connect is ConnectOutcome.TIMEOUT:
                return [self.finding(f"{p}.connect_timeout", Status.FAIL, s,
                                     f"no answer on port {ep.port} within {timeout:g} s (probably filtered)", **kw)]
            if d.connect is ConnectOutcome.UNREACHABLE:
                return [self.finding(f"{p}.unreachable", Status.FAIL, s, f"{ep.address} is unreachable", **kw)]
            return [self.finding(f"{p}.connect_error", Status.ERROR, s, f"connection failed: {d.connect_detail}", **kw)]
        if d.failure_phase == "TLS handshake":  # implicit TLS failed before any greeting
            return [self.skip(ep, "the TLS handshake failed before the greeting (see tls.handshake)")]
        if not d.greeting_ok or d.failure_phase in GREETING_PHASES:
            return [self._broken(ep, d, kw)]
        return self.passed(ep, d, kw)

    async def summarize(self, ctx: CheckContext, eps: list[Endpoint]) -> AsyncIterator[Finding]:
        cache = probes(ctx)
        for good, bad in family_differences([await cache.dialogue(ep) for ep in eps]):
            ep = bad.endpoint
            fam = {True: "IPv6", False: "IPv4"}
            bad_fam, good_fam = fam[":" in ep.address], fam[":" in good.endpoint.address]
            why = bad.failure_words or bad.connect_detail or bad.failure or "no greeting"
            f = self.finding(
                f"{self.prefix}.family_differs",
                Status.WARN,
                f"{ep.host} port {ep.port}",
                f"works over {good_fam} ({good.endpoint.address}) but not over {bad_fam} ({ep.address}: {why})",
                evidence={good_fam: good.endpoint.address, bad_fam: ep.address, "why": why},
                host=ep.host,
                port=ep.port,
                good=good_fam,
                bad=bad_fam,
                why=why,
                proto=self.proto,
                record="AAAA" if bad_fam == "IPv6" else "A",
            )
            yield self.with_side(f, ep.role)

    def _broken(self, ep: Endpoint, d: Dialogue, kw: dict) -> Finding:
        p, s, phase = self.prefix, subject(ep), d.failure_phase or "greeting"
        if phase == "greeting" and d.failure == "timeout":
            return self.finding(
                f"{p}.greeting_timeout",
                Status.ERROR,
                s,
                f"no greeting within {kw['timeout']:g} s (phase: greeting): could not be tested from here",
                **kw,
            )
        if phase == "greeting" and d.failure == "rejected":
            return self.finding(
                f"{p}.greeting_rejected",
                Status.ERROR,
                s,
                f'the server refused us in its greeting: "{d.failure_words[:120]}" (could not be tested from here)',
                **kw,
            )
        if phase == "greeting" and d.failure == "garbage":
            return self.finding(f"{p}.not_{self.proto.lower()}", Status.FAIL, s,
                                f"port {ep.port} does not speak {self.proto}", **kw)
        if d.failure == "closed":
            return self.finding(
                f"{p}.closed",
                Status.ERROR,
                s,
                f"the server closed the connection during {phase} (could not be tested from here)",
                **kw,
            )
        return self.finding(f"{p}.dialogue_failed", Status.ERROR, s,
                            f"the dialogue stopped in {phase} ({d.failure}): {d.failure_words[:120]}", **kw)

    def passed(self, ep: Endpoint, d: Dialogue, kw: dict) -> list[Finding]:
        """Override to add protocol details; the base reports the greeting and its delay."""
        delay = d.greeting_delay_s or 0.0
        caps = " ".join(list(d.capabilities)[:16])
        text = f"greeting in {delay * 1000:.0f} ms; capabilities: {caps or 'none'}"
        if delay > SLOW_GREETING_S:
            return [self.finding(f"{self.prefix}.greeting_slow", Status.WARN, subject(ep),
                                 f"the greeting took {delay:.1f} s", **kw)]
        return [self.finding(f"{self.prefix}.greeting", Status.PASS, subject(ep), text, **kw)]
