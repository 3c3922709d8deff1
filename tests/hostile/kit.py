"""The hostile server kit: misbehaving mail servers and a fake DNS, scripted per test.

Real Postfix/Dovecot don't misbehave on demand, so these small asyncio servers do. A test writes a
JSON config and starts ``python -m tests.hostile.kit CONFIG`` (in the host's network namespace
or, with ``ip netns exec``, in one of its own); the process prints ``ready`` once every listener
is bound and runs until it is terminated. Config::

    {"dns": {"address": "127.86.200.53", "records": [[owner, type, rdata], ...], "faults": {owner: kind},
             "delay": seconds before every answer (optional)},
     "servers": [{"address": "127.86.200.10", "ports": [25], "behaviour": "garbage", "args": {...}}]}

Every behaviour is a coroutine ``(reader, writer, args)``; SMTP words are used on every port
(IMAP/POP3 variants where the fault is about those protocols' greetings).
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import ssl
import sys
import tempfile
from pathlib import Path

from tests.hostile.absurdcerts import mint
from tests.hostile.fakedns import Zone, serve_dns

ESCAPES = "\x1b[2J\x1b[31mRED\x1b[0m\x1b]0;owned-title\x07\x1b]8;;http://evil.invalid\x1b\\link\x1b]8;;\x1b\\\x07\x08\x7f\u202e"
HTML = "<script>alert('x')</script> <b>bold</b> & ]]> <!-- --> \"quoted\" ``` </pre> | *star* [x](javascript:alert(1))"
EHLO_PLAIN = b"250-hostile.invalid\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
EHLO_TLS = b"250-hostile.invalid\r\n250-PIPELINING\r\n250 STARTTLS\r\n"


async def _lines(reader: asyncio.StreamReader):
    while line := await reader.readline():
        yield line.strip().upper()


async def _smtp_loop(reader, writer, *, ehlo: bytes = EHLO_PLAIN, on: dict | None = None) -> None:
    """A minimal SMTP command loop; ``on`` maps a command word to the bytes to answer."""
    async for cmd in _lines(reader):
        word = cmd.split(b" ")[0]
        if on and word in on:
            writer.write(on[word])
        elif word in (b"EHLO", b"HELO"):
            writer.write(ehlo)
        elif word == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            return
        else:
            writer.write(b"502 5.5.2 no\r\n")
        await writer.drain()


async def garbage(reader, writer, args) -> None:
    rnd = random.Random(8)
    writer.write(bytes(rnd.randrange(256) for _ in range(3000)) + b"\r\n\x00\xff\xfe\r\n")
    await writer.drain()
    await reader.read()


async def long_line(reader, writer, args) -> None:
    writer.write(b"220 " + b"A" * (1024 * 1024))  # 1 MB, no newline
    await writer.drain()
    await reader.read()


async def endless_multiline(reader, writer, args) -> None:
    while not writer.transport.is_closing():
        writer.write(b"220-still greeting you, please wait\r\n")
        await writer.drain()
        await asyncio.sleep(0.001)


async def slowloris(reader, writer, args) -> None:
    for byte in b"220 slow.hostile.invalid ESMTP\r\n" * 4:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(float(args.get("interval", 1.0)))


async def silent(reader, writer, args) -> None:
    await reader.read()


async def close_after_greeting(reader, writer, args) -> None:
    writer.write(b"220 bye.hostile.invalid ESMTP\r\n")
    await writer.drain()
    writer.close()


async def close_after_ehlo(reader, writer, args) -> None:
    writer.write(b"220 bye.hostile.invalid ESMTP\r\n")
    await writer.drain()
    await reader.readline()
    writer.close()


async def _until_starttls(reader, writer, go_ahead: bytes = b"220 2.0.0 go ahead\r\n") -> bool:
    """An SMTP server up to STARTTLS: greets, offers STARTTLS, answers it with ``go_ahead``; True
    when the client asked for STARTTLS (the next bytes are its ClientHello)."""
    writer.write(b"220 mx.hostile.invalid ESMTP\r\n")
    await writer.drain()
    async for cmd in _lines(reader):
        if cmd.startswith(b"EHLO"):
            writer.write(EHLO_TLS)
        elif cmd == b"STARTTLS":
            writer.write(go_ahead)
            await writer.drain()
            return True
        else:
            writer.write(b"502 no\r\n")
        await writer.drain()
    return False


async def close_mid_tls(reader, writer, args) -> None:
    """STARTTLS accepted; then the start of a ServerHello and the connection is gone."""
    if await _until_starttls(reader, writer):
        await reader.read(5)  # the ClientHello's record header
        writer.write(b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03")  # a ServerHello, cut short
        await writer.drain()
        writer.transport.abort()


async def close_mid_tls_implicit(reader, writer, args) -> None:
    await reader.read(5)
    writer.write(b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03")
    await writer.drain()
    writer.transport.abort()


async def tls_stall(reader, writer, args) -> None:
    """TLS that stalls after the ClientHello: STARTTLS is accepted (or the port is implicit TLS),
    the ClientHello is read, and then nothing comes back."""
    if writer.get_extra_info("sockname")[1] not in (465, 993, 995) and not await _until_starttls(reader, writer):
        return
    await reader.read()  # the ClientHello, and then silence until the client gives up


async def starttls_plaintext(reader, writer, args) -> None:
    """Says 220 to STARTTLS, then goes on in plain text (and injects a line right behind the 220)."""
    if await _until_starttls(reader, writer, b"220 2.0.0 go ahead\r\n250 injected plaintext\r\n"):
        await reader.read(1024)  # the ClientHello
        writer.write(b"250 still plaintext, no TLS here\r\n")
        await writer.drain()
        async for _cmd in _lines(reader):  # and answers whatever follows in plain text
            writer.write(b"502 no\r\n")
            await writer.drain()


def _cert_context(kind: str, host: str) -> ssl.SSLContext:
    cert, key = mint(kind, host)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="hostile-cert-") as directory:  # OpenSSL reads the files now
        (Path(directory) / "cert.pem").write_bytes(cert)
        (Path(directory) / "key.pem").write_bytes(key)
        ctx.load_cert_chain(Path(directory) / "cert.pem", Path(directory) / "key.pem")
    return ctx


async def absurd_cert(reader, writer, args) -> None:
    """A polite SMTP server whose STARTTLS presents an absurd certificate."""
    ctx = args["_ctx"]
    local_port = writer.get_extra_info("sockname")[1]
    if local_port in (465, 993, 995):
        await writer.start_tls(ctx)
        await _smtp_session(reader, writer, tls=True)
        return
    await _smtp_session(reader, writer, tls=False, ctx=ctx)


async def _smtp_session(reader, writer, *, tls: bool, ctx=None) -> None:
    writer.write(b"220 mx.hostile.invalid ESMTP\r\n")
    await writer.drain()
    async for cmd in _lines(reader):
        if cmd.startswith(b"EHLO"):
            writer.write(EHLO_PLAIN.replace(b"250 8BITMIME", b"250-AUTH PLAIN\r\n250 8BITMIME") if tls else EHLO_TLS)
        elif cmd == b"STARTTLS" and not tls:
            writer.write(b"220 go ahead\r\n")
            await writer.drain()
            await writer.start_tls(ctx)
            tls = True
            continue
        elif cmd == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            return
        else:
            writer.write(b"502 no\r\n")
        await writer.drain()


async def hostile_text(reader, writer, args) -> None:
    """Terminal escapes and HTML in the banner, the EHLO reply and the error replies."""
    port = writer.get_extra_info("sockname")[1]
    evil = f"{ESCAPES} {HTML}".encode()
    if port in (143, 993):
        writer.write(b"* OK " + evil + b"\r\n")
        await writer.drain()
        async for cmd in _lines(reader):
            tag = cmd.split(b" ")[0]
            writer.write(
                b"* CAPABILITY IMAP4rev1 " + evil.replace(b" ", b"_") + b"\r\n" + tag + b" OK " + evil + b"\r\n"
            )
            await writer.drain()
        return
    if port in (110, 995):
        writer.write(b"+OK " + evil + b"\r\n")
        await writer.drain()
        async for _cmd in _lines(reader):
            writer.write(b"-ERR " + evil + b"\r\n")
            await writer.drain()
        return
    writer.write(b"220-" + evil + b"\r\n220 " + evil + b"\r\n")
    await writer.drain()
    await _smtp_loop(
        reader, writer, ehlo=b"250-" + evil + b"\r\n250-X-" + evil.replace(b" ", b"") + b"\r\n250 AUTH PLAIN\r\n"
    )


async def hostile_reject(reader, writer, args) -> None:
    """A 554 greeting whose words are escapes and HTML (they land in a failure summary)."""
    writer.write(b"554 5.7.1 " + f"{ESCAPES} {HTML}".encode() + b"\r\n")
    await writer.drain()
    await reader.read()


async def auth_bad_base64(reader, writer, args) -> None:
    """Offers AUTH; every challenge is a 334 that is not base64 and echoes what the client sent
    (its base64 user name, then its base64 password in the final 535)."""
    writer.write(b"220 mx.hostile.invalid ESMTP\r\n")
    await writer.drain()
    ehlo = b"250-hostile.invalid\r\n250-AUTH LOGIN PLAIN\xff\xfe CRAM-MD5\r\n250-AUTH=LOGIN\r\n250 SIZE notanumber\r\n"
    step = 0
    while line := await reader.readline():
        text = line.strip()
        word = text.split(b" ")[0].upper()
        if step:
            step += 1
            writer.write(
                b"334 " + text + b"=%%\x1b[31m\r\n" if step < 3 else b"535 5.7.8 no, you sent " + text + b"\r\n"
            )
            step = 0 if step >= 3 else step
        elif word in (b"EHLO", b"HELO"):
            writer.write(ehlo)
        elif word == b"AUTH":
            step = 1
            writer.write(b"334 %%%not-base64!!\x1b[31m===\r\n")
        elif word == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            return
        else:
            writer.write(b"502 5.5.2 no\r\n")
        await writer.drain()


async def imap_pop_flood(reader, writer, args) -> None:
    """IMAP/POP3: a normal greeting, then every command is answered by untagged lines that never end."""
    pop = writer.get_extra_info("sockname")[1] in (110, 995)
    writer.write(b"+OK flood ready\r\n" if pop else b"* OK [CAPABILITY IMAP4rev1 STARTTLS] flood ready\r\n")
    await writer.drain()
    await reader.readline()
    writer.write(b"+OK capability list follows\r\n" if pop else b"")
    n = 0
    while not writer.transport.is_closing():
        n += 1
        writer.write(f"SASL PLAIN{n}\r\n".encode() if pop else f"* CAPABILITY IMAP4rev1 X-{n}\r\n".encode())
        await writer.drain()
        await asyncio.sleep(0)


POLICY_EVIL = (f"version: STSv1\nmode: enforce\x1b[31m{HTML}\nmx: {ESCAPES}\nmax_age: \u00b2\n").encode()
XML_EVIL = (f"<?xml version='1.0'?><clientConfig><emailProvider id='x'><incomingServer type='imap'>"
            f"<hostname>{ESCAPES}</hostname><port>\u00b2</port><socketType>SSL</socketType>"
            f"<username>&lt;script&gt;alert(1)&lt;/script&gt;</username></incomingServer></emailProvider>"
            f"</clientConfig>").encode("utf-8", "replace")


async def https(reader, writer, args) -> None:
    """HTTPS (port 443) with a sane certificate and a hostile HTTP answer, by ``mode``."""
    await writer.start_tls(args["_ctx"])
    request = b""
    while b"\r\n\r\n" not in request and len(request) < 8192:
        chunk = await reader.read(1024)
        if not chunk:
            return
        request += chunk
    xml = b"config-v1.1.xml" in request.split(b"\r\n")[0]
    mode = args["mode"]
    if mode == "garbage":
        writer.write(bytes(random.Random(5).randrange(256) for _ in range(5000)))
    elif mode == "endless_headers":
        writer.write(b"HTTP/1.1 200 OK\r\n")
        while not writer.transport.is_closing():  # drain() alone never yields to a fast reader
            writer.write(b"X-Flood: " + b"f" * 100 + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0)
    elif mode == "slow":
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"v" * 100:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.5)
    elif mode == "hostile_body":
        body = XML_EVIL if xml else POLICY_EVIL
        writer.write(b"HTTP/1.1 200 \x1b[31mOK<b>\r\nContent-Type: text/plain\r\nContent-Length: \xc2\xb2\r\n"
                     b"X-Evil: " + ESCAPES.encode() + b"\r\n\r\n" + body)
    elif mode == "chunked_garbage":
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\nffffffffffffffffff\r\n"
                     + b"x" * 70000 + b"\r\n-1\r\n\r\n")
    elif mode == "huge_body":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n")
        while not writer.transport.is_closing():
            writer.write(b"version: STSv1\n" * 4096)
            await writer.drain()
            await asyncio.sleep(0)
    await writer.drain()


async def delayed(reader, writer, args) -> None:
    """A correct SMTP server that waits ``delay`` seconds before each reply (a long path)."""
    delay = float(args.get("delay", 0.3))
    await asyncio.sleep(delay)
    writer.write(b"220 slowpath.hostile.invalid ESMTP\r\n")
    await writer.drain()
    async for cmd in _lines(reader):
        await asyncio.sleep(delay)
        writer.write(EHLO_PLAIN if cmd.startswith(b"EHLO") else b"221 bye\r\n" if cmd == b"QUIT" else b"502 no\r\n")
        await writer.drain()


async def polite(reader, writer, args) -> None:
    writer.write(b"220 ok.hostile.invalid ESMTP\r\n")
    await writer.drain()
    await _smtp_loop(reader, writer)


BEHAVIOURS = {f.__name__: f for f in (
    garbage, long_line, endless_multiline, slowloris, silent, close_after_greeting, close_after_ehlo,
    close_mid_tls, close_mid_tls_implicit, tls_stall, starttls_plaintext, absurd_cert, hostile_text, hostile_reject,
    auth_bad_base64, delayed, polite, imap_pop_flood, https)}


async def recorder(reader, writer, args) -> None:
    """A plaintext SMTP/IMAP/POP3 server (by port) that prints every line it receives as
    ``got PORT HEX`` and echoes each command back in its answer (a server that quotes the client:
    AUTH/LOGIN/PASS included). IMAP offers no AUTH=PLAIN, so clients fall back to LOGIN "u" "p"."""
    port = writer.get_extra_info("sockname")[1]
    kind = "pop3" if port in (110, 995) else "imap" if port in (143, 993) else "smtp"
    writer.write({"smtp": b"220 rec.hostile.invalid ESMTP\r\n", "pop3": b"+OK rec ready\r\n",
                  "imap": b"* OK [CAPABILITY IMAP4rev1] rec ready\r\n"}[kind])
    await writer.drain()
    while line := await reader.readline():
        print(f"got {port} {line.hex()}", flush=True)
        text = line.rstrip(b"\r\n")
        word = text.split(b" ")[0].upper()
        if kind == "pop3":
            if word == b"CAPA":
                writer.write(b"+OK\r\nUSER\r\n.\r\n")
            elif word == b"QUIT":
                writer.write(b"+OK bye\r\n")
            else:
                writer.write(b"-ERR you said: " + text + b"\r\n" if word == b"PASS" else b"+OK " + text + b"\r\n")
        elif kind == "imap":
            tag, _, rest = text.partition(b" ")
            if rest.upper().startswith(b"CAPABILITY"):
                writer.write(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK done\r\n")
            else:
                writer.write(b"* BAD you sent: " + text + b"\r\n" + tag + b" NO you sent: " + text + b"\r\n")
        else:
            if word in (b"EHLO", b"HELO"):
                writer.write(b"250-rec.hostile.invalid\r\n250 AUTH PLAIN LOGIN\r\n")
            elif word == b"QUIT":
                writer.write(b"221 bye\r\n")
            else:
                writer.write(b"535 5.7.8 you sent: " + text + b"\r\n")
        await writer.drain()


BEHAVIOURS.update({f.__name__: f for f in (recorder,)})


def _handler(behaviour: str, args: dict):
    func = BEHAVIOURS[behaviour]

    async def handle(reader, writer) -> None:
        address, port = writer.get_extra_info("sockname")[:2]
        print(f"accepted {address} {port}", flush=True)  # tests wait for this instead of sleeping
        try:
            await func(reader, writer, args)
        except (ConnectionError, OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()
    return handle


async def serve(config: dict) -> None:
    closers = []
    if config.get("dns"):
        d = config["dns"]
        zone = Zone(d.get("records", []), d.get("faults"), delay=float(d.get("delay", 0)))
        closers += await serve_dns(zone, d["address"], d.get("port", 53))
    for spec in config.get("servers", []):
        args = dict(spec.get("args", {}))
        if spec["behaviour"] == "absurd_cert":
            args["_ctx"] = _cert_context(args["kind"], args.get("host", "mx.hostile.invalid"))
        elif spec["behaviour"] == "https":
            args["_ctx"] = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            args["_ctx"].load_cert_chain(args["cert_file"], args["key_file"])
        for port in spec.get("ports", [25]):
            closers.append(await asyncio.start_server(_handler(spec["behaviour"], args), spec["address"], port))
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    for c in closers:
        c.close()


def demo_config(net: str) -> dict:
    """The cases of test_servers.py under <case>.hostile.test, DNS at 127.A.200.53."""
    import os

    os.environ["MAILDOCTOR_LAB_NET"] = net
    from tests.hostile.conftest import DNS_INDEX, addr, case_records, domain
    from tests.hostile.test_servers import CASES

    records, servers = [], []
    for case, (index, behaviours, services) in CASES.items():
        records += case_records(case, index, services=services)
        for behaviour, ports, args in behaviours:
            if behaviour == "absurd_cert":
                args = {**args, "host": f"mx.{domain(case)}"}
            servers.append({"address": addr(index), "ports": ports, "behaviour": behaviour, "args": args})
    print(f"hostile servers for: {', '.join(CASES)}\ntry: maildoctor check garbage.hostile.test "
          f"--nameserver {addr(DNS_INDEX)} --timeout 2 --format html", flush=True)
    return {"dns": {"address": addr(DNS_INDEX), "records": records}, "servers": servers}


def main() -> None:
    """``python -m tests.hostile.kit CONFIG.json``, or ``... demo [127.A]`` to try the server cases by hand."""
    if sys.argv[1] == "demo":
        config = demo_config(sys.argv[2] if len(sys.argv) > 2 else "127.77")
    else:
        config = json.loads(Path(sys.argv[1]).read_text())
    try:
        asyncio.run(serve(config))
    except OSError as exc:
        print(f"error: {exc}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
