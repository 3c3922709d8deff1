"""The OAuth 2.0 grants of `maildoctor login` (and the refresh of check's cached login), as plain form POSTs.

- RFC 8628 device authorization: a device code, the user enters it at the provider, the token endpoint
  is polled at the given interval (5 s more after ``slow_down``), bounded by the code's lifetime.
- RFC 8252 loopback redirect with PKCE (RFC 7636, S256): a one-shot listener on 127.0.0.1 receives the
  code; a random ``state`` guards it.

Plain standard library and maildoctor's own HTTPS client (diagnose.net.oauthhttp), not an OAuth library:
the grants are a few form POSTs each, and the HTTP has to go through maildoctor's resolver
(``--nameserver``) and trust settings (``--ca-file``), which authlib's or msal's HTTP stacks would not use.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import http.server
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from diagnose.engine.credentials import CredentialError, Secret, token_safe
from diagnose.knowledge.sanitize import clean
from diagnose.knowledge.tokenerrors import explain_token_error
from diagnose.net.oauthhttp import OAuthHttpError, post_form
from diagnose.net.resolver import Nameserver

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MAX_DEVICE_WAIT = 900.0  # seconds: a device code is never polled longer, whatever the provider says
MAX_BROWSER_WAIT = 300.0  # seconds the loopback flow waits for the browser to come back


class OAuthError(Exception):
    """A login or token problem, in one line for the user (never a token)."""


@dataclass(frozen=True)
class Provider:
    """Where to log in: the endpoints (any may be "" when the provider has no such flow) and scopes."""

    name: str
    token_endpoint: str
    device_endpoint: str = ""
    authorization_endpoint: str = ""
    scopes: tuple[str, ...] = ()
    flow: str = "device"  # the default flow: "device" or "browser"

# -- the token endpoint ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Net:
    """How to reach the provider: maildoctor's resolver and trust settings, and --timeout (seconds)."""

    nameservers: list[Nameserver] = field(default_factory=list)
    ca_file: Path | None = None
    timeout: float = 10.0


def token_request(url: str, form: dict[str, str], net: Net) -> tuple[int, dict]:
    coro = post_form(url, form, nameservers=net.nameservers, ca_file=net.ca_file, timeout=net.timeout)
    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            answer = asyncio.run(coro)
        else:  # called from inside an event loop (the TUI's start form): run it on a thread of its own
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                answer = pool.submit(asyncio.run, coro).result()
    except OAuthHttpError as exc:
        raise OAuthError(str(exc)) from None
    return answer.status, answer.data


def refused(what: str, data: dict) -> OAuthError:
    err = explain_token_error(str(data.get("error", "")), str(data.get("error_description", "")),
                              data.get("error_codes") or ())
    return OAuthError(f"{what}: {clean(err.message(), limit=400)}")


def tokens(data: dict) -> tuple[Secret, str]:
    """(access token, refresh token or "") of a successful token answer."""
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise OAuthError("the token endpoint answered without an access_token")
    try:
        token_safe(access, "the access token from the provider")
    except CredentialError as exc:
        raise OAuthError(str(exc)) from None
    refresh = data.get("refresh_token")
    return Secret(access), refresh if isinstance(refresh, str) else ""

def device_flow(provider: Provider, client_id: str, net: Net, *, announce: Callable[[str], None],
                client_secret: str = "", max_wait: float = MAX_DEVICE_WAIT,
                sleep: Callable[[float], None] = time.sleep) -> tuple[Secret, str]:
    """RFC 8628: ask for a device code, tell the user where to enter it (``announce``), poll the token
    endpoint at the given interval (5 s more after slow_down) until approved, refused or expired."""
    if not provider.device_endpoint:
        raise OAuthError(f"{provider.name} has no device authorization endpoint: use --flow browser")
    form = {"client_id": client_id, "scope": " ".join(provider.scopes)}
    if client_secret:
        form["client_secret"] = client_secret
    status, data = token_request(provider.device_endpoint, form, net)
    if "error" in data or not data.get("device_code"):
        raise refused("the device authorization was refused", data)
    uri = str(data.get("verification_uri") or data.get("verification_url") or "")
    code = clean(str(data.get("user_code", "")), limit=40)
    announce(f"To sign in, open {clean(uri, limit=200)} and enter the code {code}")
    interval = min(max(float(data.get("interval") or 5), 1.0), 60.0)
    deadline = time.monotonic() + min(float(data.get("expires_in") or max_wait), max_wait)
    poll = {"grant_type": DEVICE_GRANT, "device_code": str(data["device_code"]), "client_id": client_id}
    if client_secret:
        poll["client_secret"] = client_secret
    while time.monotonic() + interval < deadline:
        sleep(interval)
        status, data = token_request(provider.token_endpoint, poll, net)
        error = data.get("error")
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += 5  # RFC 8628 §3.5
            continue
        if error or status != 200:
            raise refused("the sign-in did not complete", data)
        return tokens(data)
    raise OAuthError("the sign-in was not approved in time: run maildoctor login again")


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge), RFC 7636 §4.1-4.2."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return verifier, challenge


def browser_flow(provider: Provider, client_id: str, net: Net, *, announce: Callable[[str], None],
                 login_hint: str = "", client_secret: str = "",
                 max_wait: float = MAX_BROWSER_WAIT) -> tuple[Secret, str]:
    """RFC 8252 §7.3: a one-shot HTTP listener on 127.0.0.1 (a free port) receives the redirect with the
    code; PKCE S256 and a random state guard it; the code is exchanged at the token endpoint."""
    if not provider.authorization_endpoint:
        raise OAuthError(f"{provider.name} has no authorization endpoint: use --flow device")
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    got: dict[str, str] = {}
    done = threading.Event()

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            if query.get("state") == state and not done.is_set():
                got.update(query)
                done.set()
            body = b"maildoctor: you can close this window.\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # the query holds the code: never logged
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Redirect)
    server.timeout = 1
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": " ".join(provider.scopes), "state": state, "code_challenge": challenge,
              "code_challenge_method": "S256"}
    if login_hint:
        params["login_hint"] = login_hint
    sep = "&" if "?" in provider.authorization_endpoint else "?"
    try:
        announce(f"To sign in, open this address in a browser on this machine:\n{provider.authorization_endpoint}"
                 f"{sep}{urlencode(params)}")
        deadline = time.monotonic() + max_wait
        while not done.is_set() and time.monotonic() < deadline:
            server.handle_request()  # one request per call, at most server.timeout seconds
    finally:
        server.server_close()
    if not done.is_set():
        raise OAuthError("the browser did not come back in time: run maildoctor login again")
    if "error" in got or "code" not in got:
        raise refused("the sign-in was refused", got)
    form = {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": redirect_uri,
            "client_id": client_id, "code_verifier": verifier}
    if client_secret:
        form["client_secret"] = client_secret
    status, data = token_request(provider.token_endpoint, form, net)
    if "error" in data or status != 200:
        raise refused("the code could not be exchanged for a token", data)
    return tokens(data)


