"""The pure parts of `maildoctor serve`'s security (diagnose/web/security.py, settings.py, app.py):
rate windows, signed sessions, CSRF origins, the exposure rule, names refused before any lookup."""

from __future__ import annotations

import time

import pytest

from diagnose.engine.credentials import Secret
from diagnose.web import security
from diagnose.web.form import name_refused
from diagnose.web.settings import ServeSettings, SettingsError, check_exposure, is_loopback


def test_the_rate_limit_is_a_sliding_minute_per_client():
    now = [1000.0]
    limit = security.RateLimit(2, clock=lambda: now[0])
    assert limit.allow("a") == 0 and limit.allow("a") == 0
    wait = limit.allow("a")
    assert 59 < wait <= 60  # the third within the minute waits for the first to age out
    assert limit.allow("b") == 0  # another client is not held up
    now[0] += 60.5
    assert limit.allow("a") == 0


def test_the_rate_limit_forgets_the_oldest_clients_first(monkeypatch):
    monkeypatch.setattr(security.RateLimit, "MAX_CLIENTS", 3)
    limit = security.RateLimit(1)
    for client in "abcd":
        limit.allow(client)
    assert list(limit._seen) == ["b", "c", "d"]


def test_a_session_is_signed_with_the_token_and_expires():
    settings = ServeSettings(token=Secret("t" * 20))
    cookie = security.session_cookie(settings)
    assert security.valid_session(settings, cookie)
    assert "t" * 20 not in cookie
    assert not security.valid_session(ServeSettings(token=Secret("u" * 20)), cookie)  # another token
    body, _, sig = cookie.rpartition(".")
    nonce, _, _expiry = body.rpartition(".")
    old = f"{nonce}.{int(time.time()) - 1}"
    assert not security.valid_session(settings, f"{old}.{security._sign(settings, old)}")  # expired
    assert not security.valid_session(settings, "garbage") and not security.valid_session(settings, "")


@pytest.mark.parametrize("headers, ok", [
    ({}, True),  # no Origin (an old browser, curl with the cookie): the double submit decides
    ({b"origin": b"http://127.0.0.1:8025"}, True),
    ({b"origin": b"http://evil.example"}, False),
    ({b"origin": b"null"}, False),
    ({b"sec-fetch-site": b"cross-site"}, False),
])
def test_csrf_wants_the_cookie_echoed_and_our_origin(headers, ok):
    scope = {"scheme": "http", "headers": [(b"host", b"127.0.0.1:8025"), (b"cookie", b"md_csrf=abcdefgh12345678abcd"),
                                           *headers.items()]}
    assert security.csrf_ok(scope, "abcdefgh12345678abcd") is ok
    assert not security.csrf_ok(scope, "abcdefgh12345678abce")


def test_only_loopback_goes_without_authentication():
    for host in ("127.0.0.1", "127.9.8.7", "::1", "localhost"):
        assert is_loopback(host)
        check_exposure(ServeSettings(host=host))
    for host in ("0.0.0.0", "::", "192.0.2.1", "mail.example.com"):
        with pytest.raises(SettingsError, match="--token-env"):
            check_exposure(ServeSettings(host=host))
        check_exposure(ServeSettings(host=host, token=Secret("x" * 16)))
        check_exposure(ServeSettings(host=host, auth_header="X-Remote-User"))


@pytest.mark.parametrize("target, refused", [
    ("example.com", False), ("you@example.com", False), ("bücher.example", False),
    ("printer.local", True), ("you@corp.internal", True), ("localhost.localdomain.localhost", True),
    ("nas.lan", True), ("4.3.2.1.in-addr.arpa", True),  # (address literals: parse_target refuses them first)
])
def test_names_of_private_networks_are_refused(target, refused):
    assert (name_refused(target) is not None) is refused, name_refused(target)

