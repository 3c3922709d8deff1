"""The line reader: replies split across reads, caps, time limits, hostile text."""

import asyncio

import pytest

from diagnose.knowledge.replies import SmtpReply, imap_capabilities
from diagnose.net.protocol import Failure, LineReader, ProtocolError


def run(coro):
    return asyncio.run(coro)


async def feed_later(reader: asyncio.StreamReader, chunks, *, delay=0.01, eof=False):
    for chunk in chunks:
        await asyncio.sleep(delay)
        reader.feed_data(chunk)
    if eof:
        reader.feed_eof()


async def read_smtp(chunks, *, timeout=1.0, eof=False, **caps):
    stream = asyncio.StreamReader()
    feeder = asyncio.ensure_future(feed_later(stream, chunks, eof=eof))
    try:
        return await LineReader(stream, timeout=timeout, **caps).smtp_reply("EHLO")
    finally:
        feeder.cancel()


EHLO = b"250-mx.example.test Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n"


@pytest.mark.parametrize("cut", [1, 5, 17, 18, 19, 30, len(EHLO) - 1])
def test_multiline_reply_split_anywhere_is_one_reply(cut):
    # Given an EHLO reply cut into two reads at any byte (inside a line, at CR, between CR and LF)
    reply = run(read_smtp([EHLO[:cut], EHLO[cut:]]))
    # Then it is read as one reply with all extensions
    assert reply.code == 250
    assert reply.extensions() == {"PIPELINING": "", "SIZE": "10240000", "STARTTLS": "", "SMTPUTF8": ""}


def test_reply_one_byte_per_read():
    reply = run(read_smtp([bytes([b]) for b in EHLO], timeout=5))
    assert reply.lines[0] == "mx.example.test Hello"
    assert len(reply.lines) == 5


def test_bare_lf_and_code_without_text():
    reply = run(read_smtp([b"220\n"]))
    assert reply == SmtpReply(220, ("",))


def test_two_replies_in_one_read_are_kept_apart():
    async def go():
        stream = asyncio.StreamReader()
        stream.feed_data(b"220 hi\r\n250-a\r\n250 b\r\n")
        r = LineReader(stream, timeout=1)
        return await r.smtp_reply("greeting"), await r.smtp_reply("EHLO")
    first, second = run(go())
    assert first.code == 220 and second.lines == ("a", "b")


def test_incomplete_reply_times_out_with_phase():
    with pytest.raises(ProtocolError) as info:
        run(read_smtp([b"250-first\r\n250-sec"], timeout=0.3))
    assert info.value.phase == "EHLO" and info.value.failure is Failure.TIMEOUT


def test_close_mid_reply():
    with pytest.raises(ProtocolError) as info:
        run(read_smtp([b"250-first\r\n"], eof=True))
    assert info.value.failure is Failure.CLOSED


def test_mixed_codes_and_non_smtp_text_are_garbage():
    with pytest.raises(ProtocolError) as info:
        run(read_smtp([b"250-a\r\n220 b\r\n"]))
    assert info.value.failure is Failure.GARBAGE
    with pytest.raises(ProtocolError) as info:
        run(read_smtp([b"SSH-2.0-OpenSSH_9.2\r\n"]))
    assert info.value.failure is Failure.GARBAGE


def test_line_cap_and_session_cap():
    with pytest.raises(ProtocolError) as info:
        run(read_smtp([b"250 " + b"x" * 10000], max_line=512))
    assert info.value.failure is Failure.TOO_LONG
    with pytest.raises(ProtocolError) as info:
        run(read_smtp([b"250-" + b"x" * 100 + b"\r\n"] * 50, max_total=2000))
    assert info.value.failure is Failure.TOO_LONG


def test_endless_continuation_lines_are_capped():
    with pytest.raises(ProtocolError) as info:
        run(read_smtp([b"250-x\r\n" * 300], timeout=2))
    assert info.value.failure is Failure.TOO_LONG


def test_transcript_is_sanitized():
    async def go():
        stream = asyncio.StreamReader()
        stream.feed_data(b"220 evil\x1b[2J\x1b]0;title\x07 host\r\n")
        r = LineReader(stream, timeout=1)
        await r.smtp_reply("greeting")
        return r.transcript.as_list()
    (line,) = run(go())
    assert "\x1b" not in line and line.startswith("S: 220 evil")


def test_pop3_multiline_until_dot():
    async def go():
        stream = asyncio.StreamReader()
        asyncio.ensure_future(
            feed_later(stream, [b"+OK Capability list follows\r\nTOP\r\nUS", b"ER\r\nSTLS\r\n.", b"\r\n"])
        )
        r = LineReader(stream, timeout=1)
        return await r.until("CAPA", lambda line: line == ".")
    assert run(go()) == ["+OK Capability list follows", "TOP", "USER", "STLS", "."]


def test_imap_capabilities():
    assert imap_capabilities("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready") == (
        "IMAP4REV1", "STARTTLS", "LOGINDISABLED")
    assert imap_capabilities("* CAPABILITY IMAP4rev1 AUTH=PLAIN") == ("IMAP4REV1", "AUTH=PLAIN")
    assert imap_capabilities("* OK ready") == ()
