"""`maildoctor serve` over HTTP, without the lab: who may use it, CSRF, CSP, escaping, rate limits,
the history; a real uvicorn on a loopback port (tests/web/server.py), runs asking a dead resolver."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time

import pytest

from diagnose.web.store import Entry, History
from tests.web.server import MAILDOCTOR, Serve, free_port

TOKEN = "s3cret-token-for-tests-0123456789"


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    with Serve(tmp_path_factory.mktemp("serve-open"), "--rate", "3") as server:
        yield server


def test_every_page_has_a_strict_csp_and_no_inline_script_or_style(open_server):
    c = open_server.client()
    for path in ("/", "/history", "/history?q=x", "/login", "/r/" + "A" * 22):
        reply = c.get(path, headers={"Accept": "text/html"})
        csp = reply.header("content-security-policy")
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
        assert reply.header("x-content-type-options") == "nosniff"
        assert reply.header("referrer-policy") == "same-origin"
        if reply.header("content-type").startswith("text/html"):
            # every <script> is a static file; no inline handlers, no style attributes or blocks
            assert not re.search(r"<script(?![^>]*\bsrc=)", reply.body), reply.body
            assert not re.search(r"\son[a-z]+=|\sstyle=|<style", reply.body), reply.body
    js = c.get("/static/live.js")
    assert js.status == 200 and "EventSource" in js.body
    # the live page sets server text as text only: no HTML sinks in its script
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function", js.body)


def test_the_form_needs_its_csrf_value_and_our_origin(open_server):
    # Given a browser that loaded the form (it has the CSRF cookie)
    c = open_server.client()
    token = c.csrf()
    # When a post leaves the hidden field out, or carries another value, or comes from another site
    missing = c.post_form("/run", {"target": "example.com"})
    wrong = c.post_form("/run", {"target": "example.com", "csrf": token[::-1]})
    foreign = c.post_form("/run", {"target": "example.com", "csrf": token},
                          headers={"Origin": "http://evil.example"})
    fresh = open_server.client().post_form("/run", {"target": "example.com", "csrf": token})  # no cookie
    # Then each is refused and nothing starts
    for reply in (missing, wrong, foreign, fresh):
        assert reply.status == 403, (reply.status, reply.body)
        assert "CSRF" in reply.body
    assert "started" not in open_server.log


def test_names_of_private_networks_and_address_literals_are_refused_before_any_lookup(open_server):
    c = open_server.client()
    for target in ("printer.local", "10.0.0.1", "mail.corp", "you@intranet.internal", "1.0.0.127.in-addr.arpa"):
        reply = c.post_form("/run", {"target": target, "csrf": c.csrf()})
        assert reply.status == 400, (target, reply.status)
        assert "public mail domains only" in reply.body or "IP address" in reply.body, reply.body
    bad = c.post_form("/run", {"target": "<script>alert(1)</script>", "csrf": c.csrf()})
    assert bad.status == 400 and "bad target" in bad.body
    assert "<script>alert" not in bad.body and "&lt;script&gt;" in bad.body  # echoed escaped


def test_a_client_is_rate_limited_and_a_run_without_resolver_says_why(tmp_path):
    with Serve(tmp_path, "--rate", "2") as server:
        c = server.client()
        first = c.start("example.com")
        c.start("example.org")
        third = c.post_form("/run", {"target": "example.net", "csrf": c.csrf()})
        assert third.status == 429, third.body
        assert int(third.header("retry-after")) > 0
        # the runs that started ask the dead resolver and end with the reason, not a hang
        events = c.events(first, timeout=60)
        kinds = [k for k, _ in events]
        assert kinds[0] == "queued" and kinds[-1] == "end", kinds
        failed = dict(events)["failed"]
        assert "resolver" in failed["message"].lower() or "dns" in failed["message"].lower(), failed


def test_with_a_token_nothing_works_without_it_and_it_is_never_echoed(tmp_path):
    with Serve(tmp_path, "--token-env", "MD_TEST_TOKEN", env={"MD_TEST_TOKEN": TOKEN}) as server:
        c = server.client()
        # a browser is sent to the login form; a script gets 401
        page = c.get("/", headers={"Accept": "text/html"})
        assert page.status == 303 and page.header("location") == "/login"
        assert c.get("/history").status == 401
        assert c.post_form("/run", {"target": "example.com"}).status == 401
        assert c.get("/r/" + "A" * 22 + "/events").status == 401
        # a wrong token is refused
        c.get("/login", headers={"Accept": "text/html"})
        wrong = c.post_form("/login", {"csrf": c.cookies["md_csrf"], "token": "not-the-token-at-all"})
        assert wrong.status == 401
        # the right one gives a session cookie that is not the token
        ok = c.post_form("/login", {"csrf": c.cookies["md_csrf"], "token": TOKEN})
        assert ok.status == 303, ok.body
        session = c.cookies["md_session"]
        assert TOKEN not in session and "HttpOnly" in ok.header("set-cookie")
        assert c.get("/", headers={"Accept": "text/html"}).status == 200
        # a tampered session is refused
        other = server.client()
        other.cookies["md_session"] = session[:-1] + ("0" if session[-1] != "0" else "1")
        assert other.get("/history").status == 401
        # a script sends the token as a bearer header (never in the URL)
        bearer = server.client().get("/history", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status == 200
    assert TOKEN not in server.log


def test_the_auth_header_of_a_proxy_is_required_when_named(tmp_path):
    with Serve(tmp_path, "--auth-header", "X-Remote-User") as server:
        c = server.client()
        assert c.get("/history").status == 401
        assert c.get("/history", headers={"X-Remote-User": "alice"}).status == 200


def run_cli(*argv, **kw):
    return subprocess.run([MAILDOCTOR, *argv], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          **kw)


def test_beyond_loopback_it_refuses_to_start_without_a_token(tmp_path):
    # Given no token and no proxy header, When asked to listen on every address
    port = free_port()
    proc = run_cli("serve", "--host", "0.0.0.0", "--port", str(port), "--db", str(tmp_path / "h.sqlite3"))
    # Then it does not start, says what to do, and exits 3 without listening
    assert proc.returncode == 3, proc.stderr
    assert "refusing to listen on 0.0.0.0" in proc.stderr and "--token-env" in proc.stderr, proc.stderr
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    # a token on the command line is not taken (it would show in the process list)
    proc = run_cli("serve", "--host", "0.0.0.0", "--token-env", TOKEN)
    assert proc.returncode == 3 and "NAME of an environment variable" in proc.stderr, proc.stderr
    assert TOKEN not in proc.stderr
    # a short token is refused
    proc = run_cli("serve", "--host", "0.0.0.0", "--token-env", "MD_SHORT", env={"MD_SHORT": "short", "PATH": "/bin"})
    assert proc.returncode == 3 and "at least 16 characters" in proc.stderr, proc.stderr


def test_any_loopback_address_needs_no_token(tmp_path):
    with Serve(tmp_path, host="127.0.0.2") as server:
        assert server.client().get("/history").status == 200


def test_without_the_web_extra_it_says_how_to_install():
    code = ("import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None\n"
            "from diagnose.app.cli import main; main(['serve'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert "pip install 'maildoctor[web]'" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_history_lists_escaped_searches_by_domain_and_forgets_old_reports(tmp_path):
    # Given a history with a hostile headline, two domains and one report past the retention period
    db = tmp_path / "serve.sqlite3"
    history = History(db, keep_days=2)
    now = time.time()
    history.add(Entry("a" * 22, now - 60, "alpha.example", "alpha.example", "fail",
                      '<script>alert("x")</script> broken'), "{}")
    history.add(Entry("b" * 22, now - 30, "beta.example", "you@beta.example", "pass", "fine"), "{}")
    history.add(Entry("c" * 22, now - 3 * 86400, "alpha.example", "alpha.example", "warn", "old one"), "{}")
    history.close()
    with Serve(tmp_path, "--keep-days", "2") as server:
        c = server.client()
        listed = c.get("/history")
        assert listed.status == 200
        assert "<script>alert" not in listed.body and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in listed.body
        assert "you@beta.example" in listed.body and "old one" not in listed.body  # expired: gone
        alpha = c.get("/history?q=ALPHA")
        assert "alpha.example" in alpha.body and "beta.example" not in alpha.body
        assert c.get("/r/" + "c" * 22).status == 404
    # the start of the server deleted the expired row from the file itself
    assert [e.id for e in History(db, keep_days=3650).search("")] == ["b" * 22, "a" * 22]


def test_runs_are_capped_queued_and_bounded_by_their_timeouts(tmp_path):
    # Given a resolver that never answers (a bound UDP socket that reads nothing) and one run slot
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        resolver = f"127.0.0.1:{silent.getsockname()[1]}"
        with Serve(tmp_path, "--max-runs", "1", "--rate", "100", "--timeout", "1", nameserver=resolver) as server:
            c = server.client()
            started = time.monotonic()
            runs = [c.start(f"d{n}.example.com") for n in range(5)]  # 1 running + 4 waiting (4 x --max-runs)
            # When one more comes, Then the server says it is full instead of queueing without end
            full = c.post_form("/run", {"target": "d5.example.com", "csrf": c.csrf()})
            assert full.status == 503 and "try again" in full.body, full.status
            # and every run ends, with the reason, within its time budget (one after the other)
            for run in runs:
                events = dict(c.events(run, timeout=60))
                assert "failed" in events and "end" in events, events
            assert time.monotonic() - started < 5 * 15, "runs outlived their timeouts"
            assert server.client().start("d6.example.com")  # room again


def test_without_authentication_only_a_loopback_host_is_answered(open_server):
    # a page elsewhere re-pointed at 127.0.0.1 (DNS rebinding) sends its own name as Host
    c = open_server.client()
    rebound = c.get("/", headers={"Host": f"attacker.example:{open_server.port}"})
    assert rebound.status == 421, rebound.status
    for host in (f"127.0.0.1:{open_server.port}", f"localhost:{open_server.port}", "[::1]:8025", "127.0.0.1"):
        assert c.get("/history", headers={"Host": host}).status == 200, host


def test_an_unusable_history_file_is_one_line_not_a_traceback(tmp_path):
    (tmp_path / "not-a-dir").write_text("x")
    proc = run_cli("serve", "--port", str(free_port()), "--db", str(tmp_path / "not-a-dir" / "h.sqlite3"))
    assert proc.returncode == 3 and "cannot open the history" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    proc = run_cli("serve", "--port", str(free_port()), "--db", str(garbage))
    assert proc.returncode == 3 and "cannot open the history" in proc.stderr, proc.stderr


def test_a_login_without_password_asks_for_it_in_the_form_words(open_server):
    c = open_server.client()
    reply = c.post_form("/run", {"csrf": c.csrf(), "target": "you@example.com", "user": "you@example.com",
                                 "dkim_selector": "default, google"})
    assert reply.status == 400, reply.body
    assert "no password for you@example.com: give the password in the form" in reply.body, reply.body
    assert 'value="default, google"' in reply.body and 'value="you@example.com"' in reply.body  # kept for a retry


def test_a_port_in_use_or_a_bad_option_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = run_cli("serve", "--port", str(taken.getsockname()[1]), "--db", str(tmp_path / "h.sqlite3"))
    assert proc.returncode == 3 and "cannot listen on 127.0.0.1:" in proc.stderr, proc.stderr
    for argv, words in ((["--port", "0"], "--port must be"), (["--keep-days", "0"], "--keep-days must be"),
                        (["--nameserver", "bogus"], "bad nameserver"), (["--timeout", "0"], "--timeout must be"),
                        (["--auth-header", "X Bad"], "--auth-header takes")):
        proc = run_cli("serve", *argv)
        assert proc.returncode == 3 and words in proc.stderr and "Traceback" not in proc.stderr, (argv, proc.stderr)


def test_an_oauth_token_left_empty_or_malformed_is_said_in_the_form_words_and_never_echoed(tmp_path):
    # Given the form with "an OAuth 2.0 access token" chosen
    bad = "not a token \u00e9 " + TOKEN
    with Serve(tmp_path) as server:
        c = server.client()
        assert 'name="secret_kind" value="password" id="kind-password" checked' in c.get("/").body
        form = {"target": "you@example.com", "user": "you@example.com", "secret_kind": "oauth2"}
        # When the token field is left empty, or holds what cannot be a bearer token (RFC 6750)
        empty = c.post_form("/run", {"csrf": c.csrf(), **form})
        malformed = c.post_form("/run", {"csrf": c.csrf(), **form, "password": bad})
    # Then each is sent back with the choice kept, saying what is missing or wrong, without the value
    assert empty.status == 400 and "no access token for you@example.com: give the access token in the form" \
        in empty.body, empty.body
    assert malformed.status == 400 and "the access token typed in the form is not an access token" in malformed.body
    for reply in (empty, malformed):
        assert 'value="oauth2" id="kind-oauth2" checked' in reply.body
    assert TOKEN not in malformed.body and TOKEN not in server.log and "started" not in server.log
