"""`maildoctor login`: sign in once with OAuth 2.0 and cache the refresh token (diagnose.app.oauth).

What the user must do (open an address, enter a code) goes to stderr; stdout gets one line saying where
the login is cached. No token is ever printed. Exit codes: 0 signed in (or forgotten), 3 bad usage or
a refused sign-in (ExitCode.UNKNOWN: no diagnosis was made).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from diagnose.engine.credentials import CredentialError, is_env_name, line_safe
from diagnose.engine.exitcodes import ExitCode
from diagnose.net.oauthhttp import https_parts


@dataclass(frozen=True)
class LoginRequest:
    provider: str
    client_id: str = ""
    user: str = ""
    flow: str = ""
    tenant: str = "organizations"
    scopes: tuple[str, ...] = ()
    token_url: str = ""
    device_url: str = ""
    authorize_url: str = ""
    client_secret_env: str = ""
    nameservers: tuple[str, ...] = ()
    ca_file: Path | None = None
    timeout: float = 10.0
    forget: bool = False


def provider_for(req: LoginRequest):  # -> diagnose.app.oauth.Provider
    """The preset or custom provider of the request, checked (OAuthError with the reason)."""
    from diagnose.app.oauth import OAuthError, Provider, preset

    if req.token_url:
        for url in (req.token_url, req.device_url, req.authorize_url):
            if url:
                try:
                    https_parts(url)
                except ValueError as exc:
                    raise OAuthError(f"bad provider URL: {exc}") from None
        if not (req.device_url or req.authorize_url):
            raise OAuthError("a custom provider needs --device-url or --authorize-url besides --token-url")
        provider = Provider(req.provider, req.token_url, req.device_url, req.authorize_url, req.scopes,
                            "device" if req.device_url else "browser")
    else:
        if not req.tenant.replace("-", "").replace(".", "").isalnum():
            raise OAuthError(f"bad --tenant {req.tenant[:60]!r}: a tenant id, a domain, organizations or common")
        provider = preset(req.provider, tenant=req.tenant)
        if req.scopes:
            provider = replace(provider, scopes=req.scopes)
    return provider


def run_login(req: LoginRequest, env: Mapping[str, str] = os.environ) -> ExitCode:
    from diagnose.app.oauth import CachedLogin, Net, OAuthError, browser_flow, device_flow, forget
    from diagnose.app.plan import BOUNDS, PlanError, parse_nameservers, readable_ca

    def fail(message: str) -> ExitCode:
        print(f"maildoctor: error: {message}", file=sys.stderr)
        return ExitCode.UNKNOWN

    try:
        if req.forget:
            gone = forget(req.provider, env)
            print(f"maildoctor: {'forgot' if gone else 'there was no'} cached login for {req.provider}")
            return ExitCode.OK
        if not req.client_id:
            return fail("give --client-id ID: the application id you registered with the provider")
        line_safe(req.client_id, "--client-id")
        line_safe(req.user, "--user")
        if req.flow not in ("", "device", "browser"):
            return fail("--flow must be device or browser")
        provider = provider_for(req)
        net = Net(parse_nameservers(list(req.nameservers)), readable_ca(req.ca_file),
                  float(BOUNDS["timeout"].check(req.timeout)))
        secret = ""
        if req.client_secret_env:
            if not is_env_name(req.client_secret_env):
                return fail(f"--client-secret-env: {req.client_secret_env[:40]!r} is not a variable name")
            secret = env.get(req.client_secret_env, "")
            if not secret:
                return fail(f"environment variable {req.client_secret_env} (the client secret) is not set or empty")
        flow = req.flow or provider.flow
        if flow == "device" and provider.name == "google" and not req.token_url and not req.scopes:
            return fail("Google does not allow the mail scope (https://mail.google.com/) in the device flow: "
                        "use --flow browser")

        def announce(text: str) -> None:
            print(text, file=sys.stderr, flush=True)

        if flow == "device":
            access, refresh = device_flow(provider, req.client_id, net, announce=announce, client_secret=secret)
        else:
            access, refresh = browser_flow(provider, req.client_id, net, announce=announce, login_hint=req.user,
                                           client_secret=secret)
        del access  # only the refresh token is kept; `check --oauth2` asks for a fresh access token each run
        if not refresh:
            return fail("the provider gave no refresh token: add the offline_access scope (Microsoft) or "
                        "allow offline access for the application")
        path = CachedLogin(provider, req.client_id, req.user, refresh, secret).save(env)
    except (OAuthError, PlanError, CredentialError) as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return fail("interrupted")
    print(f"maildoctor: signed in; the login is cached in {path} (mode 0600). Use: maildoctor check "
          f"{req.user or 'ADDRESS'} --oauth2 {req.provider}")
    return ExitCode.OK
