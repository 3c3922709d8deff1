"""Credentials for the login and round-trip checks, and the rule that secrets never show.

An OAuth 2.0 access token (``--oauth2-token-env``, ``--oauth2-token-cmd``, ``--oauth2 PROVIDER``) is a
``Secret`` in the same place, with ``kind`` "oauth2": the sessions then log in with XOAUTH2 or
OAUTHBEARER (RFC 7628) instead, and ``forms`` covers those initial responses.

A password comes from an environment variable (``--password-env VAR``, or a config profile's
``credentials.password_env``) or from an interactive prompt; never from the command line, where
it would land in shell history and ``ps``. It lives in a ``Secret``, whose repr/str is ``****``,
so a password cannot reach a report, a transcript or a log by accident; ``scrub`` removes it
(and its base64 forms, as AUTH PLAIN/LOGIN send it) from any text that might still echo it.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

MASK = "****"
_ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"  # a string: re compiles it when a variable's name is given


def is_env_name(name: str) -> bool:
    """The one rule for a variable name (--password-env, a profile's credentials.*): ASCII letters,
    digits and _, not starting with a digit."""
    return bool(re.fullmatch(_ENV_NAME, name))


class Secret:
    """A string that does not show itself: ``str()``/``repr()`` give ``****``; ``reveal()`` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))

    def __reduce__(self) -> NoReturn:  # never pickled or deep-copied into something that prints it
        raise TypeError("a Secret cannot be serialized")


PASSWORD, OAUTH2 = "password", "oauth2"  # Credentials.kind
OAUTH_MECHANISMS = ("OAUTHBEARER", "XOAUTH2")  # preference order: the standard (RFC 7628) first


def _b64(raw: str) -> str:
    return base64.b64encode(raw.encode("utf-8")).decode("ascii")


