"""TCP connections with one place that turns socket errors into outcomes."""

from __future__ import annotations

import asyncio
import enum
import errno
import socket
import time
from dataclasses import dataclass

from diagnose.engine.timeouts import Timeouts
from diagnose.net.guard import open_connection


class ConnectOutcome(str, enum.Enum):
    CONNECTED = "connected"
    REFUSED = "refused"  # something answered: nothing listens on that port
    TIMEOUT = "timeout"  # no answer at all: usually a firewall dropping packets
    UNREACHABLE = "unreachable"  # no route to the host or network
    NO_LOCAL_SUPPORT = "no_local_support"  # this machine cannot use that address family
    ERROR = "error"


@dataclass(frozen=True)
class ConnectResult:
    address: str
    port: int
    outcome: ConnectOutcome
    elapsed_s: float
    detail: str = ""


def classify_socket_error(exc: BaseException) -> tuple[ConnectOutcome, str]:
    """Map any exception from connect() to an outcome and a short detail; the one place for it."""
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, socket.timeout)):
        return ConnectOutcome.TIMEOUT, "no reply"
    if isinstance(exc, ConnectionRefusedError):
        return ConnectOutcome.REFUSED, "connection refused"
    if isinstance(exc, OSError):
        code = exc.errno
        if code in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN):
            return ConnectOutcome.UNREACHABLE, exc.strerror or "unreachable"
        if code in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT):
            return ConnectOutcome.NO_LOCAL_SUPPORT, exc.strerror or "address family not supported here"
        if code == errno.ETIMEDOUT:
            return ConnectOutcome.TIMEOUT, "connection timed out"
        if code == errno.ECONNREFUSED:
            return ConnectOutcome.REFUSED, "connection refused"
        return ConnectOutcome.ERROR, exc.strerror or str(exc)
    return ConnectOutcome.ERROR, f"{type(exc).__name__}: {exc}"


async def tcp_connect(address: str, port: int, *, timeout: float) -> ConnectResult:
    """Open and immediately close a TCP connection; ``timeout`` is --timeout (the policy's ``connect``)."""
    start = time.monotonic()
    try:
        async with asyncio.timeout(Timeouts(timeout).connect):
            _reader, writer = await open_connection(address, port)
    except BaseException as exc:  # noqa: BLE001 - classified, CancelledError re-raised below
        if isinstance(exc, asyncio.CancelledError):
            raise
        outcome, detail = classify_socket_error(exc)
        return ConnectResult(address, port, outcome, time.monotonic() - start, detail)
    elapsed = time.monotonic() - start
    writer.transport.abort()  # no goodbye needed: we only test reachability
    return ConnectResult(address, port, ConnectOutcome.CONNECTED, elapsed)


def endpoint(host: str, address: str, port: int) -> str:
    """The subject string for a host's address and port, e.g. ``mx1.example.com [192.0.2.1]:25``."""
    return f"{host} [{address}]:{port}"
