"""`maildoctor serve` with an OAuth 2.0 access token instead of a password, against the lab's
authorization server and its OAuth-enabled Dovecot and Postfix: the token logs in on the submission
and IMAP ports through the web form, and neither it nor its base64 forms go anywhere."""

from __future__ import annotations

import json

import pytest

from diagnose.web.pages import FORMATS
from tests.test_oauth_lab import forms_of, mint
from tests.web.server import Serve, lab_args

pytestmark = pytest.mark.lab


def test_a_token_typed_in_the_form_logs_in_and_is_never_stored_logged_or_shown(lab, tmp_path):
    # Given a fresh access token for the lab's OAuth-only mailbox (it has no password at all)
    user = lab.account("modern")
    token = mint(lab)["access_token"]
    secrets_ = forms_of(user, token)
    with Serve(tmp_path, *lab_args(lab, "--allow-private"), nameserver=lab.resolver) as server:
        c = server.client()
        form = c.get("/").body
        assert 'name="secret_kind" value="oauth2"' in form
        # When the form is sent with the token as the secret and "an OAuth 2.0 access token" chosen
        reply = c.post_form("/run", {"csrf": c.csrf(), "target": user, "user": user, "password": token,
                                     "secret_kind": "oauth2", "check": ["login", "servers"]})
        assert reply.status == 303, reply.body[:500]
        run = reply.header("location")
        events = c.events(run)
        pages = [run, reply.body, json.dumps(events), c.get(run).body,
                 c.get("/history").body]
        downloads = {fmt: c.get(f"{run}/download/{fmt}").body for fmt in FORMATS}
        # ... and a form sent back (a bad target) keeps the choice but never the token
        again = c.post_form("/run", {"csrf": c.csrf(), "target": "no such thing", "user": user, "password": token,
                                     "secret_kind": "oauth2"})
        assert again.status == 400 and 'value="oauth2" id="kind-oauth2" checked' in again.body, again.body[-2000:]
        pages.append(again.body)
    # Then the login passed with an OAuth mechanism on submission and IMAP (the mailbox knows no password)
    report = json.loads(downloads["json"])
    logins = {f["check"]: f for f in report["findings"] if f["check"].startswith("login.")}
    for check in ("login.smtp", "login.imap"):
        assert logins.get(check, {}).get("status") == "pass", [(f["code"], f["summary"]) for f in logins.values()]
    said = json.dumps([f for f in report["findings"] if f["check"] in ("login.smtp", "login.imap")])
    assert "OAUTHBEARER" in said or "XOAUTH2" in said, said
    # ... and the token, plain or in base64 (the XOAUTH2 and OAUTHBEARER messages), is nowhere:
    # not in the history file, the server's log, any page, the event stream or any download
    stored = b"".join(p.read_bytes() for p in server.db.parent.glob("serve.sqlite3*"))
    assert stored and server.log
    everything = {"log": server.log, **{f"page {i}": p for i, p in enumerate(pages)},
                  **{f"download {fmt}": body for fmt, body in downloads.items()}}
    for secret in secrets_:
        assert secret.encode() not in stored
        assert not [where for where, text in everything.items() if secret in text]
    assert all(body.strip() for body in downloads.values())
