"""`maildoctor message`'s header re-checks on constructed data: DKIM and ARC (chains made with dkimpy's
arc_sign and a key made here), SPF's check_host, DMARC alignment, the first external hop, and the spam
verdict headers of Microsoft 365 and SpamAssassin (examples in their documented formats)."""

from __future__ import annotations

import base64
from email import message_from_bytes
from email.policy import compat32

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from diagnose.app.message_auth import Found, findings
from diagnose.app.message_spam import spam_findings
from diagnose.engine.model import Status
from diagnose.knowledge import headers, spamheaders
from diagnose.knowledge.dkimverify import verify_arc
from diagnose.knowledge.dmarc.discovery import aligned
from diagnose.knowledge.mailfile import load
from diagnose.knowledge.spf.evaluate import check_host
from diagnose.knowledge.spf.record import analyze_spf
from diagnose.net.resolver import DnsResult, Outcome


def _key() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


PRIVATE, PUBLIC = _key()
MESSAGE = (b"Authentication-Results: mx.forwarder.example; spf=pass smtp.mailfrom=sender.example;\r\n"
           b" dkim=pass header.d=sender.example\r\n"
           b"From: Ann <ann@sender.example>\r\nTo: bob@forwarder.example\r\nSubject: minutes\r\n"
           b"Date: Thu, 03 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@sender.example>\r\n\r\nThe minutes.\r\n")
ARC_KEYS = {"arc._domainkey.forwarder.example": PUBLIC}


def _sealed(message: bytes = MESSAGE) -> bytes:
    return b"".join(dkim.arc_sign(message, b"arc", b"forwarder.example", PRIVATE, b"mx.forwarder.example")) + message


def _break_tag_b(message: bytes, header: bytes) -> bytes:
    """Change one character of the b= value of ``header`` (the signature itself)."""
    start = message.index(header)
    at = message.index(b" b=", start) + 8
    return message[:at] + (b"A" if message[at:at + 1] != b"A" else b"B") + message[at + 1:]


def test_a_valid_arc_chain_passes():
    result = verify_arc(_sealed(), ARC_KEYS)
    assert result.verdict == "pass", result
    [instance] = result.instances
    assert instance.seal_valid and instance.signature_valid and instance.seal_domain == "forwarder.example"


def test_a_broken_arc_seal_fails_and_names_the_seal():
    result = verify_arc(_break_tag_b(_sealed(), b"ARC-Seal"), ARC_KEYS)
    assert result.verdict == "fail" and "ARC-Seal[1]" in result.reason, result
    assert result.instances[0].seal_valid is False


def test_a_broken_arc_message_signature_fails():
    # Given a body changed after the forwarder sealed it
    result = verify_arc(_sealed().replace(b"The minutes.", b"The minutes!"), ARC_KEYS)
    assert result.verdict == "fail" and "ARC-Message-Signature" in result.reason, result
    assert result.instances[0].signature_valid is False


def test_arc_with_the_key_missing_fails_and_no_arc_is_none():
    assert verify_arc(_sealed(), {}).verdict == "fail"
    assert verify_arc(MESSAGE, ARC_KEYS).verdict == "none"


def test_arc_findings_for_a_valid_and_a_broken_chain():
    good = findings(load(_sealed()), Found(keys=dict(ARC_KEYS)))
    assert {f.code: f for f in good}["message.arc_pass"].status is Status.PASS
    bad = {f.code: f for f in findings(load(_break_tag_b(_sealed(), b"ARC-Seal")), Found(keys=dict(ARC_KEYS)))}
    arc = bad["message.arc_fail"]
    assert arc.status is Status.WARN and "ARC-Seal[1] did not validate" in arc.summary
    assert arc.evidence["instances"][0]["seal_valid"] is False


def _signed(body: bytes = b"The minutes.\r\n") -> bytes:
    msg = MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + body
    return dkim.sign(msg, b"s2026", b"sender.example", PRIVATE, include_headers=[b"from", b"to", b"subject"]) + msg


