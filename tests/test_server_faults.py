"""Hostile and broken servers real Postfix/Dovecot will not imitate: a small asyncio fake per test.

Each fake listens on a loopback address of this engineer's lab net (MAILDOCTOR_LAB_NET, e.g.
127.81 -> 127.81.250.N) on the real port, so the dialogue code sees the port it would in life.
Needs root (ports below 1024).
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from checks.greeting.smtp import SmtpGreeting
from checks.tls.handshake import TlsHandshake
from diagnose.engine.model import Status
from diagnose.net.dialogue import Endpoint, run_dialogue

NET = os.environ.get("MAILDOCTOR_LAB_NET", "127.81")
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="binds port 25 on loopback: needs root")
_counter = iter(range(10, 250))


def run_against(script, *, port=25, timeout=1.0):
    """Start ``script(reader, writer)`` as a server, run one dialogue against it, return it."""
    address = f"{NET}.250.{next(_counter)}"

    async def go():
        server = await asyncio.start_server(script, address, port)
        try:
            return await run_dialogue(Endpoint("mx", "mx.fault.test", address, port), timeout=timeout)
        finally:
            server.close()
    return asyncio.run(go())


def greeting(d, timeout=1.0):
    return SmtpGreeting().evaluate(d.endpoint, d, timeout=timeout)


def tls(d):
    return TlsHandshake().evaluate(d.endpoint, d, None)


async def _ehlo_loop(r, w, ehlo=b"250-fault\r\n250 PIPELINING\r\n"):
    while line := await r.readline():
        cmd = line.strip().upper()
        w.write(ehlo if cmd.startswith(b"EHLO") else b"221 bye\r\n" if cmd == b"QUIT" else b"502 no\r\n")
        await w.drain()


def test_421_greeting_is_inconclusive_with_the_servers_words():
    async def busy(r, w):
        w.write(b"421 4.3.2 mx.fault.test too busy, try later\r\n")
        await w.drain()
        await r.read()
    d = run_against(busy)
    (f,) = greeting(d)
    assert (f.code, f.status) == ("smtp.greeting_rejected", Status.ERROR), f
    assert "too busy" in f.summary and f.evidence["phase"] == "greeting"
    assert tls(d)[0].code != "tls.no_starttls"  # never the false "no STARTTLS"


def test_554_greeting_is_inconclusive_too():
    async def refuse(r, w):
        w.write(b"554 5.7.1 your address is listed\r\n")
        await w.drain()
        await r.read()
    (f,) = greeting(run_against(refuse))
    assert (f.code, f.status) == ("smtp.greeting_rejected", Status.ERROR)


def test_greeting_after_15_s_stops_at_the_timeout():
    async def tarpit(r, w):
        await asyncio.sleep(15)
        w.write(b"220 finally\r\n")
    start = time.monotonic()
    d = run_against(tarpit, timeout=1.0)
    elapsed = time.monotonic() - start
    (f,) = greeting(d)
    assert elapsed < 2.5, elapsed
    assert (f.code, f.status) == ("smtp.greeting_timeout", Status.ERROR)
    assert "could not be tested from here" in f.summary and f.evidence["phase"] == "greeting"


def test_close_after_ehlo():
    async def closer(r, w):
        w.write(b"220 mx.fault.test ESMTP\r\n")
        await w.drain()
        await r.readline()
        w.close()
    d = run_against(closer)
    (f,) = greeting(d)
    assert (f.code, f.status) == ("smtp.closed", Status.ERROR) and f.evidence["phase"] == "EHLO"
    (t,) = tls(d)
    assert (t.code, t.status) == ("tls.inconclusive", Status.ERROR)


def test_no_starttls_on_25():
    async def plain(r, w):
        w.write(b"220 mx.fault.test ESMTP\r\n")
        await w.drain()
        await _ehlo_loop(r, w)
    d = run_against(plain)
    assert greeting(d)[0].status is Status.PASS
    (t,) = tls(d)
    assert (t.code, t.status) == ("tls.no_starttls", Status.FAIL)


def test_starttls_refused_is_not_no_starttls():
    async def broken_tls(r, w):
        w.write(b"220 mx.fault.test ESMTP\r\n")
        await w.drain()
        while line := await r.readline():
            cmd = line.strip().upper()
            w.write(
                b"250-fault\r\n250 STARTTLS\r\n"
                if cmd.startswith(b"EHLO")
                else b"454 4.7.0 TLS not available due to local problem\r\n"
                if cmd == b"STARTTLS"
                else b"221 bye\r\n"
            )
            await w.drain()
    (t,) = tls(run_against(broken_tls))
    assert (t.code, t.status) == ("tls.starttls_refused", Status.FAIL) and "454" in t.summary


def test_multiline_reply_dribbled_byte_by_byte():
    async def dribble(r, w):
        for b in b"220-mx.fault.test ESMTP\r\n220 second line\r\n":
            w.write(bytes([b]))
            await w.drain()
            await asyncio.sleep(0.001)
        await _ehlo_loop(r, w)
    d = run_against(dribble)
    (f,) = greeting(d)
    assert f.status is Status.PASS and d.greeting == "mx.fault.test ESMTP second line"


def test_not_smtp_and_endless_line():
    async def ssh(r, w):
        w.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await w.drain()
        await r.read()
    (f,) = greeting(run_against(ssh))
    assert (f.code, f.status) == ("smtp.not_smtp", Status.FAIL)

    async def flood(r, w):
        try:
            while True:
                w.write(b"220-" + b"x" * 60000)
                await w.drain()
        except (ConnectionError, OSError):
            pass
    start = time.monotonic()
    (f,) = greeting(run_against(flood))
    assert f.status is Status.ERROR and time.monotonic() - start < 2.5


def test_hostile_banner_is_sanitized():
    async def evil(r, w):
        w.write(b"220 \x1b[31mred\x1b[0m \x07 mx\r\n")
        await w.drain()
        await _ehlo_loop(r, w)
    d = run_against(evil)
    assert all("\x1b" not in line and "\x07" not in line for line in d.transcript)


def test_refused_port_is_a_clean_failure():
    d = asyncio.run(run_dialogue(Endpoint("submission", "smtp.fault.test", f"{NET}.250.254", 587), timeout=1))
    (f,) = greeting(d)
    assert (f.code, f.status) == ("smtp.refused", Status.FAIL)


def test_silent_tls_handshake_on_465_is_inconclusive():
    async def silent(r, w):
        await asyncio.sleep(10)  # accepts TCP, never answers the ClientHello
    start = time.monotonic()
    d = run_against(silent, port=465)
    (t,) = tls(d)
    assert (t.code, t.status) == ("tls.inconclusive", Status.ERROR) and time.monotonic() - start < 2.5
    assert t.evidence["phase"] == "TLS handshake"


def test_plain_text_on_465_is_a_failed_handshake():
    async def plain(r, w):
        w.write(b"220 mx.fault.test ESMTP\r\n")
        await w.drain()
        await r.read()
    (t,) = tls(run_against(plain, port=465))
    assert (t.code, t.status) == ("tls.handshake_failed", Status.FAIL)


def test_data_injected_after_starttls_reply_is_a_warning(tmp_path):
    import ssl as ssl_module

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    from tests.unit.certmint import Pki

    pki = Pki("inject")
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = pki.leaf("mx.fault.test", key=key)
    (tmp_path / "chain.pem").write_bytes(leaf.public_bytes(Encoding.PEM) + pki.inter.public_bytes(Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    server_ctx = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "chain.pem", tmp_path / "key.pem")

    async def injector(r, w):
        w.write(b"220 mx.fault.test ESMTP\r\n")
        await w.drain()
        while line := await r.readline():
            cmd = line.strip().upper()
            if cmd == b"STARTTLS":
                w.write(b"220 go ahead\r\n250 injected before TLS\r\n")  # CVE-2011-0411 style
                await w.drain()
                await w.start_tls(server_ctx)
            elif cmd.startswith(b"EHLO"):
                w.write(b"250-fault\r\n250 STARTTLS\r\n")
            else:
                w.write(b"221 bye\r\n")
            await w.drain()
    d = run_against(injector)
    assert d.injected and d.tls is not None
    codes = {(f.code, f.status) for f in tls(d)}
    assert ("tls.starttls_injection", Status.WARN) in codes
