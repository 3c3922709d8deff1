"""Revocation judgement (diagnose.knowledge.revocation) on CRLs and OCSP answers made here with
cryptography, and the tls.revocation verdicts built from them: only a verified answer passes."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from checks.tls.revocation import Revocation
from diagnose.engine.model import Status
from diagnose.knowledge.revocation import (
    Answer,
    ca_urls,
    judge_crl,
    judge_ocsp,
    ocsp_request,
    parse_issuer_certificates,
    sent_ca_path,
    summarize,
)
from diagnose.net.cafetch import CaRevocation, IssuerLookup, RevocationResult
from diagnose.net.dialogue import Endpoint
from diagnose.net.httpget import plain_http_url
from tests.lab.pki import CertAuthority

NOW = dt.datetime.now(dt.UTC)
URLS = {"crl": "http://ca.example/i.crl", "stale_crl": "http://ca.example/s.crl", "issuer": "http://ca.example/i.der",
        "ocsp": "http://ocsp.example/", "ocsp_down": "http://down.example/"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = CertAuthority(tmp_path_factory.mktemp("rev"), "rev", urls=URLS)
    other = CertAuthority(tmp_path_factory.mktemp("other"), "other")
    leaf = x509.load_pem_x509_certificate(open(ca.issue("leaf", ["mx.example"])["cert"], "rb").read())
    return ca, other, leaf


def crl(ca, serials=(), *, this=NOW - dt.timedelta(hours=1), nxt=NOW + dt.timedelta(days=1), key=None) -> bytes:
    b = x509.CertificateRevocationListBuilder().issuer_name(ca.inter.subject).last_update(this).next_update(nxt)
    for s in serials:
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(s)
                                      .revocation_date(NOW - dt.timedelta(days=1)).build())
    return b.sign(key or ca.inter_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def ocsp_answer(ca, leaf, status=ocsp.OCSPCertStatus.GOOD, *, nxt=NOW + dt.timedelta(hours=1), signer=None,
                signer_key=None, cert_for=None) -> bytes:
    b = ocsp.OCSPResponseBuilder().add_response(
        cert=cert_for or leaf, issuer=ca.inter, algorithm=hashes.SHA1(), cert_status=status,
        this_update=NOW - dt.timedelta(minutes=1), next_update=nxt,
        revocation_time=NOW - dt.timedelta(days=1) if status == ocsp.OCSPCertStatus.REVOKED else None,
        revocation_reason=x509.ReasonFlags.key_compromise if status == ocsp.OCSPCertStatus.REVOKED else None)
    if signer is not None:
        b = b.responder_id(ocsp.OCSPResponderEncoding.HASH, signer).certificates([signer])
    else:
        b = b.responder_id(ocsp.OCSPResponderEncoding.HASH, ca.inter)
    return b.sign(signer_key or ca.inter_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_lab_leaf_names_crl_ocsp_and_issuer_urls(pki):
    _, _, leaf = pki
    urls = ca_urls(leaf)
    assert urls.crl == (URLS["crl"],) and urls.ocsp == (URLS["ocsp"],) and urls.ca_issuers == (URLS["issuer"],)


def test_crl_outcomes(pki):
    ca, other, leaf = pki
    assert judge_crl(crl(ca), leaf, ca.inter, NOW).outcome == "good"
    revoked = judge_crl(crl(ca, [leaf.serial_number]), leaf, ca.inter, NOW)
    assert revoked.outcome == "revoked" and revoked.facts["revoked_at"]
    stale = crl(ca, this=NOW - dt.timedelta(days=9), nxt=NOW - dt.timedelta(days=2))
    assert judge_crl(stale, leaf, ca.inter, NOW).outcome == "stale"
    # revocation is final: listed in an outdated CRL is still revoked
    old = crl(ca, [leaf.serial_number], this=NOW - dt.timedelta(days=9), nxt=NOW - dt.timedelta(days=2))
    assert judge_crl(old, leaf, ca.inter, NOW).outcome == "revoked"
    forged = judge_crl(crl(ca, key=other.inter_key), leaf, ca.inter, NOW)
    assert forged.outcome == "invalid" and "signature" in forged.detail
    assert judge_crl(b"\x30\x82garbage" * 50, leaf, ca.inter, NOW).outcome == "invalid"
    pem = x509.load_der_x509_crl(crl(ca)).public_bytes(serialization.Encoding.PEM)
    assert judge_crl(pem, leaf, ca.inter, NOW).outcome == "good"


def test_ocsp_outcomes(pki):
    ca, other, leaf = pki
    assert judge_ocsp(ocsp_answer(ca, leaf), leaf, ca.inter, NOW).outcome == "good"
    revoked = judge_ocsp(ocsp_answer(ca, leaf, ocsp.OCSPCertStatus.REVOKED), leaf, ca.inter, NOW)
    assert revoked.outcome == "revoked" and revoked.facts["reason"] == "key_compromise"
    assert judge_ocsp(ocsp_answer(ca, leaf, ocsp.OCSPCertStatus.UNKNOWN), leaf, ca.inter, NOW).outcome == "unknown"
    assert judge_ocsp(ocsp_answer(ca, leaf, nxt=NOW - dt.timedelta(hours=1)), leaf, ca.inter, NOW).outcome == "stale"
    # signed by a key the CA never delegated
    rogue = judge_ocsp(ocsp_answer(ca, leaf, signer=other.inter, signer_key=other.inter_key), leaf, ca.inter, NOW)
    assert rogue.outcome == "invalid"
    # an answer about another certificate does not count for this one
    sibling = x509.load_pem_x509_certificate(open(ca.issue("sib", ["b.example"])["cert"], "rb").read())
    assert judge_ocsp(ocsp_answer(ca, leaf, cert_for=sibling), leaf, ca.inter, NOW).outcome == "invalid"
    failed = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    answer = judge_ocsp(failed.public_bytes(serialization.Encoding.DER), leaf, ca.inter, NOW)
    assert answer.outcome == "invalid" and "try_later" in answer.detail
    assert judge_ocsp(b"<html>", leaf, ca.inter, NOW).outcome == "invalid"
    assert ocsp.load_der_ocsp_request(ocsp_request(leaf, ca.inter)).serial_number == leaf.serial_number


def test_ocsp_by_a_delegated_responder(pki):
    ca, _, leaf = pki
    key = ec.generate_private_key(ec.SECP256R1())
    delegate = (ca._builder(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ocsp signer")]), ca.inter.subject,
                            key.public_key(), ca.inter_key.public_key())
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
                .sign(ca.inter_key, hashes.SHA256()))
    answer = judge_ocsp(ocsp_answer(ca, leaf, signer=delegate, signer_key=key), leaf, ca.inter, NOW)
    assert answer.outcome == "good" and "delegated" in answer.facts["signer"]


def test_issuer_download_formats(pki):
    ca, _, _ = pki
    der = ca.inter.public_bytes(serialization.Encoding.DER)
    assert parse_issuer_certificates(der) == [ca.inter]
    assert parse_issuer_certificates(ca.inter.public_bytes(serialization.Encoding.PEM)) == [ca.inter]
    assert parse_issuer_certificates(b"\x00" * 100) == []


@pytest.mark.parametrize("url", ["ldap://ca.example/cn=x", "https://ca.example/x.crl", "http://user@ca.example/",
                                 "http://ca.example/a b", "http://cä.example/", "http://ca.example:99999/",
                                 "http:///x", "http://ca.example/\r\nHost: evil"])
def test_urls_from_certificates_are_untrusted(url):
    assert plain_http_url(url) is None


def test_plain_http_url_parts():
    assert plain_http_url("http://ca.example/i.crl") == ("ca.example", 80, "/i.crl")
    assert plain_http_url("http://127.0.0.1:8080/ocsp?x=1") == ("127.0.0.1", 8080, "/ocsp?x=1")


def test_summarize_prefers_evidence():
    assert summarize([]) == "unchecked"
    assert summarize([Answer("ocsp", "u", "timeout")]) == "unavailable"
    assert summarize([Answer("ocsp", "u", "timeout"), Answer("crl", "u", "revoked")]) == "revoked"
    assert summarize([Answer("ocsp", "u", "invalid"), Answer("crl", "u", "stale")]) == "stale"


class _D:  # the parts of a Dialogue the pure evaluate reads
    def __init__(self, chain):
        self.tls = type("T", (), {"chain": tuple(chain)})()
        self.elapsed_s = 0.1


@pytest.mark.parametrize("outcome,code,status", [
    ("good", "tls.revocation_ok", Status.PASS),
    ("revoked", "tls.revocation_revoked", Status.FAIL),
    ("stale", "tls.revocation_stale", Status.WARN),
    ("invalid", "tls.revocation_invalid", Status.WARN),
    ("unavailable", "tls.revocation_unavailable", Status.WARN),
    ("unchecked", "tls.revocation_unchecked", Status.SKIP),
])
def test_verdicts_never_claim_more_than_was_tested(pki, outcome, code, status):
    ca, _, leaf = pki
    answers = () if outcome == "unchecked" else (Answer("ocsp", URLS["ocsp"], outcome if outcome != "unavailable"
                                                         else "refused", "detail"),)
    result = RevocationResult(outcome, answers, IssuerLookup(ca.inter, "sent"), {"ocsp": [URLS["ocsp"]]},
                              "no URL" if outcome == "unchecked" else "")
    ep = Endpoint("mx", "mx.example", "192.0.2.1", 25, "MX")
    [finding] = Revocation().evaluate(ep, _D([leaf, ca.inter]), result)
    assert (finding.code, finding.status) == (code, status)
    assert finding.evidence["outcome"] == outcome and "not tested" in finding.evidence["stapling"]
    assert "{" not in finding.explanation
    if status is not Status.PASS:
        assert "not revoked" not in finding.summary


def test_sent_ca_path_stops_at_roots_and_anchors(pki):
    ca, other, leaf = pki

    def anchors(*certs):
        return lambda subject: [c for c in certs if c.subject == subject]

    # Given the chain as servers send it, in order, out of order, with a stray CA, and with the root
    assert sent_ca_path([leaf, ca.inter], anchors(ca.root)) == [ca.inter]
    assert sent_ca_path([leaf, other.inter, ca.inter, ca.root], anchors(ca.root)) == [ca.inter]
    assert sent_ca_path([leaf, ca.root, ca.inter], anchors()) == [ca.inter]  # a self-signed root is never asked
    # Then an intermediate that is itself a trust anchor, and a leaf sent alone, have nothing above to ask
    assert sent_ca_path([leaf, ca.inter], anchors(ca.inter)) == []
    assert sent_ca_path([leaf], anchors(ca.root)) == []
    assert sent_ca_path([leaf, other.inter], anchors(ca.root)) == []  # not the leaf's issuer: not on its path
    # and an anchor with the intermediate's name counts only with its key too (a self-signed copy does)
    twin_key = ec.generate_private_key(ec.SECP256R1())
    for key, path in ((twin_key, [ca.inter]), (ca.inter_key, [])):
        anchor = ca._builder(ca.inter.subject, ca.inter.subject, key.public_key(), key.public_key()) \
            .sign(key, hashes.SHA256())
        assert sent_ca_path([leaf, ca.inter], anchors(anchor)) == path


@pytest.mark.parametrize("outcome,code,status", [
    ("revoked", "tls.revocation_intermediate_revoked", Status.FAIL),
    ("unavailable", "tls.revocation_intermediate_unconfirmed", Status.WARN),
    ("stale", "tls.revocation_intermediate_unconfirmed", Status.WARN),
    ("good", None, None),
    ("unchecked", None, None),
])
def test_intermediate_verdicts(pki, outcome, code, status):
    ca, _, leaf = pki
    # Given a good leaf and an intermediate whose root's CRL gave ``outcome``
    good = RevocationResult("good", (Answer("ocsp", URLS["ocsp"], "good", "ok"),), IssuerLookup(ca.inter, "sent"))
    facts = {"revoked_at": "2026-01-02T03:04:05+00:00", "reason": "ca_compromise"} if outcome == "revoked" else {}
    answers = () if outcome == "unchecked" else (
        Answer("crl", "http://ca.example/root.crl", "refused" if outcome == "unavailable" else outcome, "why", facts),)
    above = CaRevocation(ca.inter, RevocationResult(outcome, answers, IssuerLookup(ca.root, "trust store"),
                                                    detail="no URL" if outcome == "unchecked" else ""))
    ep = Endpoint("mx", "mx.example", "192.0.2.1", 25, "MX")
    # When the endpoint is judged
    findings = Revocation().evaluate(ep, _D([leaf, ca.inter]), good, [above])
    # Then the leaf's finding is as without intermediates, with their evidence added
    assert (findings[0].code, findings[0].status) == ("tls.revocation_ok", Status.PASS)
    assert findings[0].summary == Revocation().evaluate(ep, _D([leaf, ca.inter]), good)[0].summary
    [ev] = findings[0].evidence["intermediates"]
    assert ev["subject"] == ca.inter.subject.rfc4514_string() and ev["outcome"] == outcome
    # and the intermediate gets a finding of its own only when it is revoked or unconfirmed
    if code is None:
        assert len(findings) == 1
        return
    [extra] = findings[1:]
    assert (extra.code, extra.status) == (code, status) and "{" not in extra.explanation + extra.remedy
    assert "maildoctor lab intermediate CA rev" in extra.summary and "not revoked" not in extra.summary
    if outcome == "revoked":
        assert ev["revoked_at"] == facts["revoked_at"] and ev["reason"] == "ca_compromise" and ev["source"] == "crl"
        assert "2026-01-02T03:04" in extra.summary and "maildoctor lab root CA rev" in extra.explanation
