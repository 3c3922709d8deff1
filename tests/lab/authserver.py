"""A small OAuth 2.0 authorization server for the lab: the identity provider maildoctor's OAuth logins
talk to, and the one Dovecot's ``oauth2`` passdb asks whether a token is good.

No real identity provider runs on loopback, so this one speaks the real protocols, and only them:

- RFC 8628 device authorization: ``POST /devicecode`` (client_id, scope) -> device_code, user_code,
  verification_uri; the "user" approves at ``GET /device?user_code=...&user=ADDRESS`` (``&deny=1``
  refuses); polling ``/token`` answers ``authorization_pending`` until then, ``slow_down`` when polled
  faster than ``interval``, ``access_denied``, ``expired_token``.
- RFC 6749 + RFC 7636: ``GET /authorize`` (response_type=code, PKCE S256 only, redirect_uri on
  loopback only, RFC 8252) answers 302 to the redirect_uri with code and state; the user is the
  ``login_hint`` (the lab has no login page: the test plays the browser); ``POST /token`` with
  ``grant_type=authorization_code`` checks the code_verifier.
- ``POST /token`` with ``grant_type=refresh_token`` (a new access token; the refresh token stays).
- RFC 7662 introspection: ``POST /introspect`` (HTTP Basic with the introspection client's secret),
  ``token=...`` -> ``{"active": true, "username": ..., "scope": ..., "exp": ...}`` or ``{"active": false}``
  for an unknown, expired or revoked token. Dovecot uses it (``introspection_mode = post``).
- Lab administration (plain HTTP, loopback, for tests): ``POST /lab/mint`` (user, expires_in,
  scope, size: random bytes of the access token, for long tokens like Microsoft's) -> a token pair
  without a login; ``POST /lab/revoke`` (token).

HTTPS on port 443 (the lab CA's certificate for the host name) for the clients; plain HTTP on port
80 of the same address for Dovecot's introspection and the lab's administration. State is in
memory: a restart of the lab forgets every token.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.server
import json
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

COMM = "mdlab-idp"
PUBLIC_CLIENT = "maildoctor-lab"  # a registered public client (no secret), like an installed app
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ACCESS_LIFETIME = 3600  # seconds
DEVICE_LIFETIME = 600  # seconds a device code can be approved
INTERVAL = 1  # seconds between polls the client must keep (RFC 8628 §3.2); short for tests


def write_authserver(base: Path, plan, ca) -> dict:
    """The certificate and the facts of the process (argv, pidfile, comm, listen), like the other servers;
    ``introspection`` has what Dovecot needs (URL with its client credentials)."""
    base.mkdir(parents=True, exist_ok=True)
    idp = plan.hosts["idp"]
    cert = ca.issue("idp", [idp.fqdn])
    secret = secrets.token_urlsafe(18)
    (base / "introspection.secret").write_text(secret)
    os.chmod(base / "introspection.secret", 0o600)
    issuer = f"https://{idp.fqdn}"
    return {
        "argv": [sys.executable, str(Path(__file__).resolve()), "--daemon", "--listen", idp.addr,
                 "--cert", cert["chain"], "--key", cert["key"], "--pidfile", str(base / "idp.pid"),
                 "--secret-file", str(base / "introspection.secret"), "--issuer", issuer],
        "pidfile": str(base / "idp.pid"),
        "comm": COMM,
        "log": str(base / "idp.log"),
        "listen": {"idp": idp.ports},
        "issuer": issuer,
        "client_id": PUBLIC_CLIENT,
        "device_authorization_endpoint": f"{issuer}/devicecode",
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "admin": f"http://{idp.addr}",
        "introspection": {"url": f"http://{idp.addr}/introspect", "client": "dovecot", "secret": secret},
    }


class Store:
    """Every token and pending grant, behind one lock (the server is threaded)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.access: dict[str, dict] = {}  # token -> {user, scope, exp, revoked}
        self.refresh: dict[str, dict] = {}  # token -> {user, scope, client_id}
        self.devices: dict[str, dict] = {}  # device_code -> {user_code, exp, scope, client_id, user, denied, last}
        self.codes: dict[str, dict] = {}  # authorization code -> {user, scope, challenge, redirect_uri, exp}

    def issue(self, user: str, scope: str, client_id: str, lifetime: int = ACCESS_LIFETIME,
              refresh: str | None = None, size: int = 32) -> dict:
        access = secrets.token_urlsafe(size)
        self.access[access] = {"user": user, "scope": scope, "exp": time.time() + lifetime, "revoked": False}
        if refresh is None:
            refresh = secrets.token_urlsafe(40)
            self.refresh[refresh] = {"user": user, "scope": scope, "client_id": client_id}
        return {"access_token": access, "token_type": "Bearer", "expires_in": lifetime, "scope": scope,
                "refresh_token": refresh}


