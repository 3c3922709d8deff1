"""Property-based tests (hypothesis) of the parsers that read what DNS and servers send.

Two kinds of property: on any input a parser returns its normal result (errors are data, never
an exception), and on generated well-formed input it reads back what was written. The reply
reader must give the same result however the bytes are split across reads.
"""

from __future__ import annotations

import asyncio
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.autoconfig import parse_autoconfig
from checks.dmarc import parse_dmarc, select_dmarc
from checks.mta_sts import mx_matches, parse_mta_sts_policy, parse_sts_record, select_sts
from checks.tls_rpt import parse_tlsrpt
from diagnose.knowledge.replies import SmtpReply, imap_capabilities
from diagnose.knowledge.sanitize import clean
from diagnose.knowledge.spf.record import parse_record, select_spf
from diagnose.net.protocol import LineReader, ProtocolError

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
any_text = st.text(st.characters(codec="utf-8"), max_size=400)  # includes digits like '²' and '١'
hostname = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True), min_size=1, max_size=3),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)
# field values a hostile server or zone may send where a number or keyword belongs ('²' passes isdigit())
weird = st.one_of(st.text(st.characters(codec="utf-8", exclude_characters=";\r\n<>&:"), max_size=12),
                  st.sampled_from(["²", "١٢٣", "①", "¹⁰", "0x10", "-1", "1e3", " 5 ", "9" * 40, "", "\x00", "\x1b[2J"]))


# --- SPF ------------------------------------------------------------------------------------

@FAST
@given(any_text)
def test_spf_parse_never_raises(record):
    terms, errors = parse_record(record)
    assert isinstance(terms, list) and isinstance(errors, list)
    select_spf([record])


@FAST
@given(st.lists(st.tuples(st.sampled_from(["", "+", "-", "~", "?"]),
                          st.one_of(st.builds(lambda a, b, c, d: f"ip4:{a}.{b}.{c}.{d}", *[st.integers(0, 255)] * 4),
                                    hostname.map(lambda h: f"include:{h}"), st.just("mx"), st.just("a"))),
                max_size=8),
       st.sampled_from(["-all", "~all", "?all", "+all"]))
def test_spf_well_formed_records_parse_cleanly(mechanisms, final):
    record = " ".join(["v=spf1", *(q + m for q, m in mechanisms), final])
    terms, errors = parse_record(record)
    assert errors == [], (record, errors)
    assert len(terms) == len(mechanisms) + 1
    assert select_spf(["other text", record]) == [record]


# --- DMARC ----------------------------------------------------------------------------------

@FAST
@given(any_text)
def test_dmarc_parse_never_raises(text):
    record = parse_dmarc(text)
    assert isinstance(record.errors, tuple)
    select_dmarc([text])


@FAST
@given(st.sampled_from(["none", "quarantine", "reject"]), st.integers(0, 100), hostname,
       st.sampled_from(["r", "s"]))
def test_dmarc_well_formed_records_read_back(policy, pct, host, align):
    text = f"v=DMARC1; p={policy}; pct={pct}; rua=mailto:dmarc@{host}; adkim={align}"
    record = parse_dmarc(text)
    assert record.errors == (), (text, record.errors)
    assert record.tags["p"] == policy and record.tags["pct"] == str(pct)


@FAST
@given(weird, weird, weird, weird, weird)
def test_dmarc_hostile_tag_values(p, pct, sp, adkim, rua):
    record = parse_dmarc(f"v=DMARC1; p={p}; pct={pct}; sp={sp}; adkim={adkim}; rua={rua}")
    assert isinstance(record.errors, tuple)


# --- MTA-STS --------------------------------------------------------------------------------

@FAST
@given(any_text)
def test_mta_sts_policy_and_record_never_raise(text):
    policy = parse_mta_sts_policy(text)
    assert isinstance(policy.errors, tuple)
    parse_sts_record(text)
    select_sts([text])


@FAST
@given(st.sampled_from(["enforce", "testing", "none"]), st.integers(0, 31557600),
       st.lists(st.one_of(hostname, hostname.map(lambda h: "*." + h)), min_size=1, max_size=5),
       st.sampled_from(["\n", "\r\n"]))
