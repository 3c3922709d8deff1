"""Pure certificate evaluation on certificates minted in the test."""

import datetime as dt
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from diagnose.engine.model import Status
from diagnose.knowledge.certs import Verdicts, evaluate_certificate, load_pem_bundle, name_matches
from tests.unit.certmint import NOW, Pki, rsa_key, self_signed

PKI = Pki()


def judge(chain, host="mx.example.test", *, now=NOW, anchors=None, intermediates=(), warn_days=14):
    return evaluate_certificate(chain, host, now, warn_days, anchors=[PKI.root] if anchors is None else anchors,
                                intermediates=list(intermediates))


def test_healthy_chain_passes_with_evidence():
    leaf = PKI.leaf("mx.example.test")
    v = judge([leaf, PKI.inter])
    assert v.issues == () and v.ok, v.issues
    ev = v.evidence
    assert ev["san"] == ["mx.example.test"] and ev["trusted"] is True
    assert ev["days_left"] == 60 and ev["key"] == "EC secp256r1 256" and len(ev["sha256"]) == 95
    assert ev["chain"] == ["mx.example.test", "intermediate test"]


@pytest.mark.parametrize("pattern,host,ok", [
    ("mx.example.test", "MX.Example.Test.", True),
    ("*.example.test", "mx.example.test", True),
    ("*.example.test", "a.b.example.test", False),  # one label only
    ("*.example.test", "example.test", False),
    ("*.test", "example.test", False),  # never a wildcard for a whole TLD
    ("m*.example.test", "mx.example.test", False),  # partial wildcards are not honoured
    ("*.xn--bcher-kva.test", "mx.xn--bcher-kva.test", True),
])
def test_name_matching(pattern, host, ok):
    assert name_matches(pattern, host) is ok


def test_wrong_name_is_a_mismatch_but_still_trusted():
    v = judge([PKI.leaf("other.example.test"), PKI.inter])
    assert v.codes() == ["tls.cert_name_mismatch"]
    assert v.evidence["trusted"] is True and v.evidence["name_matches"] is False  # both said, apart
    assert "other.example.test" in v.issues[0].summary


def test_ip_san_matches_an_address_not_a_name():
    leaf = PKI.leaf(ips=["127.0.0.1"])
    assert judge([leaf, PKI.inter], "127.0.0.1").issues == ()
    assert "tls.cert_name_mismatch" in judge([leaf, PKI.inter], "mx.example.test").codes()


def test_expired_not_yet_valid_and_expiring():
    # expiry is reported once, as expiry, not also as a chain problem
    assert judge([PKI.leaf("mx.example.test", days_after=-2), PKI.inter]).codes() == ["tls.cert_expired"]
    assert judge([PKI.leaf("mx.example.test", days_before=-3), PKI.inter]).codes() == ["tls.cert_not_yet_valid"]
    v = judge([PKI.leaf("mx.example.test", days_after=5), PKI.inter])
    assert v.codes() == ["tls.cert_expiring"] and v.issues[0].status is Status.WARN and v.ok
    assert judge([PKI.leaf("mx.example.test", days_after=5), PKI.inter], warn_days=3).issues == ()


def copy(cert):
    """The same certificate as another session parses it (another object, equal by value)."""
    return x509.load_der_x509_certificate(cert.public_bytes(Encoding.DER))


def test_remembered_verdicts_are_the_fresh_ones():
    # Given one chain served on two ports (two parsed copies) and judged twice in the same second
    leaf = PKI.leaf("mx.example.test")
    memo, anchors = Verdicts(), [PKI.root]
    first = memo.evaluate([leaf, PKI.inter], "mx.example.test", NOW + dt.timedelta(seconds=0.1), 14, anchors=anchors)
    again = memo.evaluate((copy(leaf), copy(PKI.inter)), "MX.example.test.", NOW + dt.timedelta(seconds=0.4), 14,
                          anchors=list(anchors))
    # Then the second is the remembered verdict, which is the fresh one
    assert again is first
    assert first == judge([leaf, PKI.inter], "MX.example.test.", now=NOW + dt.timedelta(seconds=0.4))
    # but another name, trust store or warning period is judged anew
    assert memo.evaluate([leaf, PKI.inter], "other.example.test", NOW, 14, anchors=anchors).codes() == [
        "tls.cert_name_mismatch"]
    assert memo.evaluate([leaf, PKI.inter], "mx.example.test", NOW, 14, anchors=[Pki("other").root]).codes() == [
        "tls.cert_untrusted"]
    assert memo.evaluate([leaf, PKI.inter], "mx.example.test", NOW, 90, anchors=anchors).codes() == [
        "tls.cert_expiring"]


