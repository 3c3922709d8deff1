"""Login and submission faults the lab's well-configured servers do not show, from small asyncio fakes:
no TLS at all, login refused before TLS, temporary failures, no usable mechanism, greylisting at
RCPT, a server that echoes the AUTH payload, a server that goes silent after AUTH.

Each fake listens on the real port of its protocol on an address of MAILDOCTOR_LAB_NET (x.252.N).
"""

from __future__ import annotations

import asyncio
import base64
import os

import pytest

from checks.login.imap import LoginImap
from checks.roundtrip.check import RoundTrip
from checks.roundtrip.exchange import build_message, submit
from diagnose.engine.credentials import OAUTH2, Credentials, Secret, sasl_oauth_response
from diagnose.engine.timeouts import Timeouts
from diagnose.net.dialogue import Endpoint
from diagnose.net.mailsession import MailSession, Outcome

NET = os.environ.get("MAILDOCTOR_LAB_NET", "127.85")
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="binds ports 25/110/143/587 on loopback: needs root")
_counter = iter(range(10, 250))
PASSWORD = "Fake-Secret-9"
CREDS = Credentials("alice@fault.test", Secret(PASSWORD), "test")
PAYLOAD = base64.b64encode(f"\0alice@fault.test\0{PASSWORD}".encode()).decode()


def serve(replies: dict[bytes, bytes], greeting: bytes, port: int, *, allow_plaintext=False, action=None, timeout=1.0,
          creds=CREDS):
    """A fake answering each command (matched by its first word, upper case) from ``replies``; returns the
    login result and every line the fake received."""
    address = f"{NET}.252.{next(_counter)}"
    received: list[bytes] = []

    async def handle(r, w):
        w.write(greeting)
        while line := await r.readline():
            received.append(line)
            words = line.split()
            key = words[0].upper() if words else b""
            if port == 143 and len(words) > 1:  # IMAP: tag first
                key = words[1].upper()
                reply = replies.get(key, b"BAD what\r\n")
                w.write(reply.replace(b"TAG", words[0]))
            else:
                w.write(replies.get(key, b"502 no\r\n" if port in (25, 587) else b"-ERR no\r\n"))
            if key in (b"QUIT", b"LOGOUT"):
                break
        w.close()

    async def go():
        server = await asyncio.start_server(handle, address, port)
        try:
            session = MailSession(Endpoint("x", "fault.test", address, port), creds, timeout=timeout,
                                  allow_plaintext=allow_plaintext)
            result = await (action(session) if action else session.login())
            await session.close("QUIT")
            return result
        finally:
            server.close()
    return asyncio.run(go()), b"".join(received)


IMAP_NO_TLS = {b"CAPABILITY": b"* CAPABILITY IMAP4rev1 AUTH=PLAIN LOGINDISABLED\r\nTAG OK done\r\n"}
POP_NO_TLS = {b"CAPA": b"+OK\r\nUSER\r\n.\r\n", b"USER": b"+OK\r\n",
              b"PASS": b"-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n"}
SMTP_NO_TLS = {b"EHLO": b"250-fake\r\n250 AUTH PLAIN LOGIN\r\n", b"QUIT": b"221 bye\r\n"}


def test_no_tls_means_no_credentials_sent():
    # Given an IMAP server without STARTTLS, When we log in without --allow-plaintext-auth
    result, received = serve(IMAP_NO_TLS, b"* OK fake\r\n", 143)
    # Then nothing secret left this machine, and the outcome says TLS is required
    assert result.outcome is Outcome.TLS_REQUIRED, result
    assert PASSWORD.encode() not in received and PAYLOAD.encode() not in received and b"AUTHENTICATE" not in received


def test_logindisabled_before_tls_is_told_apart():
    result, received = serve(IMAP_NO_TLS, b"* OK fake\r\n", 143, allow_plaintext=True)
    assert result.outcome is Outcome.DISABLED_BEFORE_TLS and "LOGINDISABLED" in result.words
    assert b"AUTHENTICATE" not in received


def test_pop3_refusing_plaintext_password_is_disabled_before_tls():
    result, received = serve(POP_NO_TLS, b"+OK fake\r\n", 110, allow_plaintext=True)
    assert result.outcome is Outcome.DISABLED_BEFORE_TLS, result
    assert b"PASS " + PASSWORD.encode() in received  # allowed by the flag, in clear
    assert "C: PASS ****" in result.transcript and not any(PASSWORD in line for line in result.transcript)


