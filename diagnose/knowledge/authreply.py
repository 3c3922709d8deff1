"""How a server answered a login, in one word: the pure classification behind the login checks.

SMTP by reply code and enhanced status code (RFC 4954 §6, RFC 3463), IMAP by response code
(RFC 5530), POP3 by extended response code (RFC 2449, RFC 3206); plus the capability parsers and
quoting the sessions use; what the big providers' answers mean (Microsoft 365: 5.7.30, 5.7.139,
5.7.57, 5.7.8, AADSTS codes; Gmail: 534 5.7.9, 5.7.14, the XOAUTH2 JSON challenge). No I/O here.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re

from diagnose.knowledge.replies import SmtpReply, imap_capabilities


class Outcome(str, enum.Enum):
    OK = "ok"
    REJECTED = "rejected"  # wrong user or password (or an account the server refuses, with the same answer)
    LOCKED = "locked"  # the right password, but the account is disabled: [CONTACTADMIN], "account disabled"
    EXPIRED = "expired"  # the password has expired and must be changed first: [EXPIRED]
    TEMPORARY = "temporary"  # 4xx, [UNAVAILABLE], [SYS/TEMP], [INUSE]: locked or failing for now
    NO_MECHANISM = "no_mechanism"  # nothing we can log in with is offered
    DISABLED_BEFORE_TLS = "disabled_before_tls"  # the server refuses login on an unencrypted connection
    TLS_REQUIRED = "tls_required"  # no TLS here, and we do not send credentials in clear
    TLS_UNTRUSTED = "tls_untrusted"  # TLS works but its certificate does not verify: credentials not sent
    UNREACHABLE = "unreachable"
    BROKEN = "broken"  # the server stopped answering or answered nonsense during the login
    OAUTH_REQUIRED = "oauth_required"  # a password, and the server no longer accepts passwords: use OAuth
    SMTP_AUTH_DISABLED = "smtp_auth_disabled"  # SMTP AUTH switched off for the mailbox or tenant (Microsoft 5.7.139)
    APP_PASSWORD = "app_password"  # Gmail 534 5.7.9: an app password (with 2-Step Verification) or OAuth
    WEB_LOGIN = "web_login"  # Gmail 5.7.14 / [ALERT] "log in via your web browser": the provider blocked the login
    TOKEN_REJECTED = "token_rejected"  # the OAuth 2.0 access token was refused (expired, revoked, wrong scope/user)



# The patterns below are strings, searched case-insensitively with `re.search`, which compiles each on
# first use (and caches it): a run without a login never needs them (~1.2 ms to compile).

# Words servers use for an account an administrator disabled (RFC 5530 CONTACTADMIN; Exchange and
# Gmail spell it out): the password may well be right.
_LOCKED = r"\[CONTACTADMIN\]|\baccount (is )?(disabled|locked|suspended|blocked)\b|\buser (is )?disabled\b"
_EXPIRED = r"\[EXPIRED\]|\bpassword (has )?expired\b"


def _refusal(text: str) -> Outcome | None:
    """LOCKED or EXPIRED when the server's words say so, else None (a plain rejection)."""
    if re.search(_EXPIRED, text, re.I):
        return Outcome.EXPIRED
    if re.search(_LOCKED, text, re.I):
        return Outcome.LOCKED
    return None


# Words of servers that switched basic (password) authentication off: Exchange Online 550 5.7.30 "Basic
# authentication is not supported for Client Submission", 535 5.7.139 "Authentication unsuccessful, basic
# authentication is disabled"; Outlook.com / Exchange IMAP [ALERT]s say the same.
_BASIC_OFF = (r"\bbasic auth(entication)? (is )?(disabled|not supported|turned off|blocked)|\b5\.7\.30\b|"
              r"\bOAuth (is )?required\b")
# Exchange Online 535 5.7.139 "Authentication unsuccessful, SmtpClientAuthentication is disabled for the
# Tenant/Mailbox" (and "user is locked by your organization's security defaults policy")
_SMTP_AUTH_OFF = r"SmtpClientAuthentication is disabled|SMTP ?AUTH(entication)? is disabled|security defaults policy"
_APP_PASSWORD = r"\b5\.7\.9\b.*application-specific password|application-specific password required|\bapp password\b"
_WEB_LOGIN = r"\b5\.7\.14\b|log ?in (via|through|with) your web browser|WEBALERT|support\.google\.com/mail/\S*78754"


def _provider_words(text: str, token: bool) -> Outcome | None:
    """What Microsoft's and Google's refusals say, whatever the protocol; None: nothing specific."""
    if re.search(_SMTP_AUTH_OFF, text, re.I):
        return Outcome.SMTP_AUTH_DISABLED
    if re.search(_BASIC_OFF, text, re.I):
        return Outcome.TOKEN_REJECTED if token else Outcome.OAUTH_REQUIRED
    if re.search(_APP_PASSWORD, text, re.I):
        return Outcome.APP_PASSWORD
    if re.search(_WEB_LOGIN, text, re.I):
        return Outcome.WEB_LOGIN
    return None


def _for_token(outcome: Outcome, token: bool) -> Outcome:
    """A refusal of an OAuth token is about the token, not a password."""
    return Outcome.TOKEN_REJECTED if token and outcome in (Outcome.REJECTED, Outcome.EXPIRED) else outcome


