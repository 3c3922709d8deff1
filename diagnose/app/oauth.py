"""OAuth 2.0 for the logins: where an access token comes from, and the `maildoctor login` flows.

- ``--oauth2-token-env VAR`` (read in diagnose.engine.credentials), ``--oauth2-token-cmd CMD`` (run with
  ``sh -c``, its output read from a pipe: the token is never an argument of a process, so ``ps`` never
  shows it), ``--oauth2 PROVIDER`` (the login cached by `maildoctor login`, its refresh token exchanged for
  a fresh access token on every run).
- `maildoctor login`: the device authorization flow (RFC 8628) or the loopback redirect flow with PKCE
  (RFC 8252, RFC 7636) for the user's client id, with presets for Microsoft (tenant) and Google, or a
  custom provider by its URLs. The refresh token is cached in ``$XDG_CONFIG_HOME/maildoctor/oauth/`` (else
  ``~/.config/...``), file mode 0600, directory 0700; ``--forget`` deletes it.

Plain standard library and maildoctor's own HTTPS client (diagnose.net.oauthhttp), not an OAuth library:
the three grants are a few form POSTs each, and the HTTP has to go through maildoctor's resolver
(``--nameserver``) and trust settings (``--ca-file``), which authlib's or msal's HTTP stacks would not use.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import http.server
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from diagnose.engine.credentials import CredentialError, CredentialRequest, Secret, token_safe
from diagnose.knowledge.sanitize import clean
from diagnose.knowledge.tokenerrors import explain_token_error
from diagnose.net.oauthhttp import OAuthHttpError, post_form
from diagnose.net.resolver import Nameserver

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MS_SCOPES = ("offline_access", "https://outlook.office.com/IMAP.AccessAsUser.All",
             "https://outlook.office.com/POP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send")
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


def preset(name: str, *, tenant: str = "organizations") -> Provider:
    """The built-in providers. Microsoft: Entra ID v2.0 endpoints of ``tenant`` (a tenant id or domain,
    "organizations", "consumers" or "common") with the IMAP, POP and SMTP scopes; Google: the mail scope,
    which Google does not allow in the device flow, so the loopback browser flow."""
    if name == "microsoft":
        base = f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0"
        return Provider("microsoft", f"{base}/token", f"{base}/devicecode", f"{base}/authorize", MS_SCOPES)
    if name == "google":
        return Provider("google", "https://oauth2.googleapis.com/token", "https://oauth2.googleapis.com/device/code",
                        "https://accounts.google.com/o/oauth2/v2/auth", ("https://mail.google.com/",), "browser")
    raise OAuthError(f"unknown provider {name[:40]!r}: microsoft, google, or a custom one with --token-url")


# -- the cache ----------------------------------------------------------------------------------------
def cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """$XDG_CONFIG_HOME/maildoctor/oauth (XDG Base Directory), else ~/.config/maildoctor/oauth."""
    base = env.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "maildoctor" / "oauth"


def cache_path(name: str, env: Mapping[str, str] = os.environ) -> Path:
    if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 40:
        raise OAuthError(f"bad provider name {name[:40]!r}: letters, digits, - and _ only")
    return cache_dir(env) / f"{name}.json"


@dataclass
class CachedLogin:
    """What `maildoctor login` keeps: the provider, the client, the user and the refresh token."""

    provider: Provider
    client_id: str
    user: str = ""
    refresh_token: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)  # Google's installed apps have one (not really secret)

    def save(self, env: Mapping[str, str] = os.environ) -> Path:
        path = cache_path(self.provider.name, env)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path.parent, 0o700)
        data = json.dumps({"provider": asdict(self.provider), "client_id": self.client_id, "user": self.user,
                           "refresh_token": self.refresh_token, "client_secret": self.client_secret}, indent=1)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others, not even briefly
        with os.fdopen(fd, "w") as out:
            out.write(data)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, name: str, env: Mapping[str, str] = os.environ) -> CachedLogin:
        path = cache_path(name, env)
        try:
            data = json.loads(path.read_text())
            given = dict(data["provider"])
            provider = Provider(given["name"], given["token_endpoint"], given.get("device_endpoint", ""),
                                given.get("authorization_endpoint", ""), tuple(given.get("scopes", ())),
                                given.get("flow", "device"))
            return cls(provider, data["client_id"], data.get("user", ""), data["refresh_token"],
                       data.get("client_secret", ""))
        except FileNotFoundError:
            raise OAuthError(f"no cached login for {name}: run `maildoctor login --provider {name} ...` "
                             "first") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OAuthError(f"cannot read the cached login {path}: {type(exc).__name__}; run maildoctor login "
                             "again") from None


def forget(name: str, env: Mapping[str, str] = os.environ) -> bool:
    """Delete the cached login; False when there was none."""
    try:
        cache_path(name, env).unlink()
        return True
    except FileNotFoundError:
        return False


# -- the token endpoint ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Net:
    """How to reach the provider: maildoctor's resolver and trust settings, and --timeout (seconds)."""

    nameservers: list[Nameserver] = field(default_factory=list)
    ca_file: Path | None = None
    timeout: float = 10.0


