"""The pure parts of OAuth logins: what Microsoft 365's and Gmail's recorded answers mean, the SASL
messages, the secret forms a token is scrubbed in, the token sources' rules, the cache file, PKCE."""

import base64
import hashlib
import json
import os
import stat

import pytest

from checks.login.base import LoginCheck, login_texts
from diagnose.app.oauth import CachedLogin, OAuthError, Provider, cache_dir, forget, pkce_pair, preset, run_token_cmd
from diagnose.engine.credentials import (
    OAUTH2,
    CredentialError,
    CredentialRequest,
    Credentials,
    Secret,
    resolve,
    sasl_oauth_response,
    scrub,
)
from diagnose.knowledge.authreply import (
    Outcome,
    explain_challenge,
    imap_outcome,
    oauth_challenge,
    password_mechanisms_offered,
    pop_outcome,
    smtp_outcome,
)
from diagnose.knowledge.replies import SmtpReply
from diagnose.knowledge.tokenerrors import explain_token_error
from diagnose.net.oauthhttp import https_parts

TOKEN = "ya29.a0AfB_byC-token.value_123"


def smtp(code, text, token=False):
    return smtp_outcome(SmtpReply(code, [text]), True, token=token)


# -- recorded provider answers (the replies quoted in issue 15) ------------------------------------
@pytest.mark.parametrize("code,text,token,expected", [
    # Exchange Online after basic auth for client submission is off (MC786329)
    (550, "5.7.30 Basic authentication is not supported for Client Submission", False, Outcome.OAUTH_REQUIRED),
    (535, "5.7.139 Authentication unsuccessful, basic authentication is disabled. [DM6PR06CA0060.namprd06.prod]",
     False, Outcome.OAUTH_REQUIRED),
    (535, "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit "
          "https://aka.ms/smtp_auth_disabled for more information.", False, Outcome.SMTP_AUTH_DISABLED),
    (535, "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.", True,
     Outcome.SMTP_AUTH_DISABLED),
    (535, "5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy.",
     False, Outcome.SMTP_AUTH_DISABLED),
    (535, "5.7.3 Authentication unsuccessful", False, Outcome.REJECTED),
    (535, "5.7.3 Authentication unsuccessful", True, Outcome.TOKEN_REJECTED),
    (535, "5.7.8 Error: authentication failed: (reason unavailable)", True, Outcome.TOKEN_REJECTED),
    (535, "5.7.8 Username and Password not accepted. For more information, go to", False, Outcome.REJECTED),
    # Gmail
    (534, "5.7.9 Application-specific password required. For more information, go to", False, Outcome.APP_PASSWORD),
    (534, "5.7.14 <https://accounts.google.com/signin/continue?sarp=1> Please log in via your web browser and",
     False, Outcome.WEB_LOGIN),
    (535, "5.7.8 Username and Password not accepted. Learn more at https://support.google.com/mail/?p=BadCredentials",
     True, Outcome.TOKEN_REJECTED),
])
def test_recorded_smtp_answers(code, text, token, expected):
    assert smtp(code, text, token) is expected


def test_client_not_authenticated_5_7_57_is_not_a_login_answer_but_explained():
    # 5.7.57 comes at MAIL FROM (sending without a login), not as the AUTH answer: the reply explainer names it
    from diagnose.knowledge.smtpcodes import explain_reply

    said = explain_reply(530, "5.7.57 Client not authenticated to send mail. Error: 535 5.7.139 Authentication "
                              "unsuccessful, the request did not meet the criteria to be authenticated successfully.")
    assert "not authenticated to send mail" in said and "SMTP AUTH" in said, said
    assert "OAuth" in explain_reply(550, "5.7.30 Basic authentication is not supported for Client Submission")


@pytest.mark.parametrize("status,alerts,token,expected", [
    ("NO AUTHENTICATE failed.", (), False, Outcome.REJECTED),
    ("NO AUTHENTICATE failed.", (), True, Outcome.TOKEN_REJECTED),
    ("NO [ALERT] Authentication unsuccessful, basic authentication is disabled.", (), False, Outcome.OAUTH_REQUIRED),
    ("NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", ("Please log in via your web browser: "
     "https://support.google.com/mail/accounts/answer/78754 (Failure)",), False, Outcome.WEB_LOGIN),
    ("NO [ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 "
     "(Failure)", (), False, Outcome.APP_PASSWORD),
    ("NO [WEBALERT https://accounts.google.com/signin/continue?sarp=1] Web login required.", (), False,
     Outcome.WEB_LOGIN),
    ("OK Logged in", (), True, Outcome.OK),
])
def test_recorded_imap_answers(status, alerts, token, expected):
    assert imap_outcome(status, True, token=token, alerts=alerts) is expected


def test_pop_basic_auth_off_and_token():
    assert pop_outcome("-ERR [AUTH] Authentication unsuccessful, basic authentication is disabled.", True) \
        is Outcome.OAUTH_REQUIRED
    assert pop_outcome("-ERR Logon failure: unknown user name or bad password.", True, token=True) \
        is Outcome.TOKEN_REJECTED