def test_dkim_verified_with_the_command_that_tests_its_key():
    found = {f.code: f for f in findings(load(_signed()), Found(keys={"s2026._domainkey.sender.example": PUBLIC}))}
    valid = found["message.dkim_valid"]
    assert valid.status is Status.PASS and valid.evidence["selector"] == "s2026"
    assert valid.evidence["command"] == "`maildoctor check sender.example --check dkim.keys --dkim-selector s2026`"


def test_dkim_broken_by_a_changed_body_missing_key_and_dns_failure():
    keys = {"s2026._domainkey.sender.example": PUBLIC}
    changed = _signed().replace(b"The minutes.", b"The minutes, changed.")
    bad = {f.code: f for f in findings(load(changed), Found(keys=keys))}["message.dkim_invalid"]
    assert bad.status is Status.FAIL and bad.evidence["valid"] is False
    nokey = {f.code: f for f in findings(load(_signed()), Found(keys={"s2026._domainkey.sender.example": None}))}
    assert "no key published at s2026._domainkey.sender.example" in nokey["message.dkim_invalid"].summary
    # a key that could not be fetched is "could not test", never a verdict on the signature
    down = Found(key_errors={"s2026._domainkey.sender.example": "did not resolve in time (DNS timeout)"})
    error = {f.code: f for f in findings(load(_signed()), down)}["message.dkim_invalid"]
    assert error.status is Status.ERROR and "DNS timeout" in error.summary


def test_headers_only_are_not_dkim_verified_and_offline_says_so():
    head = load(_signed().split(b"\r\n\r\n")[0] + b"\r\n")
    found = {f.code: f for f in findings(head, Found(keys={"s2026._domainkey.sender.example": PUBLIC}))}
    assert found["message.dkim_not_tested"].status is Status.SKIP and "message.dkim_valid" not in found
    [offline] = findings(load(_signed()), None)
    assert offline.code == "message.dkim_not_tested" and "--offline" in offline.summary


def _answer(name: str, rdtype: str, *rdata: str) -> DnsResult:
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    parsed = tuple(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), r) for r in rdata)
    return DnsResult(name, rdtype, Outcome.ANSWER if rdata else Outcome.NXDOMAIN, tuple(rdata), parsed)


ZONE = {
    ("sender.example", "TXT"): _answer("sender.example", "TXT", '"v=spf1 mx include:_spf.esp.example ~all"'),
    ("sender.example", "MX"): _answer("sender.example", "MX", "10 mx.sender.example."),
    ("mx.sender.example", "A"): _answer("mx.sender.example", "A", "192.0.2.25"),
    ("mx.sender.example", "AAAA"): _answer("mx.sender.example", "AAAA"),
    ("_spf.esp.example", "TXT"): _answer("_spf.esp.example", "TXT", '"v=spf1 ip4:198.51.100.0/24 a:out.esp.example/28 -all"'),
    ("out.esp.example", "A"): _answer("out.esp.example", "A", "203.0.113.5"),
    ("out.esp.example", "AAAA"): _answer("out.esp.example", "AAAA"),
}


@pytest.mark.parametrize(("ip", "result", "mechanism"), [
    ("192.0.2.25", "pass", "mx"),
    ("198.51.100.77", "pass", "include:_spf.esp.example"),
    ("203.0.113.14", "pass", "include:_spf.esp.example"),  # a:out.esp.example/28
    ("203.0.113.99", "softfail", "~all"),
    ("2001:db8::1", "softfail", "~all"),
])
def test_check_host_evaluates_the_tree_for_one_address(ip, result, mechanism):
    verdict = check_host(analyze_spf("sender.example", ZONE), ip, ZONE)
    assert (verdict.result, verdict.mechanism) == (result, mechanism), verdict


