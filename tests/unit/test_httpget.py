"""The policy-file HTTPS client against small hostile servers on loopback: it always ends in time,
caps what it reads, and reports certificate problems."""

from __future__ import annotations

import asyncio
import ssl
import time

import pytest

from diagnose.net.httpget import https_get
from tests.lab.pki import CertAuthority

HOST = "mta-sts.hostile.example"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = CertAuthority(tmp_path_factory.mktemp("pki"), "httpget")
    return ca, ca.issue("leaf", [HOST])


def serve(pki, handler, *, tls=True):
    """Run ``handler(reader, writer)`` as a server on 127.0.0.1:<free port>; return (port, server)."""
    ca, leaf = pki
    context = None
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(leaf["chain"], leaf["key"])

    async def start():
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=context)
        return server.sockets[0].getsockname()[1], server
    return start


async def fetch(pki, handler, *, tls=True, timeout=1.0, trust=True, max_body=1000):
    ca, _ = pki
    port, server = await serve(pki, handler, tls=tls)()
    async with server:
        start = time.monotonic()
        result = await https_get(HOST, "/.well-known/mta-sts.txt", ["127.0.0.1"], ca_file=ca.ca_file if trust else None,
                                 timeout=timeout, max_body=max_body, port=port)
        return result, time.monotonic() - start


async def _read_request(reader):
    await reader.readuntil(b"\r\n\r\n")


def test_normal_response_and_request_headers(pki):
    seen = {}

    async def handler(reader, writer):
        seen["request"] = await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n\r\nversion: STSv1\n")
        await writer.drain()
        writer.close()

    result, _ = asyncio.run(fetch(pki, handler))
    assert result.outcome == "ok" and result.response.body == b"version: STSv1\n"
    assert f"Host: {HOST}\r\n".encode() in seen["request"] and seen["request"].startswith(b"GET /.well-known/")


def test_dribbling_server_is_cut_off_at_the_timeout(pki):
    async def handler(reader, writer):
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(1000):
            writer.write(b"X")
            await writer.drain()
            await asyncio.sleep(0.05)

    result, elapsed = asyncio.run(fetch(pki, handler, timeout=1.0))
    assert result.outcome in ("protocol", "timeout") and elapsed < 3, (result, elapsed)


def test_huge_body_is_capped(pki):
    async def handler(reader, writer):
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        for _ in range(200):  # 12.8 MB if we kept reading
            writer.write(b"y" * 65536)
            await writer.drain()

    result, elapsed = asyncio.run(fetch(pki, handler, timeout=2.0))
    assert result.outcome == "ok" and result.response.truncated and len(result.response.body) == 1000


def test_silent_server_and_untrusted_certificate(pki):
    async def silent(reader, writer):
        await asyncio.sleep(5)

    result, elapsed = asyncio.run(fetch(pki, silent, tls=False, timeout=0.5))  # TCP accepted, no TLS ever
    assert result.outcome == "timeout" and elapsed < 2.5, result

    async def fine(reader, writer):
        await _read_request(reader)
        writer.close()

    result, _ = asyncio.run(fetch(pki, fine, trust=False))  # the lab CA is not in the system store
    assert result.outcome == "tls" and "certificate" in result.detail


def test_no_address_and_refused():
    result = asyncio.run(https_get(HOST, "/x", [], ca_file=None, timeout=0.5))
    assert result.outcome == "no_address"
    result = asyncio.run(https_get(HOST, "/x", ["127.0.0.1"], ca_file=None, timeout=0.5, port=1))
    assert result.outcome == "refused"
