"""How a server answered a login, in one word: the pure classification behind the login checks.

SMTP by reply code and enhanced status code (RFC 4954 §6, RFC 3463), IMAP by response code
(RFC 5530), POP3 by extended response code (RFC 2449, RFC 3206); plus the capability parsers and
quoting the sessions use. No I/O here.
"""

from __future__ import annotations

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



# Words servers use for an account an administrator disabled (RFC 5530 CONTACTADMIN; Exchange and
# Gmail spell it out): the password may well be right.
_LOCKED = re.compile(r"\[CONTACTADMIN\]|\baccount (is )?(disabled|locked|suspended|blocked)\b|\buser (is )?disabled\b",
                     re.I)
_EXPIRED = re.compile(r"\[EXPIRED\]|\bpassword (has )?expired\b", re.I)


def _refusal(text: str) -> Outcome | None:
    """LOCKED or EXPIRED when the server's words say so, else None (a plain rejection)."""
    if _EXPIRED.search(text):
        return Outcome.EXPIRED
    if _LOCKED.search(text):
        return Outcome.LOCKED
    return None


def smtp_outcome(reply: SmtpReply, tls: bool) -> Outcome:
    """RFC 4954 §6 and the enhanced codes of RFC 3463 / RFC 7372."""
    code, text = reply.code, reply.text
    if code == 235:
        return Outcome.OK
    if code in (538,) or (code == 530 and "5.7.0" in text) or re.search(r"\b5\.7\.11\b", text):
        return Outcome.DISABLED_BEFORE_TLS if not tls else Outcome.REJECTED
    if code in (504, 534) or "5.5.4" in text or "5.7.9" in text:
        return Outcome.NO_MECHANISM
    if 400 <= code < 500:
        return Outcome.TEMPORARY
    return _refusal(text) or Outcome.REJECTED


def imap_outcome(status: str, tls: bool) -> Outcome:
    """RFC 5530 response codes."""
    upper = status.upper()
    if upper.startswith("OK"):
        return Outcome.OK
    if "[PRIVACYREQUIRED]" in upper:
        return Outcome.DISABLED_BEFORE_TLS if not tls else Outcome.REJECTED
    if "[UNAVAILABLE]" in upper or "[INUSE]" in upper:
        return Outcome.TEMPORARY
    if upper.startswith("BAD"):
        return Outcome.NO_MECHANISM
    return _refusal(status) or Outcome.REJECTED


def pop_outcome(status: str, tls: bool) -> Outcome:
    """RFC 2449 / RFC 3206 response codes."""
    upper = status.upper()
    if upper.startswith("+OK"):
        return Outcome.OK
    if "[SYS/TEMP]" in upper or "[IN-USE]" in upper or "[LOGIN-DELAY]" in upper:
        return Outcome.TEMPORARY
    if not tls and ("PLAINTEXT" in upper or "CLEARTEXT" in upper or "TLS" in upper or "SSL" in upper):
        return Outcome.DISABLED_BEFORE_TLS
    if "[SYS/PERM]" in upper:  # RFC 3206: refused for good, and not because of the credentials
        return Outcome.LOCKED
    return _refusal(status) or Outcome.REJECTED


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
