"""OAuth 2.0 for the logins: where an access token comes from, and what `maildoctor login` keeps.

- ``--oauth2-token-env VAR`` (read in diagnose.engine.credentials), ``--oauth2-token-cmd CMD`` (run with
  ``sh -c``, its output read from a pipe: the token is never an argument of a process, so ``ps`` never
  shows it), ``--oauth2 PROVIDER`` (the login cached by `maildoctor login`, its refresh token exchanged for
  a fresh access token on every run).
- The providers: presets for Microsoft (tenant) and Google, or a custom one by its URLs; the grants
  themselves are in diagnose.app.oauthflows.
- The cache: ``$XDG_CONFIG_HOME/maildoctor/oauth/PROVIDER.json`` (else ``~/.config/...``), file mode 0600,
  directory 0700; ``--forget`` deletes it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from diagnose.app.oauthflows import (
    Net,
    OAuthError,
    Provider,
    browser_flow,
    device_flow,
    pkce_pair,
    refused,
    token_request,
    tokens,
)
from diagnose.engine.credentials import CredentialError, CredentialRequest, Secret, token_safe

__all__ = ["CachedLogin", "Net", "OAuthError", "Provider", "browser_flow", "cache_dir", "cached_user", "device_flow",
           "forget", "obtain_token", "pkce_pair", "preset", "refresh", "run_token_cmd"]

MS_SCOPES = ("offline_access", "https://outlook.office.com/IMAP.AccessAsUser.All",
             "https://outlook.office.com/POP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send")

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



def refresh(login: CachedLogin, net: Net, env: Mapping[str, str] = os.environ) -> Secret:
    """A fresh access token for the cached login (RFC 6749 §6); a rotated refresh token is saved."""
    form = {"grant_type": "refresh_token", "refresh_token": login.refresh_token, "client_id": login.client_id,
            "scope": " ".join(login.provider.scopes)}
    if login.client_secret:
        form["client_secret"] = login.client_secret
    status, data = token_request(login.provider.token_endpoint, form, net)
    if "error" in data or status != 200:
        raise refused(f"the cached login for {login.provider.name} could not be refreshed", data)
    access, new_refresh = tokens(data)
    if new_refresh and new_refresh != login.refresh_token:
        login.refresh_token = new_refresh
        login.save(env)
    return access


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