def password_mechanisms_offered(offered: list[str]) -> bool:
    """Any mechanism that takes a password (PLAIN, LOGIN, CRAM-*, SCRAM-*, IMAP LOGIN, POP3 USER)."""
    names = [m.upper().removeprefix("SASL ") for m in offered]
    return any(m in ("PLAIN", "LOGIN", "USER") or m.startswith(("CRAM-", "SCRAM-", "DIGEST-")) for m in names)


def oauth_mechanisms_offered(offered: list[str]) -> list[str]:
    """The OAuth 2.0 SASL mechanisms among ``offered`` (XOAUTH2, OAUTHBEARER)."""
    names = [m.upper().removeprefix("SASL ") for m in offered]
    return [m for m in names if m in ("XOAUTH2", "OAUTHBEARER")]


def oauth_challenge(text: str) -> dict[str, str]:
    """The JSON of an XOAUTH2/OAUTHBEARER error challenge (the 334 / + line after a refused token), e.g.
    Gmail's {"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}; {} when it is not one.
    Only short string values are kept: the text is the server's."""
    import json  # here: only a refused OAuth token needs it, and a check with text output has no other use for it

    try:
        raw = base64.b64decode(text.strip(), validate=True)
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k)[:40]: str(v)[:200] for k, v in list(data.items())[:10] if isinstance(v, (str, int))}


def explain_challenge(challenge: dict[str, str]) -> str:
    """The error challenge in plain words ("" for none): RFC 7628 §3.2.2 status, or Google's HTTP-like code."""
    if not challenge:
        return ""
    status = challenge.get("status", "")
    scope = challenge.get("scope", "")
    meaning = {
        "400": "the token was not accepted (Gmail sends 400 for an expired or invalid token, or one for "
               "another user)",
        "401": "the token is not valid: expired, revoked, or issued for another user",
        "invalid_token": "the token is not valid: expired, revoked, or issued for another user",
        "403": "the token lacks the permission (scope) the server needs",
        "insufficient_scope": "the token lacks the permission (scope) the server needs",
        "invalid_request": "the server could not read the login (a client error)",
    }.get(status.lower(), f"status {status or 'not given'}")
    return meaning + (f"; the server asks for scope {scope}" if scope else "")


def smtp_outcome(reply: SmtpReply, tls: bool, *, token: bool = False) -> Outcome:
    """RFC 4954 §6 and the enhanced codes of RFC 3463 / RFC 7372; Microsoft's and Google's words.
    ``token``: the login used an OAuth 2.0 access token."""
    code, text = reply.code, reply.text
    if code == 235:
        return Outcome.OK
    said = _provider_words(text, token)
    if said:
        return said
    if code in (538,) or (code == 530 and "5.7.0" in text) or re.search(r"\b5\.7\.11\b", text):
        return Outcome.DISABLED_BEFORE_TLS if not tls else Outcome.REJECTED
    if code in (504, 534) or "5.5.4" in text or "5.7.9" in text:
        return Outcome.NO_MECHANISM
    if 400 <= code < 500:
        return Outcome.TEMPORARY
    return _for_token(_refusal(text) or Outcome.REJECTED, token)


def imap_outcome(status: str, tls: bool, *, token: bool = False, alerts: tuple[str, ...] = ()) -> Outcome:
    """RFC 5530 response codes; the [ALERT] texts (in the status or untagged ``* OK [ALERT]`` lines)
    of Microsoft and Google."""
    upper = status.upper()
    if upper.startswith("OK"):
        return Outcome.OK
    said = _provider_words(" ".join((status, *alerts)), token)
    if said:
        return said
    if "[PRIVACYREQUIRED]" in upper:
        return Outcome.DISABLED_BEFORE_TLS if not tls else Outcome.REJECTED
    if "[UNAVAILABLE]" in upper or "[INUSE]" in upper:
        return Outcome.TEMPORARY
    if upper.startswith("BAD"):
        return Outcome.NO_MECHANISM
    return _for_token(_refusal(status) or Outcome.REJECTED, token)


def pop_outcome(status: str, tls: bool, *, token: bool = False) -> Outcome:
    """RFC 2449 / RFC 3206 response codes; Microsoft's and Google's words."""
    upper = status.upper()
    if upper.startswith("+OK"):
        return Outcome.OK
    said = _provider_words(status, token)
    if said:
        return said
    if "[SYS/TEMP]" in upper or "[IN-USE]" in upper or "[LOGIN-DELAY]" in upper:
        return Outcome.TEMPORARY
    if not tls and ("PLAINTEXT" in upper or "CLEARTEXT" in upper or "TLS" in upper or "SSL" in upper):
        return Outcome.DISABLED_BEFORE_TLS
    if "[SYS/PERM]" in upper:  # RFC 3206: refused for good, and not because of the credentials
        return Outcome.LOCKED
    return _for_token(_refusal(status) or Outcome.REJECTED, token)


def imap_caps(lines: list[str]) -> dict[str, str]:
    return {c: "" for line in lines for c in imap_capabilities(line)}


def pop_caps(lines: list[str]) -> dict[str, str]:
    if not lines or not lines[0].startswith("+OK"):
        return {}  # CAPA is optional (RFC 2449)
    caps = {}
    for line in lines[1:]:
        keyword, _, params = line.strip().partition(" ")
        if keyword:
            caps[keyword.upper()] = params
    return caps


def imap_quotable(text: str) -> bool:
    return text.isascii() and not any(c in text for c in "\r\n\0")


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