def xoauth2_message(user: str, token: str) -> str:
    """The XOAUTH2 client message (Google's and Microsoft's format), not yet base64."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def oauthbearer_message(user: str, token: str) -> str:
    """The OAUTHBEARER client message (RFC 7628 §3.1: GS2 header with the authzid, then auth=), not yet
    base64. Host and port are optional (§3.1) and left out, so the message is the same everywhere."""
    return f"n,a={user.replace('=', '=3D').replace(',', '=2C')},\x01auth=Bearer {token}\x01\x01"


def sasl_oauth_response(mechanism: str, user: str, token: str) -> str:
    """The base64 initial response of ``mechanism`` (XOAUTH2 or OAUTHBEARER)."""
    message = xoauth2_message if mechanism.upper() == "XOAUTH2" else oauthbearer_message
    return _b64(message(user, token))


# After a failed XOAUTH2/OAUTHBEARER the server sends an error challenge (334 / +, base64 JSON) and waits:
# the client answers it and only then gets the real failure. RFC 7628 §3.2.3: a single 0x01 for
# OAUTHBEARER; Google documents an empty line for XOAUTH2.
ERROR_ANSWER = {"OAUTHBEARER": _b64("\x01"), "XOAUTH2": ""}


@dataclass(frozen=True)
class Credentials:
    """One login: the user name (not secret) and the password or OAuth 2.0 access token (a Secret), and
    where each came from."""

    user: str
    password: Secret = field(repr=False)  # the password; with kind "oauth2" the access token
    source: str = ""  # e.g. "--password-env MAIL_PASSWORD", "prompt": shown in findings, never the value
    kind: str = PASSWORD  # PASSWORD or OAUTH2

    @property
    def oauth2(self) -> bool:
        return self.kind == OAUTH2

    @property
    def secret_word(self) -> str:
        """What the secret is called in messages: "access token" or "password" (never the value)."""
        return "access token" if self.oauth2 else PASSWORD

    def forms(self) -> tuple[str, ...]:
        """The password in every encoding maildoctor itself may send it in, so a server that echoes
        a command cannot carry it into a report: plain; IMAP quoted (``"p\\"w"``, with and without the
        quotes) and its literal's content (the plain form); base64 of the password (AUTH LOGIN) and of
        each SASL PLAIN message (with and without an authorization identity)."""
        pw = self.password.reveal()
        if not pw:
            return ()
        b64 = _b64
        if self.oauth2:  # the token, its Bearer header value, and the SASL messages carrying it
            forms = [pw, b64(pw), b64(xoauth2_message(self.user, pw)), b64(oauthbearer_message(self.user, pw))]
            forms += [f.rstrip("=") for f in forms[1:]]
            return tuple(dict.fromkeys(f for f in forms if f))
        escaped = pw.replace("\\", "\\\\").replace('"', '\\"')  # RFC 9051 quoted string
        forms = [pw, escaped, f'"{escaped}"', b64(pw), b64(f"\0{self.user}\0{pw}"),
                 b64(f"{self.user}\0{self.user}\0{pw}")]
        forms += [f.rstrip("=") for f in forms[3:]]  # a server may echo the base64 without its padding
        return tuple(dict.fromkeys(f for f in forms if f))


@dataclass(frozen=True)
class CredentialSet:
    """Outgoing (SMTP submission) and incoming (IMAP/POP3) credentials; often the same."""

    outgoing: Credentials | None = None
    incoming: Credentials | None = None

    def for_protocol(self, protocol: str) -> Credentials | None:
        return self.outgoing if protocol == "smtp" else self.incoming

    def scrub(self, text: str) -> str:
        return scrub(text, *(c for c in (self.outgoing, self.incoming) if c is not None))


@dataclass(frozen=True)
class RoundTrip:
    """--roundtrip settings: where to send (empty: the incoming user) and how long to wait (seconds)."""

    to: str = ""
    timeout: float = 120.0


def scrub(text: str, *creds: Credentials) -> str:
    """``text`` with every form of the passwords replaced by ``****`` (longest first)."""
    for form in sorted({f for c in creds for f in c.forms()}, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def scrub_value(value: Any, creds: CredentialSet | None) -> Any:
    """``value`` (a string, or lists/tuples/dicts of them, as in a finding's evidence) with every
    form of the passwords in ``creds`` replaced by ``****``; other values unchanged."""
    if creds is None:
        return value
    if isinstance(value, str):
        return creds.scrub(value)
    if isinstance(value, dict):
        return {k: scrub_value(v, creds) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub_value(v, creds) for v in value)
    return value


class CredentialError(ValueError):
    """Missing or unusable credentials: one line for stderr."""


LINE_BREAKERS = "\r\n\0"  # in a protocol line these end it (CR, LF) or cut it (NUL): a second command


def line_safe(value: str, what: str) -> str:
    """``value`` unchanged when it can go into one protocol line (SMTP, IMAP, POP3 command, or a
    message header); else CredentialError naming ``what`` (never the value: it may be a password).

    Pure and shared: credentials, --ehlo, --to and the round trip's header values all pass here
    before any connection, and the protocol writers refuse such a line again (diagnose.net)."""
    bad = sorted({c for c in value if c in LINE_BREAKERS})
    if bad:
        names = ", ".join({"\r": "CR", "\n": "LF", "\0": "NUL"}[c] for c in bad)
        raise CredentialError(f"{what} contains {names}: it would end the protocol line and start another command")
    return value


@dataclass(frozen=True)
class CredentialRequest:
    """What the command line (and profile) said; only names, never a password."""

    user: str = ""  # --user
    password_env: str = ""  # --password-env
    smtp_user: str = ""  # --smtp-user
    smtp_password_env: str = ""  # --smtp-password-env
    imap_user: str = ""  # --imap-user (IMAP and POP3)
    imap_password_env: str = ""  # --imap-password-env
    oauth2_token_env: str = ""  # --oauth2-token-env VAR: an OAuth 2.0 access token instead of a password
    oauth2_token_cmd: str = ""  # --oauth2-token-cmd CMD: a command that prints one (read from a pipe)
    oauth2_provider: str = ""  # --oauth2 PROVIDER: the login cached by `maildoctor login`
    profile_env: Mapping[str, str] = field(default_factory=dict)  # config: user_env / password_env names

    @property
    def wanted(self) -> bool:
        return any((self.user, self.password_env, self.smtp_user, self.smtp_password_env, self.imap_user,
                    self.imap_password_env, self.oauth, *self.profile_env.values()))

    @property
    def oauth(self) -> bool:
        """An OAuth 2.0 token was asked for (env, command or cached login)."""
        return bool(self.oauth2_token_env or self.oauth2_token_cmd or self.oauth2_provider)

    @property
    def passwords(self) -> bool:
        """A password variable was named on the command line."""
        return bool(self.password_env or self.smtp_password_env or self.imap_password_env)


def resolve(req: CredentialRequest, *, address: str | None, env: Mapping[str, str] = os.environ,
            prompt: Callable[[str], str] | None = None, required: bool = False,
            token: tuple[Secret, str] | None = None) -> CredentialSet | None:
    """Turn names into credentials. None when no login was asked for (and ``required`` is false).

    ``token``: an OAuth 2.0 access token already obtained (the app runs --oauth2-token-cmd or the cached
    login) and where it came from; with --oauth2-token-env it is read here. A token logs in on both sides.

    User: --smtp-user/--imap-user, else --user, else the profile's user_env, else the TARGET address.
    Password: --smtp-password-env/--imap-password-env, else --password-env, else the profile's
    password_env, else ``prompt`` (given only when stdin is a terminal), else CredentialError.
    """
    if not (req.wanted or required or token is not None):
        return None
    base_user = (
        req.user or _env_value(req.profile_env.get("user_env", ""), env, "credentials.user_env") or address or ""
    )
    asked: dict[tuple[str, str], Secret] = {}  # one prompt per (user, variable) even when both sides share it
    if (req.oauth or token is not None) and req.passwords:
        raise CredentialError("give a password (--password-env ...) or an OAuth 2.0 token (--oauth2...), not both")
    if req.oauth or token is not None:
        token = token or _token_from_env(req.oauth2_token_env, env)
        if token is None:
            raise CredentialError("no OAuth 2.0 token: give --oauth2-token-env VAR, --oauth2-token-cmd CMD or "
                                  "--oauth2 PROVIDER")

    def one(side: str, user: str, var: str) -> Credentials:
        user = line_safe((user or base_user).strip(" \t"), f"the {side} user name")
        if not user:
            raise CredentialError(f"no user name for the {side} login: give --user NAME (or a TARGET address)")
        if token is not None:
            return Credentials(user, token[0], token[1], OAUTH2)
        source_var = var or req.password_env or req.profile_env.get("password_env", "")
        if source_var:
            value = _env_value(source_var, env, source_var)
            if not value:
                raise CredentialError(f"environment variable {source_var} (the {side} password) is not set or empty")
            line_safe(value, f"the {side} password (environment variable {source_var})")
            return Credentials(user, Secret(value), f"environment variable {source_var}")
        if prompt is None:
            raise CredentialError(f"no password for {user}: give --password-env VAR (the name of an environment "
                                  "variable holding it), or run in a terminal to be asked")
        key = (user, "")
        if key not in asked:
            value = prompt(f"Password for {user} ({side}): ")
            if not value:
                raise CredentialError(f"no password entered for {user}")
            line_safe(value, f"the {side} password")
            asked[key] = Secret(value)
        return Credentials(user, asked[key], "prompt")

    outgoing = one("outgoing (SMTP)", req.smtp_user, req.smtp_password_env)
    incoming = one("incoming (IMAP/POP3)", req.imap_user, req.imap_password_env)
    return CredentialSet(outgoing, incoming)


def token_safe(value: str, what: str) -> str:
    """An access token as given (one line, surrounding white space removed), or CredentialError naming
    ``what`` (never the value). RFC 6750 §2.1: a bearer token is printable ASCII without spaces."""
    value = value.strip()
    if not value:
        raise CredentialError(f"{what} is empty")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise CredentialError(f"{what} is not an access token (one line of printable ASCII without spaces)")
    return value


def _token_from_env(name: str, env: Mapping[str, str]) -> tuple[Secret, str] | None:
    if not name:
        return None
    value = _env_value(name, env, "--oauth2-token-env")
    if not value:
        raise CredentialError(f"environment variable {name} (the OAuth 2.0 access token) is not set or empty")
    return Secret(token_safe(value, f"the token in environment variable {name}")), f"environment variable {name}"


def _env_value(name: str, env: Mapping[str, str], what: str) -> str:
    if not name:
        return ""
    if not is_env_name(name):
        raise CredentialError(f"{what}: {name[:40]!r} is not an environment variable name")
    return env.get(name, "")
