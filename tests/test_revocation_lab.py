"""Revocation against the real lab: the lab CA's CRLs served over HTTP, OCSP answered by `openssl ocsp`,
and Postfix presenting leaves that are good, revoked in the CRL, revoked only in OCSP, whose responder is
down, whose only CRL is stale, or sent without their intermediate (which AIA completes)."""

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

import diagnose.net.cafetch as cafetch
from diagnose.engine.facts import FactBoard
from diagnose.engine.plugin import CheckContext, Options
from diagnose.engine.target import parse_target
from diagnose.knowledge.revocation import ca_urls, judge_crl
from diagnose.net.resolver import Dns, parse_nameserver

pytestmark = pytest.mark.lab
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))


def check(lab, scenario, *extra, fmt="json"):
    if scenario not in lab.scenarios:
        pytest.skip(f"this lab has no {scenario!r} scenario")
    args = ["check", lab.domain(scenario), "--nameserver", lab.resolver, "--timeout", "2", "--format", fmt,
            "--ca-file", str(lab.ca_file), "--check", "tls"]
    proc = subprocess.run([MAILDOCTOR, *args, *extra], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NO_COLOR": "1"})
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout) if fmt == "json" else proc.stdout


def revocation(report):
    return [f for f in report["findings"] if f["check"] == "tls.revocation"]


def test_healthy_certificates_are_not_revoked_per_ocsp(lab):
    report = check(lab, "healthy")
    found = revocation(report)
    assert found and {(f["code"], f["status"]) for f in found} == {("tls.revocation_ok", "pass")}, found
    ev = found[0]["evidence"]
    assert ev["answers"][0]["source"] == "ocsp" and ev["answers"][0]["outcome"] == "good"
    assert ev["answers"][0]["signer"] == "the issuing CA" and ev["issuer"]["source"] == "sent"
    assert "not tested" in ev["stapling"]
    assert "OCSP" in report["meta"]["revocation"]
    # the intermediate each server sends is asked too, of the root's CRL; the leaf's finding says only the leaf
    for f in found:
        [inter] = f["evidence"]["intermediates"]
        assert (inter["outcome"], inter["source"]) == ("good", "crl"), inter
        assert inter["url"] == f"http://{lab.hostname('capub')}/root.crl" and inter["issuer"]["source"] == "trust store"
        assert f["summary"].startswith(f["subject"].split()[0] + ": not revoked (OCSP"), f["summary"]


def test_intermediate_revoked_by_the_root_fails(lab):
    report = check(lab, "intrevoked")
    found = {f["code"]: f for f in revocation(report)}
    # the server's own certificate is good (its CA's CRL does not list it), and its finding says just that
    assert found["tls.revocation_ok"]["status"] == "pass", found
    # but the intermediate it sends is listed in the root's CRL: a failure of its own, naming the CA certificate
    fail = found["tls.revocation_intermediate_revoked"]
    assert fail["status"] == "fail" and report["verdict"] == "fail", fail
    assert "intermediate CA 2" in fail["summary"] and "REVOKED" in fail["summary"], fail["summary"]
    [inter] = fail["evidence"]["intermediates"]  # asked of the root's OCSP responder (openssl ocsp), first
    assert inter["outcome"] == "revoked" and inter["source"] == "ocsp" and inter["reason"] == "ca_compromise"
    assert inter["url"] == f"http://{lab.hostname('ocsp')}/root/" and inter["revoked_at"]
    assert "intermediate CA 2" in inter["subject"] and "root CA" in inter["issuer"]["subject"]
    assert "ca_compromise" in fail["explanation"] and "intermediate" in fail["remedy"]
    text = check(lab, "intrevoked", fmt="text")
    assert "REVOKED" in text and "tls.revocation" in text


