"""A real dialogue with a hostile SMTP server: its banner (terminal escapes, HTML, Markdown, XML
breakers) goes through the real checks into every report format and comes out neutralised."""

from __future__ import annotations

import asyncio
import json
import os
import xml.etree.ElementTree as ET

import pytest

from checks.greeting.smtp import SmtpGreeting
from checks.tls.handshake import TlsHandshake
from diagnose.engine.report import Report
from diagnose.net.dialogue import Endpoint, run_dialogue
from reports import renderer
from tests.reports.test_renderers import markdown_tokens, parse_html

NET = os.environ.get("MAILDOCTOR_LAB_NET", "127.77")
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="binds port 25 on loopback: needs root")

BANNER = (b"220-mx.evil.test \x1b[2J\x1b[31mRED\x1b]0;owned\x07 <script>alert('x')</script> "
          b"<img src=http://evil.example/t.png onerror=alert(1)>\r\n"
          b"220-| a | b | `x` ]]> --> &amp; \x00\x08\x0b \xff\xfe **bold** [l](http://evil.example)\r\n"
          b"220 ESMTP \xe2\x80\xae reversed\r\n")


async def hostile(reader, writer):
    writer.write(BANNER)
    await writer.drain()
    while line := await reader.readline():
        command = line.strip().upper()
        if command.startswith(b"EHLO"):
            writer.write(b"250-mx.evil.test <b>hi</b> \x1b[5m\r\n250 PIPELINING\r\n")
        elif command == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            break
        else:
            writer.write(b"502 <i>no</i>\r\n")
        await writer.drain()
    writer.close()


def diagnose_hostile_server() -> Report:
    address = f"{NET}.251.25"

    async def go():
        server = await asyncio.start_server(hostile, address, 25)
        try:
            return await run_dialogue(Endpoint("mx", "mx.evil.test", address, 25), timeout=1.0)
        finally:
            server.close()

    dialogue = asyncio.run(go())
    findings = [*SmtpGreeting().evaluate(dialogue.endpoint, dialogue, timeout=1.0),
                *TlsHandshake().evaluate(dialogue.endpoint, dialogue, None)]
    return Report(target={"input": "evil.test", "domain": "evil.test", "domain_unicode": "evil.test"},
                  started_at="2026-11-27T03:00:00+00:00", duration_s=0.1, resolver={"nameservers": ["127.0.0.1:53"]},
                  findings=findings, tool={"name": "maildoctor", "version": "test"}, meta={"host": "test"})


@pytest.fixture(scope="module")
def report() -> Report:
    result = diagnose_hostile_server()
    assert any("transcript" in f.evidence for f in result.findings), [f.to_dict() for f in result.findings]
    return result


def test_every_format_neutralises_the_hostile_banner(report):
    outputs = {fmt: renderer(fmt)(report) for fmt in ("text", "json", "markdown", "html", "junit", "nagios")}
    for fmt, out in outputs.items():
        out.encode("utf-8")
        assert "\x1b" not in out and "\x00" not in out and "\x08" not in out and "\u202e" not in out, fmt
    page = outputs["html"]
    tags = [t for t, _ in parse_html(page).tags]
    assert "script" not in tags and "img" not in tags and "b" not in tags and "i" not in tags
    assert "&lt;script&gt;" in page
    root = ET.fromstring(outputs["junit"].encode())
    assert root.tag == "testsuites"
    kinds = {c.type for t in markdown_tokens(outputs["markdown"]) if t.type == "inline" for c in t.children or []}
    assert "link_open" not in kinds and "image" not in kinds
    json.loads(outputs["json"])
    first = outputs["nagios"].splitlines()[0]
    assert first.count("|") == 1
