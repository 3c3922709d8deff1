"""PTR/FCrDNS, DNSBL, DNSSEC and DANE-record evaluators on constructed answers."""

from __future__ import annotations

import pytest

from checks.dane.records import DaneRecords, record_problem
from checks.dnsbl import PUBLIC_DNSBLS, Dnsbl, classify, dnsbl_name, zones_from_options
from checks.dnssec import Dnssec
from checks.ptr import PtrFcrdns, looks_generic, reverse_name
from diagnose.engine.model import Status
from tests.unit.dnsdata import answer, nodata, nxdomain, servfail, timeout

# -- PTR ---------------------------------------------------------------------


def ptr_judge(ptr, forward):
    return PtrFcrdns().evaluate_ptr("mx1.example.com", "192.0.2.10", ptr, forward)


RNAME = "10.2.0.192.in-addr.arpa"


def test_reverse_names():
    assert reverse_name("192.0.2.10") == RNAME
    assert reverse_name("2001:db8::1").endswith(".8.b.d.0.1.0.0.2.ip6.arpa")


def test_fcrdns_pass_mismatch_missing():
    ok = ptr_judge(
        answer(RNAME, "PTR", "mx1.example.com."), {"mx1.example.com": answer("mx1.example.com", "A", "192.0.2.10")}
    )
    assert ok.code == "ptr.ok" and ok.status is Status.PASS
    bad = ptr_judge(
        answer(RNAME, "PTR", "mail.other.example."),
        {"mail.other.example": answer("mail.other.example", "A", "192.0.2.99")},
    )
    assert bad.code == "ptr.mismatch" and bad.status is Status.WARN
    assert "mail.other.example. IN A 192.0.2.10" in bad.remedy and "does not resolve back" in bad.summary
    gone = ptr_judge(answer(RNAME, "PTR", "ghost.example."), {"ghost.example": nxdomain("ghost.example", "A")})
    assert gone.code == "ptr.mismatch" and "NXDOMAIN" in gone.explanation
    missing = ptr_judge(nxdomain(RNAME, "PTR"), {})
    assert missing.code == "ptr.missing" and "10.2.0.192.in-addr.arpa. IN PTR mx1.example.com." in missing.remedy
    for bad_outcome in (servfail, timeout):
        f = ptr_judge(bad_outcome(RNAME, "PTR"), {})
        assert f.code == "ptr.lookup_failed" and f.status is not Status.PASS


@pytest.mark.parametrize("name, generic", [
    ("192-0-2-10.dynamic.isp.example", True),
    ("10.2.0.192.static.example", True),
    ("dsl-pool-77.isp.example", True),
    ("host192000002010.isp.example", True),
    ("mx1.example.com", False),
    ("mail.example.com", False),
    ("smtp-out.example.com", False),
])
def test_generic_names(name, generic):
    assert looks_generic(name, "192.0.2.10") is generic


def test_generic_ptr_warns():
    name = "192-0-2-10.pool.isp.example"
    f = ptr_judge(answer(RNAME, "PTR", name + "."), {name: answer(name, "A", "192.0.2.10")})
    assert f.code == "ptr.generic" and f.status is Status.WARN


# -- DNSBL -------------------------------------------------------------------


def test_dnsbl_names_and_options():
    assert dnsbl_name("192.0.2.10", "bl.example") == "10.2.0.192.bl.example"
    assert dnsbl_name("2001:db8::1", "bl.example").startswith("1.0.0.0.0.0.0.0")
    assert zones_from_options(()) == []
    assert zones_from_options(("default", "bl.example.")) == [*PUBLIC_DNSBLS, "bl.example"]


def test_classify_never_passes_failures():
    assert classify(nxdomain("x", "A")).state == "clean"
    assert classify(answer("x", "A", "127.0.0.2")).state == "listed"
    for bad in (
        servfail("x", "A"),
        timeout("x", "A"),
        answer("x", "A", "127.255.255.254"),
        answer("x", "A", "198.51.100.7"),
    ):
        assert classify(bad).state == "broken"


def bl_answers(zone, listed=None, test_ok=True, address="192.0.2.10"):
    answers = {dnsbl_name("127.0.0.2", zone): answer("t", "A", "127.0.0.2") if test_ok else nxdomain("t", "A")}
    name = dnsbl_name(address, zone)
    answers[name] = answer(name, "A", listed) if listed else nxdomain(name, "A")
    return answers