def test_check_host_asks_for_what_it_still_needs_and_errors():
    first = check_host(analyze_spf("sender.example", {}), "192.0.2.25", {})
    assert first.result == "pending" and ("sender.example", "TXT") in first.missing
    partial = {k: v for k, v in ZONE.items() if k != ("mx.sender.example", "A")}
    wanting = check_host(analyze_spf("sender.example", partial), "192.0.2.25", partial)
    assert wanting.result == "pending" and ("mx.sender.example", "A") in wanting.missing
    none = {("nospf.example", "TXT"): _answer("nospf.example", "TXT", '"google-site-verification=x"')}
    assert check_host(analyze_spf("nospf.example", none), "192.0.2.1", none).result == "none"
    loop = {("a.example", "TXT"): _answer("a.example", "TXT", '"v=spf1 include:a.example -all"')}
    assert check_host(analyze_spf("a.example", loop), "192.0.2.1", loop).result == "permerror"
    down = {("d.example", "TXT"): DnsResult("d.example", "TXT", Outcome.TIMEOUT)}
    assert check_host(analyze_spf("d.example", down), "192.0.2.1", down).result == "temperror"

    # %{o} in a nested include is the domain checked (as analyze_spf expands it), not the include's own
    nested = {("o.example", "TXT"): _answer("o.example", "TXT", '"v=spf1 include:esp.example -all"'),
              ("esp.example", "TXT"): _answer("esp.example", "TXT", '"v=spf1 include:%{o}.esp.example -all"'),
              ("o.example.esp.example", "TXT"): _answer("o.example.esp.example", "TXT", '"v=spf1 ip4:192.0.2.9 -all"')}
    verdict = check_host(analyze_spf("o.example", nested), "192.0.2.9", nested)
    assert (verdict.result, verdict.mechanism) == ("pass", "include:esp.example"), verdict


def test_dmarc_alignment_strict_and_relaxed():
    assert aligned("mail.sender.example", "sender.example", "r")
    assert not aligned("mail.sender.example", "sender.example", "s")
    assert aligned("sender.example", "SENDER.example.", "s")
    assert not aligned("esp.example", "sender.example")
    assert aligned("a.sender.co.uk", "b.sender.co.uk") and not aligned("sender.co.uk", "other.co.uk")


def _dmarc(record: str | None, domain: str = "sender.example") -> dict:
    """The _dmarc answers of the From domain's tree walk: one record at sender.example, or none."""
    from diagnose.knowledge.dmarc.discovery import query_names

    answers = {name: _answer(name, "TXT") for name in query_names(domain)}
    if record:
        answers["_dmarc.sender.example"] = _answer("_dmarc.sender.example", "TXT", f'"{record}"')
    return answers


def test_dmarc_passes_through_an_aligned_dkim_and_fails_without():
    keys = {"s2026._domainkey.sender.example": PUBLIC}
    ok = {f.code: f for f in findings(load(_signed()), Found(keys=keys, from_domain="sender.example",
                                                             dmarc=_dmarc("v=DMARC1; p=reject")))}
    assert ok["message.dmarc_pass"].evidence["dkim_aligned"] == ["sender.example"]
    changed = _signed().replace(b"The minutes.", b"Changed.")
    bad = {f.code: f for f in findings(load(changed), Found(keys=keys, from_domain="sender.example",
                                                            dmarc=_dmarc("v=DMARC1; p=quarantine")))}
    fail = bad["message.dmarc_fail"]
    assert fail.status is Status.FAIL and "p=quarantine" in fail.summary and "spam" in fail.explanation
    none = {f.code: f for f in findings(load(_signed()), Found(keys=keys, from_domain="sender.example",
                                                               dmarc=_dmarc(None)))}
    assert none["message.dmarc_none"].status is Status.WARN


RECEIVED = b"""\
Received: from mx2.receiver.example (10.1.2.3) by store.receiver.example with LMTP; Thu, 3 Dec 2026 10:00:03 +0000
Received: from localhost (localhost [127.0.0.1]) by mx2.receiver.example (Postfix) with ESMTP id A;
 Thu, 3 Dec 2026 10:00:02 +0000
Received: from out.sender.example (out.sender.example [192.0.2.25]) (using TLSv1.3)
 by mx2.receiver.example (Postfix) with ESMTPS id B; Thu, 3 Dec 2026 10:00:01 +0000
Received: from laptop (unknown [10.0.0.5]) by out.sender.example with ESMTPSA id C; Thu, 3 Dec 2026 10:00:00 +0000
From: ann@sender.example

"""


