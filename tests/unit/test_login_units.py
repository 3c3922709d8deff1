"""Pure parts of login and round trip: credentials, secrets, reply codes, header parsing, verdicts."""

from __future__ import annotations

import copy
import pickle

import pytest

from checks.login.base import STATUS
from checks.login.imap import LoginImap
from checks.login.pop3 import LoginPop3
from checks.login.smtp import LoginSmtp
from checks.roundtrip.check import DeliveredCopy, RoundTrip
from checks.roundtrip.delivery_path import DeliveryPath
from checks.roundtrip.exchange import Delivery, Submission, bounce_reason, queue_id
from diagnose.engine.credentials import CredentialError, CredentialRequest, Credentials, Secret, resolve, scrub
from diagnose.knowledge.authreply import imap_outcome as _imap_outcome
from diagnose.knowledge.authreply import pop_outcome as _pop_outcome
from diagnose.knowledge.authreply import smtp_outcome as _smtp_outcome
from diagnose.knowledge.headers import (
    auth_results,
    hops,
    parse_auth_results,
    parse_header_block,
    parse_received,
    signatures,
)
from diagnose.knowledge.redact import redact_argv
from diagnose.knowledge.replies import SmtpReply
from diagnose.knowledge.smtpcodes import enhanced, explain_reply
from diagnose.net.dialogue import Endpoint
from diagnose.net.mailsession import Login, Outcome


# -- credentials ---------------------------------------------------------------
def test_secret_never_shows_itself():
    s = Secret("hunter2")
    c = Credentials("bob@example.com", s, "env")
    for text in (str(s), repr(s), f"{s}", f"{s:>20}", repr(c), str(c)):
        assert "hunter2" not in text
    assert s.reveal() == "hunter2"
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(TypeError):
        copy.deepcopy(c)


def test_scrub_removes_plain_and_base64_forms():
    c = Credentials("bob@example.com", Secret("pä$$"), "env")
    for form in c.forms():
        assert scrub(f"x {form} y", c) == "x **** y"
    assert len(c.forms()) >= 4  # plain, base64 of the password and of both SASL PLAIN messages (+ unpadded)


def test_resolve_env_user_default_and_sides():
    env = {"PW": "one", "PW2": "two"}
    # no login asked: nothing, no prompt
    assert resolve(CredentialRequest(), address="a@b.example", env=env) is None
    both = resolve(CredentialRequest(password_env="PW"), address="a@b.example", env=env)
    assert both.outgoing.user == both.incoming.user == "a@b.example" and both.outgoing.password.reveal() == "one"
    split = resolve(CredentialRequest(user="u", password_env="PW", smtp_user="out", imap_password_env="PW2"),
                    address=None, env=env)
    assert split.outgoing.user == "out" and split.outgoing.password.reveal() == "one"
    assert split.incoming.user == "u" and split.incoming.password.reveal() == "two"
    assert "PW2" in split.incoming.source and "two" not in split.incoming.source


def test_resolve_profile_names_and_prompt_once():
    env = {"MAIL_USER": "carol@example.com", "MAIL_PASSWORD": "s3"}
    creds = resolve(CredentialRequest(profile_env={"user_env": "MAIL_USER", "password_env": "MAIL_PASSWORD"}),
                    address=None, env=env)
    assert creds.incoming.user == "carol@example.com" and creds.incoming.password.reveal() == "s3"
    asked = []
    creds = resolve(CredentialRequest(user="dave"), address=None, env={},
                    prompt=lambda text: asked.append(text) or "typed")
    assert len(asked) == 1 and creds.outgoing.password is creds.incoming.password


