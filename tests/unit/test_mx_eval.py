"""Pure evaluation of MX answers, MX targets, domain existence and TCP results."""

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from checks.dns_exists import DomainExists
from checks.mx_records import MxRecords, MxTarget, looks_like_ip, parse_mx
from checks.tcp_connect import TcpConnect
from diagnose.engine.model import Status
from diagnose.net.resolver import DnsResult, Outcome
from diagnose.net.tcp import ConnectOutcome, ConnectResult


def mx_answer(*records):
    rdata = tuple(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.MX, r) for r in records)
    return DnsResult("example.test", "MX", Outcome.ANSWER, records=records, rdata=rdata)


def addr(name, rdtype, outcome=Outcome.ANSWER, records=(), canonical=""):
    return DnsResult(name, rdtype, outcome, records=tuple(records), canonical_name=canonical or name)


def test_parse_mx_sorts_and_recognises_null_mx():
    assert parse_mx(mx_answer("20 b.example.test.", "10 A.example.test.")) == [
        MxTarget(10, "a.example.test"), MxTarget(20, "b.example.test")]
    assert parse_mx(mx_answer("0 .")) == [MxTarget(0, "")]


@pytest.mark.parametrize("name, expected", [("192.0.2.1", True), ("[192.0.2.1]", True), ("2001:db8::1", True),
                                            ("mx1.example.test", False), ("1.2.3.example", False)])
def test_ip_literal_detection(name, expected):
    assert looks_like_ip(name) is expected


def evaluate(target, a, aaaa, others=False):
    return MxRecords().evaluate_target(target, a, aaaa, domain="example.test", others_usable=others)


def test_target_with_address_passes():
    t = MxTarget(10, "mx1.example.test")
    f = evaluate(t, addr(t.name, "A", records=["192.0.2.10"]), addr(t.name, "AAAA", Outcome.NODATA))
    assert (f.code, f.status) == ("mx.target", Status.PASS)
    assert "192.0.2.10" in f.summary


def test_dangling_target_fails_unless_another_mx_works():
    t = MxTarget(10, "gone.example.test")
    a, aaaa = addr(t.name, "A", Outcome.NXDOMAIN), addr(t.name, "AAAA", Outcome.NXDOMAIN)
    alone = evaluate(t, a, aaaa)
    assert (alone.code, alone.status) == ("mx.target_nxdomain", Status.FAIL)
    assert "cannot be delivered" in alone.explanation and alone.remedy
    assert evaluate(t, a, aaaa, others=True).status is Status.WARN


def test_cname_target_warns_and_names_the_canonical_host():
    t = MxTarget(10, "alias.example.test")
    f = evaluate(t, addr(t.name, "A", records=["192.0.2.10"], canonical="real.example.test"),
                 addr(t.name, "AAAA", Outcome.NODATA, canonical="real.example.test"))
    assert (f.code, f.status) == ("mx.cname", Status.WARN)
    assert "real.example.test" in f.remedy


def test_ip_literal_target_fails():
    t = MxTarget(10, "192.0.2.7")
    f = evaluate(t, addr(t.name, "A", Outcome.NXDOMAIN), addr(t.name, "AAAA", Outcome.NXDOMAIN))
    assert (f.code, f.status) == ("mx.ip_literal", Status.FAIL)


def test_target_without_addresses_and_failed_lookups():
    t = MxTarget(10, "mx.example.test")
    nodata = evaluate(t, addr(t.name, "A", Outcome.NODATA), addr(t.name, "AAAA", Outcome.NODATA))
    assert nodata.code == "mx.target_noaddress"
    broken = evaluate(t, addr(t.name, "A", Outcome.SERVFAIL), addr(t.name, "AAAA", Outcome.NODATA))
    assert broken.code == "mx.target_lookup_failed" and "SERVFAIL" in broken.explanation


@pytest.mark.parametrize("outcome, code, status", [
    (Outcome.ANSWER, "dns.exists", Status.PASS), (Outcome.NODATA, "dns.exists", Status.PASS),
    (Outcome.NXDOMAIN, "dns.nxdomain", Status.FAIL), (Outcome.SERVFAIL, "dns.servfail", Status.FAIL),
    (Outcome.TIMEOUT, "dns.timeout", Status.FAIL)])