def test_remembered_verdicts_change_with_the_second():
    # Given a leaf that expires at NOW exactly: valid at that whole second, expired a moment later
    leaf = PKI.leaf("mx.example.test", days_after=0)
    memo, anchors = Verdicts(), [PKI.root]
    for now, code in [(NOW, "tls.cert_expiring"), (NOW + dt.timedelta(seconds=0.3), "tls.cert_expired"),
                      (NOW, "tls.cert_expiring"), (NOW - dt.timedelta(seconds=0.5), "tls.cert_expiring")]:
        # Then each moment gets what a fresh judgement at that moment says
        fresh = evaluate_certificate([leaf, PKI.inter], "mx.example.test", now, anchors=anchors)
        assert memo.evaluate([leaf, PKI.inter], "mx.example.test", now, anchors=anchors) == fresh
        assert fresh.codes() == [code], (now, fresh.codes())


def test_self_signed():
    v = judge([self_signed("mx.example.test")])
    assert v.codes() == ["tls.cert_self_signed"] and v.evidence["self_signed"] is True


def test_self_signed_trusted_explicitly_passes():
    cert = self_signed("mx.example.test")
    assert judge([cert], anchors=[PKI.root, cert]).issues == ()


def test_missing_intermediate_confirmed_by_a_known_intermediate():
    v = judge([PKI.leaf("mx.example.test")], intermediates=[PKI.inter])
    assert v.codes() == ["tls.cert_chain_incomplete"]
    assert "intermediate test" in v.issues[0].summary


def test_missing_intermediate_guessed_from_aia():
    assert judge([PKI.leaf("mx.example.test", aia=True)]).codes() == ["tls.cert_chain_incomplete"]


def test_unknown_ca_is_untrusted():
    other = Pki("other")
    v = judge([other.leaf("mx.example.test"), other.inter])
    assert v.codes() == ["tls.cert_untrusted"] and v.evidence["trusted"] is False
    assert v.evidence["validation_error"]


def test_no_trust_anchors_at_all():
    assert judge([PKI.leaf("mx.example.test"), PKI.inter], anchors=[]).codes() == ["tls.cert_untrusted"]


def test_weak_rsa_key_and_sha1_signature():
    v = judge([PKI.leaf("mx.example.test", key=rsa_key(1024)), PKI.inter])
    assert "tls.cert_weak_key" in v.codes()


def test_sha1_signature(tmp_path):
    # cryptography no longer signs with SHA-1, so the openssl tool mints this one
    if shutil.which("openssl") is None:
        pytest.skip("openssl tool not installed")
    key, csr, crt = tmp_path / "k.pem", tmp_path / "r.csr", tmp_path / "c.pem"
    (tmp_path / "ca.pem").write_bytes(PKI.inter.public_bytes(Encoding.PEM))
    (tmp_path / "ca.key").write_bytes(PKI.inter_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    (tmp_path / "ext").write_text("subjectAltName=DNS:mx.example.test\n")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, timeout=30)  # noqa: E731
    run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
        "-out", str(csr), "-subj", "/CN=mx.example.test")
    run("x509", "-req", "-in", str(csr), "-CA", str(tmp_path / "ca.pem"), "-CAkey", str(tmp_path / "ca.key"),
        "-sha1", "-days", "5", "-out", str(crt), "-extfile", str(tmp_path / "ext"))
    leaf = load_pem_bundle(crt.read_bytes())[0]
    v = evaluate_certificate([leaf, PKI.inter], "mx.example.test", dt.datetime.now(dt.UTC), 1,
                             anchors=[PKI.root])
    assert "tls.cert_weak_signature" in v.codes()


def test_no_certificate():
    assert evaluate_certificate([], "mx.example.test", NOW).codes() == ["tls.cert_none"]


def test_hostile_subject_text_stays_data():
    leaf = PKI.leaf("mx.example.test")
    v = judge([leaf, PKI.inter], "x\x1b[2J.example.test")
    assert v.codes() == ["tls.cert_name_mismatch"]


def test_load_pem_bundle_skips_garbage():
    good = PKI.root.public_bytes(Encoding.PEM)
    bad = b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    assert len(load_pem_bundle(bad + good + b"trailing")) == 1
