"""`maildoctor message` on messages delivered through the lab: submitted with TLS and a login to the
healthy domain's submission server, DKIM-signed there by OpenDKIM, relayed over TLS to mx2 (which
verifies the signature and writes Authentication-Results), delivered over LMTP; then re-checked
through the lab's resolver. ARC chains are sealed with the lab's own DKIM key (published in its zone)."""

from __future__ import annotations

import json
import smtplib
import ssl
import subprocess
import sys
import uuid
from pathlib import Path

import dkim
import pytest

from tests.lab.mailbox import take_message

pytestmark = pytest.mark.lab
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))


def _deliver(lab) -> bytes:
    """Submit one message to the lab's submission host and fetch the delivered copy over IMAP."""
    token = f"md-headers-{uuid.uuid4().hex[:12]}"
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    ctx.check_hostname = False  # reached by address
    with smtplib.SMTP(lab.host("smtp"), 587, timeout=10) as smtp:
        smtp.starttls(context=ctx)
        smtp.login(lab.user, lab.password)
        smtp.sendmail(lab.user, [lab.user], f"From: Lab User <{lab.user}>\r\nTo: {lab.user}\r\nSubject: {token}\r\n"
                                            f"Message-ID: <{token}@{lab.domain('healthy')}>\r\n\r\nhello {token}\r\n")
    raw = take_message(lab, "SUBJECT", token, wait=20)
    assert raw is not None, f"{token} was not delivered within 20 s"
    return raw


@pytest.fixture(scope="module")
def delivered(lab) -> bytes:
    return _deliver(lab)