def test_temporary_smtp_auth_failure_is_temporary():
    replies = {**SMTP_NO_TLS, b"AUTH": b"454 4.7.0 Temporary authentication failure\r\n"}
    result, _ = serve(replies, b"220 fake ESMTP\r\n", 587, allow_plaintext=True)
    assert result.outcome is Outcome.TEMPORARY and result.code == 454
    assert "C: AUTH PLAIN ****" in result.transcript


def test_imap_unavailable_is_temporary_and_its_finding_explains():
    replies = {**IMAP_NO_TLS, b"CAPABILITY": b"* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\nTAG OK done\r\n",
               b"AUTHENTICATE": b"TAG NO [UNAVAILABLE] Temporary authentication failure.\r\n"}
    result, _ = serve(replies, b"* OK fake\r\n", 143, allow_plaintext=True)
    assert result.outcome is Outcome.TEMPORARY
    finding = LoginImap().evaluate(result, CREDS)
    assert finding.code == "login.imap.temporary" and finding.status.value == "fail"
    assert "UNAVAILABLE" in finding.summary and "locked" in finding.explanation


def test_only_unknown_mechanisms_is_no_mechanism():
    replies = {**SMTP_NO_TLS, b"EHLO": b"250-fake\r\n250 AUTH GSSAPI XOAUTH2\r\n"}
    result, received = serve(replies, b"220 fake ESMTP\r\n", 587, allow_plaintext=True)
    assert result.outcome is Outcome.NO_MECHANISM and "GSSAPI" in result.words
    assert b"AUTH" not in received.replace(b"EHLO", b"")


TOKEN = "ya29.fake-token_ABC"
TOKEN_CREDS = Credentials("alice@fault.test", Secret(TOKEN), "test", OAUTH2)
GMAIL_CHALLENGE = base64.b64encode(b'{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}')


def test_gmail_style_xoauth2_challenge_is_answered_and_the_real_error_arrives():
    # Given a server offering only XOAUTH2 that answers a bad token with Gmail's 334 JSON challenge
    replies = {**SMTP_NO_TLS, b"EHLO": b"250-fake\r\n250 AUTH XOAUTH2\r\n", b"AUTH": b"334 " + GMAIL_CHALLENGE + b"\r\n",
               b"": b"535-5.7.8 Username and Password not accepted. For more information, go to\r\n"
                    b"535 5.7.8  https://support.google.com/mail/?p=BadCredentials\r\n"}
    result, received = serve(replies, b"220 fake ESMTP\r\n", 587, allow_plaintext=True, creds=TOKEN_CREDS)
    # Then maildoctor answered the challenge with an empty line and got the 535
    assert b"\r\n\r\nQUIT" in received, received
    assert result.outcome is Outcome.TOKEN_REJECTED and result.code == 535, (result.words, result.transcript)
    assert result.challenge == {"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"}
    assert result.mechanism == "XOAUTH2"
    text = "\n".join(result.transcript)
    assert TOKEN not in text and sasl_oauth_response("XOAUTH2", TOKEN_CREDS.user, TOKEN) not in text
    assert "AUTH XOAUTH2 ****" in text


def test_imap_without_sasl_ir_sends_the_token_after_the_continuation():
    # Given an IMAP server without SASL-IR: the initial response goes after "+", then the error challenge
    payload = sasl_oauth_response("OAUTHBEARER", TOKEN_CREDS.user, TOKEN).encode()
    challenge = base64.b64encode(b'{"status":"invalid_token","scope":"mail"}')
    replies = {b"CAPABILITY": b"* CAPABILITY IMAP4rev1 AUTH=OAUTHBEARER\r\nTAG OK done\r\n",
               b"AUTHENTICATE": b"+ \r\n", payload.upper(): b"+ " + challenge + b"\r\n",
               b"AQ==": b"m2 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n",
               b"LOGOUT": b"* BYE\r\nTAG OK bye\r\n"}
    result, received = serve(replies, b"* OK fake\r\n", 143, allow_plaintext=True, creds=TOKEN_CREDS)
    assert payload + b"\r\n" in received and b"AQ==\r\n" in received, received  # RFC 7628: 0x01 answers
    assert result.outcome is Outcome.TOKEN_REJECTED and result.challenge["status"] == "invalid_token", result.words
    assert TOKEN not in "\n".join(result.transcript) and payload.decode() not in "\n".join(result.transcript)


