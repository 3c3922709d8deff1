"""`maildoctor message FILE`: bounces (tests/data/bounces: a real one from the lab's Postfix and the
documented formats of other MTAs and providers), headers, and input that is not what it claims."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

import pytest

from diagnose.app.message import REASON_TEXTS, analyse, header_findings, run_message
from diagnose.engine.exitcodes import ExitCode
from diagnose.knowledge import bounce
from diagnose.knowledge.mailfile import MAX_BYTES, NotAMessage, load

DATA = Path(__file__).resolve().parents[1] / "data" / "bounces"
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
EVIDENCE_KEYS = {"recipient", "status", "reply_code", "reason", "permanent", "remote_mta", "diagnostic"}


def findings_of(data: bytes):
    return analyse(load(data))


def bounce_findings(data: bytes):
    return [f for f in findings_of(data) if f.check == "message.bounce"]


# file -> [(code, status, recipient, enhanced status, reply code, permanent)]
EXPECTED = {
    "postfix-lab-user-unknown.eml": [("bounce.user_unknown", "fail", "ghost@healthy.test", "5.1.1", "550",
                                      True)],
    "gmail-dmarc-unauthenticated.eml": [("bounce.auth_failure", "fail", "friend@gmail.com", "5.7.26", "550",
                                         True)],
    "m365-recipient-not-found.eml": [("bounce.user_unknown", "fail", "nobody@contoso.com", "5.1.10", "550",
                                      True)],
    "exim-plaintext.eml": [("bounce.user_unknown", "fail", "nobody@example.net", "5.1.1", "550", True),
                           ("bounce.mailbox_full", "fail", "full@example.com", "5.2.2", "552", True)],
    "exchange-plaintext.eml": [("bounce.user_unknown", "fail", "bob@example.com", "5.1.1", "550", True)],
    "qmail-plaintext.eml": [("bounce.blocked", "fail", "someone@example.net", "5.7.1", "554", True)],
    "sendmail-plaintext.eml": [("bounce.message_too_large", "fail", "big@example.com", "5.3.4", "552", True)],
    "postfix-delayed.eml": [("bounce.network_error", "warn", "friend@example.net", "4.4.1", None, False)],
    "postfix-expired.eml": [("bounce.expired", "fail", "friend@example.net", "4.4.1", None, True)],
    "arf-abuse.eml": [("bounce.feedback", "warn", "user@example.com", None, None, False)],
    "autoreply-vacation.eml": [("bounce.autoreply", "pass", "alice@example.com", None, None, False)],
    "yahoo-mailbox-disabled.eml": [("bounce.mailbox_disabled", "fail", "friend@yahoo.com", None, "554", True)],
    "ses-suppressed-and-unknown.eml": [("bounce.user_unknown", "fail", "nobody@example.net", "5.1.1", "550", True),
                                       ("bounce.user_unknown", "fail", "gone@example.com", "5.1.1", "550", True)],
    "exchange-german-base64.eml": [("bounce.user_unknown", "fail", "max.mustermann@beispiel.de", "5.1.10", "550",
                                    True)],
    "exchange-french-qp.eml": [("bounce.mailbox_full", "fail", "jean@exemple.fr", "5.2.2", "552", True),
                               ("bounce.auth_failure", "fail", "marie@exemple.fr", "5.7.509", "550", True)],
    "mimecast-envelope-blocked.eml": [("bounce.blocked", "fail", "buyer@customer.example", "5.0.0", "550", True)],
    "proofpoint-reputation.eml": [("bounce.blocked", "fail", "ceo@bank.example", "5.7.1", "554", True),
                                  ("bounce.blocked", "fail", "cfo@bank.example", "5.7.1", "554", True)],
    "base64-delivery-status-delayed.eml": [("bounce.rate_limited", "warn", "late@example.net", "4.7.0", "421",
                                            False)],
    "gmail-plaintext-legacy.eml": [("bounce.mailbox_disabled", "fail", "old.friend@example.net", "5.2.1", "550",
                                    True)],
    "domino-plaintext.eml": [("bounce.user_unknown", "fail", "jdoe@corp.example", None, None, True)],
    "sieve-reject-mdn.eml": [("bounce.policy", "fail", "bob@example.net", None, None, True)],
    "exchange2010-display-names.eml": [
        ("bounce.user_unknown", "fail", "john.doe@contoso.example", "5.1.1", "550", True),
        ("bounce.mailbox_full", "fail", "jane.roe@contoso.example", "5.2.2", "550", True)],
    "dsn-recipients-without-blank-lines.eml": [
        ("bounce.user_unknown", "fail", "first@example.net", "5.1.1", "550", True),
        ("bounce.mailbox_full", "fail", "second@example.net", "5.2.2", "552", True)],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_fixture_gives_an_unnamed_recipient_or_no_words(name):
    # what a person reading any bounce needs: whose mail failed, and the server's words for it
    for f in bounce_findings((DATA / name).read_bytes()):
        assert "@" in f.evidence["recipient"] and f.evidence["recipient"] != "(not named)", f.evidence
        if f.status.value != "pass":
            assert f.evidence["diagnostic"] and f.evidence["reason"] != "unknown", f.evidence
            assert f.remedy and f.explanation, f.code


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_documented_format_gives_one_finding_per_recipient(name):
    found = bounce_findings((DATA / name).read_bytes())
    got = sorted((f.code, f.status.value, f.subject, f.evidence["status"], f.evidence["reply_code"],
                  f.evidence["permanent"]) for f in found)
    assert got == sorted(EXPECTED[name])
    for f in found:
        assert EVIDENCE_KEYS <= set(f.evidence), f.evidence.keys()
        assert f.evidence["reason"] in bounce.REASONS and f.code == f"bounce.{f.evidence['reason']}"
        assert f.evidence["recipient"] == f.subject


def test_every_fixture_is_covered_and_notes_its_source():
    readme = (DATA / "README.md").read_text()
    for path in DATA.glob("*.eml"):
        assert path.name in EXPECTED, path.name
        assert path.name in readme, f"{path.name}: say where the sample comes from"


def test_the_real_postfix_bounce_keeps_the_servers_words_and_names_postfix():
    [f] = bounce_findings((DATA / "postfix-lab-user-unknown.eml").read_bytes())
    assert "User doesn't exist" in f.evidence["diagnostic"]
    assert f.evidence["remote_mta"] == "mx1.healthy.test"
    assert f.evidence["details"] == {"notice_from": "postfix"}
    assert "does not exist" in f.explanation and "5.1.1: no such mailbox" in f.explanation


def test_an_auth_failure_names_the_failed_checks_and_the_commands_that_test_them():
    [f] = bounce_findings((DATA / "gmail-dmarc-unauthenticated.eml").read_bytes())
    assert f.evidence["failed_checks"] == ["spf", "dkim"]
    # the sender domain is the bounce's addressee (the bounce goes back to the sender)
    assert "`maildoctor check example.org --check spf.record`" in f.remedy
    assert "`maildoctor check example.org --check dkim.keys`" in f.remedy
    assert "dmarc.record" not in f.remedy  # Gmail named SPF and DKIM only


def test_remote_mta_from_x_remote_mta_and_from_the_words():
    [mimecast] = bounce_findings((DATA / "mimecast-envelope-blocked.eml").read_bytes())
    assert mimecast.evidence["remote_mta"] == "eu-smtp-inbound-1.mimecast.com"
    raw = (DATA / "mimecast-envelope-blocked.eml").read_bytes().replace(
        b"X-Remote-MTA: dns; eu-smtp-inbound-1.mimecast.com\r\n", b"").replace(
        b"Diagnostic-Code: smtp; 550", b"Diagnostic-Code: X-Postfix; host mx.customer.example[192.0.2.9] said: 550")
    [words] = bounce_findings(raw)
    assert words.evidence["remote_mta"] == "mx.customer.example[192.0.2.9]", words.evidence


def test_localised_exchange_notices_give_each_recipient_its_own_words():
    jean, marie = bounce_findings((DATA / "exchange-french-qp.eml").read_bytes())
    assert "STOREDRV.Deliver; mailbox full" in jean.evidence["diagnostic"]
    assert marie.evidence["failed_checks"] == ["dmarc"] and "--check dmarc.record" in marie.remedy
    assert "maildoctor check example.org" in marie.remedy  # the bounce's addressee is the sender
    [german] = bounce_findings((DATA / "exchange-german-base64.eml").read_bytes())
    assert german.evidence["format"] == "exchange" and "RecipientNotFound" in german.evidence["diagnostic"]


def test_a_rejection_that_calls_itself_an_auto_reply_is_no_pass_and_a_read_receipt_is():
    # Sieve's reject carries "Auto-Submitted: auto-replied (rejected)": it is a refusal all the same
    [rejected] = bounce_findings((DATA / "sieve-reject-mdn.eml").read_bytes())
    assert rejected.status.value == "fail" and "macros are refused" in rejected.evidence["diagnostic"]
    receipt = (DATA / "sieve-reject-mdn.eml").read_bytes().replace(
        b"MDN-sent-automatically; deleted", b"MDN-sent-manually; displayed").replace(b"Rejected: invoice", b"Read: invoice")
    [read] = bounce_findings(receipt)
    assert (read.code, read.status.value, read.subject) == ("bounce.delivered", "pass", "bob@example.net")


def test_a_notice_in_html_only_with_an_encoded_subject():
    # Given a provider's notice that is HTML alone and a subject in RFC 2047 words ("Unzustellbar: Angebot")
    raw = (b"From: Microsoft Outlook <postmaster@beispiel.de>\nTo: sender@example.org\n"
           b"Subject: =?utf-8?B?VW56dXN0ZWxsYmFyOiBBbmdlYm90?=\nMIME-Version: 1.0\n"
           b"Content-Type: text/html; charset=utf-8\n\n<html><head><style>p {color: red}</style></head><body>"
           b"<p>Die Zustellung an folgende Empf&auml;nger oder Gruppen ist fehlgeschlagen:</p>"
           b"<p><a href=\"mailto:max@beispiel.de\">max@beispiel.de</a><br>Postfach voll</p>"
           b"<p>Diagnoseinformationen f&uuml;r Administratoren:</p><p>max@beispiel.de<br>"
           b"Remote Server returned &#39;552 5.2.2 STOREDRV.Deliver; mailbox full&#39;</p></body></html>\n")
    # Then the recipient, the code and the reason come from the HTML's text
    [f] = bounce_findings(raw)
    assert (f.code, f.subject, f.evidence["status"], f.evidence["format"]) == (
        "bounce.mailbox_full", "max@beispiel.de", "5.2.2", "exchange"), f.evidence
    assert "color" not in f.evidence["diagnostic"]


def test_a_bounce_forwarded_as_an_attachment_is_read():
    # Given what a user sends to the helpdesk: a note of their own with the bounce attached
    bounce_bytes = (DATA / "exim-plaintext.eml").read_bytes()
    raw = (b"From: alice@example.org\nTo: helpdesk@example.org\nSubject: Fwd: why?\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=F\n\n--F\nContent-Type: text/plain\n\nmy mail bounced, see "
           b"attached\n--F\nContent-Type: message/rfc822\n\n" + bounce_bytes + b"\n--F--\n")
    found = bounce_findings(raw)
    assert sorted(f.subject for f in found) == ["full@example.com", "nobody@example.net"]
    assert all(f.evidence["details"].get("forwarded") == "yes" for f in found)


def test_a_delayed_notice_is_a_warning_and_an_expired_one_a_failure():
    [delayed] = bounce_findings((DATA / "postfix-delayed.eml").read_bytes())
    [expired] = bounce_findings((DATA / "postfix-expired.eml").read_bytes())
    assert (delayed.status.value, delayed.evidence["action"]) == ("warn", "delayed")
    assert "delayed" in delayed.summary
    assert (expired.status.value, expired.evidence["permanent"]) == ("fail", True)
    assert "gave up" in expired.summary


@pytest.mark.parametrize("status, reply, words, reason", [
    ("5.1.1", "550", "Recipient address rejected: User unknown in virtual mailbox table", "user_unknown"),
    ("5.2.2", "552", "Mailbox full", "mailbox_full"),
    ("5.7.1", "550", "Service unavailable; client [192.0.2.1] blocked using bl.spamcop.net", "blocked"),
    ("5.7.1", "554", "Relay access denied", "relay_denied"),
    ("5.7.1", "550", "Message rejected due to DMARC policy", "auth_failure"),
    ("4.7.28", "421", "Our system has detected an unusual rate of unsolicited mail", "rate_limited"),
    ("5.7.1", "550", "Message content rejected: spam", "spam"),
    ("5.7.1", "554", "Virus found in message: Eicar-Test-Signature", "virus"),
    ("5.1.2", "550", "Host or domain name not found", "host_unknown"),
    ("5.2.1", "550", "The email account that you tried to reach is disabled", "mailbox_disabled"),
    ("5.1.6", "551", "User has moved; please try <new@example.net>", "has_moved"),
    ("4.4.7", None, "delivery time expired", "expired"),
    ("5.7.25", "550", "The IP address sending this message does not have a PTR record", "blocked"),
    (None, "550", "No such user here", "user_unknown"),
    ("4.7.1", "450", "<a@example.net>: Recipient address rejected: Greylisted, see https://postgrey.schweikert.ch/",
     "rate_limited"),
    ("5.4.1", "550", "Recipient address rejected: Access denied. AS(201806281)", "user_unknown"),  # Microsoft DBEB
    ("4.4.1", None, "connect to mx.example.net[192.0.2.7]:25: Connection refused", "network_error"),
    ("5.7.1", "554", "<a@example.net>: Recipient address rejected: Access denied", "policy"),  # Postfix access map
    ("5.7.606", "550", "Access denied, banned sending IP [192.0.2.10]", "blocked"),
    ("5.7.509", "550", "Access denied, sending domain example.org does not pass DMARC verification", "auth_failure"),
    (None, None, "gibberish with no known words", "unknown"),
])
def test_reasons_from_status_code_and_words(status, reply, words, reason):
    assert bounce.classify(status, reply, words) == reason


# The server's words as providers document them (the whole Diagnostic-Code): the codes are found
# anywhere in the text, never in an IP address, and the provider's own detail codes count.
@pytest.mark.parametrize("words, reason, status, reply", [
    ("smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the "
     "recipient's email address for typos", "user_unknown", "5.1.1", "550"),  # Gmail
    ("550 5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to "
     "authenticate with either SPF or DKIM.", "auth_failure", "5.7.26", "550"),
    ("421-4.7.28 [203.0.113.5      15] Our system has detected an unusual rate of unsolicited mail originating "
     "from your IP address.", "rate_limited", "4.7.28", "421"),
    ("550-5.7.1 [203.0.113.5] Our system has detected that this message is likely unsolicited mail.", "spam",
     "5.7.1", "550"),
    ("552-5.2.2 The email account that you tried to reach is over quota.", "mailbox_full", "5.2.2", "552"),
    ("550 5.7.25 [203.0.113.5] The IP address sending this message does not have a PTR record setup",
     "blocked", "5.7.25", "550"),
    ("421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume or user "
     "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", "rate_limited", "4.7.0", "421"),
    ("553 5.7.2 [TSS09] All messages from 203.0.113.5 will be permanently deferred; Retrying will NOT succeed.",
     "blocked", "5.7.2", "553"),
    ("550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to "
     "authenticate with either SPF or DKIM.", "auth_failure", "5.7.9", "550"),
    ("550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.", "blocked", "5.7.708",
     "550"),  # Microsoft
    ("550 5.7.606 Access denied, banned sending IP [203.0.113.5]", "blocked", "5.7.606", "550"),
    ("451 4.7.500 Server busy. Please try again later from [203.0.113.5].", "rate_limited", "4.7.500", "451"),
    ("550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", "user_unknown", "5.4.1", "550"),
    ("554 5.4.14 Hop count exceeded - possible mail loop ATTR34", "system_error", "5.4.14", "554"),
    ("550 5.2.122 The recipient has exceeded their limit for the number of messages they can receive per hour",
     "rate_limited", "5.2.122", "550"),
    ("550 5.7.515 Access denied, sending domain example.org doesn't meet the required authentication level.",
     "auth_failure", "5.7.515", "550"),
    ("550 Rejected by header based Anti-Spoofing policy: sender@example.org", "policy", None, "550"),  # Mimecast
    ("451 Open relay not allowed - https://community.mimecast.com/docs/DOC-1369#451", "relay_denied", None, "451"),
    ("550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550", "user_unknown", None, "550"),
    ("554 5.7.1 Message blocked due to spam content in the message.", "spam", "5.7.1", "554"),  # Proofpoint
    ("554 Transaction failed: Message contains a virus", "virus", None, "554"),
    ("554 5.2.0 STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded",
     "mailbox_full", "5.2.0", "554"),  # Exchange's store, the reason only in an exception name
    ("550 5.1.1 Amazon SES did not send the message to this address because it is on the suppression list",
     "user_unknown", "5.1.1", "550"),
    ("host mx.example.net[10.2.0.1] said: 450 4.2.0 <a@example.net>: Recipient address rejected: Greylisted",
     "rate_limited", "4.2.0", "450"),  # the address 10.2.0.1 holds no status
    ("connect to mx.example.net[192.0.2.7]:25: Connection timed out", "network_error", None, None),
    ("Host or domain name not found. Name service error for name=example.invalid type=MX: Host not found",
     "host_unknown", None, None),
    ("550 5.1.1 <max@beispiel.de>: Empfänger unbekannt", "user_unknown", "5.1.1", "550"),
    ("552 5.2.2 Boîte aux lettres pleine", "mailbox_full", "5.2.2", "552"),
])
def test_documented_provider_replies(words, reason, status, reply):
    got_reply, got_status = bounce.codes_in(words)
    assert (got_status, got_reply) == (status, reply)
    assert bounce.classify(got_status, got_reply, words) == reason


def test_every_reason_has_words():
    assert set(bounce.REASONS) == set(REASON_TEXTS)


def test_a_message_that_is_no_bounce_gives_no_failing_bounce_finding():
    msg = (b"From: alice@example.com\nTo: bob@example.net\nSubject: lunch\nDate: Mon, 11 Mar 2024 09:00:03 +0100\n\n"
           b"<bob@example.net>: see you at noon\n")
    found = bounce_findings(msg)
    assert [(f.code, f.status.value) for f in found] == [("bounce.none", "pass")]


def test_server_text_with_terminal_escapes_is_cleaned():
    raw = (DATA / "postfix-lab-user-unknown.eml").read_bytes().replace(
        b"User doesn't exist:", b"User \x1b[2J\x1b]0;owned\x07doesn't exist:")
    [f] = bounce_findings(raw)
    assert "\x1b" not in f.evidence["diagnostic"] and "\x07" not in f.evidence["diagnostic"]


# --- headers -------------------------------------------------------------------------------------

HOPS = b"""Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.org;
 dkim=fail header.d=example.org; dmarc=fail header.from=example.org
