"""Who may use the page and how: authentication (a token or a proxy's header), CSRF, the strict
Content-Security-Policy and other headers, and per-client rate limits.

The token is never stored and never travels in a URL: a browser posts it once to /login and gets a
session cookie that is an HMAC made with it (so a cookie proves knowledge of the token without
holding it); a script sends ``Authorization: Bearer TOKEN``. CSRF: a random cookie that every form
echoes in a hidden field (double submit), plus the Origin check; SameSite=Strict cookies besides.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from diagnose.web.settings import ServeSettings, is_loopback

SESSION_COOKIE = "md_session"
CSRF_COOKIE = "md_csrf"
SESSION_MAX_AGE = 12 * 3600  # seconds a browser session lasts before the token is asked again
OPEN_PATHS = ("/login", "/static/", "/healthz")  # reachable before authentication

# scripts only from our own static files; styles from ours (the report's inline <style> is allowed by
# its hash, added per response); no frames, no plugins, no foreign connections, forms only to us
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'{styles}; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {
    "x-content-type-options": "nosniff",
    # a permanent link is a capability: no Referer carries it to another site ("no-referrer" would also
    # make the browser send "Origin: null" with our own forms, which the CSRF check must refuse)
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


def csp(style_hashes: tuple[str, ...] = ()) -> str:
    return CSP.format(styles="".join(f" 'sha256-{h}'" for h in style_hashes))


def style_hash(css: str) -> str:
    """The CSP hash of an inline <style> element whose content is ``css``."""
    return base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")


# -- authentication ---------------------------------------------------------------------------------
def session_cookie(settings: ServeSettings) -> str:
    """A fresh session cookie value: nonce.expiry.HMAC(token, nonce.expiry)."""
    assert settings.token is not None
    body = f"{secrets.token_urlsafe(16)}.{int(time.time()) + SESSION_MAX_AGE}"
    return f"{body}.{_sign(settings, body)}"


def _sign(settings: ServeSettings, body: str) -> str:
    assert settings.token is not None
    key = settings.token.reveal().encode("utf-8")
    return hmac.new(key, body.encode("ascii", "replace"), hashlib.sha256).hexdigest()


def valid_session(settings: ServeSettings, value: str) -> bool:
    body, _, sig = value.rpartition(".")
    expiry = body.rpartition(".")[2]
    if not (sig and expiry.isdigit()) or int(expiry) < time.time():
        return False
    return hmac.compare_digest(sig, _sign(settings, body))


def valid_token(settings: ServeSettings, given: str) -> bool:
    assert settings.token is not None
    return hmac.compare_digest(given.encode("utf-8"), settings.token.reveal().encode("utf-8"))


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def _cookie(scope: Scope, name: str) -> str:
    for part in _header(scope, b"cookie").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def identify(settings: ServeSettings, scope: Scope) -> tuple[bool, str, bool]:
    """(allowed, who, by_bearer): whether the request is authenticated, the client key for rate
    limits (the proxy's user, else the address), and whether a bearer token did it (no CSRF then)."""
    address = (scope.get("client") or ("?", 0))[0]
    if settings.auth_header:
        user = _header(scope, settings.auth_header.lower().encode("latin-1")).strip()
        return bool(user), f"user:{user}", False
    if settings.token is None:
        return True, f"addr:{address}", False
    auth = _header(scope, b"authorization")
    if auth[:7].lower() == "bearer " and valid_token(settings, auth[7:].strip()):
        return True, f"addr:{address}", True
    return valid_session(settings, _cookie(scope, SESSION_COOKIE)), f"addr:{address}", False


class Guard:
    """ASGI middleware: security headers on every response, authentication before every route
    but the login page and static files. Sets ``scope["state"]["client_key"]`` and ``bearer``."""

    def __init__(self, app: ASGIApp, settings: ServeSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not host_allowed(self.settings, _header(scope, b"host")):
            await _plain(send, 421, "this server answers to its loopback address only (Host header refused)")
            return
        ok, who, bearer = identify(self.settings, scope)
        scope.setdefault("state", {}).update(client_key=who, bearer=bearer)

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", csp().encode()))
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in present]
                message["headers"] = headers
            await send(message)

        path = scope.get("path", "")
        if ok or path.startswith(OPEN_PATHS):
            await self.app(scope, receive, with_headers)
            return
        await _refuse(scope, with_headers, self.settings)


def host_allowed(settings: ServeSettings, host: str) -> bool:
    """Without authentication (loopback), only a loopback Host: a page elsewhere whose name an attacker
    re-points at 127.0.0.1 (DNS rebinding) would otherwise be same-origin with this server."""
    if settings.token is not None or settings.auth_header:
        return True
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return is_loopback(name.strip("[]")) if name else False


async def _plain(send: Send, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": text.encode() + b"\n"})


async def _refuse(scope: Scope, send: Send, settings: ServeSettings) -> None:
    """401; a browser asking for a page is sent to the login form instead."""
    wants_html = "text/html" in _header(scope, b"accept")
    if wants_html and scope.get("method") == "GET" and not settings.auth_header:
        await send({"type": "http.response.start", "status": 303, "headers": [(b"location", b"/login")]})
        await send({"type": "http.response.body", "body": b""})
        return
    why = (f"missing {settings.auth_header} header (set by the authenticating proxy)" if settings.auth_header
           else "authentication required: log in at /login, or send Authorization: Bearer TOKEN")
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": why.encode() + b"\n"})


# -- CSRF -------------------------------------------------------------------------------------------
def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(scope: Scope, form_value: str) -> bool:
    """The form's hidden field matches the CSRF cookie, and the request did not come from another
    site (Origin, when the browser sends it, is this server)."""
    origin = _header(scope, b"origin")
    if origin and origin != "null":
        host = _header(scope, b"host")
        scheme = scope.get("scheme", "http")
        forwarded = _header(scope, b"x-forwarded-proto")
        if origin not in (f"{scheme}://{host}", f"{forwarded}://{host}" if forwarded else ""):
            return False
    elif origin == "null":
        return False
    if _header(scope, b"sec-fetch-site") == "cross-site":
        return False
    cookie = _cookie(scope, CSRF_COOKIE)
    return bool(cookie) and hmac.compare_digest(cookie.encode(), form_value.encode("utf-8", "replace"))


# -- rate limits ------------------------------------------------------------------------------------
class RateLimit:
    """At most ``per_minute`` events per client in any 60 seconds (a sliding window)."""

    MAX_CLIENTS = 10_000  # memory bound: the oldest clients are forgotten first

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}

    def allow(self, client: str) -> float:
        """0 when ``client`` may go on (and it is counted), else the seconds until it may."""
        now = self.clock()
        times = self._seen.pop(client, None) or deque()
        while times and times[0] <= now - 60:
            times.popleft()
        self._seen[client] = times  # re-inserted: dict order is least recently used first
        if len(times) >= self.per_minute:
            return max(0.1, times[0] + 60 - now)
        times.append(now)
        while len(self._seen) > self.MAX_CLIENTS:
            self._seen.pop(next(iter(self._seen)))
        return 0.0
