"""Autoconfig: clientConfig parsing (incl. hostile XML) and findings from fetch results."""

from __future__ import annotations

from checks.autoconfig import Autoconfig, parse_autoconfig
from diagnose.engine.model import Status
from diagnose.net.httpget import FetchResult, HttpResponse

XML = """<?xml version="1.0"?>
<clientConfig version="1.1">
  <emailProvider id="example.com">
    <domain>example.com</domain>
    <incomingServer type="imap"><hostname>imap.example.com</hostname><port>993</port>
      <socketType>SSL</socketType><username>%EMAILADDRESS%</username></incomingServer>
    <incomingServer type="pop3"><hostname>%EMAILDOMAIN%</hostname><port>995</port><socketType>SSL</socketType></incomingServer>
    <outgoingServer type="smtp"><hostname>smtp.example.com</hostname><port>587</port>
      <socketType>STARTTLS</socketType></outgoingServer>
  </emailProvider>
</clientConfig>"""
URL = "https://autoconfig.example.com/mail/config-v1.1.xml"


def served(body: str, status: int = 200) -> FetchResult:
    return FetchResult(
        URL, "192.0.2.1", "ok", response=HttpResponse(status, "", {"content-type": "text/xml"}, body.encode())
    )


def test_parse():
    settings, errors = parse_autoconfig(XML)
    assert not errors
    assert [s.describe() for s in settings] == ["IMAP imap.example.com:993 SSL", "POP3 %emaildomain%:995 SSL",
                                                "SMTP smtp.example.com:587 STARTTLS"]


def test_found_and_published_settings():
    fs, settings = Autoconfig().evaluate_autoconfig("example.com", [served(XML)])
    assert [(f.code, f.status) for f in fs] == [("autoconfig.found", Status.PASS)]
    assert "IMAP imap.example.com:993 SSL" in fs[0].summary and "SMTP smtp.example.com:587 STARTTLS" in fs[0].summary
    assert settings[1].hostname == "example.com"  # %EMAILDOMAIN% filled in


def test_plain_is_warned():
    fs, _ = Autoconfig().evaluate_autoconfig("example.com", [served(XML.replace("STARTTLS", "plain"))])
    assert ("autoconfig.plain", Status.WARN) in [(f.code, f.status) for f in fs]


def test_none_and_unreachable():
    fs, settings = Autoconfig().evaluate_autoconfig("example.com", [])
    assert [(f.code, f.status) for f in fs] == [("autoconfig.none", Status.SKIP)] and settings == []
    fs, _ = Autoconfig().evaluate_autoconfig(
        "example.com", [FetchResult(URL, "192.0.2.1", "refused", "connection refused")]
    )
    assert [(f.code, f.status) for f in fs] == [("autoconfig.unreachable", Status.WARN)]
    fs, _ = Autoconfig().evaluate_autoconfig("example.com", [served("", status=404)])
    assert fs[0].code == "autoconfig.none"


def test_hostile_and_invalid_xml():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><clientConfig>&b;</clientConfig>'
    )
    for body, words in [
        (bomb, "DOCTYPE"),
        ("<clientConfig><unclosed>", "well-formed"),
        ("<html/>", "root element"),
        ("<clientConfig><emailProvider/></clientConfig>", "no incomingServer"),
        (XML.replace("993", "99999"), "port"),
        (XML.replace("imap.example.com", "imap example"), "host name"),
        (XML.replace("imap.example.com", "\x1b[2J"), "well-formed"),
        ("x" * 70000, "larger"),
    ]:
        fs, _ = Autoconfig().evaluate_autoconfig("example.com", [served(body)])
        assert fs[0].code == "autoconfig.invalid" and fs[0].status is Status.FAIL, (body[:40], fs)
        assert words in fs[0].summary + fs[0].explanation, fs[0].explanation
        assert "\x1b" not in fs[0].explanation


def test_dns_failure_is_not_absence():
    failed = FetchResult(URL, "", "dns", "the address lookup of autoconfig.example.com failed (DNS timeout)")
    fs, _ = Autoconfig().evaluate_autoconfig("example.com", [failed])
    assert [(f.code, f.status) for f in fs] == [("autoconfig.unreachable", Status.WARN)]
    assert "DNS timeout" in fs[0].explanation
    # one consistent statement: not "exists as a name" beside "its address lookup failed"
    assert "exists as a name" not in fs[0].explanation
    assert fs[0].explanation.startswith(f"The autoconfig file at {URL} could not be fetched: the address lookup")