@pytest.mark.parametrize("scenario,code,status,source", [
    ("crlrevoked", "tls.revocation_revoked", "fail", "crl"),
    ("ocsprevoked", "tls.revocation_revoked", "fail", "ocsp"),
    ("ocspdown", "tls.revocation_unavailable", "warn", "ocsp"),
    ("crlstale", "tls.revocation_stale", "warn", "crl"),
])
def test_revocation_faults(lab, scenario, code, status, source):
    [finding] = revocation(check(lab, scenario))
    assert (finding["code"], finding["status"]) == (code, status), finding["summary"]
    answers = finding["evidence"]["answers"]
    assert answers[-1]["source"] == source
    if scenario == "ocsprevoked":  # the CRL does not list it: only asking OCSP finds it
        assert answers == [a for a in answers if a["source"] == "ocsp"] and answers[0]["reason"] == "key_compromise"
    if scenario == "ocspdown":
        assert answers[0]["outcome"] == "refused"


def test_root_crl_lists_the_revoked_intermediate(lab):
    """The root's CRL (the healthy intermediates' only source) says the same of the revoked intermediate."""
    if "intrevoked" not in lab.scenarios:
        pytest.skip("this lab has no 'intrevoked' scenario")
    _, inter = x509.load_pem_x509_certificates(Path(lab.hosts["intrevoked"]["cert"]["chain"]).read_bytes())
    root = x509.load_pem_x509_certificate(Path(lab.ca_file).read_bytes())

    async def go():
        dns = Dns([parse_nameserver(lab.resolver)], timeout=2)
        fetcher = cafetch.ca_fetcher(CheckContext(parse_target(lab.domain("healthy")), dns, Options(timeout=2),
                                                  FactBoard()))
        [url] = ca_urls(inter).crl
        fetched = await fetcher.fetch(url, fetcher.limits.crl_bytes)
        assert fetched.response is not None, fetched
        return judge_crl(fetched.response.body, inter, root, dt.datetime.now(dt.UTC), url)

    answer = asyncio.run(go())
    assert answer.outcome == "revoked" and answer.facts["reason"] == "ca_compromise", answer


def test_missing_intermediate_is_fetched_via_aia(lab):
    report = check(lab, "certnochain")
    cert = [f for f in report["findings"] if f["check"] == "tls.certificate"]
    assert cert[0]["code"] == "tls.cert_chain_incomplete" and cert[0]["status"] == "fail"  # clients still fail
    aia = cert[0]["evidence"]["aia_issuer"]
    assert aia["found"] and aia["attempts"][0]["url"].startswith(f"http://{lab.hostname('capub')}/")
    [rev] = revocation(report)
    assert rev["code"] == "tls.revocation_ok" and rev["evidence"]["issuer"]["source"] == "AIA"


def test_no_revocation_asks_no_ca_and_says_so(lab):
    report = check(lab, "certnochain", "--no-revocation")
    [rev] = revocation(report)
    assert rev["status"] == "skip" and "--no-revocation" in rev["summary"]
    cert = [f for f in report["findings"] if f["check"] == "tls.certificate"][0]
    assert "aia_issuer" not in cert["evidence"]
    assert "not checked" in report["meta"]["revocation"]
    text = check(lab, "certnochain", "--no-revocation", "--verbose", fmt="text")
    assert "Revocation" in text and "not checked (--no-revocation)" in text


def test_ocsp_by_post(lab, monkeypatch):
    """Requests too long for GET go by POST (RFC 5019); the lab's openssl responder answers both."""
    monkeypatch.setattr(cafetch, "OCSP_GET_MAX", 0)
    chain_file = lab.hosts["ocsprevoked"]["cert"]["chain"]
    chain = x509.load_pem_x509_certificates(Path(chain_file).read_bytes())

    async def go():
        dns = Dns([parse_nameserver(lab.resolver)], timeout=2)
        ctx = CheckContext(parse_target(lab.domain("healthy")), dns, Options(timeout=2), FactBoard())
        return await cafetch.ca_fetcher(ctx).revocation(chain)

    result = asyncio.run(go())
    assert result.outcome == "revoked" and result.answers[0].source == "ocsp"
