"""Hostile certificate-authority servers (CRL, OCSP, AIA) on 127.0.0.1: the faults real servers will not
produce. Each fetch ends within its time and size limits and the revocation verdict is never a pass."""

from __future__ import annotations

import asyncio
import time

import pytest
from cryptography import x509

from diagnose.engine.facts import FactBoard
from diagnose.engine.plugin import CheckContext, Options
from diagnose.engine.target import parse_target
from diagnose.net.cafetch import ca_fetcher
from diagnose.net.httpget import http_fetch
from tests.lab.pki import CertAuthority

T = 0.5  # --timeout of these runs


class NoDns:
    async def query(self, name, rdtype):
        return type("R", (), {"records": ()})()

    def describe(self):
        return {}


async def _request(reader) -> bytes:
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)


async def huge(reader, writer):  # a 100 MB CRL
    await _request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: 104857600\r\n\r\n")
    block = b"\x30" * 65536
    try:
        for _ in range(1600):
            writer.write(block)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    writer.close()


async def silent(reader, writer):  # a responder that never answers
    await _request(reader)
    await asyncio.sleep(30)


async def loop(reader, writer):  # a redirect loop
    await _request(reader)
    writer.write(b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    writer.close()


async def garbage(reader, writer):  # an HTTP 200 whose body is no CRL or OCSP answer
    await _request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n<html>hi</html")
    await writer.drain()
    writer.close()


async def noise(reader, writer):  # not HTTP at all
    await _request(reader)
    writer.write(b"\x00\xff" * 500)
    await writer.drain()
    writer.close()


async def serve(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def fetch(handler, path="/x.crl", **kw):
    server, port = await serve(handler)
    async with server:
        start = time.monotonic()
        result = await http_fetch(f"http://127.0.0.1:{port}{path}", resolve=NoDns().query, timeout=T,
                                  max_body=kw.pop("max_body", 1024 * 1024), **kw)
        return result, time.monotonic() - start


def test_100_mb_crl_is_cut_at_the_size_limit():
    result, elapsed = asyncio.run(fetch(huge))
    assert result.outcome == "ok" and result.response.truncated and len(result.response.body) == 1024 * 1024
    assert elapsed < 3 * T + 1


def test_responder_that_never_answers_ends_at_the_timeout():
    result, elapsed = asyncio.run(fetch(silent))
    assert result.outcome == "timeout" and elapsed < 3 * T + 0.5


def test_redirect_loop_stops():
    result, elapsed = asyncio.run(fetch(loop, max_redirects=3))
    assert result.outcome == "redirects" and len(result.tried) == 4 and elapsed < 3 * T + 0.5


def test_not_http_is_a_protocol_error():
    result, _ = asyncio.run(fetch(noise))
    assert result.outcome == "protocol"


@pytest.fixture(scope="module")
def leaf_for(tmp_path_factory):
    """A CA whose leaf points every URL (OCSP, CRL) at ``base``; the chain as a server sends it."""
    def make(base: str):
        urls = {k: f"{base}/{k}" for k in ("crl", "stale_crl", "issuer", "ocsp", "ocsp_down")}
        ca = CertAuthority(tmp_path_factory.mktemp("hostile-ca"), "hostile", urls=urls)
        leaf = x509.load_pem_x509_certificate(open(ca.issue("leaf", ["mx.example"])["cert"], "rb").read())
        return [leaf, ca.inter]
    return make


@pytest.mark.parametrize("handler,outcome", [(huge, "unavailable"), (silent, "unavailable"), (loop, "unavailable"),
                                             (garbage, "invalid"), (noise, "unavailable")])
def test_hostile_ca_never_gives_a_pass(leaf_for, handler, outcome):
    async def go():
        server, port = await serve(handler)
        async with server:
            chain = leaf_for(f"http://127.0.0.1:{port}")
            ctx = CheckContext(parse_target("example.com"), NoDns(), Options(timeout=T), FactBoard())
            start = time.monotonic()
            result = await ca_fetcher(ctx).revocation(chain)
            return result, time.monotonic() - start

    result, elapsed = asyncio.run(go())
    assert result.outcome == outcome, result
    assert [a.source for a in result.answers] == ["ocsp", "crl"]  # OCSP failed, so the CRL was tried too
    assert elapsed < 2 * 3 * T + 1  # two fetches, each within 3 x timeout


def test_many_silent_urls_stay_within_the_certificate_budget(tmp_path):
    """A certificate naming 8 OCSP and 8 CRL URLs on a silent server: at most 6 x timeout in all."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import AuthorityInformationAccessOID

    async def go():
        server, port = await serve(silent)
        async with server:
            ca = CertAuthority(tmp_path, "many")
            key = ec.generate_private_key(ec.SECP256R1())
            ocsp_urls = [x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                                x509.UniformResourceIdentifier(f"http://127.0.0.1:{port}/o{i}"))
                         for i in range(8)]
            crl_points = [x509.DistributionPoint([x509.UniformResourceIdentifier(f"http://127.0.0.1:{port}/c{i}")],
                                                 None, None, None) for i in range(8)]
            leaf = (ca._builder(ca.inter.subject, ca.inter.subject, key.public_key(), ca.inter_key.public_key())
                    .add_extension(x509.AuthorityInformationAccess(ocsp_urls), critical=False)
                    .add_extension(x509.CRLDistributionPoints(crl_points), critical=False)
                    .sign(ca.inter_key, hashes.SHA256()))
            ctx = CheckContext(parse_target("example.com"), NoDns(), Options(timeout=T), FactBoard())
            start = time.monotonic()
            result = await ca_fetcher(ctx).revocation([leaf, ca.inter])
            return result, time.monotonic() - start

    result, elapsed = asyncio.run(go())
    assert result.outcome == "unavailable" and elapsed < 6 * T + 1, (result, elapsed)
    assert all(a.outcome == "timeout" for a in result.answers)


def test_intermediates_share_the_leafs_budget(tmp_path):
    """The leaf (OCSP + CRL) and its intermediate (the root's CRL) all on a silent server: the chain is
    judged at once, so it ends within one certificate's budget (6 x timeout), not one per certificate."""
    async def go():
        server, port = await serve(silent)
        async with server:
            base = f"http://127.0.0.1:{port}"
            urls = {k: f"{base}/{k}" for k in ("crl", "stale_crl", "issuer", "ocsp", "ocsp_down", "root_crl")}
            ca = CertAuthority(tmp_path, "silent-chain", urls=urls)
            leaf = x509.load_pem_x509_certificate(open(ca.issue("leaf", ["mx.example"])["cert"], "rb").read())
            ctx = CheckContext(parse_target("example.com"), NoDns(), Options(timeout=T), FactBoard())
            start = time.monotonic()
            result, above = await ca_fetcher(ctx).chain([leaf, ca.inter, ca.root])
            return result, above, time.monotonic() - start

    result, above, elapsed = asyncio.run(go())
    assert result.outcome == "unavailable" and [ca.result.outcome for ca in above] == ["unavailable"], (result, above)
    assert above[0].result.answers[0].url.endswith("/root_crl")  # the intermediate was asked, of the root's CRL
    assert elapsed < 6 * T + 1, elapsed