def test_the_first_external_hop_skips_local_filters_and_private_networks():
    msg = message_from_bytes(RECEIVED, policy=compat32)
    entry = headers.entry_point(msg, headers.hops(msg))
    assert entry == headers.Entry("192.0.2.25", "out.sender.example", "received", 2), entry
    # the receiver's own record of the address wins (Received-SPF, then Microsoft's CIP)
    spf = message_from_bytes(b"Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=198.51.100.9;\n" + RECEIVED,
                             policy=compat32)
    assert headers.entry_point(spf, headers.hops(spf)).ip == "198.51.100.9"


# Microsoft's documented header formats ("Anti-spam message headers in Microsoft 365")
FOREFRONT_SPAM = (b"X-Forefront-Antispam-Report: CIP:192.0.2.25;CTRY:US;LANG:en;SCL:5;SRV:;IPV:NLI;SFV:SPM;"
                  b"H:out.sender.example;PTR:out.sender.example;CAT:SPM;SFS:(13230028)(4636009);DIR:INB;\n"
                  b"X-Microsoft-Antispam: BCL:8;\nX-MS-Exchange-Organization-SCL: 5\nFrom: ann@sender.example\n\n")
FOREFRONT_CLEAN = (b"X-Forefront-Antispam-Report: CIP:192.0.2.25;CTRY:;LANG:en;SCL:1;SRV:;IPV:NLI;SFV:NSPM;"
                   b"H:out.sender.example;PTR:;CAT:NONE;SFS:;DIR:INB;\nX-Microsoft-Antispam: BCL:0;PCL:0;\n\n")


def test_microsoft_spam_verdict_decoded_in_plain_words():
    verdict = spamheaders.microsoft(message_from_bytes(FOREFRONT_SPAM, policy=compat32))
    assert (verdict.sfv, verdict.cat, verdict.scl, verdict.bcl) == ("SPM", "SPM", 5, 8)
    assert verdict.spam and verdict.bulk and not verdict.high_confidence
    meanings = {f.name: f.meaning for f in verdict.fields}
    assert meanings["SFV"].startswith("spam") and "Junk Email" in meanings["SCL"]
    assert meanings["IPV"] == spamheaders.IPV["NLI"] and meanings["CIP"] == "connecting IP address"
    found = {f.code: f for f in spam_findings(message_from_bytes(FOREFRONT_SPAM, policy=compat32), "sender.example")}
    flagged = found["message.spam_flagged"]
    assert flagged.status is Status.WARN and "SFV:SPM" in flagged.summary
    assert "`maildoctor check sender.example`" in flagged.remedy
    assert found["message.spam_bulk"].evidence["bcl"] == 8


def test_microsoft_clean_verdict_and_high_confidence_phishing():
    [clean] = spam_findings(message_from_bytes(FOREFRONT_CLEAN, policy=compat32))
    assert clean.code == "message.spam_clean" and clean.status is Status.PASS and "not spam" in clean.summary
    phish = FOREFRONT_CLEAN.replace(b"SCL:1", b"SCL:9").replace(b"SFV:NSPM", b"SFV:SPM").replace(b"CAT:NONE",
                                                                                              b"CAT:HPHSH")
    [high] = spam_findings(message_from_bytes(phish, policy=compat32))
    assert high.status is Status.FAIL and "high confidence phishing" in high.summary


SPAMASSASSIN = (b"X-Spam-Flag: YES\nX-Spam-Score: 9.7\nX-Spam-Status: Yes, score=9.7 required=5.0\n"
                b"\ttests=BAYES_99,DKIM_INVALID,RDNS_NONE,SPF_FAIL,URIBL_BLACK,X_ODD_LOCAL_RULE\n"
                b"\tautolearn=no autolearn_force=no version=3.4.6\nFrom: ann@sender.example\n\n")