Received: from relay.example.org (relay.example.org [192.0.2.20])
\tby mx.example.net (Postfix) with ESMTP id AAA
\tfor <bob@example.net>; Mon, 11 Mar 2024 10:30:00 +0000
Received: from mail.example.org (mail.example.org [192.0.2.10])
\tby relay.example.org with ESMTPS id BBB (using TLSv1.3);
\tMon, 11 Mar 2024 10:00:30 +0000
Received: from [198.51.100.5] by mail.example.org with ESMTPSA id CCC;
\tMon, 11 Mar 2024 10:00:00 +0000
From: alice@example.org
To: bob@example.net
Subject: hops

body
"""


def test_hops_oldest_first_with_delays_in_utc_and_the_slow_hop_named():
    found = {f.code: f for f in header_findings(message_from_bytes(HOPS, policy=compat32))}
    rows = found["message.hops"].evidence["hops"]
    assert [r["by"] for r in rows] == ["mail.example.org", "relay.example.org", "mx.example.net"]
    assert [r["delay_s"] for r in rows] == [None, 30.0, 1770.0]
    assert rows[0]["time_utc"] == "2024-03-11T10:00:00+00:00"
    assert [r["tls"] for r in rows] == ["TLS", "TLSv1.3", None]
    slow = found["message.hop_slow"]
    assert slow.status.value == "warn" and slow.evidence["hop"] == 3 and "30 min" in slow.summary
    plain = found["message.hop_plaintext"]
    assert plain.evidence["hops"] == [3] and plain.summary == "1 hop(s) without TLS: hop 3 (mx.example.net)"
    auth = found["message.auth_failed"]
    assert auth.status.value == "fail" and "dkim=fail" in auth.summary and "dmarc=fail" in auth.summary
    assert "message.clock_skew" not in found


def test_a_hop_stamped_before_the_previous_one_is_clock_skew():
    skewed = HOPS.replace(b"Mon, 11 Mar 2024 10:30:00 +0000", b"Mon, 11 Mar 2024 09:30:00 +0000")
    found = {f.code: f for f in header_findings(message_from_bytes(skewed, policy=compat32))}
    assert found["message.clock_skew"].evidence["hop"] == 3
    assert "message.hop_slow" not in found


def test_pasted_headers_alone_are_read():
    loaded = load(HOPS.split(b"\n\n")[0] + b"\n")
    assert loaded.headers_only
    codes = {f.code for f in analyse(loaded)}
    assert {"bounce.none", "message.hops", "message.auth_failed"} <= codes


# --- the command: formats, exit codes, bad input ----------------------------------------------------

def run(*args, stdin=None):
    start = time.monotonic()
    # --offline: no DNS re-checks of a delivered message's authentication (none reaches this machine's resolver)
    proc = subprocess.run([MAILDOCTOR, "message", *args, "--offline"], input=stdin, capture_output=True, timeout=60,
                          env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin", "COLUMNS": "100"})
    proc.elapsed = time.monotonic() - start
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html", "junit", "nagios"])
def test_every_format_renders_a_bounce_with_the_exit_code_of_check(fmt):
    proc = run(str(DATA / "exim-plaintext.eml"), "--format", fmt)
    assert proc.returncode == 2, proc.stderr
    assert b"nobody@example.net" in proc.stdout and b"full@example.com" in proc.stdout


@pytest.mark.parametrize("name, code", [("autoreply-vacation.eml", 0), ("postfix-delayed.eml", 1),
                                        ("postfix-expired.eml", 2)])
def test_exit_codes_follow_the_worst_finding(name, code):
    assert run(str(DATA / name), "--format", "json").returncode == code


def test_json_names_the_checks_so_renderers_can_place_them():
    rep = json.loads(run(str(DATA / "gmail-dmarc-unauthenticated.eml"), "-f", "json").stdout)
    assert [c["id"] for c in rep["checks"]] == ["message.bounce", "message.headers"]
    assert rep["target"]["input"] == "gmail-dmarc-unauthenticated.eml"
    assert rep["diagnosis"]["headline"].startswith(
        "Mail to friend@gmail.com refused for good: the receiver's SPF/DKIM/DMARC check failed")


def test_standard_input_and_an_mbox_with_one_message():
    data = (DATA / "postfix-lab-user-unknown.eml").read_bytes()
    mbox = b"From MAILER-DAEMON Thu Dec  3 09:47:55 2026\n" + data
    proc = run("-", "-f", "json", stdin=mbox)
    rep = json.loads(proc.stdout)
    assert proc.returncode == 2 and rep["target"]["input"] == "standard input"
    assert rep["meta"]["input"]["notes"] == ["read as an mbox"]
    assert any(f["code"] == "bounce.user_unknown" for f in rep["findings"])


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (bytes(range(256)) * 64, "binary data"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 100, "binary data"),
    (b"just some words, no header at all\n", "no mail header"),
])
def test_what_is_not_a_message_is_said_plainly(tmp_path, content, words):
    path = tmp_path / "input.eml"
    path.write_bytes(content)
    proc = run(str(path))
    assert proc.returncode == 3 and words in proc.stderr.decode() and proc.stdout == b""
    assert proc.elapsed < 3


def test_a_missing_file_and_a_directory(tmp_path):
    for target, words in ((tmp_path / "nope.eml", "cannot read"), (tmp_path, "is a directory")):
        proc = run(str(target))
        assert proc.returncode == 3 and words in proc.stderr.decode()


def test_a_50_mb_file_is_read_in_part_quickly(tmp_path):
    path = tmp_path / "big.eml"
    head = (DATA / "postfix-lab-user-unknown.eml").read_bytes()
    with path.open("wb") as fh:
        fh.write(head.replace(b"hello\n", b""))
        line = b"A" * 76 + b"\n"
        fh.write(line * (50 * 1024 * 1024 // len(line)))
    proc = run(str(path), "-f", "json")
    rep = json.loads(proc.stdout)
    assert proc.elapsed < 3, proc.elapsed
    assert rep["meta"]["input"]["truncated"] is True and rep["meta"]["input"]["bytes"] <= MAX_BYTES
    assert {"bounce.user_unknown", "message.input_partial"} <= {f["code"] for f in rep["findings"]}


def test_ten_thousand_received_headers(tmp_path):
    hop = b"Received: from a.example (a.example [192.0.2.1]) by b.example with ESMTPS; Mon, 11 Mar 2024 10:00:00 +0000\n"
    path = tmp_path / "loop.eml"
    path.write_bytes(hop * 10_000 + b"From: a@example.org\nSubject: loop\n\nbody\n")
    proc = run(str(path), "-f", "json")
    rep = json.loads(proc.stdout)
    assert proc.elapsed < 3, proc.elapsed
    [hops] = [f for f in rep["findings"] if f["code"] == "message.hops"]
    # the header is read up to 1 MB (the rest is said to be unread), the hops up to 100
    assert 9000 < hops["evidence"]["received_headers"] < 10_000
    assert f"the first 100 of {hops['evidence']['received_headers']} read" in hops["summary"]
    [partial] = [f for f in rep["findings"] if f["code"] == "message.input_partial"]
    assert "the rest of it was not read" in partial["summary"]


def test_broken_mime_and_an_unknown_charset_give_a_partial_analysis():
    raw = (b"From: MAILER-DAEMON@mail.example.org\nTo: sender@example.org\nSubject: Undelivered Mail\n"
           b"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"XX\"\n\n"
           b"--XX\nContent-Type: text/plain; charset=x-no-such-charset\nContent-Transfer-Encoding: base64\n\n"
           b"not base64 at all !!!\n--XX\nContent-Type: message/delivery-status\n\n"
           b"Reporting-MTA: dns; mail.example.org\n\nFinal-Recipient: rfc822; a@example.net\nAction: failed\n"
           b"Status: 5.1.1\n")  # the last boundary never comes
    found = bounce_findings(raw)
    assert [(f.code, f.subject) for f in found if f.code.startswith("bounce.")] == [
        ("bounce.user_unknown", "a@example.net")]
    plain = raw.replace(b"multipart/report; report-type=delivery-status; boundary=\"XX\"",
                        b"text/plain; charset=x-no-such-charset").replace(b"--XX\n", b"")
    plain = plain.replace(b"Content-Transfer-Encoding: base64\n", b"") + \
        b"\n<a@example.net>: host mx.example.net[192.0.2.7] said: 550 5.1.1 no such user \xff\xfe\n"
    plain = plain.replace(b"Subject: Undelivered Mail", b"Subject: Undelivered Mail\nX-Note: Postfix program")
    assert [f.code for f in bounce_findings(plain)] == ["bounce.user_unknown"]


def test_deeply_nested_mime_is_not_a_crash():
    depth = 3000
    raw = b"From: a@example.org\nSubject: nest\nMIME-Version: 1.0\n"
    for n in range(depth):
        raw += f"Content-Type: multipart/mixed; boundary=\"b{n}\"\n\n--b{n}\n".encode()
    raw += b"Content-Type: text/plain\n\nhi\n"
    out = io.StringIO()
    sys_stdout, sys.stdout = sys.stdout, out
    try:
        code = run_message("-", "json", None, stdin=io.BytesIO(raw))
    finally:
        sys.stdout = sys_stdout
    assert code in (ExitCode.OK, ExitCode.WARN) and json.loads(out.getvalue())["findings"]


def test_load_refuses_binary_and_keeps_pasted_headers():
    with pytest.raises(NotAMessage):
        load(b"\x00\x01\x02" * 100)
    assert load(b"Subject: hi\n").message["Subject"] == "hi"


# --- names and the explanations catalogue --------------------------------------------------------

def test_message_codes_follow_the_naming_rule_and_are_all_in_the_catalogue():
    from diagnose.app.message import MessageBounce, MessageHeaders
    from tests.unit.test_naming import ID, code_rule

    for check in (MessageBounce, MessageHeaders):
        assert ID.match(check.id)
        rule = code_rule(check)
        assert all(rule.match(code) for code in check.texts), check.texts.keys()
    emitted = set()
    for path in [*DATA.glob("*.eml")]:
        emitted |= {f.code for f in findings_of(path.read_bytes())}
    emitted |= {f.code for f in header_findings(message_from_bytes(HOPS, policy=compat32))}
    known = {*MessageBounce.texts, *MessageHeaders.texts}
    assert emitted <= known, emitted - known
    assert len(emitted) >= 14  # the fixtures reach most codes


def test_explain_knows_a_message_code():
    proc = subprocess.run([MAILDOCTOR, "explain", "bounce.auth_failure"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "authentication failed" in proc.stdout
    listing = subprocess.run([MAILDOCTOR, "explain"], capture_output=True, text=True, timeout=60).stdout
    assert "bounce.user_unknown" in listing and "tcp.refused" in listing


def test_the_codes_before_issue_16s_contract_are_still_understood(tmp_path):
    # Given a JSON report saved when the codes read message.bounce_<reason> (schema 2 as well)
    proc = run(str(DATA / "exim-plaintext.eml"), "-f", "json")
    saved = json.loads(proc.stdout)
    for f in saved["findings"]:
        f["code"] = f["code"].replace("bounce.", "message.bounce_", 1) if f["code"].startswith("bounce.") else f["code"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(saved))
    # When it is read back, and the old code is asked about
    again = subprocess.run([MAILDOCTOR, "report", str(path), "-f", "json"], capture_output=True, text=True, timeout=60)
    explained = subprocess.run([MAILDOCTOR, "explain", "message.bounce_user_unknown"], capture_output=True,
                               text=True, timeout=60)
    # Then both speak the new names
    assert again.returncode == 2, again.stderr
    assert {f["code"] for f in json.loads(again.stdout)["findings"] if f["check"] == "message.bounce"} == {
        "bounce.user_unknown", "bounce.mailbox_full"}
    assert explained.returncode == 0 and explained.stdout.startswith("bounce.user_unknown  (check message.bounce")


def test_the_sender_domain_comes_from_the_returned_original():
    raw = (DATA / "gmail-dmarc-unauthenticated.eml").read_bytes().replace(
        b"Content-Type: text/rfc822-headers\n\nFrom: sender@example.org", b"Content-Type: text/rfc822-headers\n\n"
        b"From: news@brand.example")
    [f] = bounce_findings(raw)
    assert "`maildoctor check brand.example --check spf.record`" in f.remedy


def test_fifty_thousand_mime_parts_are_read_within_a_second_or_two(tmp_path):
    raw = b"From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n" + \
        b"--B\nContent-Type: text/plain\n\nx\n" * 50_000 + b"--B--\n"
    path = tmp_path / "parts.eml"
    path.write_bytes(raw)
    proc = run(str(path), "-f", "json")
    rep = json.loads(proc.stdout)
    assert proc.elapsed < 3, proc.elapsed
    [partial] = [f for f in rep["findings"] if f["code"] == "message.input_partial"]
    assert "more than 1000 MIME boundaries" in partial["summary"]


def test_html_and_markdown_escape_what_the_server_said(tmp_path):
    raw = (DATA / "postfix-lab-user-unknown.eml").read_bytes().replace(
        b"User doesn't exist:", b"User <script>alert(1)</script> | `x` doesn't exist:")
    path = tmp_path / "hostile.eml"
    path.write_bytes(raw)
    html = run(str(path), "-f", "html", "--output", str(tmp_path / "r.html"))
    assert html.returncode == 2
    page = (tmp_path / "r.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page


def test_a_bounce_shows_the_hops_of_the_returned_original_too():
    found = findings_of((DATA / "postfix-lab-user-unknown.eml").read_bytes())
    [own] = [f for f in found if f.code == "message.hops" and f.subject == "message"]
    [original] = [f for f in found if f.code == "message.hops" and f.subject == "returned original"]
    assert [h["by"] for h in own.evidence["hops"]] == ["mx1.healthy.test", "vm"]
    [submission] = original.evidence["hops"]
    assert (submission["by"], submission["protocol"], submission["tls"]) == ("smtp.healthy.test", "ESMTPSA", "TLSv1.3")


def test_one_dsn_with_a_failed_a_delayed_and_a_delivered_recipient():
    raw = b"""From: MAILER-DAEMON@mail.example.org