STORE = Store()


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "maildoctor-lab-idp"
    timeout = 5
    secret = ""
    issuer = ""
    admin = False  # the plain-HTTP side: introspection and /lab/*

    # -- plumbing --------------------------------------------------------------
    def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, error: str, description: str = "") -> None:
        self._json(status, {"error": error, **({"error_description": description} if description else {})})

    def _form(self) -> dict[str, str]:
        length = self.headers.get("Content-Length", "0")
        raw = self.rfile.read(min(int(length), 65536)) if length.isdigit() else b""
        return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}

    def _query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def log_message(self, fmt: str, *args) -> None:  # never log a query string: it may hold a code
        sys.stderr.write(f"{self.address_string()} {self.command} {urlsplit(self.path).path} {args[1:]}\n")

    # -- routes -------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = urlsplit(self.path).path
        if path == "/device":
            return self._approve(self._query())
        if path == "/authorize" and not self.admin:
            return self._authorize(self._query())
        if path == "/.well-known/openid-configuration" and not self.admin:
            return self._json(200, {"issuer": self.issuer, "token_endpoint": f"{self.issuer}/token",
                                    "device_authorization_endpoint": f"{self.issuer}/devicecode",
                                    "authorization_endpoint": f"{self.issuer}/authorize",
                                    "code_challenge_methods_supported": ["S256"]})
        self._error(404, "not_found")

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        form = self._form()
        routes = {"/devicecode": self._device_code, "/token": self._token} if not self.admin else {
            "/introspect": self._introspect, "/lab/mint": self._mint, "/lab/revoke": self._revoke,
            "/device": self._approve}
        handler = routes.get(path)
        if handler is None:
            return self._error(404, "not_found")
        handler(form)

    # -- RFC 8628 --------------------------------------------------------------------
    def _device_code(self, form: dict[str, str]) -> None:
        if form.get("client_id") != PUBLIC_CLIENT:
            return self._error(401, "invalid_client", "unknown client_id")
        device_code = secrets.token_urlsafe(32)
        user_code = "-".join(secrets.token_hex(2).upper() for _ in range(2))
        with STORE.lock:
            STORE.devices[device_code] = {"user_code": user_code, "exp": time.time() + DEVICE_LIFETIME,
                                          "scope": form.get("scope", ""), "client_id": PUBLIC_CLIENT,
                                          "user": "", "denied": False, "last": 0.0}
        self._json(200, {"device_code": device_code, "user_code": user_code,
                         "verification_uri": f"{self.issuer}/device",
                         "verification_uri_complete": f"{self.issuer}/device?user_code={user_code}",
                         "expires_in": DEVICE_LIFETIME, "interval": INTERVAL})

    def _approve(self, form: dict[str, str]) -> None:
        """The user's side: approve (or deny) a user code as ADDRESS."""
        code, user = form.get("user_code", ""), form.get("user", "").lower()
        with STORE.lock:
            entry = next((d for d in STORE.devices.values() if d["user_code"] == code), None)
            if entry is None or entry["exp"] < time.time() or not (user or form.get("deny")):
                return self._error(400, "invalid_request", "unknown or expired user code, or no user")
            entry["user"], entry["denied"] = user, bool(form.get("deny"))
        self._json(200, {"approved": not entry["denied"]})

    def _token(self, form: dict[str, str]) -> None:
        grant = form.get("grant_type", "")
        if form.get("client_id") != PUBLIC_CLIENT:
            return self._error(401, "invalid_client", "unknown client_id")
        with STORE.lock:
            if grant == DEVICE_GRANT:
                return self._device_grant(form)
            if grant == "refresh_token":
                entry = STORE.refresh.get(form.get("refresh_token", ""))
                if entry is None:
                    return self._error(400, "invalid_grant", "the refresh token is unknown or revoked")
                return self._json(200, STORE.issue(entry["user"], entry["scope"], PUBLIC_CLIENT,
                                                   refresh=form["refresh_token"]))
            if grant == "authorization_code":
                return self._code_grant(form)
        self._error(400, "unsupported_grant_type")

    def _device_grant(self, form: dict[str, str]) -> None:
        entry = STORE.devices.get(form.get("device_code", ""))
        if entry is None:
            return self._error(400, "invalid_grant", "unknown device code")
        now = time.time()
        if entry["exp"] < now:
            return self._error(400, "expired_token")
        if entry["denied"]:
            return self._error(400, "access_denied")
        if not entry["user"]:
            too_fast = now - entry["last"] < INTERVAL * 0.8  # a little slack for the client's clock
            entry["last"] = now
            return self._error(400, "slow_down" if too_fast else "authorization_pending")
        del STORE.devices[form["device_code"]]
        self._json(200, STORE.issue(entry["user"], entry["scope"], PUBLIC_CLIENT))

    # -- RFC 6749 §4.1 with PKCE (RFC 7636), loopback redirect (RFC 8252) ---------------------
    def _authorize(self, q: dict[str, str]) -> None:
        redirect = q.get("redirect_uri", "")
        host = urlsplit(redirect).hostname or ""
        if q.get("client_id") != PUBLIC_CLIENT or host not in ("127.0.0.1", "::1", "localhost"):
            return self._error(400, "invalid_request", "unknown client or a redirect_uri that is not loopback")
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return self._error(400, "invalid_request", "response_type=code with a PKCE S256 code_challenge required")
        user = q.get("login_hint", "").lower()
        if not user:
            return self._error(400, "login_required", "the lab has no login page: give login_hint")
        code = secrets.token_urlsafe(24)
        with STORE.lock:
            STORE.codes[code] = {"user": user, "scope": q.get("scope", ""), "challenge": q["code_challenge"],
                                 "redirect_uri": redirect, "exp": time.time() + 60}
        self.send_response(302)
        self.send_header("Location", f"{redirect}?{urlencode({'code': code, 'state': q.get('state', '')})}")
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def _code_grant(self, form: dict[str, str]) -> None:
        entry = STORE.codes.pop(form.get("code", ""), None)
        if entry is None or entry["exp"] < time.time() or entry["redirect_uri"] != form.get("redirect_uri"):
            return self._error(400, "invalid_grant", "unknown or expired code, or another redirect_uri")
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if not secrets.compare_digest(challenge, entry["challenge"]):
            return self._error(400, "invalid_grant", "PKCE verification failed")
        self._json(200, STORE.issue(entry["user"], entry["scope"], PUBLIC_CLIENT))

    # -- RFC 7662 and the lab's administration ---------------------------------------------
    def _introspect(self, form: dict[str, str]) -> None:
        expected = "Basic " + base64.b64encode(f"dovecot:{self.secret}".encode()).decode()
        if not secrets.compare_digest(self.headers.get("Authorization", ""), expected):
            return self._json(401, {"error": "invalid_client"}, {"WWW-Authenticate": 'Basic realm="introspect"'})
        with STORE.lock:
            entry = STORE.access.get(form.get("token", ""))
        if entry is None or entry["revoked"] or entry["exp"] < time.time():
            return self._json(200, {"active": False})
        self._json(200, {"active": True, "username": entry["user"], "scope": entry["scope"],
                         "exp": int(entry["exp"]), "token_type": "Bearer", "client_id": PUBLIC_CLIENT})

    def _mint(self, form: dict[str, str]) -> None:
        with STORE.lock:
            self._json(200, STORE.issue(form.get("user", "").lower(), form.get("scope", "mail"), PUBLIC_CLIENT,
                                        int(form.get("expires_in", ACCESS_LIFETIME)),
                                        size=min(int(form.get("size", 32)), 4096)))

    def _revoke(self, form: dict[str, str]) -> None:
        with STORE.lock:
            token = form.get("token", "")
            if token in STORE.access:
                STORE.access[token]["revoked"] = True
            STORE.refresh.pop(token, None)
        self._json(200, {"revoked": True})


class AdminHandler(Handler):
    admin = True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--pidfile")
    ap.add_argument("--daemon", action="store_true", help="detach once listening (the parent exits 0)")
    args = ap.parse_args(argv)
    Handler.secret = Path(args.secret_file).read_text().strip()
    Handler.issuer = args.issuer
    try:
        from tests.lab.webserver import serve_tls
    except ImportError:  # run by path (as the lab launches it): this folder is on sys.path
        from webserver import serve_tls  # type: ignore[no-redef]
    server = http.server.ThreadingHTTPServer((args.listen, 443), Handler)
    admin = http.server.ThreadingHTTPServer((args.listen, 80), AdminHandler)  # bound before the fork
    return serve_tls(server, [admin], cert=args.cert, key=args.key, daemon=args.daemon, pidfile=args.pidfile,
                     comm=COMM)


if __name__ == "__main__":
    raise SystemExit(main())
