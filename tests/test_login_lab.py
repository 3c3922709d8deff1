"""Login and round trip against the lab's real Postfix (submission, SASL via Dovecot) and Dovecot (IMAP,
POP3, LMTP delivery), with the lab's mailboxes (tests/lab/scenarios.py MAIL_ACCOUNTS): "user" works,
"locked" is denied by Dovecot's passdb, "dropped" has its incoming mail discarded by Postfix.
"""

import asyncio
import base64
import imaplib
import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
LOGIN = ("servers", "login")
ROUNDTRIP = ("servers", "login", "roundtrip")


def run(lab, address, *extra, password=None, checks=LOGIN, fmt="json", timeout="2", ca=True):
    args = ["check", address, "--nameserver", lab.resolver, "--timeout", timeout, "--format", fmt,
            "--password-env", "MD_TEST_PASSWORD"] + (["--ca-file", str(lab.ca_file)] if ca else [])
    for c in checks:
        args += ["--check", c]
    env = {**os.environ, "NO_COLOR": "1", "MD_TEST_PASSWORD": lab.password if password is None else password}
    start = time.monotonic()
    proc = subprocess.run([MAILDOCTOR, *args, *extra], capture_output=True, text=True, timeout=120, env=env,
                          stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    proc.elapsed = time.monotonic() - start
    return proc


def report(proc):
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def codes(rep, prefix=""):
    return {f["code"]: f for f in rep["findings"] if f["code"].startswith(prefix)}


def test_right_password_logs_in_on_all_three_services(lab):
    # Given the lab's mailbox and its password in an environment variable
    rep = report(run(lab, lab.user))
    # Then submission, IMAP and POP3 all accept the login, over TLS, with the password masked
    found = codes(rep, "login.")
    assert {"login.smtp.ok", "login.imap.ok", "login.pop3.ok"} <= set(found), [
        (f["code"], f["summary"]) for f in rep["findings"]
    ]
    for f in found.values():
        assert f["status"] == "pass" and f["evidence"]["tls"].startswith("TLS"), f
        assert any(line.endswith("****") for line in f["evidence"]["transcript"]), f["evidence"]["transcript"]


def test_wrong_password_is_a_rejected_login_on_each_service(lab):
    rep = report(run(lab, lab.user, password="not-the-password"))
    for proto in ("smtp", "imap", "pop3"):
        f = codes(rep)[f"login.{proto}.rejected"]
        assert f["status"] == "fail"
        # the server's own words, which server and which user; no guess which of the two is wrong
        assert f["evidence"]["server_said"] and f["evidence"]["server_said"] in f["summary"]
        assert f["host"] in f["remedy"] and lab.user in f["remedy"], f["remedy"]
    assert codes(rep)["login.smtp.rejected"]["evidence"]["server_said"].startswith("535")
    # one wrong password is one problem, said once for the three services
    [group] = rep["diagnosis"]["groups"]
    assert len(group["ids"]) == 3 and group["ids"][0] == rep["diagnosis"]["root_causes"][0]


def test_locked_account_is_said_to_be_locked_not_a_wrong_password(lab):
    rep = report(run(lab, lab.account("locked")))
    found = codes(rep)
    # Dovecot says [CONTACTADMIN]; Postfix's SASL only "authentication failed"
    assert {"login.imap.locked", "login.pop3.locked", "login.smtp.rejected"} <= set(found), found.keys()
    assert "CONTACTADMIN" in found["login.imap.locked"]["summary"]
    assert "password may well be right" in found["login.imap.locked"]["explanation"]
    root = next(f for f in rep["findings"] if f["id"] == rep["diagnosis"]["root_causes"][0])
    assert root["code"].endswith(".locked"), rep["diagnosis"]
    assert found["login.smtp.rejected"]["caused_by"] is not None  # folded under the lock


def test_roundtrip_is_delivered_with_latency_and_cleaned_up(lab):
    proc = run(lab, lab.user, "--roundtrip", "--roundtrip-timeout", "20", checks=ROUNDTRIP)
    rep = report(proc)
    found = codes(rep)
    accepted, delivered = found["roundtrip.accepted"], found["roundtrip.delivered"]
    assert accepted["evidence"]["queue_id"] and accepted["evidence"]["queue_id"] in accepted["summary"]
    assert delivered["status"] == "pass" and 0 <= delivered["evidence"]["latency_s"] < 20
    assert "deleted" in delivered["summary"]
    hops = found["roundtrip.hops"]["evidence"]["hops"]
    assert hops[0]["with"] == "ESMTPSA" and hops[0]["tls"].startswith("TLSv1"), hops
    assert hops[-1]["with"] == "LMTP", hops
    # And the copy is really gone from the mailbox
    token = accepted["evidence"]["token"]
    assert _imap_search(lab, lab.user, token) == [], "the test message was left in the mailbox"


def test_discarded_mail_is_accepted_but_not_delivered(lab):
    proc = run(lab, lab.account("dropped"), "--roundtrip", "--roundtrip-timeout", "5", checks=ROUNDTRIP)
    rep = report(proc)
    found = codes(rep)
    assert found["roundtrip.accepted"]["status"] == "pass"
    lost = found["roundtrip.not_delivered"]
    assert lost["status"] == "fail" and "within 5 s" in lost["summary"], lost["summary"]
    assert found["roundtrip.accepted"]["evidence"]["queue_id"] in lost["remedy"]
    assert proc.elapsed < 5 + 15, proc.elapsed  # bounded: the timeout plus the sessions around it
    assert proc.returncode == 2
    root = next(f for f in rep["findings"] if f["id"] == rep["diagnosis"]["root_causes"][0])
    assert root["code"] == "roundtrip.not_delivered", rep["diagnosis"]


def test_mail_filed_as_spam_is_found_in_junk(lab):
    user, domain = lab.user.split("@")
    rep = report(run(lab, lab.user, "--roundtrip", "--to", f"{user}+Junk@{domain}", "--roundtrip-timeout", "20",
                     checks=ROUNDTRIP))
    junk = codes(rep)["roundtrip.junk"]
    assert junk["status"] == "warn" and junk["evidence"]["folder"] == "Junk", junk
    assert _imap_search(lab, lab.user, junk["evidence"]["token"], folder="Junk") == []


def test_recipient_refused_at_rcpt_is_rejected_in_plain_words(lab):
    # Given a recipient the lab's Postfix will not relay to
    rep = report(
        run(
            lab,
            lab.user,
            "--roundtrip",
            "--to",
            f"nobody@{lab.domain('nxdomain')}",
            "--roundtrip-timeout",
            "5",
            checks=ROUNDTRIP,
        )
    )
    rejected = codes(rep)["roundtrip.rejected"]
    assert rejected["status"] == "fail" and "RCPT TO" in rejected["summary"] and "550" in rejected["summary"]
    assert "5.1.1: no such mailbox" in rejected["evidence"]["reply_explained"], rejected["evidence"]
    assert "roundtrip.accepted" not in codes(rep)


def test_accepted_then_bounced_is_reported_with_the_reason(lab):
    # Given a mailbox Postfix accepts mail for but Dovecot does not know: the bounce comes back to the sender
    rep = report(run(lab, lab.user, "--roundtrip", "--to", lab.account("ghost"), "--roundtrip-timeout", "20",
                     checks=ROUNDTRIP))
    found = codes(rep)
    bounced = found["roundtrip.bounced"]
    assert found["roundtrip.accepted"]["status"] == "pass"
    assert bounced["status"] == "fail" and "5.1.1" in bounced["summary"] and "bounce deleted" in bounced["summary"]
    assert _imap_search(lab, lab.user, bounced["evidence"]["token"], text=True) == []


def test_roundtrip_with_a_locked_account_is_not_sent(lab):
    rep = report(run(lab, lab.account("locked"), "--roundtrip", "--roundtrip-timeout", "5", checks=ROUNDTRIP))
    skipped = codes(rep)["roundtrip.delivery.skipped"]
    assert "login" in skipped["summary"] and "rejected" in skipped["summary"]


def test_pop3_polling_finds_and_deletes_the_message(lab):
    # The round trip reads POP3 when no IMAP server works; drive that path directly on the lab's POP3.
    from checks.roundtrip.exchange import await_delivery, build_message, new_token, submit
    from diagnose.engine.credentials import Credentials, Secret
    from diagnose.net.dialogue import Endpoint
    from diagnose.net.mailsession import MailSession, Outcome

    creds = Credentials(lab.user, Secret(lab.password), "test")
    smtp = Endpoint("submission", lab.hostname("smtp"), lab.host("smtp"), 587)
    pop = Endpoint("mailbox", lab.hostname("imap"), lab.host("imap"), 995)
    token = new_token()

    async def go():
        sub = await submit(MailSession(smtp, creds, timeout=2, ca_file=lab.ca_file), lab.user, lab.user,
                           build_message(lab.user, lab.user, token))
        assert sub.accepted and sub.login.outcome is Outcome.OK, (sub.stage, sub.words)
        return await await_delivery(lambda: MailSession(pop, creds, timeout=2, ca_file=lab.ca_file), token,
                                    accepted_at=sub.accepted_at, deadline=sub.accepted_at + 20)

    d = asyncio.run(go())
    assert d.found and d.deleted and d.folder == "the POP3 mailbox", (d.problem, d.transcript)
    assert token.encode() in d.message and b"maildoctor sent this message" in d.message
    assert _imap_search(lab, lab.user, token) == []


def test_no_password_or_auth_payload_in_any_output(lab, tmp_path):
    # Given a known password, every report format of a run with logins and a round trip...
    pw = lab.password
    forms = {pw, base64.b64encode(pw.encode()).decode(), base64.b64encode(f"\0{lab.user}\0{pw}".encode()).decode(),
             base64.b64encode(f"{lab.user}\0{lab.user}\0{pw}".encode()).decode()}
    outputs = {}
    for fmt in ("text", "json", "markdown", "html", "junit", "nagios"):
        proc = run(lab, lab.user, "--roundtrip", "--roundtrip-timeout", "20", "-v", checks=ROUNDTRIP, fmt=fmt)
        outputs[f"{fmt} stdout"], outputs[f"{fmt} stderr"] = proc.stdout, proc.stderr
        assert proc.stdout.strip(), (fmt, proc.stderr)
    # ... and a wrong password (its server replies and transcripts), saved with -o and re-rendered
    saved = tmp_path / "wrong.json"
    wrong = run(lab, lab.user, "-o", str(saved), "-q", password=pw[::-1])
    outputs["wrong stderr"], outputs["wrong file"] = wrong.stderr, saved.read_text()
    forms |= {pw[::-1], base64.b64encode(f"\0{lab.user}\0{pw[::-1]}".encode()).decode()}
    for fmt in ("text", "markdown", "html", "junit", "nagios"):
        again = subprocess.run([MAILDOCTOR, "report", str(saved), "--format", fmt], capture_output=True, text=True)
        outputs[f"report {fmt}"] = again.stdout + again.stderr
    assert "AUTH PLAIN ****" in outputs["json stdout"]
    # Then no output holds the password or its base64 forms
    leaks = [(name, form) for name, text in outputs.items() for form in forms if form in text]
    assert not leaks, leaks


def test_untrusted_certificate_means_no_password_sent(lab):
    # Given the lab CA is not trusted (no --ca-file), the servers' certificates do not verify
    rep = report(run(lab, lab.user, ca=False))
    for proto in ("smtp", "imap", "pop3"):
        f = codes(rep)[f"login.{proto}.tls_untrusted"]
        assert f["status"] == "skip" and "--ca-file" in f["remedy"], f
        assert not any(
            "AUTH" in line or "PASS" in line for line in f["evidence"]["transcript"] if line.startswith("C:")
        )


def test_profile_credentials_and_a_filtered_submission_port(lab, tmp_path):
    # Given a config profile naming the password's environment variable and a submission host whose ports are DROPped
    if not lab.firewall_available:
        pytest.skip("iptables unavailable: the filtered host refuses instead")
    config = tmp_path / "maildoctor.toml"
    config.write_text(f"""[profiles.lab]
target = "{lab.user}"
nameservers = ["{lab.resolver}"]
timeout = 1
ca_file = "{lab.ca_file}"
checks = ["servers", "login", "roundtrip"]
servers = {{ smtp = ["{lab.hostname('filtered')}"] }}
credentials = {{ password_env = "MD_TEST_PROFILE_PW" }}
""")
    env = {**os.environ, "MD_TEST_PROFILE_PW": lab.password}
    start = time.monotonic()
    proc = subprocess.run([MAILDOCTOR, "check", "--config", str(config), "--profile", "lab", "--roundtrip",
                           "--format", "json"], capture_output=True, text=True, env=env, timeout=60,
                          stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    found = codes(report(proc))
    # Then the incoming logins work with the profile's password, and the round trip is skipped at once with the reason
    assert found["login.imap.ok"]["status"] == "pass"
    skipped = found["roundtrip.delivery.skipped"]
    assert "not sent" in skipped["summary"] and "filtered" in skipped["summary"], skipped["summary"]
    assert elapsed < 15, elapsed
    assert lab.password not in proc.stdout + proc.stderr


def test_missing_password_is_one_error_line(lab):
    proc = subprocess.run([MAILDOCTOR, "check", lab.user, "--nameserver", lab.resolver, "--password-env",
                           "MD_TEST_UNSET_VARIABLE", "--check", "login"], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "MD_TEST_UNSET_VARIABLE"},
                          stdin=subprocess.DEVNULL, timeout=30)
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "MD_TEST_UNSET_VARIABLE" in proc.stderr, proc.stderr


def _imap_search(lab, user, token, folder="INBOX", text=False):
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    ctx.check_hostname = False  # connecting by address
    with imaplib.IMAP4_SSL(lab.host("imap"), 993, ssl_context=ctx, timeout=5) as m:
        m.login(user, lab.password)
        status, _ = m.select(folder)
        if status != "OK":
            return []
        _, data = m.uid("SEARCH", "TEXT", token) if text else m.uid("SEARCH", "HEADER", "X-Maildoctor-Token", token)
        return data[0].split()