def test_gmail_xoauth2_challenge_is_decoded_and_explained():
    # Gmail's 334 after a refused XOAUTH2 (base64 JSON)
    text = base64.b64encode(b'{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}').decode()
    challenge = oauth_challenge(text)
    assert challenge == {"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"}
    said = explain_challenge(challenge)
    assert "not accepted" in said and "https://mail.google.com/" in said
    # RFC 7628 §3.2.2 OAUTHBEARER error
    rfc = base64.b64encode(b'{"status":"invalid_token","scope":"example_scope"}').decode()
    assert "expired, revoked" in explain_challenge(oauth_challenge(rfc))
    assert oauth_challenge("not base64 !") == {} and oauth_challenge(base64.b64encode(b"[1]").decode()) == {}


@pytest.mark.parametrize("description,codes,number,words", [
    ("AADSTS65001: The user or administrator has not consented to use the application with ID 'x'.", [], "65001",
     "consent"),
    ("AADSTS50076: Due to a configuration change made by your administrator, ... you must use multi-factor "
     "authentication to access", [50076], "50076", "multi-factor"),
    ("AADSTS50079: Due to a configuration change ... the user is required to enroll in multi-factor", [], "50079",
     "register"),
    ("AADSTS7000112: Application 'x'(maildoctor) is disabled.", [], "7000112", "disabled"),
    ("AADSTS700016: Application with identifier 'x' was not found in the directory 'contoso'.", [], "700016",
     "not found"),
    ("AADSTS7000215: Invalid client secret provided.", [], "7000215", "secret"),
    ("AADSTS700082: The refresh token has expired due to inactivity.", [], "700082", "refresh token has expired"),
    ("", [65001], "65001", "consent"),
])
def test_aadsts_errors_in_plain_words(description, codes, number, words):
    err = explain_token_error("invalid_grant", description, codes)
    assert err.aadsts == number and words in err.meaning, err
    assert f"AADSTS{number}" in err.message()


def test_standard_token_errors():
    assert "expired" in explain_token_error("expired_token").meaning
    assert "declined" in explain_token_error("access_denied").meaning
    assert explain_token_error("whatever").remedy


# -- the SASL messages and the secret forms --------------------------------------------------------
def test_sasl_messages():
    assert base64.b64decode(sasl_oauth_response("XOAUTH2", "a@b.c", "T")) == b"user=a@b.c\x01auth=Bearer T\x01\x01"
    assert base64.b64decode(sasl_oauth_response("OAUTHBEARER", "a,b=c", "T")) == \
        b"n,a=a=2Cb=3Dc,\x01auth=Bearer T\x01\x01"


def test_token_and_its_base64_forms_are_scrubbed():
    creds = Credentials("bob@example.com", Secret(TOKEN), "env", OAUTH2)
    xo = sasl_oauth_response("XOAUTH2", creds.user, TOKEN)
    ob = sasl_oauth_response("OAUTHBEARER", creds.user, TOKEN)
    plain_b64 = base64.b64encode(TOKEN.encode()).decode()
    text = f"C: AUTH XOAUTH2 {xo}\nS: echo {ob.rstrip('=')} {TOKEN} {plain_b64}"
    out = scrub(text, creds)
    for form in (TOKEN, xo, ob, ob.rstrip("="), plain_b64):
        assert form not in out, form
    assert out.count("****") == 4
    assert "****" in repr(creds) or TOKEN not in repr(creds)


def test_resolve_with_a_token_and_its_rules():
    req = CredentialRequest(oauth2_token_env="TOK")
    creds = resolve(req, address="bob@example.com", env={"TOK": f"  {TOKEN}\n"})
    assert creds and creds.outgoing.oauth2 and creds.incoming.password.reveal() == TOKEN
    assert creds.incoming.source == "environment variable TOK"
    with pytest.raises(CredentialError, match="not both"):
        resolve(CredentialRequest(oauth2_token_env="TOK", password_env="PW"), address="b@e.c", env={"TOK": "x"})
    with pytest.raises(CredentialError, match="not set"):
        resolve(req, address="b@e.c", env={})
    with pytest.raises(CredentialError, match="not an access token") as exc:
        resolve(req, address="b@e.c", env={"TOK": "two words"})
    assert "two words" not in str(exc.value)


def test_token_cmd_reads_the_first_line_from_a_pipe_and_fails_clearly(tmp_path):
    (tmp_path / "t").write_text(f"\n{TOKEN}\nsecond line\n")
    assert run_token_cmd(f"cat {tmp_path / 't'}", 2).reveal() == TOKEN
    with pytest.raises(CredentialError, match="exit status 3"):
        run_token_cmd(f"echo {TOKEN} >&2; exit 3", 2)
    with pytest.raises(CredentialError, match="printed no token"):
        run_token_cmd("true", 2)


def test_password_mechanisms():
    assert not password_mechanisms_offered(["XOAUTH2", "OAUTHBEARER"])
    assert password_mechanisms_offered(["SASL PLAIN", "SASL XOAUTH2"]) and password_mechanisms_offered(["USER"])


