"""OAuth 2.0 logins against the lab: Dovecot's oauth2 passdb (RFC 7662 introspection at the lab's
authorization server, tests/lab/authserver.py) with XOAUTH2 and OAUTHBEARER on IMAP, POP3 and, through
Postfix's Dovecot SASL, submission; the OAuth-only mailbox "modern"; `maildoctor login`'s device flow
end to end; and the proof that no access or refresh token leaks anywhere.
"""

import asyncio
import base64
import json
import os
import re
import select
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from diagnose.engine.credentials import OAUTH2, Credentials, Secret, oauthbearer_message, xoauth2_message
from diagnose.net.dialogue import Endpoint
from diagnose.net.mailsession import MailSession, Outcome

pytestmark = pytest.mark.lab
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
PORTS = [("submission", "smtp", 587), ("submission", "smtp", 465), ("mailbox", "imap", 143),
         ("mailbox", "imap", 993), ("mailbox", "imap", 110), ("mailbox", "imap", 995)]
GOODBYE = {587: "QUIT", 465: "QUIT", 143: "z LOGOUT", 993: "z LOGOUT", 110: "QUIT", 995: "QUIT"}


def mint(lab, user=None, **form):
    return lab.oauth_admin("mint", user=user or lab.account("modern"), **form)


def login(lab, host, port, creds, role="mailbox"):
    ep = Endpoint(role, lab.hostname(host), lab.host(host), port)

    async def go():
        session = MailSession(ep, creds, timeout=3, ca_file=lab.ca_file)
        try:
            return await session.login()
        finally:
            await session.close(GOODBYE[port])

    return asyncio.run(go())


def token_creds(lab, token, user=None):
    return Credentials(user or lab.account("modern"), Secret(token), "test", OAUTH2)


def forms_of(user, *tokens):
    """Every way a token could show: plain, base64, and the XOAUTH2/OAUTHBEARER messages (with and
    without base64 padding)."""
    out = set()
    for t in tokens:
        for raw in (t, xoauth2_message(user, t), oauthbearer_message(user, t)):
            b64 = base64.b64encode(raw.encode()).decode()
            out |= {b64, b64.rstrip("=")}
        out.add(t)
    return out