def _post(url: str, form: dict[str, str], net: Net) -> tuple[int, dict]:
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


def _refused(what: str, data: dict) -> OAuthError:
    err = explain_token_error(str(data.get("error", "")), str(data.get("error_description", "")),
                              data.get("error_codes") or ())
    return OAuthError(f"{what}: {clean(err.message(), limit=400)}")


def _tokens(data: dict) -> tuple[Secret, str]:
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


def refresh(login: CachedLogin, net: Net, env: Mapping[str, str] = os.environ) -> Secret:
    """A fresh access token for the cached login (RFC 6749 §6); a rotated refresh token is saved."""
    form = {"grant_type": "refresh_token", "refresh_token": login.refresh_token, "client_id": login.client_id,
            "scope": " ".join(login.provider.scopes)}
    if login.client_secret:
        form["client_secret"] = login.client_secret
    status, data = _post(login.provider.token_endpoint, form, net)
    if "error" in data or status != 200:
        raise _refused(f"the cached login for {login.provider.name} could not be refreshed", data)
    access, new_refresh = _tokens(data)
    if new_refresh and new_refresh != login.refresh_token:
        login.refresh_token = new_refresh
        login.save(env)
    return access


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
    status, data = _post(provider.device_endpoint, form, net)
    if "error" in data or not data.get("device_code"):
        raise _refused("the device authorization was refused", data)
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
        status, data = _post(provider.token_endpoint, poll, net)
        error = data.get("error")
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += 5  # RFC 8628 §3.5
            continue
        if error or status != 200:
            raise _refused("the sign-in did not complete", data)
        return _tokens(data)
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
        raise _refused("the sign-in was refused", got)
    form = {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": redirect_uri,
            "client_id": client_id, "code_verifier": verifier}
    if client_secret:
        form["client_secret"] = client_secret
    status, data = _post(provider.token_endpoint, form, net)
    if "error" in data or status != 200:
        raise _refused("the code could not be exchanged for a token", data)
    return _tokens(data)


# -- check's token sources --------------------------------------------------------------------------------
def token_cmd_limit(timeout: float) -> float:
    """Seconds a --oauth2-token-cmd may take: 4 x --timeout, at least 10 (it may refresh over the network)."""
    return max(10.0, 4 * timeout)


def run_token_cmd(cmd: str, timeout: float) -> Secret:
    """Run ``cmd`` with ``sh -c`` (the convention of neomutt, mbsync, msmtp); the first non-empty line of
    its output, read from a pipe, is the token. Its error output is not shown (it might echo the token)."""
    try:
        run = subprocess.run(["/bin/sh", "-c", cmd], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=token_cmd_limit(timeout), check=False)
    except subprocess.TimeoutExpired:
        raise CredentialError(f"--oauth2-token-cmd did not finish within {token_cmd_limit(timeout):g} s") from None
    except OSError as exc:
        raise CredentialError(f"--oauth2-token-cmd could not be run: {exc.strerror or exc}") from None
    if run.returncode != 0:
        raise CredentialError(f"--oauth2-token-cmd failed (exit status {run.returncode})")
    lines = [line for line in run.stdout.decode("utf-8", "replace").splitlines() if line.strip()]
    if not lines:
        raise CredentialError("--oauth2-token-cmd printed no token")
    return Secret(token_safe(lines[0], "the output of --oauth2-token-cmd"))


def obtain_token(req: CredentialRequest, net: Net, env: Mapping[str, str] = os.environ) -> tuple[Secret, str] | None:
    """The access token of --oauth2-token-cmd or --oauth2 PROVIDER and where it came from; None when
    neither was given (--oauth2-token-env is read with the other variables). CredentialError otherwise."""
    given = [o for o, v in (("--oauth2-token-env", req.oauth2_token_env),
                            ("--oauth2-token-cmd", req.oauth2_token_cmd), ("--oauth2", req.oauth2_provider)) if v]
    if len(given) > 1:
        raise CredentialError(f"give one source of the OAuth 2.0 token, not {' and '.join(given)}")
    if req.oauth2_token_cmd:
        return run_token_cmd(req.oauth2_token_cmd, net.timeout), "the output of --oauth2-token-cmd"
    if req.oauth2_provider:
        try:
            login = CachedLogin.load(req.oauth2_provider, env)
            return refresh(login, net, env), f"the cached login for {req.oauth2_provider} (maildoctor login)"
        except OAuthError as exc:
            raise CredentialError(str(exc)) from None
    return None


def cached_user(name: str, env: Mapping[str, str] = os.environ) -> str:
    """The user name the cached login was made for ("" when unknown or no cache)."""
    try:
        return CachedLogin.load(name, env).user
    except OAuthError:
        return ""
