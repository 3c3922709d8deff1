"""Facts that checks publish for one another, and the board that hands them over.

A check that needs a fact awaits it; the board resolves it when the producing check publishes it,
or withholds it with a reason (which becomes the dependent check's skip reason).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

MX_HOSTS = "mx.hosts"  # tuple[MailHost, ...]: where other servers deliver this domain's mail
SUBMISSION_HOSTS = "submission.hosts"  # tuple[ServiceHost, ...]: where users send mail (587/465)
MAILBOX_HOSTS = "mailbox.hosts"  # tuple[ServiceHost, ...]: where users read mail (IMAP 143/993, POP3 110/995)
AUTOCONFIG_SETTINGS = "autoconfig.settings"  # tuple of checks.autoconfig.ServerSetting: what the autoconfig file says
ROUNDTRIP_COPY = "roundtrip.copy"  # DeliveredCopy: the round trip's test message as the mailbox server stored it


@dataclass(frozen=True)
class MailHost:
    """A server name with the addresses it resolved to."""

    name: str
    addresses: tuple[str, ...]
    preference: int | None = None
    implicit: bool = False  # RFC 5321 §5.1: no MX, the domain's own address is used


@dataclass(frozen=True)
class ServiceHost:
    """A server users' mail programs talk to, the ports to probe on it and how it was found."""

    name: str
    addresses: tuple[str, ...]
    ports: tuple[int, ...]  # e.g. (587, 465) or (143, 993, 110, 995)
    source: str = ""  # "SRV _submission._tcp", "common name", "--smtp-host"


@dataclass(frozen=True)
class DeliveredCopy:
    """The round trip's test message, delivered (checks.roundtrip.check publishes it)."""

    message: bytes  # the delivered copy, as the mailbox server stored it
    folder: str
    recipient: str
    latency_s: float


class FactUnavailable(Exception):
    """A needed fact will not come; ``reason`` says why, for a skip finding."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name
        self.reason = reason


class FactBoard:
    """Futures keyed by fact name."""

    def __init__(self) -> None:
        self._facts: dict[str, asyncio.Future[object]] = {}

    def _future(self, name: str) -> asyncio.Future[object]:
        if name not in self._facts:
            self._facts[name] = asyncio.get_running_loop().create_future()
        return self._facts[name]

    def publish(self, name: str, value: object) -> None:
        fut = self._future(name)
        if not fut.done():
            fut.set_result(value)

    def withhold(self, name: str, reason: str) -> None:
        fut = self._future(name)
        if not fut.done():
            fut.set_exception(FactUnavailable(name, reason))
            fut.exception()  # mark retrieved: nobody may be waiting

    def settled(self, name: str) -> asyncio.Future[object]:
        """A future done when the fact has come or been withheld (never raises when awaited through
        asyncio.wait)."""
        return self._future(name)

    async def get(self, name: str) -> object:
        return await asyncio.shield(self._future(name))

    def value(self, name: str, default: object = None) -> object:
        """The fact's value if it has been published, else ``default`` (never waits)."""
        fut = self._facts.get(name)
        if fut is None or not fut.done() or fut.exception() is not None:
            return default
        return fut.result()