To: sender@example.org
Subject: Delivery Status Notification
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="R"

--R
Content-Type: text/plain

Three recipients, three outcomes.
--R
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.org

Final-Recipient: rfc822; gone@example.net
Action: failed
Status: 5.2.1
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.2.1 The email account that you tried to reach is disabled

Final-Recipient: rfc822; later@example.net
Action: delayed
Status: 4.2.2
Diagnostic-Code: smtp; 452 4.2.2 Mailbox full

Final-Recipient: rfc822; ok@example.net
Action: relayed
Status: 2.0.0
--R--
"""
    found = {f.subject: f for f in bounce_findings(raw)}
    assert {s: (f.code, f.status.value) for s, f in found.items()} == {
        "gone@example.net": ("bounce.mailbox_disabled", "fail"),
        "later@example.net": ("bounce.mailbox_full", "warn"),
        "ok@example.net": ("bounce.delivered", "pass"),
    }
    assert found["gone@example.net"].evidence["remote_mta"] == "mx.example.net"
    assert found["later@example.net"].evidence["permanent"] is False


def test_a_header_saved_by_a_windows_editor_bom_and_crlf_is_read():
    raw = b"\xef\xbb\xbf" + HOPS.replace(b"\n", b"\r\n")
    codes = {f.code for f in findings_of(raw)}
    assert {"message.hops", "message.hop_slow", "message.auth_failed"} <= codes


def test_the_dkim_selectors_of_a_message_are_named_with_the_command_that_tests_each_key():
    msg = (b"DKIM-Signature: v=1; a=rsa-sha256; d=Example.com; s=mail2026; h=from; bh=x; b=y\r\n"
           b"DKIM-Signature: v=1; a=rsa-sha256; d=example-com.gappssmtp.com; s=20230601; h=from; bh=x; b=y\r\n"
           b"From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nbody\r\n")
    (f,) = [f for f in findings_of(msg) if f.code == "message.dkim_signed"]
    assert f.evidence["signatures"] == [{"domain": "example.com", "selector": "mail2026"},
                                        {"domain": "example-com.gappssmtp.com", "selector": "20230601"}]
    assert f.evidence["commands"][0] == "maildoctor check example.com --check dkim.keys --dkim-selector mail2026"


def _postfix_bounce_saying(status: str, reply: str, words: str) -> bytes:
    """The lab's real Postfix bounce, with the receiver's answer replaced by ``reply status words``."""
    text = (DATA / "postfix-lab-user-unknown.eml").read_text()
    text = text.replace("Status: 5.1.1", f"Status: {status}")
    if status.startswith("4"):  # a temporary refusal: a delay notice (a failed one would mean "gave up")
        text = text.replace("Action: failed", "Action: delayed")
    text = text.replace("said: 550 5.1.1 <ghost@healthy.test> User doesn't exist: ghost@healthy.test",
                        f"said: {reply} {status} {words}")
    text = text.replace("Diagnostic-Code: smtp; 550 5.1.1 <ghost@healthy.test> User doesn't exist:\n"
                        "    ghost@healthy.test", f"Diagnostic-Code: smtp; {reply} {status} {words}")
    return text.encode()


@pytest.mark.parametrize("status,reply,words", [
    ("4.1.8", "450", "<user@healthy.test>: Sender address rejected: Domain not found"),
    ("5.1.8", "553", "<user@healthy.test>: Sender address rejected: Domain not found"),
    ("5.7.27", "550", "Sender address has null MX"),
])
def test_a_refused_sender_domain_is_advice_about_the_senders_domain(status, reply, words):
    # Given a receiver that refuses the mail because the SENDER's domain is unknown to it
    [f] = bounce_findings(_postfix_bounce_saying(status, reply, words))
    # Then the reason keeps the contract's code, but the words and the fix are about the sender's domain
    assert f.code == "bounce.host_unknown"
    assert f.evidence["about"] == "sender"
    assert "sender domain" in f.summary and "healthy.test" in f.explanation
    assert "maildoctor check healthy.test" in f.remedy
    assert "recipient's domain" not in f.explanation and "domain part of ghost" not in f.remedy


def test_an_unknown_recipient_domain_keeps_the_recipient_side_advice():
    [f] = bounce_findings(_postfix_bounce_saying("5.1.2", "550", "Host or domain name not found"))
    assert f.code == "bounce.host_unknown" and "about" not in f.evidence
    assert "recipient's domain" in f.explanation
