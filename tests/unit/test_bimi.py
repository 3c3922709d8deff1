"""BIMI (optional check): the record, SVG Tiny PS, the mark certificate, DMARC settings that switch
BIMI off, and the evaluation on constructed answers and fetches."""

from __future__ import annotations

import datetime as dt

import pytest

from checks.bimi.check import Bimi, BimiLookup
from checks.bimi.record import dmarc_blockers, parse_bimi, select_bimi
from checks.bimi.svg import check_svg
from checks.bimi.vmc import check_mark
from diagnose.engine.model import Status
from diagnose.engine.registry import discover, select
from diagnose.knowledge.dmarc.discovery import Found
from diagnose.knowledge.dmarc.record import parse_dmarc
from diagnose.net.httpget import FetchResult, HttpResponse
from tests.lab.pki import CertAuthority
from tests.lab.scenarios import BIMI_LOGO
from tests.unit.certmint import Pki
from tests.unit.dnsdata import answer, nxdomain, servfail

LOGO = BIMI_LOGO.encode()
RECORD = "v=BIMI1; l=https://bimi.example.com/logo.svg; a=https://bimi.example.com/vmc.pem"


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> CertAuthority:
    return CertAuthority(tmp_path_factory.mktemp("bimi-ca"), "unit")


def test_the_check_is_optional_and_runs_only_when_named():
    installed = discover().checks
    assert Bimi in installed
    assert Bimi not in select(installed)  # the default run
    assert Bimi in select(installed, ["bimi"]) and Bimi in select(installed, ["bimi.logo"])


@pytest.mark.parametrize("text, error", [
    ("v=BIMI1; l=http://example.com/logo.svg", "https://"),
    ("v=BIMI1; l=https://a.example/x.svg,https://b.example/y.svg", "one logo"),
    ("v=BIMI1; l=https://a.example/x.svg; l=https://a.example/y.svg", "twice"),
    ("v=BIMI1", "neither"),
    ("v=BIMI1; garbage", "tag=value"),
])
def test_record_syntax(text, error):
    assert any(error in e for e in parse_bimi(text).errors), parse_bimi(text).errors


def test_record_selection_and_declining():
    assert select_bimi(["v=spf1 -all", RECORD, "v=BIMI10; l="]) == [RECORD]
    assert parse_bimi("v=BIMI1; l=; a=;").declined and not parse_bimi("v=BIMI1; l=; a=;").errors
    assert not parse_bimi(RECORD).errors and parse_bimi(RECORD).evidence.endswith("vmc.pem")


@pytest.mark.parametrize("change, problem", [
    (('baseProfile="tiny-ps"', 'baseProfile="tiny"'), "tiny-ps"),
    (('version="1.2"', 'version="1.1"'), "version"),
    (("<title>maildoctor lab brand</title>", ""), "<title>"),
    (('viewBox="0 0 100 100"', 'viewBox="0 0 200 100"'), "not square"),
    (("<circle", "<script>alert(1)</script><circle"), "<script>"),
    (("<circle", '<image href="https://evil.example/x.png" width="1" height="1"/><circle'), "<image>"),
    (("<circle", '<use xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="https://x.example/a.svg#b"/><circle'),
     "external"),
    (("<circle", '<circle onclick="x()"'), "script handler"),
    (("<circle", "<animate attributeName='r' to='1'/><circle"), "animation"),
    (('<?xml version="1.0" encoding="UTF-8"?>', '<!DOCTYPE svg [<!ENTITY x "y">]>'), "DOCTYPE"),
    (("</svg>", ""), "well-formed"),
    (('<?xml version="1.0" encoding="UTF-8"?>', "<!--" + "x" * 5000 + '--><!DOCTYPE svg [<!ENTITY a "b">]>'),
     "DOCTYPE"),  # entities are refused wherever the declaration is: no expansion of untrusted XML
])
def test_svg_tiny_ps_problems_are_named(change, problem):
    verdict = check_svg(BIMI_LOGO.replace(*change).encode())
    assert not verdict.ok and any(problem in p for p in verdict.problems), verdict.problems


def test_valid_logo_and_size_limit():
    verdict = check_svg(LOGO)
    assert verdict.ok and verdict.title == "maildoctor lab brand" and verdict.width == verdict.height == 100
    big = BIMI_LOGO.replace("</svg>", "<!--" + "x" * 40000 + "--></svg>").encode()
    assert any("at most" in p for p in check_svg(big).problems)


def test_mark_certificate_from_a_ca(ca):
    pem = ca.issue_mark("example.com", LOGO)
    verdict = check_mark(pem, "example.com", ca.now, LOGO)
    assert verdict.ok, verdict.problems
    assert verdict.facts["logo_matches"] is True and "intermediate" in verdict.facts["chain_verified_to"]
    # a subdomain of the certified domain is covered; another domain, a changed logo and time are not
    assert check_mark(pem, "news.example.com", ca.now, LOGO).ok
    problems = " | ".join(check_mark(pem, "other.example", ca.now + dt.timedelta(days=400),
                                     LOGO.replace(b"30", b"40")).problems)
    assert "other.example is not among" in problems and "expired" in problems and "differs" in problems
    leaf_only = pem.split(b"-----END CERTIFICATE-----")[0] + b"-----END CERTIFICATE-----\n"
    assert any("alone" in p for p in check_mark(leaf_only, "example.com", ca.now).problems)


