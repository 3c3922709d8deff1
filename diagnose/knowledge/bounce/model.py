"""What a returned message says per recipient (``Recipient``, ``Returned``), and the helpers every format
shares: one cleaned line of untrusted text, the parts of a message, a text part decoded leniently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

from diagnose.knowledge.bounce.reasons import auth_checks, classify, codes_in
from diagnose.knowledge.sanitize import clean

MAX_RECIPIENTS = 200  # recipient blocks read from one report
MAX_PARTS = 50  # MIME parts looked at
MAX_TEXT = 64 * 1024  # characters of a text part searched for a plain-text bounce
ADDRESS = r"[^\s<>@\"'(),;:]{1,64}@[A-Za-z0-9.-]{1,253}"


@dataclass(frozen=True)
class Recipient:
    """One recipient of a returned message and what became of it."""

    recipient: str
    status: str | None  # enhanced status code, "5.1.1"
    reply_code: str | None  # SMTP reply code, "550"
    remote_mta: str
    diagnostic: str  # the server's own words (cleaned, one line)
    action: str  # failed, delayed, delivered, relayed, expanded (RFC 3464); "" when not said
    permanent: bool
    reason: str  # one of REASONS
    auth_checks: tuple[str, ...] = ()  # for auth_failure: spf, dkim, dmarc, ptr as the server named them


@dataclass(frozen=True)
class Returned:
    """What kind of returned message this is and what it says per recipient."""

    kind: str  # dsn, plaintext, feedback, autoreply, none
    source: str  # rfc3464, rfc5965, rfc3834, postfix, qmail, exim, sendmail, exchange, generic, ""
    recipients: tuple[Recipient, ...] = ()
    reporting_mta: str = ""
    details: dict[str, str] = field(default_factory=dict)  # feedback type, auto-submitted value, ...


def one_line(text: str, limit: int = 1000) -> str:
    return clean(re.sub(r"\s+", " ", str(text or "")).strip(), limit=limit, keep_newlines=False)


def typed(value: str) -> str:
    """``rfc822; a@b`` / ``dns; host`` -> the value without its type."""
    value = one_line(value, 500)
    return value.split(";", 1)[1].strip() if ";" in value else value


def make_recipient(address: str, action: str, status: str | None, diagnostic: str, remote_mta: str,
               reply_code: str | None = None) -> Recipient:
    diagnostic = diagnostic[:4000]  # the words of one recipient; bounds the searches below
    reply, said_status = codes_in(diagnostic)
    reply_code = reply_code or reply
    if not status or (status.endswith(".0.0") and said_status and said_status[0] == status[0]):
        status = said_status or status  # Exim and OpenSMTPD report 5.0.0; the server's words are precise
    action = action.lower()
    if action in ("delivered", "relayed", "expanded"):
        reason, permanent = "delivered", False
    else:
        reason = classify(status, reply_code, diagnostic)
        first = (status or reply_code or "5")[0]
        if action == "failed" and first == "4":
            reason = "expired"  # a final failure after temporary ones: the sender's queue gave up (RFC 3464 §2.3.3)
        permanent = action == "failed" or (action != "delayed" and first == "5")
        if action == "delayed" and reason == "expired" and re.search(r"\bexpired\b", diagnostic, re.I):
            permanent = True  # OpenSMTPD reports its queue's expiry ("Envelope expired") as "delayed"
    checks = auth_checks(diagnostic) if reason == "auth_failure" else ()
    return Recipient(one_line(address, 320).strip("<>") or "(not named)", status, reply_code,
                     one_line(remote_mta, 300), one_line(diagnostic), action, permanent, reason, checks)


def parts(msg: Message) -> list[Message]:
    out: list[Message] = []
    for part in msg.walk():
        out.append(part)
        if len(out) >= MAX_PARTS:
            break
    return out


def bytes_of(part: Message) -> bytes:
    """A leaf part's content, transfer encoding undone (leniently: a broken one gives what is there)."""
    try:
        raw = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - broken transfer encoding: use what is there
        raw = None
    if isinstance(raw, bytes):
        return raw
    return str(part.get_payload())[:MAX_TEXT].encode("utf-8", "replace")


def text_of(msg: Message) -> str:
    """The human-readable notice: the first text/plain part, else the first text/html part as text;
    decoded leniently and capped."""
    leaves = [p for p in parts(msg) if not p.is_multipart()]
    for ctype in ("text/plain", "text/html"):
        part = next((p for p in leaves if p.get_content_type() == ctype), None)
        if part is None:
            continue
        raw = bytes_of(part)
        charset = part.get_content_charset() or "utf-8"
        try:
            text = raw[:MAX_TEXT].decode(charset, "replace")
        except LookupError:  # an unknown charset
            text = raw[:MAX_TEXT].decode("utf-8", "replace")
        if ctype == "text/html":
            text = _html_text(text)
        return re.sub(r"\r+\n", "\n", text)  # CRLF, also doubled by a careless encoder
    return ""


def _html_text(html: str) -> str:
    """The text of an HTML notice (some send only HTML): blocks become lines, tags go, entities are read."""
    import html as entities

    # each pattern stops at the next "<": linear in the text, whatever it holds
    html = re.sub(r"(?i)<(script|style)\b[^<]*</\1\s*>", " ", html)
    html = re.sub(r"(?i)<br\s*/?>|</(?:p|div|tr|li|h\d|table)\s*>", "\n", html)
    return entities.unescape(re.sub(r"<[^<>]*>", "", html))


def header_text(msg: Message, name: str, limit: int = 300) -> str:
    """A header field with its RFC 2047 encoded words decoded (``=?utf-8?B?...?=`` subjects), leniently:
    an unknown charset or a broken word leaves the text as it was."""
    from email.header import decode_header, make_header

    value = str(msg.get(name, "") or "")[:4 * limit]
    try:
        value = str(make_header(decode_header(value)))
    except (LookupError, ValueError, UnicodeError, AssertionError):
        pass
    return one_line(value, limit)


_REMOTE_HOST = re.compile(r"\bhost ([A-Za-z0-9.-]+\[[^\]\n]{1,60}\]|[A-Za-z0-9.-]+ \[[^\]\n]{1,60}\])"
                          r"|^([0-9a-fA-F.:]{3,45}) (?:does not like|failed after)", re.M)


def remote_of(text: str) -> str:
    m = _REMOTE_HOST.search(text)
    return (m.group(1) or m.group(2) or "") if m else ""
