"""`maildoctor message` on bounces that real MTAs make now, in the bounce lab (tests/lab/bouncers.py):
Postfix, Exim and OpenSMTPD each send one message per fault to the strict Postfix receiver, the
Dovecot sink or a host that refuses connections, and return it to the sender; Dovecot's LDA returns
a message for a full mailbox itself. Each bounce is read from the sender's Maildir and classified
by the CLI (status code, reason, recipient, permanence, remote MTA)."""

from __future__ import annotations

import json
import shutil
import smtplib
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from diagnose.app.message import run_message
from tests.lab.bouncers import SENDERS, SIZE_LIMIT, BounceLab

pytestmark = pytest.mark.lab
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))

# fault -> (recipient label@domain label, reason); what each MTA reports as status/reply code is below
FAULTS = {
    "unknown_user": ("nobody@strict", "user_unknown"),
    "mailbox_full": ("full@sink", "mailbox_full"),  # Dovecot quota: 552 5.2.2 over LMTP
    "queue_expired": ("someone@down", "expired"),  # connection refused until the queue lifetime ends
    "relay_refused": ("someone@elsewhere", "relay_denied"),
    "too_large": ("known@strict", "message_too_large"),
    "policy": ("policy@strict", "policy"),  # the strict receiver's configured access rule
    "dmarc": ("dmarc@strict", "auth_failure"),  # an access rule that answers as Gmail does for DMARC
}
# (mta, fault) -> (enhanced status, reply code, remote MTA label or None; a set: any of them): what the MTA's
# report says
STRICT, SINK = "strict", "sink"
CODES = {
    **{(mta, "unknown_user"): ("5.1.1", "550", STRICT) for mta in ("postfix", "exim")},
    **{(mta, "mailbox_full"): ("5.2.2", "552", SINK) for mta in ("postfix", "exim")},
    **{(mta, "relay_refused"): ("5.7.1", "554", STRICT) for mta in ("postfix", "exim")},
    **{(mta, "policy"): ("5.7.1", "550", STRICT) for mta in ("postfix", "exim")},
    **{(mta, "dmarc"): ("5.7.26", "550", STRICT) for mta in ("postfix", "exim")},
    ("opensmtpd", "dmarc"): ("5.7.26", "550", None),
    ("postfix", "queue_expired"): ("4.4.1", None, None),  # "connect to ...: Connection refused"
    ("exim", "queue_expired"): ("5.0.0", None, None),  # "retry timeout exceeded"
    ("opensmtpd", "queue_expired"): ("4.4.7", None, None),  # "Envelope expired" (reported as delayed)
    # Postfix refuses it itself when the server's EHLO SIZE is smaller ("message size ... exceeds size limit
    # ... of server"), or sends MAIL FROM with SIZE= and gets 552 5.3.4: either is right
    ("postfix", "too_large"): ("5.3.4", {None, "552"}, {None, STRICT}),
    ("exim", "too_large"): ("5.3.4", "552", STRICT),
    ("opensmtpd", "too_large"): ("5.0.0", None, None),  # "message too large for peer"
    # OpenSMTPD's DSN says Status 5.0.0 and no Diagnostic-Code: the words come from its notice
    ("opensmtpd", "unknown_user"): ("5.1.1", "550", None),
    ("opensmtpd", "mailbox_full"): ("5.2.2", "552", None),
    ("opensmtpd", "relay_refused"): ("5.7.1", "554", None),
    ("opensmtpd", "policy"): ("5.7.1", "550", None),
}


