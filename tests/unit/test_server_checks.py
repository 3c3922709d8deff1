"""Pure verdicts of the server checks on constructed dialogues (no network)."""

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from checks.auth_offered import AuthOffered, login_offered
from checks.dane.tlsa import DaneTlsa
from checks.greeting.imap import ImapGreeting
from checks.greeting.pop3 import Pop3Greeting
from checks.greeting.smtp import SmtpGreeting, banner_name
from checks.tls.certificate import Certificate
from checks.tls.handshake import TlsHandshake
from diagnose.engine.model import Side, Status
from diagnose.knowledge.dane import tlsa_for
from diagnose.net.dialogue import Dialogue, Endpoint
from diagnose.net.probes import LegacyResult
from diagnose.net.resolver import DnsResult, Outcome
from diagnose.net.tcp import ConnectOutcome
from diagnose.net.tls import TlsInfo
from tests.unit.certmint import NOW, Pki

PKI = Pki("checks")

def leaf(name="mx.example.test", **kw):
    return PKI.leaf(name, days_before=1, days_after=kw.pop("days_after", 90), **kw)

def dialogue(port=25, role="mx", host="mx.example.test", *, caps=None, caps_tls=None, chain=None, **kw):
    ep = Endpoint(role, host, "127.0.0.9", port)
    tls = TlsInfo(
        "TLSv1.3", "TLS_AES_128_GCM_SHA256", 128, tuple(chain if chain is not None else [leaf(host), PKI.inter])
    )
    d = Dialogue(ep, connect=ConnectOutcome.CONNECTED, greeting=f"{host} ESMTP", greeting_ok=True, greeting_code=220,
                 greeting_delay_s=0.01, capabilities=caps if caps is not None else {"STARTTLS": "", "PIPELINING": ""},
                 capabilities_tls=caps_tls if caps_tls is not None else {"PIPELINING": ""}, starttls_offered=True,
                 tls=tls, transcript=["S: 220 x"])
    for k, v in kw.items():
        setattr(d, k, v)
    return ep, d

def assert_known(check, findings):
    for f in findings:
        assert f.code in check.texts or f.code.endswith(".skipped"), f.code
        if f.status in (Status.FAIL, Status.WARN, Status.ERROR):
            assert f.explanation and f.remedy, f.code

def test_smtp_greeting_pass_and_slow_and_banner():
    check = SmtpGreeting()
    ep, d = dialogue()
    (f,) = check.evaluate(ep, d, timeout=5)
    assert f.status is Status.PASS and "STARTTLS" in f.summary
    ep, d = dialogue(greeting_delay_s=4.2)
    (f,) = check.evaluate(ep, d, timeout=5)
    assert f.code == "smtp.greeting_slow" and f.status is Status.WARN
    # the advice is right: senders may wait 5 minutes (RFC 5321 §4.5.3.2), and the setting named is a greeting pause
    assert "4.2 s" in f.explanation and "5 minutes" in f.explanation and "a few seconds" not in f.explanation
    assert "postscreen_greet_wait" in f.remedy and "smtpd_delay_open_until_valid_rcpt" not in f.remedy
    ep, d = dialogue(greeting="localhost ESMTP Postfix")
    codes = [f.code for f in check.evaluate(ep, d, timeout=5)]
    assert codes == ["smtp.greeting", "smtp.banner_name"]
    assert banner_name("mx.example.test ESMTP") == "mx.example.test"

@pytest.mark.parametrize("outcome,role,code,status", [
    (ConnectOutcome.REFUSED, "submission", "smtp.refused", Status.FAIL),
    (ConnectOutcome.TIMEOUT, "submission", "smtp.connect_timeout", Status.FAIL),
    (ConnectOutcome.REFUSED, "mx", "smtp.greeting.skipped", Status.SKIP),  # tcp.connect reports port 25
    (ConnectOutcome.NO_LOCAL_SUPPORT, "submission", "smtp.greeting.skipped", Status.SKIP),
])
def test_connect_failures(outcome, role, code, status):
    check = SmtpGreeting()
    ep = Endpoint(role, "smtp.example.test", "127.0.0.9", 587 if role == "submission" else 25)
    d = Dialogue(ep, connect=outcome, connect_detail="x", failure_phase="connect")
    findings = check.evaluate(ep, d, timeout=1)
    assert [(f.code, f.status) for f in findings] == [(code, status)]
    assert_known(check, findings)

