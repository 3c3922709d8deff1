"""Server probes against the real lab: Postfix (25/587/465) and Dovecot (143/993/110/995).

The healthy domain passes every server check when the lab CA is trusted (--ca-file); each fault
host (configured in tests/lab/scenarios.py) gives the right code, status and phase.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
SERVER_CHECKS = ("servers", "smtp.greeting", "imap.greeting", "pop3.greeting", "tls", "auth", "dane.tlsa")


def check(lab, scenario, *extra, timeout="2", ca=True, checks=SERVER_CHECKS):
    if scenario not in lab.scenarios:
        pytest.skip(f"this lab has no {scenario!r} scenario")
    args = ["check", lab.domain(scenario), "--nameserver", lab.resolver, "--timeout", timeout, "--format", "json"]
    args += ["--ca-file", str(lab.ca_file)] if ca else []
    for c in checks:
        args += ["--check", c]
    start = time.monotonic()
    proc = subprocess.run([MAILDOCTOR, *args, *extra], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NO_COLOR": "1"})
    elapsed = time.monotonic() - start
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout), elapsed


def ours(report):
    return [
        f
        for f in report["findings"]
        if f["check"].split(".")[0] in ("servers", "smtp", "imap", "pop3", "tls", "auth", "dane")
    ]


def find(report, code, port=None):
    hits = [f for f in report["findings"] if f["code"] == code and (port is None or f["subject"].endswith(f":{port}"))]
    assert hits, f"no {code} finding; got {[(f['code'], f['status'], f['subject']) for f in ours(report)]}"
    return hits[0]


def test_healthy_domain_passes_every_server_check(lab):
    report, elapsed = check(lab, "healthy")
    bad = [
        (f["code"], f["status"], f["subject"], f["summary"])
        for f in ours(report)
        if f["status"] not in ("pass", "skip")
    ]
    assert not bad, bad
    ports = {int(f["subject"].rsplit(":", 1)[1]) for f in ours(report) if f["code"] == "tls.ok"}
    assert ports == {25, 587, 465, 143, 993, 110, 995}, ports
    greetings = {f["code"] for f in ours(report) if f["status"] == "pass"}
    assert {"smtp.greeting", "imap.greeting", "pop3.greeting", "tls.cert_ok", "auth.ok"} <= greetings
    cert = find(report, "tls.cert_ok", 25)
    assert cert["evidence"]["sha256"] and cert["evidence"]["san"] and cert["evidence"]["days_left"] > 14
    greeting = find(report, "smtp.greeting", 25)
    assert any(line.startswith("S: 220 ") for line in greeting["evidence"]["transcript"])
    assert elapsed < 10, elapsed


def test_without_the_lab_ca_certificates_are_untrusted(lab):
    report, _ = check(lab, "healthy", ca=False, checks=("tls.certificate",))
    untrusted = find(report, "tls.cert_untrusted", 25)
    assert untrusted["status"] == "fail" and "--ca-file" in untrusted["remedy"]


@pytest.mark.parametrize("scenario,code,status", [
    ("certexpired", "tls.cert_expired", "fail"),
    ("certexpiring", "tls.cert_expiring", "warn"),
    ("certwrongname", "tls.cert_name_mismatch", "fail"),
    ("certselfsigned", "tls.cert_self_signed", "fail"),
    ("certnochain", "tls.cert_chain_incomplete", "fail"),
])
def test_certificate_faults(lab, scenario, code, status):
    # the known-intermediates file lets maildoctor tell a missing intermediate from an unknown CA
    report, _ = check(lab, scenario, checks=("tls.certificate",))
    finding = find(report, code, 25)
    assert finding["status"] == status, finding
    assert finding["remedy"] and finding["evidence"]["sha256"]
    # the certificate problem never turns into "no STARTTLS"
    codes = {f["code"] for f in ours(report)}
    assert "tls.no_starttls" not in codes


def test_no_starttls_on_port_25(lab):
    report, _ = check(lab, "nostarttls", checks=("tls.handshake",))
    finding = find(report, "tls.no_starttls", 25)
    assert finding["status"] == "fail" and "smtpd_tls_security_level" in finding["remedy"]


def test_greeting_after_15_s_is_inconclusive_within_the_timeout(lab):
    report, elapsed = check(lab, "slowgreet", checks=("smtp.greeting", "tls.handshake"), timeout="1.5")
    finding = find(report, "smtp.greeting_timeout", 25)
    assert finding["status"] == "error" and finding["evidence"]["phase"] == "greeting"
    assert "could not be tested" in finding["summary"]
    assert elapsed < 12, elapsed  # never waits the 15 s
    assert not [f for f in ours(report) if f["code"] == "tls.no_starttls"]


def test_submission_without_auth_fails_for_sending(lab):
    report, _ = check(lab, "noauth", checks=("auth.offered",))
    finding = find(report, "auth.missing", 587)
    assert finding["status"] == "fail" and finding["side"] == "outgoing"


def test_legacy_tls_accepted_is_a_warning(lab):
    report, _ = check(lab, "legacytls", checks=("tls.handshake",))
    finding = find(report, "tls.legacy_accepted", 25)
    assert finding["status"] == "warn" and finding["evidence"]["legacy"]["version"] in ("TLSv1", "TLSv1.1")


def test_tlsa_that_does_not_match(lab):
    report, _ = check(lab, "tlsabad", checks=("dane.tlsa",))
    f = find(report, "dane.mismatch", 25)
    assert f["status"] == "fail" and f["evidence"]["dnssec_validated"]
    assert f["evidence"]["expected_3_1_1"] in f["remedy"]  # the record to publish, ready to copy


def test_srv_records_name_the_servers(lab):
    report, _ = check(lab, "srv", checks=("servers", "imap.greeting", "pop3.greeting"))
    found = [f for f in ours(report) if f["code"] == "servers.found"]
    sources = {s["source"] for f in found for s in f["evidence"]["servers"]}
    assert sources == {"SRV _submission._tcp", "SRV _submissions._tcp", "SRV _imaps._tcp"} or \
        {"SRV _imaps._tcp"} <= sources, found
    submission = next(f for f in found if "submission" in f["summary"])
    assert submission["evidence"]["servers"][0]["ports"] == [587, 465]
    assert find(report, "servers.not_offered")["status"] == "pass"  # POP3 SRV target "."
    imap_ports = {f["subject"].rsplit(":", 1)[1] for f in ours(report) if f["code"] == "imap.greeting"}
    assert imap_ports == {"993"}
    # POP3 asked for with --check but the domain offers none: nothing tested, so an error (never a quiet skip)
    pop3 = [f for f in ours(report) if f["check"] == "pop3.greeting" and f["status"] != "skip"]
    assert [(f["code"], f["status"]) for f in pop3] in ([], [("pop3.greeting.not_tested", "error")]), pop3


def test_command_line_hosts_replace_discovery(lab):
    host = lab.hostname("mx1")  # serves 587 and 465 too
    report, _ = check(lab, "certexpired", "--smtp-host", host, "--ehlo", "client.example.test",
                      checks=("servers", "auth.offered"))
    found = [f for f in ours(report) if f["code"] == "servers.found" and "submission" in f["summary"]]
    assert found[0]["evidence"]["servers"] == [
        {"name": host, "addresses": [lab.host("mx1")], "ports": [587, 465], "source": "--smtp-host"}]
    assert {f["code"] for f in ours(report) if f["check"] == "auth.offered" and f["status"] != "skip"} == {"auth.ok"}
    assert "C: EHLO client.example.test" in find(report, "auth.ok", 587)["evidence"]["transcript"]


def test_port_25_blocked_on_this_network(lab):
    if not lab.firewall_available:
        pytest.skip("iptables unavailable: the filtered host refuses instead of dropping")
    report, elapsed = check(lab, "blocked25", checks=("smtp.greeting",), timeout="1")
    finding = find(report, "smtp.port25_blocked_here")
    assert finding["status"] == "error" and "blocks outgoing port 25" in finding["explanation"]
    assert elapsed < 10


def test_login_offered_before_tls_is_a_warning(lab):
    report, _ = check(lab, "plainauth", checks=("auth.offered",))
    for port in (587, 143, 110):
        finding = find(report, "auth.before_tls", port)
        assert finding["status"] == "warn" and finding["evidence"]["before_tls"], finding
    assert "smtpd_tls_auth_only" in find(report, "auth.before_tls", 587)["remedy"]


def test_server_with_only_old_tls_versions(lab):
    report, _ = check(lab, "oldtls", checks=("tls.handshake", "tls.certificate"))
    finding = find(report, "tls.only_legacy", 25)
    assert finding["status"] == "fail" and "TLSv1.2" in finding["remedy"]
    assert "tls.no_starttls" not in {f["code"] for f in ours(report)}