def test_a_server_certificate_is_not_a_mark_certificate():
    from cryptography.hazmat.primitives import serialization

    pki = Pki("bimi")
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (pki.leaf("example.com"), pki.root))
    problems = " | ".join(check_mark(pem, "example.com", dt.datetime(2026, 6, 1, tzinfo=dt.UTC)).problems)
    assert "extended key usage" in problems and "logotype" in problems
    assert "chain to its issuer is broken" in problems  # the leaf was issued by the intermediate, not the root
    assert check_mark(b"not pem", "example.com", dt.datetime.now(dt.UTC)).problems


@pytest.mark.parametrize("dmarc, own, blocker", [
    ("v=DMARC1; p=none", True, "p=none"),
    ("v=DMARC1; p=reject; sp=none", True, "sp=none"),
    ("v=DMARC1; p=quarantine; pct=50", True, "pct=50"),
    ("v=DMARC1; p=reject; sp=none", False, "sp=none"),
    ("v=DMARC1; p=reject; t=y", True, "t=y"),
])
def test_dmarc_settings_that_switch_bimi_off(dmarc, own, blocker):
    assert any(blocker in b for b in dmarc_blockers(parse_dmarc(dmarc), own=own))


def test_dmarc_at_enforcement_keeps_bimi():
    assert dmarc_blockers(parse_dmarc("v=DMARC1; p=reject"), own=True) == []
    assert dmarc_blockers(parse_dmarc("v=DMARC1; p=none; sp=quarantine"), own=False) == []
    assert "no DMARC record" in dmarc_blockers(None, own=True)[0]


def fetched(url: str, body: bytes, status: int = 200) -> FetchResult:
    return FetchResult(url, "192.0.2.1", "ok", response=HttpResponse(status, "OK" if status == 200 else "Not Found",
                                                                      body=body))


def lookup(record: str | None, *, dmarc: str = "v=DMARC1; p=reject", logo=None, cert=None, now=None) -> BimiLookup:
    name = "default._bimi.example.com"
    res = answer(name, "TXT", record) if record else nxdomain(name, "TXT")
    found = Found("example.com", "example.com", parse_dmarc(dmarc))
    return BimiLookup("example.com", {name: res}, found, logo, cert, now or dt.datetime.now(dt.UTC))


def codes(lk: BimiLookup) -> dict:
    return {f.code: f for f in Bimi().evaluate_bimi(lk)}


def test_evaluation_pass_and_each_failure(ca):
    pem = ca.issue_mark("example.com", LOGO)
    good = dict(logo=fetched("https://bimi.example.com/logo.svg", LOGO),
                cert=fetched("https://bimi.example.com/vmc.pem", pem), now=ca.now)
    assert list(codes(lookup(RECORD, **good))) == ["bimi.logo"]
    assert codes(lookup(None))["bimi.missing"].status is Status.WARN
    assert codes(lookup("v=BIMI1; l=; a="))["bimi.declined"].status is Status.SKIP
    blocked = codes(lookup(RECORD, dmarc="v=DMARC1; p=quarantine; sp=none; pct=50", **good))
    f = blocked["bimi.dmarc_blocks"]
    assert f.status is Status.FAIL and "sp=none" in f.explanation and "pct=50" in f.explanation
    bad_logo = codes(lookup(RECORD, logo=fetched("u", LOGO.replace(b"tiny-ps", b"tiny")), cert=good["cert"],
                            now=ca.now))
    assert bad_logo["bimi.logo_invalid"].status is Status.FAIL
    gone = codes(lookup(RECORD, logo=fetched("u", b"", 404), cert=good["cert"], now=ca.now))
    assert "HTTP 404" in gone["bimi.logo_unreachable"].summary
    no_cert = codes(lookup("v=BIMI1; l=https://bimi.example.com/logo.svg", logo=good["logo"]))
    assert no_cert["bimi.no_certificate"].status is Status.WARN
    late = codes(lookup(RECORD, **{**good, "now": ca.now + dt.timedelta(days=400)}))
    assert "expired" in late["bimi.cert_invalid"].explanation


def test_lookup_failure_and_hostile_record():
    name = "default._bimi.example.com"
    failed = BimiLookup("example.com", {name: servfail(name, "TXT")})
    assert codes(failed)["bimi.lookup_failed"].status is Status.FAIL
    hostile = codes(lookup("v=BIMI1; l=https://x.example/\x1b[2J.svg\x07"))
    assert "bimi.syntax" in hostile  # never fetched: the path would go into the HTTP request line
    assert all("\x1b" not in f.summary + f.explanation for f in hostile.values())