def _message(lab, path: Path, *args: str) -> tuple[int, dict]:
    proc = subprocess.run([MAILDOCTOR, "message", str(path), "-f", "json", "--nameserver", lab.resolver,
                           "--timeout", "2", *args], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _codes(rep: dict) -> dict[str, dict]:
    return {f["code"]: f for f in rep["findings"]}


def test_a_delivered_message_has_tls_hops_a_valid_dkim_signature_spf_and_dmarc(lab, delivered, tmp_path):
    path = tmp_path / "delivered.eml"
    path.write_bytes(delivered)
    code, rep = _message(lab, path)
    found = _codes(rep)
    assert code == 0, [(f["code"], f["summary"]) for f in rep["findings"] if f["status"] != "pass"]
    hops = found["message.hops"]["evidence"]["hops"]
    # submission (login + TLS), server to server (TLS), into the mailbox (LMTP), oldest first, times in UTC
    assert [h["protocol"] for h in hops] == ["ESMTPSA", "ESMTPS", "LMTP"], hops
    assert hops[0]["by"] == lab.hostname("smtp") and hops[1]["by"] == lab.hostname("mx2")
    assert hops[0]["tls"].startswith("TLSv1.") and hops[1]["tls"].startswith("TLSv1."), hops
    assert all(h["time_utc"].endswith("+00:00") for h in hops) and "message.hop_plaintext" not in found
    # the receiver's verdict (OpenDKIM on mx2) and our own
    assert found["message.auth_ok"]["evidence"]["authserv_id"] == lab.hostname("mx2")
    assert {"method": "dkim", "result": "pass"}.items() <= found["message.auth_ok"]["evidence"]["verdicts"][0].items()
    domain = lab.domain("healthy")
    valid = found["message.dkim_valid"]["evidence"]
    assert (valid["domain"], valid["selector"], valid["valid"]) == (domain, lab.dkim_selector, True)
    signed = found["message.dkim_signed"]["evidence"]
    assert signed["commands"] == [f"maildoctor check {domain} --check dkim.keys --dkim-selector {lab.dkim_selector}"]
    spf = found["message.spf_pass"]["evidence"]
    assert (spf["ip"], spf["domain"], spf["mechanism"], spf["hop"]) == (lab.host("mx1"), domain, "mx", 2), spf
    dmarc = found["message.dmarc_pass"]["evidence"]
    assert dmarc["dkim_aligned"] == [domain] and dmarc["spf_aligned"] is True and dmarc["policy"] == "reject"


def test_the_selector_found_feeds_check(lab):
    # Given the selector the message named, `check` finds the key a DNS-only guess would miss
    proc = subprocess.run([MAILDOCTOR, "check", lab.domain("healthy"), "--nameserver", lab.resolver, "--timeout", "2",
                           "--check", "dkim.keys", "--dkim-selector", lab.dkim_selector, "-f", "json"],
                          capture_output=True, text=True, timeout=60)
    rep = json.loads(proc.stdout)
    keys = [f for f in rep["findings"] if f["check"] == "dkim.keys"]
    assert any(lab.dkim_selector in json.dumps(f["evidence"]) and f["status"] == "pass" for f in keys), keys


def test_a_changed_body_breaks_dkim_while_spf_keeps_dmarc(lab, delivered, tmp_path):
    path = tmp_path / "changed.eml"
    path.write_bytes(delivered.replace(b"hello md-headers", b"HELLO md-headers"))
    code, rep = _message(lab, path)
    found = _codes(rep)
    assert found["message.dkim_invalid"]["status"] == "fail" and code == 2
    assert found["message.dmarc_pass"]["evidence"]["dkim_aligned"] == []
    assert found["message.dmarc_pass"]["evidence"]["spf_aligned"] is True


def _arc_sealed(lab, message: bytes) -> bytes:
    sets = dkim.arc_sign(message, lab.dkim_selector.encode(), lab.domain("healthy").encode(),
                         lab.dkim_key.read_bytes(), lab.hostname("mx2").encode())
    return b"".join(sets) + message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_arc_chains_sealed_with_the_lab_key_valid_broken_seal_broken_signature(lab, delivered, tmp_path):
    sealed = _arc_sealed(lab, delivered)
    cases = {
        "valid": sealed,
        "broken-signature": sealed.replace(b"hello md-headers", b"HELLO md-headers"),
        "broken-seal": sealed.replace(b"ARC-Seal: i=1; cv=none", b"ARC-Seal: i=1; cv=pass", 1),
    }
    results = {}
    for name, data in cases.items():
        path = tmp_path / f"{name}.eml"
        path.write_bytes(data)
        results[name] = _codes(_message(lab, path)[1])
    assert results["valid"]["message.arc_pass"]["evidence"]["instances"][0]["seal_valid"] is True
    broken = results["broken-signature"]["message.arc_fail"]
    assert "ARC-Message-Signature" in broken["summary"] and broken["status"] == "warn"
    assert "ARC-Seal[1]" in results["broken-seal"]["message.arc_fail"]["summary"]


def test_offline_asks_no_dns(lab, delivered, tmp_path):
    path = tmp_path / "offline.eml"
    path.write_bytes(delivered)
    proc = subprocess.run([MAILDOCTOR, "message", str(path), "-f", "json", "--offline"], capture_output=True,
                          text=True, timeout=60)
    found = _codes(json.loads(proc.stdout))
    assert found["message.dkim_not_tested"]["status"] == "skip" and "message.dkim_valid" not in found


def test_anonymize_hides_every_lab_name_in_every_format(lab, delivered, tmp_path):
    path = tmp_path / "delivered.eml"
    path.write_bytes(delivered)
    names = {lab.user, lab.domain("healthy"), *(lab.hostname(h) for h in ("smtp", "mx1", "mx2", "imap")),
             *(lab.host(h) for h in ("mx1", "mx2", "smtp"))}
    for fmt in ("text", "json", "html", "markdown"):
        proc = subprocess.run([MAILDOCTOR, "message", str(path), "-f", fmt, "--anonymize", "--nameserver",
                               lab.resolver, "--timeout", "2"], capture_output=True, text=True, timeout=60)
        assert proc.stdout and "Traceback" not in proc.stderr
        survivors = sorted(n for n in names if n.lower() in proc.stdout.lower())
        assert not survivors, (fmt, survivors)
        assert "host1.example" in proc.stdout or "user1@" in proc.stdout  # stand-ins, not blanks