def test_refused_port_whose_twin_works_is_not_offered():
    ep = Endpoint("submission", "smtp.example.test", "127.0.0.9", 465)
    d = Dialogue(ep, connect=ConnectOutcome.REFUSED, failure_phase="connect")
    (f,) = SmtpGreeting().evaluate(ep, d, timeout=1, sibling_ok=True)
    assert (f.code, f.status) == ("smtp.not_offered", Status.SKIP)

def test_imap_and_pop3_greeting_summaries():
    ep, d = dialogue(143, "mailbox", caps={"IMAP4REV1": "", "STARTTLS": "", "LOGINDISABLED": ""})
    (f,) = ImapGreeting().evaluate(ep, d, timeout=1)
    assert f.status is Status.PASS and "LOGINDISABLED" in f.summary
    ep, d = dialogue(110, "mailbox", caps={"STLS": "", "USER": "", "SASL": "PLAIN"})
    (f,) = Pop3Greeting().evaluate(ep, d, timeout=1)
    assert f.status is Status.PASS and "SASL PLAIN" in f.summary

def test_tls_verdicts():
    check = TlsHandshake()
    ep, d = dialogue()
    fs = check.evaluate(ep, d, LegacyResult(True, False))
    assert [f.code for f in fs] == ["tls.ok"] and "TLS 1.3" in fs[0].summary
    fs = check.evaluate(ep, d, LegacyResult(True, True, "TLSv1.1"))
    assert [f.code for f in fs] == ["tls.ok", "tls.legacy_accepted"] and fs[1].status is Status.WARN
    fs = check.evaluate(ep, d, LegacyResult(False, detail="OpenSSL cannot"))
    assert "could not be tested here" in fs[0].evidence["legacy_note"]
    ep, d = dialogue(caps={"PIPELINING": ""}, tls=None, starttls_offered=False)
    (f,) = check.evaluate(ep, d, None)
    assert (f.code, f.status) == ("tls.no_starttls", Status.FAIL)
    ep, d = dialogue(465, "submission", tls=None, tls_error="wrong version number", failure_phase="TLS handshake")
    (f,) = check.evaluate(ep, d, None)
    assert (f.code, f.status) == ("tls.handshake_failed", Status.FAIL) and "TLS handshake" in f.summary
    assert_known(check, fs)

def test_certificate_findings_and_side():
    check = Certificate()
    ep, d = dialogue(587, "submission", host="smtp.example.test")
    (f,) = check.evaluate(ep, d, NOW, 14, [PKI.root], [])
    assert f.code == "tls.cert_ok" and f.status is Status.PASS, f.summary
    assert {"subject", "san", "issuer", "serial", "not_before", "not_after", "days_left", "key", "sha256"} <= set(
        f.evidence
    )
    ep, d = dialogue(chain=[leaf("other.example.test"), PKI.inter])
    fs = check.evaluate(ep, d, NOW, 14, [PKI.root], [])
    assert [f.code for f in fs] == ["tls.cert_name_mismatch"]
    assert "other.example.test" in fs[0].explanation and "MTA-STS" in fs[0].explanation
    ep, d = dialogue(chain=[leaf(days_after=3), PKI.inter])
    (f,) = check.evaluate(ep, d, NOW, 14, [PKI.root], [])
    assert (f.code, f.status) == ("tls.cert_expiring", Status.WARN) and "--cert-warn-days" in f.remedy
    assert_known(check, fs)
    assert check.with_side(f, "mx").side is Side.INCOMING and check.with_side(f, "submission").side is Side.OUTGOING

def test_auth_offered():
    check = AuthOffered()
    assert login_offered("imap", {"IMAP4REV1": "", "LOGINDISABLED": ""}) == []
    assert login_offered("imap", {"AUTH=PLAIN": ""}) == ["AUTH=PLAIN", "LOGIN"]
    ep, d = dialogue(587, "submission", caps={"STARTTLS": "", "AUTH": "PLAIN LOGIN"}, caps_tls={"AUTH": "PLAIN LOGIN"})
    fs = check.evaluate(ep, d)
    assert [(f.code, f.status) for f in fs] == [("auth.before_tls", Status.WARN)]
    ep, d = dialogue(587, "submission", caps={"STARTTLS": ""}, caps_tls={"PIPELINING": ""})
    assert [f.code for f in check.evaluate(ep, d)] == ["auth.missing"]
    ep, d = dialogue(465, "submission", caps={"AUTH": "PLAIN"}, caps_tls={})
    assert [f.code for f in check.evaluate(ep, d)] == ["auth.ok"]
    assert_known(check, fs)