@pytest.mark.parametrize("req, env, prompt, words", [
    (CredentialRequest(user="x", password_env="NOPE"), {}, None, "NOPE"),
    (CredentialRequest(user="x"), {}, None, "--password-env"),
    (CredentialRequest(password_env="PW"), {"PW": "p"}, None, "user name"),
    (CredentialRequest(user="x", password_env="1BAD"), {}, None, "not an environment variable"),
])
def test_resolve_errors_are_one_line(req, env, prompt, words):
    with pytest.raises(CredentialError) as exc:
        resolve(req, address=None, env=env, prompt=prompt, required=True)
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_roundtrip_requires_credentials_even_without_user_options():
    with pytest.raises(CredentialError):
        resolve(CredentialRequest(), address="a@b.example", env={}, required=True)


def test_command_line_options_are_redacted_where_secret():
    argv = redact_argv(["check", "x", "--password-env", "PW", "--smtp-password-env=SP", "--imap-password-env", "IP",
                        "--user", "bob", "--password", "oops"])
    assert argv[-1] == "REDACTED" and "PW" in argv and "--smtp-password-env=SP" in argv and "bob" in argv


# -- reply codes and outcomes --------------------------------------------------------
@pytest.mark.parametrize("code, text, words", [
    (535, "5.7.8 Error: authentication failed", "5.7.8: authentication credentials invalid"),
    (530, "5.7.0 Must issue a STARTTLS command first", "5.7.0: security or policy problem"),
    (550, "5.7.1 Relaying denied", "5.7.1: delivery not authorized"),
    (554, "5.7.1 Service unavailable; Client host blocked", "554: transaction failed"),
    (421, "4.7.0 Try again later", "421: service not available"),
    (451, "4.7.1 Greylisted", "try again later"),
    (452, "4.2.2 Mailbox full", "4.2.2: mailbox full"),
    (599, "", "permanent failure"),
    (250, "2.1.5 Ok", "250: accepted; 2.1.5: recipient address valid"),
    (235, "2.7.0 Authentication successful", "2.7.0: authentication succeeded"),
])
def test_reply_codes_in_plain_words(code, text, words):
    assert words in explain_reply(code, text)


def test_enhanced_code_only_at_the_start():
    assert enhanced("5.7.8 Error") == "5.7.8" and enhanced("Error") == "" and enhanced("-5.1.1 x") == "5.1.1"


@pytest.mark.parametrize(
    "code, text, tls, outcome",
    [
        (235, "2.7.0 ok", True, Outcome.OK),
        (535, "5.7.8 no", True, Outcome.REJECTED),
        (454, "4.7.0 temp", True, Outcome.TEMPORARY),
        (538, "5.7.11 need TLS", False, Outcome.DISABLED_BEFORE_TLS),
        (530, "5.7.0 Must issue STARTTLS", False, Outcome.DISABLED_BEFORE_TLS),
        (504, "5.5.4 unknown", True, Outcome.NO_MECHANISM),
        (535, "5.7.8 Error: authentication failed: [CONTACTADMIN]", True, Outcome.LOCKED),
        (535, "5.7.139 Authentication unsuccessful, the user account is disabled.", True, Outcome.LOCKED),
        (535, "5.7.8 Error: authentication failed: (reason unavailable)", True, Outcome.REJECTED),
    ],
)
def test_smtp_auth_outcomes(code, text, tls, outcome):
    assert _smtp_outcome(SmtpReply(code, (text,)), tls) is outcome


