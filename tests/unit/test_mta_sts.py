"""MTA-STS and TLS-RPT: record and policy parsing, MX coverage, and the HTTP response parser."""

from __future__ import annotations

import pytest

from checks.mta_sts import MtaSts, StsLookup, mx_matches, parse_mta_sts_policy, parse_sts_record
from checks.tls_rpt import TlsRpt, parse_tlsrpt
from diagnose.engine.model import Status
from diagnose.net.httpget import FetchResult, HttpResponse, parse_http_response
from tests.unit.dnsdata import answer, nxdomain, servfail, timeout

GOOD = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.backup.example.com\r\nmax_age: 604800\r\n"
TXT = answer("_mta-sts.example.com", "TXT", "v=STSv1; id=20240101T000000;")
URL = "https://mta-sts.example.com/.well-known/mta-sts.txt"


def ok(body: str, ctype: str = "text/plain; charset=utf-8", status: int = 200, headers=None) -> FetchResult:
    return FetchResult(URL, "192.0.2.1", "ok",
                       response=HttpResponse(status, "OK", {"content-type": ctype, **(headers or {})}, body.encode()))


def judge(txt=TXT, fetch=None, mx=("mx1.example.com", "b.backup.example.com")):
    lk = StsLookup("example.com", txt, fetch if fetch is not None else ok(GOOD), list(mx) if mx is not None else None)
    return {f.code: f for f in MtaSts().evaluate_mta_sts(lk)}


def test_policy_parsing():
    p = parse_mta_sts_policy(GOOD)
    assert (p.version, p.mode, p.max_age, p.mx, p.errors) == (
        "STSv1", "enforce", 604800, ("mx1.example.com", "*.backup.example.com"), ())
    assert parse_mta_sts_policy(GOOD.replace("\r\n", "\n")).errors == ()  # bare LF tolerated
    assert parse_mta_sts_policy("version: STSv1\nmode: none\nmax_age: 86400\n").errors == ()


@pytest.mark.parametrize("body, error", [
    ("mode: enforce\nmx: a.example\nmax_age: 1", "version"),
    ("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1", "strict"),
    ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: forever", "max_age"),
    ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999999", "max_age"),
    ("version: STSv1\nmode: enforce\nmax_age: 86400", "no mx"),
    ("version: STSv1\nmode: enforce\nmx: mail server\nmax_age: 86400", "mx:"),
    ("<html>not found</html>", "key: value"),
])
def test_policy_errors(body, error):
    assert any(error in e for e in parse_mta_sts_policy(body).errors), parse_mta_sts_policy(body).errors


def test_mx_pattern_matching_rfc8461_4_1():
    assert mx_matches("mx1.example.com", "MX1.example.com.")
    assert mx_matches("*.example.com", "mx1.example.com")
    assert not mx_matches("*.example.com", "a.mx1.example.com")
    assert not mx_matches("*.example.com", "example.com")
    assert not mx_matches("mx1.example.com", "mx2.example.com")


def test_txt_record():
    assert parse_sts_record("v=STSv1; id=abc123;") == ("abc123", [])
    assert parse_sts_record("v=STSv1;")[1]
    assert parse_sts_record("v=STSv1; id=has-dash")[1]


def test_healthy_policy_passes():
    fs = judge()
    assert list(fs) == ["mta_sts.policy"] and fs["mta_sts.policy"].status is Status.PASS


def test_policy_not_covering_the_mx_fails_in_enforce_and_warns_in_testing():
    fs = judge(mx=("mx1.example.com", "mx9.other.example"))
    f = fs["mta_sts.mx_not_covered"]
    assert f.status is Status.FAIL and "mx: mx9.other.example" in f.remedy and "_mta-sts.example.com" in f.remedy
    fs = judge(fetch=ok(GOOD.replace("enforce", "testing")), mx=("mx9.other.example",))
    assert fs["mta_sts.mx_not_covered"].status is Status.WARN and fs["mta_sts.mode"].status is Status.WARN


def test_unreachable_and_tls_and_http_problems_fail():
    for fetch, code in [
        (FetchResult(URL, "", "no_address", "mta-sts.example.com has no address"), "mta_sts.policy_unreachable"),
        (FetchResult(URL, "192.0.2.1", "refused", "connection refused"), "mta_sts.policy_unreachable"),
        (FetchResult(URL, "192.0.2.1", "timeout", "no reply"), "mta_sts.policy_unreachable"),
        (FetchResult(URL, "192.0.2.1", "tls", "certificate has expired"), "mta_sts.policy_tls"),
        (ok("", status=404), "mta_sts.policy_http"),
        (ok("", status=301, headers={"location": "https://www.example.com/"}), "mta_sts.policy_http"),
        (ok(GOOD, ctype="text/html"), "mta_sts.policy_http"),
        (ok("garbage"), "mta_sts.policy_invalid"),
    ]:
        fs = judge(fetch=fetch)
        assert list(fs) == [code] and fs[code].status is Status.FAIL, (fetch, fs)
    assert "redirect" in judge(fetch=ok("", status=301, headers={"location": "x"}))["mta_sts.policy_http"].explanation