def test_mta_sts_well_formed_policies_read_back(mode, max_age, mxs, eol):
    text = eol.join(["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mxs), f"max_age: {max_age}"]) + eol
    policy = parse_mta_sts_policy(text)
    assert policy.errors == (), (text, policy.errors)
    assert (policy.mode, policy.max_age, policy.mx) == (mode, max_age, tuple(mxs))


@FAST
@given(hostname, hostname)
def test_mta_sts_wildcard_matches_exactly_one_label(label_host, base):
    label = label_host.split(".")[0]
    assert mx_matches(f"*.{base}", f"{label}.{base}")
    assert not mx_matches(f"*.{base}", base)
    assert not mx_matches(f"*.{base}", f"{label}.{label}.{base}")


@FAST
@given(weird, weird, weird, weird)
def test_mta_sts_hostile_field_values(version, mode, max_age, mx):
    policy = parse_mta_sts_policy(f"version: {version}\nmode: {mode}\nmax_age: {max_age}\nmx: {mx}\n")
    assert isinstance(policy.errors, tuple)
    assert policy.max_age is None or 0 <= policy.max_age <= 31557600


@FAST
@given(weird, weird, st.binary(max_size=200))
def test_http_response_parser_hostile_status_and_length(status, length, body):
    from diagnose.net.httpget import parse_http_response

    raw = f"HTTP/1.1 {status} OK\r\nContent-Length: {length}\r\n\r\n".encode("utf-8", "surrogateescape") + body
    try:
        response = parse_http_response(raw, max_body=100)
    except ValueError:
        return  # "not an HTTP response": the caller's documented outcome
    assert 100 <= response.status <= 999 and len(response.body) <= 100


@FAST
@given(any_text)
def test_tlsrpt_parse_never_raises(text):
    parse_tlsrpt(text)


# --- autoconfig XML -------------------------------------------------------------------------

xml_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@FAST
@given(any_text)
def test_autoconfig_any_text(text):
    settings_, errors = parse_autoconfig(text)
    assert isinstance(settings_, list) and isinstance(errors, list)


@FAST
@given(st.sampled_from(["imap", "pop3", "smtp", "IMAP", "jmap", "gopher", ""]), xml_text, st.one_of(xml_text, weird),
       xml_text, xml_text)
def test_autoconfig_hostile_field_values(kind, host, port, socket_type, user):
    from xml.sax.saxutils import escape, quoteattr

    doc = (f"<clientConfig><emailProvider id='x'><incomingServer type={quoteattr(kind)}>"
           f"<hostname>{escape(host)}</hostname><port>{escape(port)}</port>"
           f"<socketType>{escape(socket_type)}</socketType><username>{escape(user)}</username>"
           f"</incomingServer></emailProvider></clientConfig>")
    settings_, errors = parse_autoconfig(doc)
    assert settings_ or errors
    for s in settings_:
        assert 0 < s.port < 65536 and s.security in ("SSL", "STARTTLS", "plain")
        assert s.username == clean(s.username)  # server text comes out sanitized


@FAST
@given(st.sampled_from(["imap", "pop3", "smtp"]), hostname, st.integers(1, 65535),
       st.sampled_from(["SSL", "STARTTLS", "plain"]))
def test_autoconfig_well_formed_read_back(kind, host, port, socket_type):
    direction = "outgoingServer" if kind == "smtp" else "incomingServer"
    doc = (f"<?xml version='1.0'?><clientConfig version='1.1'><emailProvider id='{host}'>"
           f"<{direction} type='{kind}'><hostname>{host}</hostname><port>{port}</port>"
           f"<socketType>{socket_type}</socketType></{direction}></emailProvider></clientConfig>")
    settings_, errors = parse_autoconfig(doc)
    assert errors == [] and len(settings_) == 1
    assert (settings_[0].hostname, settings_[0].port, settings_[0].security) == (host, port, socket_type)


def test_autoconfig_entity_expansion_is_refused():
    bomb = ("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]>"
            "<clientConfig><emailProvider><incomingServer type='imap'><hostname>&b;</hostname>"
            "</incomingServer></emailProvider></clientConfig>")
    assert parse_autoconfig(bomb) == ([], ["the file contains a DOCTYPE/ENTITY declaration (not allowed here)"])


# --- reply lines ----------------------------------------------------------------------------

def _read_reply(chunks: list[bytes], how: str = "smtp"):
    async def go():
        reader = asyncio.StreamReader()
        for chunk in chunks:
            reader.feed_data(chunk)
        reader.feed_eof()
        lines = LineReader(reader, timeout=1.0)
        try:
            if how == "smtp":
                return await lines.smtp_reply("greeting")
            return await lines.line("greeting")
        except ProtocolError as exc:
            return ("error", exc.failure)
    return asyncio.run(go())


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=False)]


@FAST
@given(st.binary(max_size=2000), st.lists(st.integers(0, 5000), max_size=20))
def test_reply_reader_any_bytes_any_split(data, cuts):
    whole = _read_reply([data])
    assert isinstance(whole, SmtpReply) or whole[0] == "error"
    assert _read_reply(_split(data, cuts)) == whole  # the split across reads never changes the result
    if isinstance(whole, SmtpReply):
        for line in whole.lines:
            assert line == clean(line, limit=10**6, keep_newlines=False)  # no escapes or controls survive


smtp_text = st.text(st.sampled_from(string.ascii_letters + string.digits + " .-=[]"), max_size=40)


@FAST
@given(st.integers(200, 599), st.lists(smtp_text, min_size=1, max_size=30), st.sampled_from([b"\r\n", b"\n"]),
       st.lists(st.integers(0, 5000), max_size=30))
def test_well_formed_multiline_replies_read_back(code, texts, eol, cuts):
    data = b"".join(f"{code}{'-' if i < len(texts) - 1 else ' '}{t}".encode() + eol for i, t in enumerate(texts))
    reply = _read_reply(_split(data, cuts))
    assert isinstance(reply, SmtpReply), reply
    assert reply.code == code and reply.lines == tuple(texts)


@FAST
@given(st.lists(st.from_regex(r"[A-Z][A-Z0-9=+-]{0,15}", fullmatch=True), max_size=20), any_text)
def test_imap_capabilities(caps, junk):
    assert imap_capabilities("* CAPABILITY " + " ".join(caps)) == tuple(caps) or not caps
    assert isinstance(imap_capabilities(junk), tuple)