def test_spamassassin_status_decoded_with_rules_explained():
    verdict = spamheaders.spamassassin(message_from_bytes(SPAMASSASSIN, policy=compat32))
    assert verdict.spam and verdict.score == 9.7 and verdict.required == 5.0 and verdict.version == "3.4.6"
    rules = {r.name: r.meaning for r in verdict.rules}
    assert list(rules) == ["BAYES_99", "DKIM_INVALID", "RDNS_NONE", "SPF_FAIL", "URIBL_BLACK", "X_ODD_LOCAL_RULE"]
    assert "99-100%" in rules["BAYES_99"] and rules["X_ODD_LOCAL_RULE"] == ""
    [finding] = spam_findings(message_from_bytes(SPAMASSASSIN, policy=compat32), "sender.example")
    assert finding.code == "message.spam_flagged" and "score 9.7 of 5 needed" in finding.summary
    for check in ("spf.record", "dkim.keys", "ptr.fcrdns"):
        assert f"`maildoctor check sender.example --check {check}`" in finding.remedy
    ham = SPAMASSASSIN.replace(b"X-Spam-Flag: YES\n", b"").replace(b"Yes, score=9.7", b"No, score=-0.1")
    [clean] = spam_findings(message_from_bytes(ham, policy=compat32))
    assert clean.code == "message.spam_clean" and clean.status is Status.PASS


def test_hostile_spam_headers_are_bounded_and_cleaned():
    evil = b"X-Spam-Status: Yes, score=x tests=" + b"A_B," * 5000 + b"\x1b[31m\nX-Forefront-Antispam-Report: " + \
        b"SFV:\x1b[2JSPM;" * 500 + b"\n\n"
    msg = message_from_bytes(evil, policy=compat32)
    sa = spamheaders.spamassassin(msg)
    assert sa.spam and sa.score is None and len(sa.rules) <= 80
    ms = spamheaders.microsoft(msg)
    assert all("\x1b" not in f.value for f in ms.fields) and len(ms.fields) <= 60


def test_a_subdomain_under_the_organizational_record_gets_its_sp_policy():
    keys = {"s2026._domainkey.sender.example": PUBLIC}
    answers = _dmarc("v=DMARC1; p=reject; sp=none", "news.sender.example")
    changed = _signed().replace(b"The minutes.", b"Changed.")
    fail = {f.code: f for f in findings(load(changed), Found(keys=keys, from_domain="news.sender.example",
                                                             dmarc=answers))}["message.dmarc_fail"]
    assert fail.evidence["policy"] == "none" and fail.evidence["record_at"] == "_dmarc.sender.example"
    assert fail.status is Status.WARN


MACROS = {
    ("macro.example", "TXT"): _answer("macro.example", "TXT", '"v=spf1 exists:%{i}._ip.%{d} a:%{l}.users.%{d} -all"'),
    ("192.0.2.10._ip.macro.example", "A"): _answer("192.0.2.10._ip.macro.example", "A", "127.0.0.2"),
    ("192.0.2.11._ip.macro.example", "A"): _answer("192.0.2.11._ip.macro.example", "A"),  # NXDOMAIN
    ("alice.users.macro.example", "A"): _answer("alice.users.macro.example", "A", "192.0.2.11"),
    ("postmaster.users.macro.example", "A"): _answer("postmaster.users.macro.example", "A"),
}


def test_macros_naming_the_transaction_are_expanded_when_the_sender_is_known():
    an = analyze_spf("macro.example", MACROS)
    # Given the message's Return-Path and entry hop: %{i} and %{l} expand, and the terms are evaluated
    listed = check_host(an, "192.0.2.10", MACROS, sender="bounce@macro.example", helo="out.macro.example")
    assert (listed.result, listed.mechanism) == ("pass", "exists:%{i}._ip.%{d}"), listed
    by_user = check_host(an, "192.0.2.11", MACROS, sender="alice@macro.example", helo="out.macro.example")
    assert (by_user.result, by_user.mechanism) == ("pass", "a:%{l}.users.%{d}"), by_user
    # an empty MAIL FROM is postmaster@HELO (RFC 7208 §4.3): postmaster has no address here
    null = check_host(an, "192.0.2.11", MACROS, helo="macro.example")
    assert (null.result, null.mechanism) == ("fail", "-all"), null
    # a name it still needs is asked for, not guessed
    wanting = check_host(an, "192.0.2.12", MACROS, sender="bob@macro.example")
    assert wanting.result == "pending" and ("192.0.2.12._ip.macro.example", "A") in wanting.missing
    # without the transaction (no Return-Path) the same record cannot be evaluated: "unknown", never a pass
    assert check_host(an, "192.0.2.10", MACROS).result == "unknown"
