"""Which addresses a run may connect to: the guard a shared server (``maildoctor serve``) puts
around its runs, so that a web form cannot be used to scan the server's own network.

Every connection maildoctor opens to a target goes through ``open_connection`` (TCP) or asks
``allowed`` first (DNS to a domain's own name servers), with the address the name resolved to, at
the moment of connecting: a name that resolves to 10.0.0.1 is refused as surely as the literal.
The CLI sets no guard (it runs as the user, who may diagnose anything); a web run installs one with
``guarded(policy)`` for the duration of its task (a context variable, so concurrent runs each see
their own and the runner's check tasks inherit it).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


class AddressRefused(PermissionError):
    """A connection the guard refused; an OSError, so every caller classifies it as a failed connect."""

    def __init__(self, address: str, why: str) -> None:
        super().__init__(errno.EACCES, f"not connected: {address} is {why} (this server diagnoses public "
                                       f"addresses only)")
        self.address = address
        self.why = why


def why_refused(address: str) -> str | None:
    """Why a shared server must not connect to ``address`` (None: a public address).

    Private (RFC 1918, unique-local fc00::/7), loopback, link-local, shared (100.64/10), multicast,
    reserved or unspecified (0.0.0.0 reaches this machine), IPv4 mapped or embedded in IPv6 (NAT64,
    6to4, Teredo would reach the same private hosts), and any address of this machine itself."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None:
            return why_refused(str(inner))
    for test, words in (("is_loopback", "a loopback address"), ("is_link_local", "a link-local address"),
                        ("is_unspecified", "the unspecified address"), ("is_multicast", "a multicast address"),
                        ("is_private", "a private address"), ("is_reserved", "a reserved address")):
        if getattr(ip, test):
            return words
    if not ip.is_global:
        return "not a public address"
    if _is_own(ip):
        return "an address of this server"
    return None


def _is_own(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True when ``ip`` is assigned to this machine: binding to it works only then (no list of
    interfaces to keep fresh; one socket call)."""
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((str(ip), 0))
        return True
    except OSError:
        return False


@dataclass
class Policy:
    """One run's rule and what it refused (for the page to say so). ``allow_private``: connect to
    any address (`serve --allow-private`: an internal deployment, the lab tests)."""

    allow_private: bool = False
    refused: dict[str, str] = field(default_factory=dict)  # address -> why

    def check(self, address: str) -> None:
        """Raise AddressRefused unless a connection to ``address`` is allowed."""
        if self.allow_private:
            return
        why = why_refused(address)
        if why is not None:
            self.refused.setdefault(address, why)
            raise AddressRefused(address, why)


_POLICY: ContextVar[Policy | None] = ContextVar("maildoctor_connect_policy", default=None)


@contextmanager
def guarded(policy: Policy) -> Iterator[Policy]:
    """Connections opened in this context (and the tasks it starts) obey ``policy``."""
    token = _POLICY.set(policy)
    try:
        yield policy
    finally:
        _POLICY.reset(token)


def allowed(address: str) -> None:
    """Raise AddressRefused when the current run's policy forbids ``address``; no policy: allowed."""
    policy = _POLICY.get()
    if policy is not None:
        policy.check(address)


async def open_connection(address: str, port: int, **kwargs: Any) -> tuple[asyncio.StreamReader,
                                                                              asyncio.StreamWriter]:
    """``asyncio.open_connection`` to an IP ``address``, after the guard allowed it. The one way the
    net layer opens TCP connections to targets (tests/unit/test_connect_guard.py keeps it so)."""
    allowed(address)
    return await asyncio.open_connection(address, port, **kwargs)