def cli(lab, *args, env=None, timeout=120):
    full = {**os.environ, "NO_COLOR": "1", **(env or {})}
    proc = subprocess.run([MAILDOCTOR, *args], capture_output=True, text=True, timeout=timeout, env=full,
                          stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def check_args(lab, address, *extra, checks=("servers", "login"), fmt="json"):
    args = ["check", address, "--nameserver", lab.resolver, "--ca-file", str(lab.ca_file), "--timeout", "3",
            "--format", fmt]
    for c in checks:
        args += ["--check", c]
    return [*args, *extra]


@pytest.mark.parametrize("role,host,port", PORTS)
def test_token_logs_in_on_every_port(lab, role, host, port):
    # Given a fresh access token for the OAuth-only mailbox
    token = mint(lab)["access_token"]
    # When maildoctor logs in with it on this port
    r = login(lab, host, port, token_creds(lab, token), role)
    # Then the server accepts it with an OAuth mechanism, over TLS, and the transcript hides the token
    assert r.outcome is Outcome.OK, (r.words, r.transcript)
    assert r.mechanism.endswith(("OAUTHBEARER", "XOAUTH2")) and r.tls_version, r
    text = "\n".join(r.transcript)
    assert not any(f in text for f in forms_of(lab.account("modern"), token)), text
    assert "****" in text


@pytest.mark.parametrize("host,port,role", [("imap", 995, "mailbox"), ("imap", 993, "mailbox"),
                                            ("smtp", 587, "submission")])
def test_long_tokens_like_microsofts(lab, host, port, role):
    # Given an access token of about 2,700 characters (Entra ID's are JWTs of that size)
    token = mint(lab, size=2000)["access_token"]
    assert len(token) > 2600
    r = login(lab, host, port, token_creds(lab, token), role)
    assert r.outcome is Outcome.OK, (r.words, r.transcript)
    if port in (995, 587):  # RFC 5034 (POP3: 255 octets), RFC 4954 (SMTP: 512): the response after "+" / 334
        assert "C: AUTH OAUTHBEARER" in r.transcript and "C: ****" in r.transcript, r.transcript
    assert not any(f in "\n".join(r.transcript) for f in forms_of(lab.account("modern"), token))


@pytest.mark.parametrize("port", [587, 465])
def test_xoauth2_where_it_is_the_only_mechanism(lab, port):
    # Given the submission host that offers only XOAUTH2 (as Exchange Online)
    token = mint(lab)["access_token"]
    r = login(lab, "oauthsmtp", port, token_creds(lab, token), "submission")
    assert r.outcome is Outcome.OK and r.mechanism == "XOAUTH2" and r.offered == ["XOAUTH2"], (r.words, r.offered)
    # and a refused token there: the XOAUTH2 error challenge is answered with an empty line
    bad = mint(lab, expires_in=-30)["access_token"]
    r = login(lab, "oauthsmtp", port, token_creds(lab, bad), "submission")
    assert r.outcome is Outcome.TOKEN_REJECTED and r.challenge.get("status") == "401", (r.words, r.transcript)
    assert "C: " in r.transcript, r.transcript  # the empty answer line


@pytest.mark.parametrize("role,host,port", [PORTS[0], PORTS[3], PORTS[5]])
@pytest.mark.parametrize("spoil", ["expired", "revoked"])
def test_expired_or_revoked_token_is_told_as_a_token_problem(lab, role, host, port, spoil):
    # Given a token that has expired (negative lifetime) or was revoked at the authorization server
    if spoil == "expired":
        token = mint(lab, expires_in=-30)["access_token"]
    else:
        token = mint(lab)["access_token"]
        lab.oauth_admin("revoke", token=token)
    # When maildoctor logs in with it
    r = login(lab, host, port, token_creds(lab, token), role)
    # Then the refusal is about the token, with Dovecot's error challenge decoded (status 401)
    assert r.outcome is Outcome.TOKEN_REJECTED, (r.outcome, r.words, r.transcript)
    assert r.challenge.get("status") == "401" or r.challenge.get("status") == "invalid_token", r.challenge


def test_token_of_another_user_is_refused(lab):
    token = mint(lab, user=lab.user)["access_token"]  # issued for user@, presented for modern@
    r = login(lab, "imap", 993, token_creds(lab, token))
    assert r.outcome is Outcome.TOKEN_REJECTED, (r.words, r.transcript)


def test_password_on_the_oauth_only_account_says_use_oauth(lab):
    # Given the OAuth-only mailbox and a password (the lab's, which would be right if passwords worked)
    proc = cli(lab, *check_args(lab, lab.account("modern"), "--password-env", "MD_PW", "--smtp-host",
                                lab.hostname("smtp"), "--smtp-host", lab.hostname("oauthsmtp")),
               env={"MD_PW": lab.password})
    rep = json.loads(proc.stdout)
    found = [f for f in rep["findings"] if f["check"].startswith("login.")]
    # Then every login (submission on both hosts, IMAP, POP3) says: no longer accepts passwords, use OAuth
    assert len(found) == 4, [(f["code"], f["summary"]) for f in found]
    for f in found:
        assert f["code"].endswith(".oauth_required") and f["status"] == "fail", (f["code"], f["summary"])
        assert "no longer accepts passwords: use OAuth" in f["summary"], f["summary"]
        assert "wrong" not in f["summary"].lower()
    only = next(f for f in found if f["subject"].startswith(lab.hostname("oauthsmtp")))
    assert "offers only OAuth" in only["summary"], only["summary"]  # never sent: none of its mechanisms take one
    assert not any(line.startswith("C: AUTH") for line in only["evidence"]["transcript"])


def test_cli_token_env_and_cmd_pass_and_never_show_the_token(lab, tmp_path):
    # Given a token in a variable, and a token command that prints another one (from a file)
    token, other = mint(lab)["access_token"], mint(lab)["access_token"]
    (tmp_path / "tok").write_text(other + "\n")
    user = lab.account("modern")
    secrets_ = forms_of(user, token, other)
    outputs = {}
    for fmt in ("text", "json", "html", "markdown"):
        proc = cli(lab, *check_args(lab, user, "-v", "--oauth2-token-env", "MD_TOK", fmt=fmt), env={"MD_TOK": token})
        assert proc.returncode == 0, (fmt, proc.stdout[-2000:], proc.stderr)
        outputs[f"env {fmt}"] = proc.stdout + proc.stderr
    # ... and while the command-token run goes, nothing in the process list carries the token
    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            for d in Path("/proc").iterdir():
                try:
                    if other.encode() in (d / "cmdline").read_bytes() or other.encode() in (d / "environ").read_bytes():
                        seen.append(d.name)
                except OSError:
                    pass
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        saved = tmp_path / "run.json"
        proc = cli(lab, *check_args(lab, user, "-v", "--oauth2-token-cmd", f"cat {tmp_path / 'tok'}", "-o",
                                    str(saved)))
    finally:
        stop.set()
        watcher.join()
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr)
    assert seen == [], seen
    outputs["cmd"] = proc.stdout + proc.stderr + saved.read_text()
    rep = json.loads(saved.read_text())
    assert {f["code"] for f in rep["findings"]} >= {"login.smtp.ok", "login.imap.ok", "login.pop3.ok"}
    assert "REDACTED" in " ".join(rep["meta"]["command"])  # the token command itself is not in the report
    # the servers' logs too (Dovecot, Postfix, the authorization server's): nothing maildoctor sent is logged
    for log in ("dovecot/dovecot.log", "postfix/maillog", "launch-oauth.log"):
        path = lab.workdir / log
        outputs[log] = path.read_text(errors="replace") if path.exists() else ""
    for where, text in outputs.items():
        leaked = [f[:12] for f in secrets_ if f in text]
        assert not leaked, (where, leaked)


