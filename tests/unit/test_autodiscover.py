"""Microsoft Autodiscover (POX): the request, the reading of answers, and the check's verdicts."""

from __future__ import annotations

from checks.autodiscover import Autodiscover, _redirect
from diagnose.engine.model import Status
from diagnose.knowledge.autodiscover import parse_response, request_body
from diagnose.net.httpget import FetchResult, HttpResponse

ANSWER = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
 <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
  <Account><AccountType>email</AccountType><Action>settings</Action>
   <Protocol><Type>IMAP</Type><Server>imap.example.com</Server><Port>993</Port><SSL>on</SSL>
     <LoginName>you@example.com</LoginName></Protocol>
   <Protocol><Type>SMTP</Type><Server>smtp.example.com</Server><Port>587</Port><Encryption>TLS</Encryption></Protocol>
   <Protocol><Type>POP3</Type><Server>pop.example.com</Server><Port>110</Port><SSL>off</SSL></Protocol>
   <Protocol><Type>EXCH</Type><Server>mbx.internal</Server></Protocol>
  </Account></Response></Autodiscover>"""


def test_request_names_the_address_escaped():
    body = request_body("a&b@example.com").decode()
    assert "<EMailAddress>a&amp;b@example.com</EMailAddress>" in body
    assert "outlook/requestschema/2006" in body and "responseschema/2006a" in body


def test_settings_answer():
    a = parse_response(ANSWER)
    assert [(s.protocol, s.hostname, s.port, s.security) for s in a.servers] == [
        ("imap", "imap.example.com", 993, "SSL"), ("smtp", "smtp.example.com", 587, "STARTTLS"),
        ("pop3", "pop.example.com", 110, "plain")]
    assert a.servers[0].username == "you@example.com" and not a.error


def test_redirects_errors_and_hostile_answers():
    redirect = parse_response("<Autodiscover><Response><Account><Action>redirectUrl</Action>"
                              "<RedirectUrl>https://ad.example.net/autodiscover/autodiscover.xml</RedirectUrl>"
                              "</Account></Response></Autodiscover>")
    assert _redirect(redirect, "x") == ("ad.example.net", 443, "redirect from x", "/autodiscover/autodiscover.xml")
    assert _redirect(redirect, "redirect from x")[2] == "redirect from x"  # credited to the first place
    addr = parse_response("<Autodiscover><Response><Account><Action>redirectAddr</Action>"
                          "<RedirectAddr>you@other.example</RedirectAddr></Account></Response></Autodiscover>")
    assert _redirect(addr, "x")[0] == "autodiscover.other.example"
    plain_http = parse_response("<Autodiscover><Response><Account><Action>redirectUrl</Action>"
                                "<RedirectUrl>http://ad.example.net/</RedirectUrl></Account></Response></Autodiscover>")
    assert _redirect(plain_http, "x") is None  # never downgraded to plain HTTP
    assert "600" in parse_response("<Autodiscover><Response><Error><ErrorCode>600</ErrorCode></Error>"
                                   "</Response></Autodiscover>").error
    assert "DOCTYPE" in parse_response('<!DOCTYPE x [<!ENTITY a "b">]><Autodiscover/>').error
    assert "not well-formed" in parse_response("<html><body>hi").error
    bad = parse_response("<Autodiscover><Response><Account><Action>settings</Action><Protocol><Type>IMAP</Type>"
                         "<Server>evil host &lt;b&gt;</Server><Port>993</Port></Protocol></Account></Response>"
                         "</Autodiscover>")
    assert not bad.servers and "is not a host name" in bad.problems[0]
    assert parse_response("<Autodiscover>\x1b[31m</Autodiscover>").error  # control characters: not XML


def _fetch(status: int, body: str = "") -> FetchResult:
    return FetchResult("https://autodiscover.example.com/autodiscover/autodiscover.xml", "192.0.2.1", "ok",
                       response=HttpResponse(status, "OK", {}, body.encode()))


def test_check_verdicts():
    check = Autodiscover()
    found, settings = check.evaluate("example.com", [("autodiscover.example.com", _fetch(200, ANSWER),
                                                       parse_response(ANSWER))])
    assert [(f.code, f.status) for f in found] == [("autodiscover.found", Status.PASS),
                                                   ("autodiscover.plain", Status.WARN)]
    assert len(settings) == 3
    login, _ = check.evaluate("example.com", [("autodiscover.example.com", _fetch(401), None)])
    assert [(f.code, f.status) for f in login] == [("autodiscover.login_required", Status.SKIP)]
    down = FetchResult("https://autodiscover.example.com/autodiscover/autodiscover.xml", "192.0.2.1", "refused",
                       "connection refused")
    gone, _ = check.evaluate("example.com", [("autodiscover.example.com", down, None)])
    assert [(f.code, f.status) for f in gone] == [("autodiscover.unreachable", Status.WARN)]
    none, _ = check.evaluate("example.com", [])
    assert [(f.code, f.status) for f in none] == [("autodiscover.none", Status.SKIP)]
    html = parse_response("<html/>")
    invalid, _ = check.evaluate("example.com", [("autodiscover.example.com", _fetch(200, "<html/>"), html)])
    assert [(f.code, f.status) for f in invalid] == [("autodiscover.invalid", Status.WARN)]
