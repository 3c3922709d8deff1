"""How a TCP connect() failed, as an outcome and a short detail: the one classification, shared by the
asyncio connections (diagnose.net.tcp) and the probe's blocking fast path (which imports no asyncio)."""

from __future__ import annotations

import enum
import errno
import socket


class ConnectOutcome(str, enum.Enum):
    CONNECTED = "connected"
    REFUSED = "refused"  # something answered: nothing listens on that port
    TIMEOUT = "timeout"  # no answer at all: usually a firewall dropping packets
    UNREACHABLE = "unreachable"  # no route to the host or network
    NO_LOCAL_SUPPORT = "no_local_support"  # this machine cannot use that address family
    ERROR = "error"



def classify_socket_error(exc: BaseException) -> tuple[ConnectOutcome, str]:
    """Map any exception from connect() to an outcome and a short detail; the one place for it."""
    if isinstance(exc, (TimeoutError, socket.timeout)):  # asyncio.TimeoutError is TimeoutError too
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