def test_device_flow_end_to_end_then_check_and_roundtrip_with_the_cached_login(lab, tmp_path):
    # Given a custom provider: the lab's authorization server, and a private config directory
    o = lab.oauth
    user = lab.account("modern")
    env = {**os.environ, "NO_COLOR": "1", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    args = [MAILDOCTOR, "login", "--provider", "lab", "--client-id", o["client_id"], "--token-url",
            o["token_endpoint"], "--device-url", o["device_authorization_endpoint"], "--scope", "mail",
            "--user", user, "--nameserver", lab.resolver, "--ca-file", str(lab.ca_file), "--timeout", "3"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, env=env)
    try:
        # When the user reads the code maildoctor shows and approves it at the server
        ready, _, _ = select.select([proc.stderr], [], [], 20)
        assert ready, "no device code shown"
        shown = proc.stderr.readline()
        code = re.search(r"enter the code (\S+)", shown)
        assert code and o["issuer"] in shown, shown
        assert lab.oauth_admin("device", user_code=code.group(1), user=user)["approved"]
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    # Then the login completes and the refresh token is cached with mode 0600, never printed
    assert proc.returncode == 0, (out, err)
    cache = tmp_path / "config" / "maildoctor" / "oauth" / "lab.json"
    assert cache.stat().st_mode & 0o777 == 0o600 and cache.parent.stat().st_mode & 0o777 == 0o700
    refresh_token = json.loads(cache.read_text())["refresh_token"]
    assert refresh_token and refresh_token not in out + err + shown
    # And check --oauth2 lab logs in everywhere and the round trip runs with the refreshed token
    run = subprocess.run([MAILDOCTOR, *check_args(lab, user, "--oauth2", "lab", "--roundtrip", "--roundtrip-timeout",
                                                  "20", "-v", checks=("servers", "login", "roundtrip"))],
                         capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    rep = json.loads(run.stdout)
    by_code = {f["code"]: f for f in rep["findings"]}
    assert {"login.smtp.ok", "login.imap.ok", "login.pop3.ok"} <= set(by_code), list(by_code)
    assert any(c.startswith("roundtrip.") and f["status"] == "pass" for c, f in by_code.items()), [
        (f["code"], f["status"], f["summary"]) for f in rep["findings"] if f["check"] == "roundtrip"]
    assert refresh_token not in run.stdout + run.stderr
    assert not any(f in run.stdout + run.stderr for f in forms_of(user, refresh_token))
    # And a refresh token the provider revoked stops the run with the provider's reason in plain words
    lab.oauth_admin("revoke", token=refresh_token)
    revoked = subprocess.run([MAILDOCTOR, *check_args(lab, user, "--oauth2", "lab")], capture_output=True,
                             text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert revoked.returncode == 3 and "could not be refreshed" in revoked.stderr, revoked.stderr
    assert "invalid_grant" in revoked.stderr and "maildoctor login again" in revoked.stderr
    assert refresh_token not in revoked.stderr + revoked.stdout
    # And --forget deletes it; a check that needs it then stops with a clear message
    assert subprocess.run([MAILDOCTOR, "login", "--provider", "lab", "--forget"], env=env, capture_output=True,
                          text=True).returncode == 0
    assert not cache.exists()
    again = subprocess.run([MAILDOCTOR, *check_args(lab, user, "--oauth2", "lab")], capture_output=True, text=True,
                           env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert again.returncode == 3 and "no cached login for lab" in again.stderr, again.stderr


def test_browser_flow_with_pkce_on_loopback(lab, tmp_path):
    # Given the loopback flow, with the test playing the browser: it opens the address maildoctor shows
    from diagnose.app.oauth import Net, Provider, browser_flow
    from diagnose.net.resolver import parse_nameserver

    o = lab.oauth
    provider = Provider("lab", o["token_endpoint"], "", o["authorization_endpoint"], ("mail",), "browser")
    context = ssl.create_default_context(cafile=str(lab.ca_file))

    def browser(text):
        url = text.split("\n")[-1]
        path = url.split(lab.hostname("idp"), 1)[1]

        def go():
            import http.client

            conn = http.client.HTTPSConnection(lab.host("idp"), 443, context=context, timeout=5)
            conn.sock = context.wrap_socket(__import__("socket").create_connection((lab.host("idp"), 443), 5),
                                            server_hostname=lab.hostname("idp"))
            conn.request("GET", path, headers={"Host": lab.hostname("idp")})
            location = conn.getresponse().getheader("Location")
            assert location and location.startswith("http://127.0.0.1:"), location
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            opener.open(location, timeout=5).read()

        threading.Thread(target=go, daemon=True).start()

    net = Net([parse_nameserver(lab.resolver)], Path(lab.ca_file), 3)
    access, refresh = browser_flow(provider, o["client_id"], net, announce=browser, login_hint=lab.account("modern"),
                                   max_wait=20)
    # Then the code came back to the loopback listener, PKCE verified, and the token logs in
    assert refresh
    r = login(lab, "imap", 993, token_creds(lab, access.reveal()))
    assert r.outcome is Outcome.OK, r.words


def test_oauth_works_on_imap_while_smtp_auth_is_disabled_told_apart(lab):
    # Given a mailbox whose SMTP AUTH is switched off (Microsoft's 5.7.139 words) and a good token for it
    user = lab.account("nosmtp")
    token = mint(lab, user=user)["access_token"]
    proc = cli(lab, *check_args(lab, user, "--oauth2-token-env", "MD_TOK"), env={"MD_TOK": token})
    found = {f["check"]: f for f in json.loads(proc.stdout)["findings"] if f["check"].startswith("login.")}
    # Then IMAP and POP3 log in with the token, and submission says SMTP AUTH is off (not a bad token)
    assert found["login.imap"]["code"] == "login.imap.ok" and found["login.pop3"]["code"] == "login.pop3.ok"
    smtp = found["login.smtp"]
    assert smtp["code"] == "login.smtp.smtp_auth_disabled", (smtp["code"], smtp["summary"])
    assert "SMTP AUTH" in smtp["explanation"] and "IMAP" in smtp["explanation"]
    assert "token" not in smtp["summary"].lower()