def tlsa_answer(*texts, authenticated=True, outcome=Outcome.ANSWER):
    rdata = tuple(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TLSA, t) for t in texts)
    return DnsResult(
        "_25._tcp.mx.example.test", "TLSA", outcome, records=texts, rdata=rdata, authenticated=authenticated
    )


def test_dane_verdicts():
    check = DaneTlsa()
    ep, d = dialogue()
    good = tlsa_for(d.tls.chain[0])
    record = f"{good.usage} {good.selector} {good.mtype} {good.data.hex()}"
    assert [f.code for f in check.evaluate(ep, d, tlsa_answer(record))] == ["dane.match"]
    (f,) = check.evaluate(ep, d, tlsa_answer("3 1 1 " + "00" * 32))
    assert (f.code, f.status) == ("dane.mismatch", Status.FAIL) and good.data.hex() in f.remedy
    assert check.evaluate(ep, d, tlsa_answer(record, authenticated=False))[0].code == "dane.insecure"
    assert check.evaluate(ep, d, tlsa_answer("1 1 1 " + good.data.hex()))[0].code == "dane.unusable"
    assert check.evaluate(ep, d, DnsResult("x", "TLSA", Outcome.NXDOMAIN))[0].status is Status.SKIP
    ep, d = dialogue(tls=None, caps={"PIPELINING": ""})
    assert check.evaluate(ep, d, tlsa_answer(record))[0].code == "dane.no_tls"


def test_ipv4_works_ipv6_times_out_side_by_side():
    from checks.greeting.base import family_differences

    ok = Dialogue(
        Endpoint("mx", "mx.example.test", "192.0.2.1", 25), connect=ConnectOutcome.CONNECTED, greeting_ok=True
    )
    bad = Dialogue(Endpoint("mx", "mx.example.test", "2001:db8::1", 25), connect=ConnectOutcome.TIMEOUT)
    no_v6_here = Dialogue(Endpoint("mx", "mx.example.test", "2001:db8::1", 25), connect=ConnectOutcome.NO_LOCAL_SUPPORT)
    assert family_differences([ok, bad]) == [(ok, bad)]
    assert family_differences([ok, no_v6_here]) == []
    assert family_differences([ok]) == []


def test_pop3_sasl_without_mechanisms_is_no_login():
    assert login_offered("pop3", {"STLS": "", "SASL": ""}) == []
    assert login_offered("pop3", {"USER": "", "SASL": "PLAIN"}) == ["USER", "SASL PLAIN"]


def test_certificate_without_sni_for_another_name_is_a_warning():
    from diagnose.net.probes import NoSniResult
    check = Certificate()
    ep, d = dialogue()
    assert check.evaluate_no_sni(ep, d, NoSniResult(True, d.tls.chain)) == []
    assert check.evaluate_no_sni(ep, d, NoSniResult(False, detail="no answer")) == []
    other = (leaf("default.hosting.test"), PKI.inter)
    (f,) = check.evaluate_no_sni(ep, d, NoSniResult(True, other))
    assert (f.code, f.status) == ("tls.cert_sni_differs", Status.WARN) and "default.hosting.test" in f.summary
    assert f.explanation and f.remedy


def test_handshake_that_works_only_with_legacy_versions():
    ep, d = dialogue(tls=None, tls_error="unsupported protocol", failure="tls", failure_phase="STARTTLS handshake")
    (f,) = TlsHandshake().evaluate(ep, d, LegacyResult(True, True, "TLSv1.1"))
    assert (f.code, f.status) == ("tls.only_legacy", Status.FAIL) and "TLSv1.1" in f.summary
    (f,) = TlsHandshake().evaluate(ep, d, LegacyResult(True, False, detail="refused"))
    assert f.code == "tls.handshake_failed"