def test_imap_and_pop_outcomes():
    assert _imap_outcome("NO [AUTHENTICATIONFAILED] Authentication failed.", True) is Outcome.REJECTED
    assert _imap_outcome("NO [UNAVAILABLE] Temporary failure", True) is Outcome.TEMPORARY
    assert _imap_outcome("NO [PRIVACYREQUIRED] no", False) is Outcome.DISABLED_BEFORE_TLS
    assert _pop_outcome("-ERR [SYS/TEMP] later", True) is Outcome.TEMPORARY
    assert _pop_outcome("-ERR [AUTH] Authentication failed.", True) is Outcome.REJECTED
    assert _pop_outcome("+OK Logged in.", True) is Outcome.OK
    # the server's words change the diagnosis: a lock or an expired password is not a wrong password
    assert _imap_outcome("NO [CONTACTADMIN] [CONTACTADMIN]", True) is Outcome.LOCKED
    assert _imap_outcome("NO [EXPIRED] Password expired", True) is Outcome.EXPIRED
    assert _imap_outcome("NO [ALERT] Account locked by administrator", True) is Outcome.LOCKED
    assert _pop_outcome("-ERR [CONTACTADMIN]", True) is Outcome.LOCKED
    assert _pop_outcome("-ERR [SYS/PERM] Your account is closed", True) is Outcome.LOCKED
    assert _imap_outcome("NO [AUTHENTICATIONFAILED] Password incorrect", True) is Outcome.REJECTED


def test_every_login_outcome_has_texts_and_a_status():
    ep = Endpoint("submission", "smtp.example.com", "192.0.2.1", 465)
    creds = Credentials("bob@example.com", Secret("pw"), "env")
    for cls in (LoginSmtp, LoginImap, LoginPop3):
        for outcome in Outcome:
            f = cls().evaluate(Login(ep, "bob@example.com", outcome, words="server words"), creds)
            assert f.status is STATUS[outcome]
            assert f.code in cls.texts or f.code.endswith(".skipped"), f.code
            if f.status.value in ("fail", "warn"):
                assert f.explanation and f.remedy and "{" not in f.explanation + f.remedy, (f.code, f.remedy)


def test_queue_ids():
    assert queue_id("2.0.0 Ok: queued as 4A0F42120AE") == "4A0F42120AE"
    assert queue_id("OK id=1tRzab-000Abc-2x") == "1tRzab-000Abc-2x"
    assert queue_id("2.0.0 OK 1700000000 d2-20020a05") == ""


def test_roundtrip_verdicts():
    ep = Endpoint("submission", "smtp.example.com", "192.0.2.1", 587)
    rt = RoundTrip()
    sub = Submission(ep, stage="accepted", queue_id="ABC123")
    lost = rt.judge_delivery(
        Delivery(Endpoint("mailbox", "imap.example.com", "192.0.2.2", 993)), sub, "bob@example.com", "md-1", 10
    )
    assert [f.code for f in lost] == ["roundtrip.not_delivered"] and "within 10 s" in lost[0].summary
    assert "ABC123" in lost[0].remedy and lost[0].remedy.startswith("On smtp.example.com")
    rejected = rt.judge_submission(Submission(ep, stage="RCPT TO", code=550, words="550 5.7.1 <x>: Relay access denied",
                                              login=Login(ep, "bob", Outcome.OK)), "bob@example.com", "x@y", "md-1")
    assert rejected.code == "roundtrip.rejected" and "5.7.1: delivery not authorized" in rejected.explanation


# -- headers ------------------------------------------------------------------------
POSTFIX = (
    "from [192.0.2.9] (unknown [192.0.2.9])\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
    "\t(No client certificate requested)\r\n\tby smtp.example.com (Postfix) with ESMTPSA id 4A0F\r\n"
    "\tfor <bob@example.com>; Fri, 27 Nov 2026 03:57:39 +0000 (UTC)"
)
EXIM = "from mail.other.example ([198.51.100.7]) by mx.example.net with esmtps (TLS1.2) tls TLS_ECDHE (Exim 4.96) id 1a; Mon, 1 Jan 2024 00:00:00 +0000"
PLAIN = "from relay.example.org (relay.example.org [203.0.113.5]) by mx.example.net with ESMTP id 99; Mon, 1 Jan 2024 00:00:00 +0000"
LMTP = "from mx1.example.com by store1 with LMTP id Tp (envelope-from <bob@example.com>) for <bob@example.com>; Fri, 27 Nov 2026 03:57:39 +0000"


