"""DKIM: key record parsing (RSA sizes, Ed25519, revoked, testing) and selector handling."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from checks.dkim import DkimCheck, parse_dkim_key
from diagnose.engine.model import Status
from tests.unit.dnsdata import answer, nxdomain, servfail, timeout

RSA512 = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALvDdaQsWdcJzZT0z8QVauwPb15iI7c+4fA+kjbbRg+XJ/rX10iD7FVBveuCXF1Bpb7eW7Ki6Fcf6N/oTch1p7UCAwEAAQ=="
RSA1024 = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDATX5u6gJ1GocjpzkfmjaTMo6hhG0NTwfZkCCPk+a48QnpBb+b1leAMJWuQlwLGGDKhw6Q7lTLJz6Ptyt2X9XeQPugabIPNMyMdzo9WooWC86CBHQvJD5/QgGPHR1yiqLY34Tr5qM+3B91+cRJH0DLpkvgGkRqf0H0ic1EcoS1ZQIDAQAB"


def rsa_b64(bits: int = 2048, fmt=PublicFormat.SubjectPublicKeyInfo) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    return base64.b64encode(key.public_bytes(Encoding.DER, fmt)).decode()


def ed_b64() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def judge(record: str | None, *, selector="sel", guessed=False, result=None):
    name = f"{selector}._domainkey.example.com"
    if result is None:
        result = answer(name, "TXT", record) if record is not None else nxdomain(name, "TXT")
    return DkimCheck().evaluate_dkim("example.com", {selector: result}, guessed=guessed)


def test_key_parsing():
    assert parse_dkim_key(f"v=DKIM1; k=rsa; p={rsa_b64()}").bits == 2048
    assert parse_dkim_key(f"v=DKIM1; p={rsa_b64(2048, PublicFormat.PKCS1)}").bits == 2048  # bare RSAPublicKey
    assert parse_dkim_key(f"v=DKIM1; k=ed25519; p={ed_b64()}").key_type == "ed25519"
    assert parse_dkim_key("v=DKIM1; p=").revoked
    assert parse_dkim_key(f"v=DKIM1; t=s:y; p={RSA1024}").testing
    assert parse_dkim_key(f"p={RSA512[:60]} {RSA512[60:]}").bits == 512  # whitespace inside p= is allowed


@pytest.mark.parametrize("record, status, code", [
    (f"v=DKIM1; k=rsa; p={RSA512}", Status.FAIL, "dkim.weak_key"),
    (f"v=DKIM1; k=rsa; p={RSA1024}", Status.WARN, "dkim.weak_key"),
    ("v=DKIM1; k=rsa; p=", Status.FAIL, "dkim.revoked"),
    ("v=DKIM1; t=y; p=RSA2048", Status.WARN, "dkim.testing"),
    ("v=DKIM1; k=rsa; p=RSA2048", Status.PASS, "dkim.key"),
    ("v=DKIM1; k=ed25519; p=ED", Status.PASS, "dkim.key"),
    ("v=DKIM1; k=rsa; p=!!notbase64", Status.FAIL, "dkim.syntax"),
    ("v=DKIM1; k=ed25519; p=AAAA", Status.FAIL, "dkim.syntax"),
    ("v=DKIM1; k=dsa; p=AAAA", Status.FAIL, "dkim.syntax"),
    ("v=DKIM2; p=AAAA", Status.FAIL, "dkim.syntax"),
    (f"v=DKIM1; k=rsa; p={base64.b64encode(b'garbage').decode()}", Status.FAIL, "dkim.syntax"),
])
def test_key_findings(record, status, code):
    record = record.replace("RSA2048", rsa_b64()).replace("p=ED", "p=" + ed_b64())
    fs = judge(record)
    assert [(f.code, f.status) for f in fs] == [(code, status)], fs
    assert "sel._domainkey.example.com" in fs[0].explanation or fs[0].status is Status.PASS


def test_given_selector_not_found_fails_but_guessed_is_a_note():
    fs = judge(None)
    assert [(f.code, f.status) for f in fs] == [("dkim.not_found", Status.FAIL)]
    assert "sel._domainkey.example.com. IN TXT" in fs[0].remedy
    fs = judge(None, guessed=True)
    assert [(f.code, f.status) for f in fs] == [("dkim.none_found", Status.SKIP)]
    assert "DKIM-Signature" in fs[0].remedy


def test_guessed_selectors_report_only_what_exists():
    results = {"default": nxdomain("default._domainkey.example.com", "TXT"),
               "k1": answer("k1._domainkey.example.com", "TXT", f"v=DKIM1; p={rsa_b64()}"),
               "s1": answer("s1._domainkey.example.com", "TXT", "v=spf1 -all")}  # a wildcard TXT, not DKIM
    fs = DkimCheck().evaluate_dkim("example.com", results, guessed=True)
    assert [(f.code, f.subject) for f in fs] == [("dkim.key", "DKIM selector k1")]


def test_lookup_failures_never_pass():
    for bad in (servfail, timeout):
        fs = judge(None, result=bad("sel._domainkey.example.com", "TXT"))
        assert [(f.code, f.status) for f in fs] == [("dkim.lookup_failed", Status.FAIL)]
        fs = judge(None, guessed=True, result=bad("sel._domainkey.example.com", "TXT"))
        assert fs[0].status is Status.WARN


def test_hostile_records():
    for record in ["v=DKIM1; p=\x1b[31m", "p=" + "A" * 5000, ";;;;", "v=DKIM1; \x00=1; p=", "p=" + RSA512 + "; p=x"]:
        fs = judge(record)
        assert fs and all("\x1b" not in f.summary + f.explanation for f in fs)


def test_a_domain_whose_provider_signs_but_publishes_no_key_is_told_apart_from_a_miss():
    # Given: no key at any selector tried; Microsoft 365 is known to sign for the domain
    results = {s: nxdomain(f"{s}._domainkey.example.com", "TXT") for s in ("selector1", "selector2")}
    plain = DkimCheck().evaluate_dkim("example.com", results, guessed=True)
    known = DkimCheck().evaluate_dkim("example.com", results, guessed=True, signer="Microsoft 365")
    # Then: without a provider it is "no key at the selectors tried" (listed); with one, "signs with no key"
    assert [(f.code, f.status) for f in plain] == [("dkim.none_found", Status.SKIP)]
    assert "selector1, selector2" in plain[0].summary
    assert [(f.code, f.status) for f in known] == [("dkim.no_key", Status.WARN)]
    assert "Microsoft 365 signs" in known[0].explanation


def test_only_revoked_keys_mean_the_domain_signs_with_no_key():
    fs = judge("v=DKIM1; k=rsa; p=", guessed=True)
    assert [f.code for f in fs] == ["dkim.revoked", "dkim.no_key"]
    assert "revoked" in fs[1].summary


def test_a_learned_selector_without_a_key_fails_like_a_given_one():
    results = {"s2026": nxdomain("s2026._domainkey.example.com", "TXT"),
               "default": nxdomain("default._domainkey.example.com", "TXT")}
    fs = DkimCheck().evaluate_dkim("example.com", results, guessed=True, asserted=frozenset({"s2026"}),
                                   learned=("s2026",))
    assert [(f.code, f.status, f.evidence["learned"]) for f in fs] == [("dkim.not_found", Status.FAIL, True)]


def test_selectors_learned_from_the_round_trip_copy():
    from checks.dkim import learned_selectors, provider_selectors
    from checks.roundtrip.check import DeliveredCopy

    msg = (b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=Mail2026; h=from; bh=x; b=y\r\n"
           b"DKIM-Signature: v=1; a=rsa-sha256; d=esp.example; s=other; h=from; bh=x; b=y\r\n"
           b"From: a@example.com\r\n\r\nbody\r\n")
    copy = DeliveredCopy(msg, "INBOX", "a@example.com", 1.0)
    assert learned_selectors(copy, "example.com") == ("mail2026",)
    assert learned_selectors(None, "example.com") == ()
    assert provider_selectors(None) == ((), "")


def test_a_revoked_key_is_the_cause_of_signing_with_no_key():
    from diagnose.engine.diagnosis import diagnose

    d = diagnose(judge("v=DKIM1; k=rsa; p=", guessed=True), "example.com")
    assert d.caused_by == {"f2": "f1"} and d.root_causes == ["f1"]
