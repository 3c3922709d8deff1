"""Base class of the checks that judge server dialogues (greeting, TLS, certificate, auth, DANE).

A ServerCheck names the roles and ports it looks at and implements a pure
``evaluate(endpoint, dialogue, ...) -> list[Finding]``; the base class finds the endpoints, awaits
the shared dialogues (diagnose.net.probes) concurrently and streams the findings. The side of each
finding follows the role: MX and mailbox servers are the incoming side, submission the outgoing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, ClassVar

from diagnose.engine.diagnosis import endpoint_of
from diagnose.engine.facts import MAILBOX_HOSTS, MX_HOSTS, SUBMISSION_HOSTS
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.net.dialogue import Dialogue, Endpoint
from diagnose.net.probes import endpoints, probes
from diagnose.net.tcp import ConnectOutcome
from diagnose.net.tcp import endpoint as endpoint_text

ROLE_SIDE = {"mx": Side.INCOMING, "submission": Side.OUTGOING, "mailbox": Side.INCOMING}
ROLE_WORDS = {"mx": "MX", "submission": "submission", "mailbox": "mailbox"}
ROLE_FACT = {"mx": MX_HOSTS, "submission": SUBMISSION_HOSTS, "mailbox": MAILBOX_HOSTS}


def subject(ep: Endpoint) -> str:
    return endpoint_text(ep.host, ep.address, ep.port)


def not_reached(d: Dialogue) -> str:
    """Why a later phase could not be judged, or "" when the dialogue got that far."""
    if not d.connected:
        return f"could not connect ({d.connect_detail or d.connect.value})"
    if not d.greeting_ok:
        return f"the {d.failure_phase or 'greeting'} phase failed ({d.failure or 'no greeting'})"
    return ""


class FamilyFallback:
    """Per-address failures of a host that works over the other address family are warnings.

    A sender that gets no answer (or a failure) from a host's IPv6 address tries its IPv4 address
    (and the other way round), so mail still flows: slower, but it flows. ``hold`` streams every
    finding except a per-address FAIL, which waits for ``release``: once every address is judged, a
    FAIL of host+port over one family becomes a WARN saying so when that host+port works (a pass or
    a warning, nothing worse) over the other family."""

    def __init__(self) -> None:
        self.held: list[Finding] = []
        self.seen: dict[tuple[str, int], dict[bool, list[Finding]]] = {}

    @staticmethod
    def key(f: Finding) -> tuple[str, int, str] | None:
        ep = endpoint_of(f)
        return (ep.host, ep.port, ep.address) if ep else None

    def hold(self, f: Finding) -> bool:
        """Record ``f``; True when it may be shown now, False when ``release`` will give it."""
        k = self.key(f)
        if k is None:
            return True
        self.seen.setdefault(k[:2], {}).setdefault(":" in k[2], []).append(f)
        if f.status is Status.FAIL:
            self.held.append(f)
            return False
        return True

    def release(self) -> list[Finding]:
        out = []
        for f in self.held:
            held_key = self.key(f)
            assert held_key is not None  # only findings with a key are held
            host, port, address = held_key
            other = self.seen.get((host, port), {}).get(":" not in address, [])
            works = other and all(o.status in (Status.PASS, Status.WARN) for o in other)
            if works:
                fam, good = ("IPv6", "IPv4") if ":" in address else ("IPv4", "IPv6")
                good_key = self.key(other[0])  # recorded in seen, so it has one
                good_at = good_key[2] if good_key else ""
                f = replace(f, status=Status.WARN,
                            summary=f"{f.summary} (over {fam} only: {host} works over {good} at {good_at}, "
                                    f"and senders fall back to it)",
                            evidence={**f.evidence, "family_fallback": {"failing": fam, "works": good,
                                                                        "works_at": good_at}})
            out.append(f)
        self.held = []
        return out


class ServerCheck(Check):
    roles: ClassVar[tuple[str, ...]] = ("mx", "submission", "mailbox")
    ports: ClassVar[tuple[int, ...] | None] = None  # None: every port of the roles

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "needs" not in cls.__dict__:  # the facts that list the servers of our roles
            cls.needs = tuple(ROLE_FACT[r] for r in cls.roles)

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        eps, missing = await endpoints(ctx, self.roles, self.ports)
        # Say why a role was not tested only when nothing at all was: servers.discover and
        # mx.records already report missing servers once, not once per check.
        for role, reason in (missing.items() if not eps else ()):
            yield self.with_side(self.finding(f"{self.id}.skipped", Status.SKIP, ctx.target.domain,
                                              f"{ROLE_WORDS[role]} servers not tested: {reason}",
                                              reason=reason), role)
        cache = probes(ctx)
        tasks = [asyncio.ensure_future(self._one(ctx, cache, ep)) for ep in eps]
        fallback = FamilyFallback()
        try:
            for done in asyncio.as_completed(tasks):
                for finding in await done:
                    if fallback.hold(finding):
                        yield finding
        finally:
            for t in tasks:
                t.cancel()
        for finding in fallback.release():
            yield finding
        async for finding in self.summarize(ctx, eps):
            yield finding

    async def _one(self, ctx: CheckContext, cache, ep: Endpoint) -> list[Finding]:
        dialogue = await cache.dialogue(ep)
        findings = await self.judge(ctx, ep, dialogue)
        return [self.with_side(f, ep.role) for f in findings]

    async def judge(self, ctx: CheckContext, ep: Endpoint, d: Dialogue) -> list[Finding]:
        """Override: findings for one endpoint (may do more I/O, e.g. DNS or a second session)."""
        raise NotImplementedError

    async def summarize(self, ctx: CheckContext, eps: list[Endpoint]) -> AsyncIterator[Finding]:
        """Override: findings about all endpoints together (after the per-endpoint ones)."""
        return
        yield  # pragma: no cover

    def skip(self, ep: Endpoint, why: str, **kw: Any) -> Finding:
        return self.finding(f"{self.id}.skipped", Status.SKIP, subject(ep), f"not tested: {why}", host=ep.host,
                            reason=why, **kw)

    @staticmethod
    def with_side(finding: Finding, role: str) -> Finding:
        return replace(finding, side=ROLE_SIDE.get(role, Side.BOTH))


def connect_failed(d: Dialogue) -> bool:
    return d.connect is not ConnectOutcome.CONNECTED