def test_a_password_where_only_oauth_is_offered_is_never_sent():
    replies = {**SMTP_NO_TLS, b"EHLO": b"250-fake\r\n250 AUTH XOAUTH2 OAUTHBEARER\r\n"}
    result, received = serve(replies, b"220 fake ESMTP\r\n", 587, allow_plaintext=True)
    assert result.outcome is Outcome.OAUTH_REQUIRED and "offers only OAuth" in result.words
    assert b"AUTH" not in received.replace(b"EHLO", b""), received


def test_a_server_echoing_the_payload_is_scrubbed():
    replies = {
        **SMTP_NO_TLS,
        b"AUTH": b"535 5.7.8 bad credentials " + PAYLOAD.encode() + b" / " + PASSWORD.encode() + b"\r\n",
    }
    result, _ = serve(replies, b"220 fake ESMTP\r\n", 587, allow_plaintext=True)
    assert result.outcome is Outcome.REJECTED
    text = result.words + "\n".join(result.transcript)
    assert PASSWORD not in text and PAYLOAD not in text and "****" in result.words


def test_silence_after_auth_is_bounded(monkeypatch):
    monkeypatch.setattr(Timeouts, "LOGIN_GRACE", 0.5)
    replies = {**SMTP_NO_TLS, b"AUTH": b""}  # never answers
    result, _ = serve(replies, b"220 fake ESMTP\r\n", 587, allow_plaintext=True, timeout=0.5)
    assert result.outcome is Outcome.BROKEN and "timeout" in result.words
    assert result.elapsed_s < 3


def test_greylisting_at_rcpt_is_a_deferral_not_a_failure():
    replies = {**SMTP_NO_TLS, b"AUTH": b"235 2.7.0 ok\r\n", b"MAIL": b"250 2.1.0 Ok\r\n",
               b"RCPT": b"450 4.2.0 <alice@fault.test>: Recipient address rejected: Greylisted, see http://x\r\n"}

    async def action(session):
        return await submit(session, "alice@fault.test", "alice@fault.test", build_message("a@b", "a@b", "md-1"))

    sub, received = serve(replies, b"220 fake ESMTP\r\n", 587, allow_plaintext=True, action=action)
    assert sub.stage == "RCPT TO" and sub.code == 450 and b"DATA" not in received
    finding = RoundTrip().judge_submission(sub, "alice@fault.test", "alice@fault.test", "md-1")
    assert finding.code == "roundtrip.deferred" and finding.status.value == "warn"
    assert "4.2.0" in finding.evidence["reply_explained"] and "greylisting" in finding.explanation


def test_auth_login_and_imap_login_hide_both_steps():
    user64 = base64.b64encode(b"alice@fault.test")
    pw64 = base64.b64encode(PASSWORD.encode())
    replies = {**SMTP_NO_TLS, b"EHLO": b"250-fake\r\n250 AUTH LOGIN\r\n", b"AUTH": b"334 VXNlcm5hbWU6\r\n",
               user64.upper(): b"334 UGFzc3dvcmQ6\r\n", pw64.upper(): b"235 2.7.0 ok\r\n"}
    result, received = serve(replies, b"220 fake ESMTP\r\n", 587, allow_plaintext=True)
    assert result.outcome is Outcome.OK and result.mechanism == "LOGIN" and pw64 in received
    assert result.transcript.count("C: ****") == 2 and not any(pw64.decode() in line for line in result.transcript)
    imap = {b"CAPABILITY": b"* CAPABILITY IMAP4rev1\r\nTAG OK done\r\n", b"LOGIN": b"TAG OK welcome\r\n"}
    result, received = serve(imap, b"* OK fake\r\n", 143, allow_plaintext=True)
    assert result.outcome is Outcome.OK and result.mechanism == "LOGIN" and result.tls_version == ""
    assert f'"{PASSWORD}"'.encode() in received
    assert any(line.endswith('LOGIN "alice@fault.test" ****') for line in result.transcript), result.transcript


def test_cram_md5_answers_the_challenge_without_the_password():
    import hmac

    challenge = b"<1896.697170952@fault.test>"
    answer = base64.b64encode(b"alice@fault.test " + hmac.new(PASSWORD.encode(), challenge, "md5").hexdigest().encode())
    replies = {**SMTP_NO_TLS, b"EHLO": b"250-fake\r\n250 AUTH CRAM-MD5\r\n",
               b"AUTH": b"334 " + base64.b64encode(challenge) + b"\r\n", answer.upper(): b"235 2.7.0 ok\r\n"}
    result, received = serve(replies, b"220 fake ESMTP\r\n", 587, allow_plaintext=True)
    assert result.outcome is Outcome.OK and result.mechanism == "CRAM-MD5", result
    assert PASSWORD.encode() not in received and "C: ****" in result.transcript
