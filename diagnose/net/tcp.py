"""TCP connections with one place that turns socket errors into outcomes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from diagnose.engine.timeouts import Timeouts
from diagnose.net.connecterrors import ConnectOutcome, classify_socket_error
from diagnose.net.guard import open_connection


@dataclass(frozen=True, eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class ConnectResult:
    """How a TCP connection attempt ended, and how long it took."""

    address: str
    port: int
    outcome: ConnectOutcome
    elapsed_s: float
    detail: str = ""


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