def test_received_hops_and_tls():
    h = parse_received(POSTFIX)
    assert (h.by, h.protocol, h.tls, h.encrypted) == ("smtp.example.com", "ESMTPSA", "TLSv1.3", True)
    assert h.from_host.startswith("[192.0.2.9]")
    assert parse_received(EXIM).tls == "TLSv1.2" and parse_received(EXIM).protocol == "ESMTPS"
    assert parse_received(PLAIN).encrypted is False
    assert parse_received(LMTP).encrypted is None


def test_authentication_results_and_signatures():
    raw = (
        "Authentication-Results: mx.google.com;\r\n dkim=pass header.i=@example.com header.s=sel1 header.b=abc;\r\n"
        " spf=pass (google.com: domain of bob@example.com designates 192.0.2.9 as permitted sender) smtp.mailfrom=bob@example.com;\r\n"
        " dmarc=fail (p=REJECT) header.from=example.com\r\n"
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel1;\r\n\tc=relaxed/relaxed; h=from; bh=x; b=y\r\n"
        f"Received: {LMTP}\r\nReceived: {PLAIN}\r\n\r\n"
    ).encode()
    msg = parse_header_block(raw)
    verdicts = {v.method: v for v in auth_results(msg)}
    assert verdicts["spf"].result == "pass" and verdicts["spf"].properties["smtp.mailfrom"] == "bob@example.com"
    assert verdicts["dmarc"].result == "fail" and verdicts["dkim"].authserv == "mx.google.com"
    assert [(s.domain, s.selector) for s in signatures(msg)] == [("example.com", "sel1")]
    assert [h.protocol for h in hops(msg)] == ["ESMTP", "LMTP"]  # oldest first
    findings = {
        f.code: f for f in DeliveryPath().evaluate(DeliveredCopy(raw, "INBOX", "bob@example.com", 1.0), "example.com")
    }
    assert findings["roundtrip.hop_plaintext"].status.value == "warn"
    assert (
        findings["roundtrip.auth_failed"].status.value == "warn"
        and "dmarc=fail" in findings["roundtrip.auth_failed"].summary
    )
    invalid = findings["roundtrip.dkim_invalid"]
    assert "no key published at sel1._domainkey.example.com" in invalid.summary and "sel1._domainkey" in invalid.remedy


def _signed_message(body: bytes = b"Hello.\r\n"):
    import base64 as b64

    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    msg = b"From: bob@example.com\r\nTo: bob@example.com\r\nSubject: t\r\n\r\n" + body
    sig = dkim.sign(msg, b"mail2026", b"example.com", pem, include_headers=[b"from", b"to", b"subject"])
    txt = b"v=DKIM1; k=rsa; p=" + b64.b64encode(spki)
    return sig + msg, {"mail2026._domainkey.example.com": txt}


def test_dkim_signature_is_verified_and_its_selector_named():
    raw, keys = _signed_message()
    copy = DeliveredCopy(raw, "INBOX", "bob@example.com", 1.0)
    signed = {f.code: f for f in DeliveryPath().evaluate(copy, "example.com", keys)}["roundtrip.dkim_signed"]
    assert signed.status.value == "pass" and "selector in use: mail2026" in signed.summary
    # a body changed after signing no longer verifies
    tampered = DeliveredCopy(raw.replace(b"Hello.", b"Hello!"), "INBOX", "bob@example.com", 1.0)
    bad = {f.code: f for f in DeliveryPath().evaluate(tampered, "example.com", keys)}["roundtrip.dkim_invalid"]
    assert bad.status.value == "warn" and "does not verify" in bad.summary


def test_hostile_headers_do_not_break_parsing():
    assert parse_auth_results("") == [] and parse_auth_results(";;;=;") == []
    h = parse_received("\x1b[31m" + "(" * 500 + "by x with y" + ")" * 3)
    assert "\x1b" not in h.raw
    msg = parse_header_block(b"Received: " + b"a" * 300000 + b"\r\n\r\n")
    assert len(hops(msg)) <= 1


