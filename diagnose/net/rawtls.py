"""A blocking TLS client on CPython's C modules (``_socket``, ``_ssl``), for the probe's fast path.

``import socket`` and ``import ssl`` cost more of a start-up than the probe's whole session (their
enums, selectors, base64 and re: ~15 ms of CPU on a 2-core VM, against ~4 ms for the C modules).
``ssl.SSLSocket`` is a thin layer over ``_ssl``: this module keeps the part of it a client needs, with
ssl's own settings and behaviour (a client context as ``ssl.SSLContext(PROTOCOL_TLS_CLIENT)`` makes it,
host names encoded as ``SSLContext._encode_hostname`` does, a ragged EOF read as the end of data).

The C modules' names are CPython's own, not a public API: ``AVAILABLE`` says whether this Python has
what is used here, and the probe takes its full path (asyncio and ssl) when it does not.
"""

from __future__ import annotations

import _socket

try:
    import _ssl
except ImportError:  # a Python built without OpenSSL: the full path says so
    _ssl = None  # type: ignore[assignment]

AF_INET, AF_INET6, SOCK_STREAM = _socket.AF_INET, _socket.AF_INET6, _socket.SOCK_STREAM
SSLError: type[OSError] = _ssl.SSLError if _ssl is not None else OSError

# what the fast path uses of _ssl (get_verified_chain: CPython >= 3.10)
AVAILABLE = _ssl is not None and all(hasattr(_ssl._SSLSocket, name) for name in (  # type: ignore[attr-defined]
    "do_handshake", "read", "write", "version", "getpeercert", "get_verified_chain", "get_unverified_chain"))


class Socket(_socket.socket):
    """A plain TCP socket that ``_ssl`` can wrap (it keeps a weak reference to the socket, which the
    C type does not allow without this slot; socket.socket has it too)."""

    __slots__ = ("__weakref__",)


def client_context(ciphers: str) -> _ssl._SSLContext:
    """A client context as ``ssl.SSLContext(PROTOCOL_TLS_CLIENT)`` (certificate required, host name
    checked) with the subject alternative names only (``hostname_checks_common_name = False``) and
    ``ciphers``; no trust anchors yet (diagnose.net.roots, ``load_verify_locations``)."""
    ctx = _ssl._SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    ctx._host_flags |= _ssl.HOSTFLAG_NEVER_CHECK_SUBJECT  # type: ignore[attr-defined]  # (not in typeshed)
    ctx.set_ciphers(ciphers)
    return ctx


class TlsSocket:
    """The client side of a TLS session over ``sock``, with the socket methods the fast path reads
    and writes through (``recv``, ``sendall``, ``settimeout``, ``close``); waits are bounded by the
    socket's timeout, as ssl.SSLSocket's."""

    def __init__(self, ctx: _ssl._SSLContext, sock: Socket, host: str) -> None:
        """Wrap ``sock`` for ``host`` (the name sent as SNI and verified); call ``handshake()`` next."""
        # ssl encodes a str host name with the idna codec; ASCII needs none (the codec costs ~5 ms of imports)
        name = host if host.isascii() else host.encode("idna").decode("ascii")
        self.sock = sock
        self.family = sock.family
        self._tls = ctx._wrap_socket(sock, False, name)  # type: ignore[attr-defined]  # (not in typeshed)

    def handshake(self) -> None:
        self._tls.do_handshake()

    def recv(self, size: int) -> bytes:
        try:
            return self._tls.read(size)
        except SSLError as exc:  # the peer closed without close_notify: the end, as ssl's suppress_ragged_eofs
            if exc.args and exc.args[0] == _ssl.SSL_ERROR_EOF:
                return b""
            raise

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self._tls.write(view):]

    def settimeout(self, seconds: float) -> None:
        self.sock.settimeout(seconds)

    def getsockname(self) -> tuple:
        return self.sock.getsockname()

    def close(self) -> None:
        self.sock.close()

    def version(self) -> str:
        return self._tls.version() or ""

    def getpeercert(self) -> dict:
        """The verified leaf certificate as ssl's getpeercert() gives it."""
        return self._tls.getpeercert(False) or {}

    def chains_der(self) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        """(the certificates the server sent, the chain OpenSSL verified), each leaf first, in DER."""
        sent = tuple(c.public_bytes(_ssl.ENCODING_DER) for c in self._tls.get_unverified_chain() or [])
        verified = tuple(c.public_bytes(_ssl.ENCODING_DER) for c in self._tls.get_verified_chain() or [])
        return sent, verified