def test_domain_existence(outcome, code, status):
    f = DomainExists().evaluate("example.test", DnsResult("example.test", "SOA", outcome), timeout=2)
    assert (f.code, f.status) == (code, status)
    if status is Status.FAIL:
        assert f.explanation and f.remedy


@pytest.mark.parametrize(
    "outcome, code, status",
    [
        (ConnectOutcome.CONNECTED, "tcp.connected", Status.PASS),
        (ConnectOutcome.REFUSED, "tcp.refused", Status.FAIL),
        (ConnectOutcome.TIMEOUT, "tcp.timeout", Status.FAIL),
        (ConnectOutcome.UNREACHABLE, "tcp.unreachable", Status.FAIL),
        (ConnectOutcome.NO_LOCAL_SUPPORT, "tcp.no_local_support", Status.SKIP),
        (ConnectOutcome.ERROR, "tcp.error", Status.ERROR),
    ],
)
def test_tcp_outcomes(outcome, code, status):
    f = TcpConnect().evaluate("mx1.example.test", ConnectResult("192.0.2.10", 25, outcome, 0.01, "x"), timeout=2)
    assert (f.code, f.status) == (code, status)
    assert f.subject == "mx1.example.test [192.0.2.10]:25"
    if code == "tcp.timeout":
        assert "ISP" in f.explanation, "a timeout must mention that port 25 is often blocked outbound"


def test_a_cname_loop_is_called_a_loop():
    t = MxTarget(10, "mx.example.test")
    a, aaaa = addr(t.name, "A", Outcome.SERVFAIL), addr(t.name, "AAAA", Outcome.SERVFAIL)
    looped = MxRecords().evaluate_target(t, a, aaaa, domain="example.test", others_usable=False,
                                         cname_chain=("mx.example.test", "loop.example.test", "mx.example.test"))
    assert looped.code == "mx.cname_loop" and looped.status is Status.FAIL
    assert "mx.example.test → loop.example.test → mx.example.test" in looped.summary
    # a chain that ends (no repeat) is not a loop: the failed lookup is said as it is
    assert evaluate(t, a, aaaa).code == "mx.target_lookup_failed"
    ended = MxRecords().evaluate_target(t, a, aaaa, domain="example.test", others_usable=False,
                                        cname_chain=("mx.example.test", "elsewhere.example.test"))
    assert ended.code == "mx.target_lookup_failed"


def test_a_lame_delegation_names_the_servers_that_do_not_answer():
    from diagnose.net.authoritative import Answer, Delegation, ServerAnswer

    lame = Delegation("example.test", "test", (ServerAnswer("ns1.example.test", "192.0.2.53", Answer.NO_ANSWER),
                                               ServerAnswer("ns2.example.test", "192.0.2.54", Answer.REFUSED)))
    f = DomainExists().evaluate("example.test", addr("example.test", "SOA", Outcome.SERVFAIL), timeout=2,
                                delegation=lame)
    assert f.code == "dns.lame_delegation" and f.status is Status.FAIL
    assert "ns1.example.test (192.0.2.53) does not answer" in f.summary
    assert "ns2.example.test (192.0.2.54) refuses queries for it" in f.summary
    assert f.evidence["delegation"]["name_servers"][1]["answer"] == "refused"
    served = Delegation("example.test", "test", (ServerAnswer("ns1.example.test", "192.0.2.53",
                                                              Answer.AUTHORITATIVE),))
    f = DomainExists().evaluate("example.test", addr("example.test", "SOA", Outcome.SERVFAIL), timeout=2,
                                delegation=served)
    assert f.code == "dns.servfail"  # the servers answer: the failure is elsewhere (DNSSEC, the resolver)


def test_a_failing_mx_host_is_a_warning_while_another_connects():
    from checks.tcp_connect import backup_mx

    res = ConnectResult("192.0.2.1", 25, ConnectOutcome.REFUSED, 0.01, "refused")
    failed = TcpConnect().evaluate("mx1.example.test", res, timeout=2)
    assert failed.status is Status.FAIL
    assert backup_mx(failed, {"mx1.example.test"}).status is Status.FAIL  # only itself: no backup
    warned = backup_mx(failed, {"mx1.example.test", "mx2.example.test"})
    assert warned.status is Status.WARN and "senders go on to mx2.example.test" in warned.summary
