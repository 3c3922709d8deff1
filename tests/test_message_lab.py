"""`maildoctor message` on a bounce the lab's real Postfix makes now: mail submitted to the lab's
bouncing account (tests/lab/scenarios.py MAIL_ACCOUNTS "ghost": Postfix accepts it, Dovecot's LMTP
refuses it, Postfix returns it to the sender), fetched over IMAP from the sender's mailbox."""

import json
import smtplib
import ssl
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.lab.mailbox import take_message

pytestmark = pytest.mark.lab
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))


def _fetch_bounce(lab, token: str, wait: float = 20.0) -> bytes:
    raw = take_message(lab, "BODY", token, wait=wait, poll=0.5)
    assert raw is not None, f"no bounce for {token} within {wait} s"
    return raw


def test_a_real_postfix_bounce_for_an_unknown_mailbox(lab, tmp_path):
    ghost = lab.account("ghost")
    token = f"md-bounce-{uuid.uuid4().hex[:12]}"
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    ctx.check_hostname = False
    with smtplib.SMTP(lab.host("smtp"), 587, timeout=10) as smtp:
        smtp.starttls(context=ctx)
        smtp.login(lab.user, lab.password)
        smtp.sendmail(lab.user, [ghost], f"From: {lab.user}\r\nTo: {ghost}\r\nSubject: {token}\r\n\r\n{token}\r\n")
    path = tmp_path / "bounce.eml"
    path.write_bytes(_fetch_bounce(lab, token))
    proc = subprocess.run([MAILDOCTOR, "message", str(path), "--format", "json"], capture_output=True, text=True,
                          timeout=60)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2, proc.stderr
    rep = json.loads(proc.stdout)
    [f] = [f for f in rep["findings"] if f["check"] == "message.bounce"]
    assert f["code"] == "bounce.user_unknown" and f["status"] == "fail"
    ev = f["evidence"]
    assert ev["recipient"] == ghost and ev["status"] == "5.1.1" and ev["reply_code"] == "550"
    assert ev["permanent"] is True and ev["format"] == "rfc3464" and ev["details"] == {"notice_from": "postfix"}
    assert ghost in ev["diagnostic"] and ev["remote_mta"]
    # the same file through standard input, as text: the headline names the recipient
    text = subprocess.run([MAILDOCTOR, "message", "-"], input=path.read_bytes(), capture_output=True, timeout=60,
                          env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    assert text.returncode == 2 and f"Mail to {ghost} refused for good: no such user".encode() in text.stdout