def test_dnsbl_findings():
    pairs = [("mx1.example.com", "192.0.2.10")]
    fs = Dnsbl().evaluate_dnsbl(pairs, ["bl.example"], bl_answers("bl.example"), {})
    assert [(f.code, f.status) for f in fs] == [("dnsbl.clean", Status.PASS)]
    name = dnsbl_name("192.0.2.10", "bl.example")
    reason = {name: answer(name, "TXT", "Listed for spam, see https://bl.example/lookup")}
    fs = Dnsbl().evaluate_dnsbl(pairs, ["bl.example"], bl_answers("bl.example", "127.0.0.2"), reason)
    assert [(f.code, f.status) for f in fs] == [("dnsbl.listed", Status.FAIL)]
    assert "Listed for spam" in fs[0].explanation
    # a list whose test entry is missing is broken: no pass from it
    fs = Dnsbl().evaluate_dnsbl(pairs, ["bl.example"], bl_answers("bl.example", test_ok=False), {})
    assert [(f.code, f.status) for f in fs] == [("dnsbl.broken", Status.ERROR)]
    # a timeout for the address: error, never a pass
    answers = bl_answers("bl.example")
    answers[name] = timeout(name, "A")
    fs = Dnsbl().evaluate_dnsbl(pairs, ["bl.example"], answers, {})
    assert [(f.code, f.status) for f in fs] == [("dnsbl.broken", Status.ERROR)]


# -- DNSSEC ------------------------------------------------------------------


def dnssec(soa, dnskey, ds):
    return Dnssec().evaluate_dnssec("example.com", soa, dnskey, ds, resolver="127.0.0.1:53")


def test_dnssec_states():
    soa_ad = answer("example.com", "SOA", "ns. host. 1 2 3 4 5", ad=True)
    soa = answer("example.com", "SOA", "ns. host. 1 2 3 4 5")
    key = answer(
        "example.com",
        "DNSKEY",
        "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==",
    )
    ds = answer("example.com", "DS", "2371 13 2 1F987CC6583E92DF0890718C42A1BA0D7D18576C91B65EE4D9A09ADE8A7E7F3E")
    assert dnssec(soa_ad, key, ds).code == "dnssec.validated"
    assert dnssec(soa, nodata("example.com", "DNSKEY"), nodata("example.com", "DS")).status is Status.SKIP
    bogus = dnssec(servfail("example.com", "SOA"), servfail("example.com", "DNSKEY"), ds)
    assert bogus.code == "dnssec.bogus" and bogus.status is Status.FAIL and "DS" in bogus.remedy
    assert dnssec(soa, key, nodata("example.com", "DS")).code == "dnssec.island"
    assert dnssec(soa, key, ds).code == "dnssec.not_validating"
    f = dnssec(timeout("example.com", "SOA"), timeout("example.com", "DNSKEY"), timeout("example.com", "DS"))
    assert f.status is Status.ERROR
    assert "DANE" in dnssec(soa_ad, key, ds).explanation


# -- DANE records --------------------------------------------------------------

DIGEST = "ab" * 32


def test_tlsa_record_problems():
    assert record_problem(3, 1, 1, bytes(32)) == ""
    assert "32 bytes" in record_problem(3, 1, 1, bytes(31))
    assert "64 bytes" in record_problem(3, 1, 2, bytes(32))
    assert record_problem(4, 1, 1, bytes(32))


def test_tlsa_findings():
    check = DaneRecords()
    owner = "_25._tcp.mx1.example.com"
    assert (
        check.evaluate_tlsa("mx1.example.com", answer(owner, "TLSA", f"3 1 1 {DIGEST}", ad=True)).status is Status.PASS
    )
    assert (
        check.evaluate_tlsa("mx1.example.com", answer(owner, "TLSA", f"3 1 1 {DIGEST}")).code == "dane.records_unsigned"
    )
    # (dnspython refuses digests of the wrong length on the wire: that arrives as a failed lookup)
    f = check.evaluate_tlsa("mx1.example.com", answer(owner, "TLSA", f"3 1 5 {DIGEST}", ad=True))
    assert f.code == "dane.records_malformed" and f.status is Status.FAIL
    f = check.evaluate_tlsa("mx1.example.com", answer(owner, "TLSA", f"3 1 5 {DIGEST}", f"3 1 1 {DIGEST}", ad=True))
    assert f.code == "dane.records_malformed" and f.status is Status.WARN
    assert (
        check.evaluate_tlsa("mx1.example.com", answer(owner, "TLSA", f"1 1 1 {DIGEST}", ad=True)).code
        == "dane.records_unusable"
    )
    assert check.evaluate_tlsa("mx1.example.com", nxdomain(owner, "TLSA")).status is Status.SKIP
    assert check.evaluate_tlsa("mx1.example.com", servfail(owner, "TLSA")).status is Status.FAIL