@pytest.fixture(scope="module")
def bounces(lab):
    """Start the bounce lab, send every fault through every MTA at once, collect the bounces."""
    workdir = Path(tempfile.mkdtemp(prefix="mdbounce-"))
    bl = BounceLab.start(workdir, lab.net, lab.tld, lab.resolver)
    try:
        tokens: dict[tuple[str, str], str] = {}
        for mta in SENDERS:
            for fault, (rcpt, _) in FAULTS.items():
                token = f"md-{mta}-{fault}-{uuid.uuid4().hex[:8]}"
                tokens[(mta, fault)] = token
                local, label = rcpt.split("@")
                recipient = f"{local}@{bl.domain(label)}"
                padding = SIZE_LIMIT + 1000 if fault == "too_large" else 2000  # 2000 > the 1 KB quota
                body = f"{token}\r\n" + ("x" * 78 + "\r\n") * (padding // 80)
                message = (f"From: {bl.sender}\r\nTo: {recipient}\r\nSubject: {token}\r\n"
                           f"Message-ID: <{token}@{bl.domain('origin')}>\r\n\r\n{body}")
                with smtplib.SMTP(bl.addr(mta), 25, timeout=10) as smtp:
                    smtp.sendmail(bl.sender, [recipient], message)
        token = f"md-exim-slow-{uuid.uuid4().hex[:8]}"  # Exim retries slow.<tld>: a delay warning, no bounce
        tokens[("exim", "delayed")] = token
        with smtplib.SMTP(bl.addr("exim"), 25, timeout=10) as smtp:
            smtp.sendmail(bl.sender, [f"later@{bl.domain('slow')}"], f"Subject: {token}\r\n\r\n{token}\r\n")
        # one message, two refused recipients: one report with a block for each
        multi = [f"nobody@{bl.domain('strict')}", f"policy@{bl.domain('strict')}"]
        for mta in SENDERS:
            token = f"md-{mta}-two-{uuid.uuid4().hex[:8]}"
            tokens[(mta, "two")] = token
            with smtplib.SMTP(bl.addr(mta), 25, timeout=10) as smtp:
                smtp.sendmail(bl.sender, multi, f"From: {bl.sender}\r\nSubject: {token}\r\n\r\n{token}\r\n")
        lda_token = f"md-dovecot-lda-{uuid.uuid4().hex[:8]}"
        full = f"full@{bl.domain('sink')}"
        done = bl.dovecot_lda(full, (f"From: {bl.sender}\r\nTo: {full}\r\nSubject: {lda_token}\r\n\r\n{lda_token}\r\n"
                                     + "y" * 2000 + "\r\n").encode())
        assert done.returncode == 0, done.stderr  # the LDA refused and mailed the refusal back
        tokens[("dovecot", "mailbox_full")] = lda_token
        found = {key: bl.bounce_for(token, timeout=30) for key, token in tokens.items()}
        yield bl, found
    finally:
        bl.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def classify(tmp_path: Path, raw: bytes, *, cli: bool = False) -> tuple[int, list[dict]]:
    """`maildoctor message FILE --format json` on the bounce: the command's own function (the CLI's body),
    or with ``cli`` the installed command in a process of its own."""
    path, out = tmp_path / "bounce.eml", tmp_path / "report.json"
    path.write_bytes(raw)
    if cli:
        proc = subprocess.run([MAILDOCTOR, "message", str(path), "--format", "json", "--output", str(out)],
                              capture_output=True, text=True, timeout=60)
        assert "Traceback" not in proc.stderr, proc.stderr
        code = proc.returncode
    else:
        code = int(run_message(str(path), "json", out))
    return code, [f for f in json.loads(out.read_text())["findings"] if f["check"] == "message.bounce"]


@pytest.mark.parametrize("mta, fault", sorted(CODES), ids=lambda v: v)
def test_a_real_bounce_is_classified(bounces, tmp_path, mta, fault):
    bl, found = bounces
    rcpt, reason = FAULTS[fault]
    local, label = rcpt.split("@")
    status, reply, remote = CODES[(mta, fault)]
    code, [f] = classify(tmp_path, found[(mta, fault)])
    ev = f["evidence"]
    assert (f["code"], f["status"], code) == (f"bounce.{reason}", "fail", 2), ev
    assert ev["recipient"] == f"{local}@{bl.domain(label)}" and ev["permanent"] is True, ev
    replies, remotes = (reply if isinstance(reply, set) else {reply}), (remote if isinstance(remote, set) else {remote})
    assert ev["status"] == status and ev["reply_code"] in replies, ev
    assert ev["remote_mta"] in {bl.addr(r) if r else None for r in remotes}, ev
    assert ev["format"] == "rfc3464" and ev["diagnostic"], ev


def test_an_auth_failure_names_the_failed_checks_and_the_commands(bounces, tmp_path):
    bl, found = bounces
    _, [f] = classify(tmp_path, found[("exim", "dmarc")])
    assert f["evidence"]["failed_checks"] == ["spf", "dkim", "dmarc"], f["evidence"]
    for check in ("spf.record", "dkim.keys", "dmarc.record"):  # the sender domain is the original's From
        assert f"`maildoctor check {bl.domain('origin')} --check {check}`" in f["remedy"], f["remedy"]


@pytest.mark.parametrize("mta", SENDERS)
def test_one_report_for_two_refused_recipients(bounces, tmp_path, mta):
    bl, found = bounces
    code, findings = classify(tmp_path, found[(mta, "two")])
    got = sorted((f["subject"], f["code"], f["evidence"]["status"]) for f in findings)
    assert code == 2 and got == [(f"nobody@{bl.domain('strict')}", "bounce.user_unknown", "5.1.1"),
                                 (f"policy@{bl.domain('strict')}", "bounce.policy", "5.7.1")], got


def test_a_real_delay_warning_is_a_warning(bounces, tmp_path):
    bl, found = bounces
    code, [f] = classify(tmp_path, found[("exim", "delayed")])
    ev = f["evidence"]
    assert (code, f["status"], ev["action"], ev["permanent"]) == (1, "warn", "delayed", False), ev
    # Exim's warning names the address and says 4.0.0, not why: the reason stays unknown, the words empty
    assert ev["recipient"] == f"later@{bl.domain('slow')}" and (ev["reason"], ev["status"]) == ("unknown", "4.0.0"), ev
    assert "delayed" in f["summary"] and ev["diagnostic"] is None


def test_dovecots_own_refusal_of_a_full_mailbox(bounces, tmp_path):
    bl, found = bounces
    code, [f] = classify(tmp_path, found[("dovecot", "mailbox_full")])
    ev = f["evidence"]
    assert (f["code"], f["status"], ev["status"], ev["permanent"]) == ("bounce.mailbox_full", "fail", "5.2.2", True)
    assert ev["recipient"] == f"full@{bl.domain('sink')}" and "Quota exceeded" in ev["diagnostic"], ev


def test_each_mta_names_itself(bounces, tmp_path):
    bl, found = bounces
    for mta in SENDERS:
        code, [f] = classify(tmp_path, found[(mta, "relay_refused")], cli=True)
        assert code == 2
        assert f["evidence"]["reporting_mta"] == f"{mta}.{bl.domain('bounces')}", f["evidence"]