def test_no_record_is_a_skip_and_lookup_failure_never_passes():
    assert judge(txt=nxdomain("_mta-sts.example.com", "TXT"))["mta_sts.none"].status is Status.SKIP
    for bad in (servfail, timeout):
        assert judge(txt=bad("_mta-sts.example.com", "TXT"))["mta_sts.lookup_failed"].status is Status.FAIL
    two = answer("_mta-sts.example.com", "TXT", "v=STSv1; id=1", "v=STSv1; id=2")
    assert judge(txt=two)["mta_sts.record_invalid"].status is Status.FAIL


def test_short_max_age_and_unknown_mx_fact():
    fs = judge(fetch=ok(GOOD.replace("604800", "300")))
    assert fs["mta_sts.max_age_short"].status is Status.WARN
    fs = judge(mx=None)
    assert list(fs) == ["mta_sts.policy"]


def test_http_response_parser():
    r = parse_http_response(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello!!", max_body=100
    )
    assert (r.status, r.headers["content-type"], r.body) == (200, "text/plain", b"hello")
    r = parse_http_response(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n", max_body=100
    )
    assert r.body == b"abcde"
    r = parse_http_response(b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 200, max_body=100)
    assert r.truncated and len(r.body) == 100
    for bad in [b"", b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 2000 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nX: y",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]:
        with pytest.raises(ValueError):
            parse_http_response(bad, max_body=100)


def test_tlsrpt():
    check = TlsRpt()
    good = answer("_smtp._tls.example.com", "TXT", "v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example.com/tls")
    assert check.evaluate_tlsrpt("example.com", good).status is Status.PASS
    assert check.evaluate_tlsrpt("example.com", nxdomain("_smtp._tls.example.com", "TXT")).status is Status.SKIP
    for text in ["v=TLSRPTv1;", "v=TLSRPTv1; rua=tls@example.com", "v=TLSRPTv1; rua=http://x.example/"]:
        f = check.evaluate_tlsrpt("example.com", answer("_smtp._tls.example.com", "TXT", text))
        assert f.code == "tls_rpt.invalid" and f.status is Status.FAIL and "v=TLSRPTv1; rua=mailto:" in f.remedy
    for bad in (servfail, timeout):
        assert check.evaluate_tlsrpt("example.com", bad("_smtp._tls.example.com", "TXT")).status is Status.FAIL
    assert parse_tlsrpt("v=TLSRPTv1; rua=mailto:a@example.com; ext=1") == (["mailto:a@example.com"], [])


def test_policy_host_lookup_failure_fails():
    fs = judge(fetch=FetchResult(URL, "", "dns", "the address lookup of mta-sts.example.com failed (DNS timeout)"))
    assert list(fs) == ["mta_sts.policy_unreachable"] and "DNS timeout" in fs["mta_sts.policy_unreachable"].explanation


def test_hostile_policy_and_records():
    evil = "version: STSv1\nmode: enforce\nmx: \x1b[31mmx.example.com\nmax_age: 86400\n" + "junk\n" * 5000
    fs = judge(fetch=ok(evil))
    f = fs["mta_sts.policy_invalid"]
    assert f.status is Status.FAIL and "\x1b" not in f.summary + f.explanation
    assert len(f.explanation) < 3000
    raw = FetchResult(URL, "192.0.2.1", "ok", response=HttpResponse(200, "OK", {"content-type": "text/plain"},
                                                                     b"\xff\x00" * 100 + GOOD.encode()))
    fs = judge(fetch=raw)
    assert all("\x00" not in f.summary + f.explanation for f in fs.values())
    txt = answer("_mta-sts.example.com", "TXT", "v=STSv1; id=" + "A" * 5000)
    assert judge(txt=txt)["mta_sts.record_invalid"].status is Status.FAIL
    f = TlsRpt().evaluate_tlsrpt(
        "example.com", answer("_smtp._tls.example.com", "TXT", "v=TLSRPTv1; rua=mailto:\x1b]0;x\x07a@b.example")
    )
    assert f.status is Status.FAIL and "\x1b" not in f.summary + f.explanation


def test_mx_certificate_as_an_mta_sts_sender_sees_it():
    def with_tls(mx_tls, body=GOOD):
        lk = StsLookup("example.com", TXT, ok(body), ["mx1.example.com"], mx_tls=mx_tls)
        return {f.code: f for f in MtaSts().evaluate_mta_sts(lk)}
    assert list(with_tls({"mx1.example.com": ("ok", "")})) == ["mta_sts.policy"]
    assert list(with_tls({"mx1.example.com": ("unreached", "could not connect")})) == ["mta_sts.policy"]
    f = with_tls({"mx1.example.com": ("bad", "the certificate is for other.example, not mx1.example.com")})[
        "mta_sts.mx_cert"
    ]
    assert f.status is Status.FAIL and "other.example" in f.explanation and "mode: testing" in f.remedy
    f = with_tls({"mx1.example.com": ("no_tls", "")})["mta_sts.mx_cert"]
    assert f.status is Status.FAIL and "STARTTLS" in f.summary
    fs = with_tls({"mx1.example.com": ("bad", "expired")}, GOOD.replace("enforce", "testing"))
    assert fs["mta_sts.mx_cert"].status is Status.WARN