def test_bounce_reasons():
    dsn = (b"This is the mail system at host mx1.\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
           b"Final-Recipient: rfc822; ghost@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
           b"Diagnostic-Code: smtp; 550 5.1.1 <ghost@example.com> User doesn't\r\n exist\r\n")
    assert bounce_reason(dsn) == "550 5.1.1 <ghost@example.com> User doesn't exist"
    assert bounce_reason(b"Status: 4.4.7\r\nDiagnostic-Code: X-Postfix; delivery temporarily suspended\r\n") == \
        "4.4.7: delivery temporarily suspended"
    assert bounce_reason(b"") == "no reason given" and "\x1b" not in bounce_reason(b"\x1b[2Jhello")


def test_long_session_transcript_keeps_its_start_and_its_end():
    from diagnose.net.mailsession import ScrubbedTranscript

    t = ScrubbedTranscript(Credentials("u", Secret("pw-1234"), "env"), head=3, tail=2)
    for i in range(10):
        t.add("S", f"line {i} pw-1234\x1b[31m")
    lines = t.as_list()
    assert lines[:3] == ["S: line 0 ****", "S: line 1 ****", "S: line 2 ****"]
    assert lines[3] == "… 5 lines left out" and lines[4:] == ["S: line 8 ****", "S: line 9 ****"]


def test_pick_prefers_a_port_with_tls_and_says_why_none():
    from checks.login.base import pick
    from diagnose.net.dialogue import Dialogue
    from diagnose.net.tcp import ConnectOutcome
    from diagnose.net.tls import TlsInfo

    a, b = (Endpoint("mailbox", "imap.example.com", "192.0.2.2", port) for port in (993, 143))
    up = lambda ep, tls: Dialogue(ep, connect=ConnectOutcome.CONNECTED, greeting_ok=True,  # noqa: E731
                                  tls=TlsInfo("TLSv1.3", "x", 256, ()) if tls else None)
    down = Dialogue(a, connect=ConnectOutcome.TIMEOUT, connect_detail="timed out")
    assert pick([a, b], [up(a, False), up(b, True)], False) == (b, "")
    assert pick([a, b], [up(a, False), up(b, False)], False) == (a, "")  # the session will say "TLS required"
    ep, why = pick([a, b], [down, Dialogue(b, connect=ConnectOutcome.REFUSED)], False)
    assert ep == a and "timed out" in why


def test_session_prompts_on_a_terminal_and_validates_roundtrip_options(monkeypatch):
    import getpass
    import sys

    from diagnose.app.plan import PlanError as Fatal
    from diagnose.app.plan import Request as CheckRequest
    from diagnose.app.plan import _login_options
    from diagnose.engine.credentials import CredentialRequest
    from diagnose.engine.target import parse_target

    target = parse_target("erin@example.com")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(getpass, "getpass", lambda text: "typed-secret")
    opts = _login_options(CheckRequest(target="erin@example.com", roundtrip=True, to="Frank@Example.COM"), target)
    assert opts["credentials"].incoming.user == "erin@example.com" and opts["credentials"].incoming.source == "prompt"
    assert opts["credentials"].outgoing.password.reveal() == "typed-secret"
    assert opts["roundtrip"].to.endswith("@example.com") and opts["roundtrip"].timeout == 120
    # no login asked for: no prompt, no credentials
    assert _login_options(CheckRequest(target="erin@example.com"), target)["credentials"] is None
    for bad in (dict(to="not an address"), dict(roundtrip_timeout=0)):
        with pytest.raises(Fatal):
            _login_options(CheckRequest(target="erin@example.com", roundtrip=True, **bad), target)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    with pytest.raises(Fatal, match="--password-env"):
        _login_options(CheckRequest(target="erin@example.com", login=CredentialRequest(user="erin")), target)