def test_every_login_outcome_has_texts():
    for p in ("smtp", "imap", "pop3"):
        texts = login_texts(p)
        for outcome in Outcome:
            if outcome is not Outcome.UNREACHABLE:
                assert f"login.{p}.{outcome.value}" in texts, outcome
        assert f"login.{p}.no_oauth" in texts
    assert LoginCheck  # the family base is importable without a lab


# -- the cache, presets, PKCE, URLs ---------------------------------------------------------------------
def test_cache_is_0600_under_xdg_config_home_and_forgotten(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    assert cache_dir(env) == tmp_path / "cfg" / "maildoctor" / "oauth"
    assert cache_dir({"XDG_CONFIG_HOME": "relative"}) == cache_dir({})  # the spec: relative paths are ignored
    login = CachedLogin(preset("microsoft", tenant="contoso.onmicrosoft.com"), "client", "bob@contoso.com", "R-T")
    path = login.save(env)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    back = CachedLogin.load("microsoft", env)
    assert back.refresh_token == "R-T" and back.provider.scopes[0] == "offline_access"
    assert "R-T" not in repr(back)
    assert "login.microsoftonline.com/contoso.onmicrosoft.com/" in back.provider.token_endpoint
    assert forget("microsoft", env) and not path.exists() and not forget("microsoft", env)
    with pytest.raises(OAuthError, match="no cached login"):
        CachedLogin.load("microsoft", env)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"provider": {}}))
    with pytest.raises(OAuthError, match="cannot read"):
        CachedLogin.load("microsoft", env)
    with pytest.raises(OAuthError, match="bad provider name"):
        CachedLogin.load("../etc", env)


def test_presets():
    ms = preset("microsoft")
    assert {"offline_access", "https://outlook.office.com/IMAP.AccessAsUser.All",
            "https://outlook.office.com/POP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send"} == set(ms.scopes)
    google = preset("google")
    assert google.scopes == ("https://mail.google.com/",) and google.flow == "browser"  # no mail scope in device flow
    with pytest.raises(OAuthError):
        preset("yahoo")
    assert isinstance(ms, Provider)


def test_pkce_s256():
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert challenge == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_https_parts():
    assert https_parts("https://login.example/t/oauth2/token?x=1") == ("login.example", 443, "/t/oauth2/token?x=1")
    for bad in ("http://login.example/token", "https://u:p@login.example/", "https://login.example/a b", "ftp://x"):
        with pytest.raises(ValueError):
            https_parts(bad)


# -- bad input: one clear line, exit 3, never a traceback ---------------------------------------------
def test_plan_token_sources_fail_clearly(tmp_path):
    from diagnose.app.plan import PlanError, Request, make_plan

    def plan(**login):
        return make_plan(Request(target="bob@example.test", nameservers=["192.0.2.54"],
                                 login=CredentialRequest(**login)), prompt=None)

    with pytest.raises(PlanError, match="exit status 7"):
        plan(oauth2_token_cmd="exit 7")
    with pytest.raises(PlanError, match="one source"):
        plan(oauth2_token_cmd="true", oauth2_provider="microsoft")
    with pytest.raises(PlanError, match="not both"):
        plan(oauth2_token_cmd="echo x", password_env="PW")
    env_before = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path)
    try:
        with pytest.raises(PlanError, match="no cached login for microsoft"):
            plan(oauth2_provider="microsoft")
    finally:
        if env_before is None:
            del os.environ["XDG_CONFIG_HOME"]
        else:
            os.environ["XDG_CONFIG_HOME"] = env_before
    (tmp_path / "t").write_text(TOKEN)
    creds = plan(oauth2_token_cmd=f"cat {tmp_path / 't'}").options.credentials
    assert creds.outgoing.oauth2 and creds.outgoing.source == "the output of --oauth2-token-cmd"
    assert TOKEN not in repr(creds)


@pytest.mark.parametrize("argv,said", [
    (["--provider", "yahoo", "--client-id", "x"], "unknown provider"),
    (["--provider", "microsoft"], "give --client-id"),
    (["--provider", "mine", "--client-id", "x", "--token-url", "http://idp.example/token", "--device-url",
      "https://idp.example/dev"], "https://"),
    (["--provider", "mine", "--client-id", "x", "--token-url", "https://idp.example/token"], "--device-url"),
    (["--provider", "microsoft", "--client-id", "x", "--flow", "magic"], "device or browser"),
    (["--provider", "microsoft", "--client-id", "x", "--tenant", "a/b"], "bad --tenant"),
    (["--provider", "microsoft", "--client-id", "x", "--timeout", "0"], "--timeout"),
    (["--provider", "google", "--client-id", "x", "--flow", "device"], "--flow browser"),
])
def test_login_bad_input(argv, said, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    proc = subprocess.run([str(Path(sys.executable).with_name("maildoctor")), "login", *argv], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)})
    assert proc.returncode == 3 and said in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
