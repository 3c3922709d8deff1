"""The verifying context's system roots: read from a hashed directory one root at a time (no ~25 ms
load of the whole bundle before the first connection), and trusted all the same."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from diagnose.net import rawtls, roots, tls, verified_session
from tests.hostile.absurdcerts import mint_server

HOST = "roots.test"


def _tls_listener(tmp_path) -> tuple[ssl.SSLContext, socket.socket]:
    """A server context whose certificate (tmp_path / "cert.pem") is its own root (a private CA, not in
    any store), and a loopback listener for it."""
    cert, key = mint_server([HOST])
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    return ctx, listener


@pytest.fixture()
def server(tmp_path):
    """A TLS server on loopback whose certificate is its own root (a private CA, not in any store)."""
    ctx, listener = _tls_listener(tmp_path)

    def serve() -> None:
        for _ in range(4):  # bounded: one connection per test step
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    threading.Thread(target=serve, daemon=True).start()
    yield tmp_path / "cert.pem", listener.getsockname()[1]
    listener.close()


# the full path's verifying context and the probe's fast path (a context of diagnose.net.rawtls) load the
# same roots (diagnose.net.roots): (make the context, forget the contexts made)
CONTEXTS = {"verifying": (tls.verifying_context, tls.verifying_context.cache_clear),
            "probe fast path": (verified_session.mail_client_context, verified_session.forget_contexts)}


@pytest.fixture(params=sorted(CONTEXTS))
def context_of(request):
    return CONTEXTS[request.param]


def _fresh_context(monkeypatch, *, cert_dir, cert_file, make=CONTEXTS["verifying"]):
    monkeypatch.setenv("SSL_CERT_DIR", str(cert_dir))
    if cert_file is None:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    else:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    new, forget = make
    roots.forget()
    forget()
    try:
        return new(None)
    finally:
        roots.forget()
        forget()


def _handshake(ctx, port: int) -> None:
    if isinstance(ctx, ssl.SSLContext):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname=HOST) as s:
            assert s.version()
        return
    sock = rawtls.Socket(rawtls.AF_INET, rawtls.SOCK_STREAM)  # the probe's fast path: _ssl directly
    try:
        sock.settimeout(5)
        sock.connect(("127.0.0.1", port))
        tls_socket = rawtls.TlsSocket(ctx, sock, HOST)
        tls_socket.handshake()
        assert tls_socket.version()
    finally:
        sock.close()


def test_roots_in_a_hashed_directory_are_read_when_a_chain_needs_them(server, tmp_path, monkeypatch, context_of):
    cert, port = server
    roots = tmp_path / "roots"
    roots.mkdir()
    shutil.copy(cert, roots / "private-ca.pem")
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to hash the directory (Debian package openssl)")
    subprocess.run(["openssl", "rehash", str(roots)], check=True, capture_output=True, timeout=30)
    ctx = _fresh_context(monkeypatch, cert_dir=roots, cert_file=None, make=context_of)
    assert ctx.cert_store_stats()["x509_ca"] == 0  # nothing loaded up front ...
    _handshake(ctx, port)  # ... and the private root is trusted when the server's chain needs it
    assert ctx.cert_store_stats()["x509_ca"] == 1


def test_a_directory_without_hashes_falls_back_to_the_bundle(server, tmp_path, monkeypatch, context_of):
    cert, port = server
    empty = tmp_path / "empty"
    empty.mkdir()
    ctx = _fresh_context(monkeypatch, cert_dir=empty, cert_file=cert, make=context_of)
    assert ctx.cert_store_stats()["x509_ca"] == 1  # the bundle named by SSL_CERT_FILE, loaded whole
    _handshake(ctx, port)


def test_an_unknown_root_is_refused_either_way(server, tmp_path, monkeypatch, context_of):
    _cert, port = server
    empty = tmp_path / "empty"
    empty.mkdir()
    ctx = _fresh_context(monkeypatch, cert_dir=empty, cert_file=None, make=context_of)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(ctx, port)


def test_the_c_module_session_reads_writes_and_takes_a_close_without_notify_as_the_end(tmp_path):
    # Given a TLS server that echoes one line, then closes the TCP connection without TLS close_notify
    server_ctx, listener = _tls_listener(tmp_path)

    def serve() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls_conn:
            line = b""
            while not line.endswith(b"\n"):
                line += tls_conn.recv(4096)
            tls_conn.sendall(line * 2)
            socket.socket.shutdown(tls_conn, socket.SHUT_RDWR)  # TCP's end under the session: no close_notify

    threading.Thread(target=serve, daemon=True).start()
    ctx = rawtls.client_context("DEFAULT:@SECLEVEL=2")
    ctx.load_verify_locations(str(tmp_path / "cert.pem"))
    sock = rawtls.Socket(rawtls.AF_INET, rawtls.SOCK_STREAM)
    try:
        sock.settimeout(5)
        sock.connect(listener.getsockname())
        tls_socket = rawtls.TlsSocket(ctx, sock, HOST)
        tls_socket.handshake()
        # When a line is written and everything read back
        tls_socket.sendall(b"x" * 100_000 + b"\n")
        got = b""
        while chunk := tls_socket.recv(65536):
            got += chunk
        # Then all of it came back, and the close without close_notify read as the end, not an error
        assert got == (b"x" * 100_000 + b"\n") * 2
        sent, verified = tls_socket.chains_der()
        assert sent and verified and tls_socket.getpeercert()["subjectAltName"] == (("DNS", HOST),)
    finally:
        sock.close()
        listener.close()
