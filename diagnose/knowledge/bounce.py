"""What a returned message says: bounces, auto-replies and feedback reports. Pure functions on an
``email.message.Message``; tested on real Postfix bounces and on the documented formats of others.

Recognised, in this order:

* RFC 3464 delivery status notifications (``multipart/report; report-type=delivery-status``): one
  entry per recipient block (Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code). Postfix,
  Sendmail, Exim (since 4.x with ``dsn_from``), Gmail and Microsoft 365 send these.
* RFC 5965 ARF feedback reports (``report-type=feedback-report``): a recipient reported the mail.
* Plain-text bounces of MTAs that send no DSN: Postfix ``<addr>: host ... said: ...``, qmail (same
  shape, "qmail-send program"), Exim ("following address(es) failed"), Sendmail ("had permanent fatal
  errors") and Exchange ("Delivery has failed to these recipients").
* RFC 3834 auto-replies (``Auto-Submitted: auto-replied``, and the older ``X-Autoreply``,
  ``Precedence: auto_reply`` and "Automatic reply" subjects).

Each failed recipient gets a *reason* from one vocabulary (``REASONS``), from its enhanced status code
(RFC 3463) and the server's own words. Everything read from the message is untrusted: the text kept
is cleaned (diagnose.knowledge.sanitize) and capped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

from diagnose.knowledge.sanitize import clean

REASONS = ("user_unknown", "mailbox_full", "mailbox_disabled", "has_moved", "host_unknown", "network_error",
           "expired", "relay_denied", "auth_failure", "blocked", "rate_limited", "spam", "virus", "policy",
           "message_too_large", "system_error", "syntax_error", "autoreply", "feedback", "delivered", "unknown")
MAX_RECIPIENTS = 200  # recipient blocks read from one report
MAX_PARTS = 50  # MIME parts looked at
MAX_TEXT = 64 * 1024  # characters of a text part searched for a plain-text bounce

# an enhanced status code anywhere in the words, never a piece of an IP address or a version number
_STATUS = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
# a reply code, "550 ", "550-", "550:" (Yahoo), "#550" (Exchange), then maybe its enhanced status
_REPLY = re.compile(r"(?<![\w.])#?([245]\d\d)(?:[ -]|:(?!\d)|$)(?:\s*#?([245]\.\d{1,3}\.\d{1,3})(?![\w]|\.\d))?")
_ADDRESS = r"[^\s<>@\"'(),;:]{1,64}@[A-Za-z0-9.-]{1,253}"


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


def _one_line(text: str, limit: int = 1000) -> str:
    return clean(re.sub(r"\s+", " ", str(text or "")).strip(), limit=limit, keep_newlines=False)


def _typed(value: str) -> str:
    """``rfc822; a@b`` / ``dns; host`` -> the value without its type."""
    value = _one_line(value, 500)
    return value.split(";", 1)[1].strip() if ";" in value else value


def codes_in(text: str) -> tuple[str | None, str | None]:
    """(reply code, enhanced status) first found in a server's words: "550 5.1.1 ..." -> ("550", "5.1.1")."""
    reply = status = None
    m = _REPLY.search(text)
    if m:
        reply, status = m.group(1), m.group(2)
    if status is None:
        s = _STATUS.search(text)
        status = ".".join(s.groups()) if s else None
    return reply, status


# --- the reason of a failure ---------------------------------------------------------------------

_AUTH_WORDS = {"spf": r"\bspf\b|sender policy framework|5\.7\.2[34]", "dkim": r"\bdkim\b|5\.7\.20\b",
               "dmarc": r"\bdmarc\b", "ptr": r"reverse dns|\bptr\b|rdns|5\.7\.25"}
_TEXT_RULES: tuple[tuple[str, str], ...] = (  # (reason, pattern) tried in order on the server's words
    ("virus", r"\bvirus|malware|infected|\btrojan"),
    ("auth_failure", r"\bspf\b|\bdkim\b|\bdmarc\b|unauthenticated|not authenticated|authentication (?:check|fail)"
                     r"|5\.7\.2[03467]\b"),
    ("rate_limited", r"rate limit|rate-limit|too many (?:messages|connections|emails|recipients)|unusual rate"
                     r"|unexpected volume|user complaints|\[TSS04\]|temporarily deferred|server busy"
                     r"|try again later.*volume|throttl|greylist|graylist|4\.7\.28\b|sending limit"
                     r"|exceeded.*(?:limit|quota) of"),
    ("spam", r"spam content|detected as spam|likely (?:unsolicited|spam)|looks like spam|considered (?:as )?spam"
             r"|content (?:rejected|filter)|message content"),  # the content, even where the words say "blocked"
    ("blocked", r"block ?list|blacklist|black list|\bblocked\b|spamhaus|spamcop|barracuda|\brbl\b|\bdnsbl\b"
                r"|reputation|listed (?:at|on|in|by)|reverse dns|\bptr\b|rdns|5\.7\.25\b|banned sending"
                r"|not allowed to send from|permanently deferred|\[TSS0[39]\]|\[TS0[23]\]|envelope blocked"
                r"|traffic not accepted from this ip|poor reputation|dynamic reputation"),
    ("spam", r"\bspam\b|unsolicited|junk|bulk mail|content (?:rejected|filter)|message content"),
    ("relay_denied", r"relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited|not allowed)"
                     r"|not permitted to relay|unable to relay|we do not relay|does not relay|relay access"
                     r"|open relay not allowed|relaying denied"),
    ("message_too_large", r"too (?:large|big)|message size|size limit|exceeds (?:the )?(?:maximum )?(?:message )?size"),
    ("mailbox_full", r"mailbox (?:is )?full|over ?quota|quota exceeded|exceeded (?:the |its )?(?:storage|quota)"
                     r"|postfach (?:ist )?voll|bo[iî]te (?:aux lettres )?(?:est )?pleine|speicherplatz"
                     r"|insufficient (?:storage|disk)|mailbox size limit"),
    ("mailbox_disabled", r"disabled|deactivated|inactive|suspended|account (?:has been )?(?:closed|locked)"
                         r"|no longer (?:active|in use)|not accepting (?:mail|messages)"),
    ("has_moved", r"has moved|user has moved|no longer at|address changed"),
    ("user_unknown", r"user unknown|unknown user|no such (?:user|mailbox|recipient|address|person)"
                     r"|does(?: ?n[o']t|n.t) exist|not exist|recipient not found|recipientnotfound|user not found"
                     r"|mailbox not found|mailbox unavailable|invalid (?:recipient|mailbox|address)"
                     r"|unknown (?:recipient|local|mailbox|address)"
                     r"|address not found|not a valid (?:mailbox|recipient)|unrouteable address"
                     r"|doesn't have a .* account|mailbox does not|no mailbox|undeliverable address"
                     r"|unbekannte?r? (?:empf[aä]nger|benutzer)|existiert nicht|destinataire inconnu"
                     r"|n'existe pas|utilisateur inconnu"),
    ("host_unknown", r"host (?:or domain name )?not found|name or service not known|nxdomain|domain not found"
                     r"|no mx|unrouteable (?:mail )?domain|unknown host|domain (?:does not|doesn't) exist|null mx"
                     r"|all relevant mx records point to non-existent hosts"),
    ("expired", r"expired|too long|retry time(?:out)? (?:not reached|exceeded)|gave up|giving up|timeout exceeded"
                r"|could not be delivered within"),
    ("network_error", r"connection (?:refused|timed out|reset|closed)|timed out|network is unreachable"
                      r"|no route to host|lost connection|conversation with .* timed out|connect to .* failed"
                      r"|tls (?:handshake|negotiation) failed|certificate verification failed"),
    ("policy", r"policy|not allowed|prohibited|rejected for policy|administrative prohibition|access denied"
               r"|not authori[sz]ed|refused|denied"),
    ("system_error", r"internal error|local error|configuration error|mail loop|loops back|too many hops"
                     r"|system (?:error|not accepting)|temporary (?:local )?problem|service unavailable"),
    ("syntax_error", r"syntax|malformed|bad address|invalid address format|line too long"),
)
_TEXT_RULES_RE = tuple((reason, re.compile(pattern, re.I)) for reason, pattern in _TEXT_RULES)
_STATUS_RULES: dict[str, str] = {  # enhanced status "subject.detail" -> reason (RFC 3463, RFC 7372, RFC 7505)
    "1.1": "user_unknown", "1.0": "user_unknown", "1.2": "host_unknown", "1.3": "syntax_error",
    "1.6": "has_moved", "1.7": "syntax_error", "1.8": "host_unknown", "1.10": "host_unknown",
    "2.1": "mailbox_disabled", "2.2": "mailbox_full", "2.3": "message_too_large", "2.4": "system_error",
    "3.0": "system_error", "3.1": "system_error", "3.2": "system_error", "3.4": "message_too_large",
    "3.5": "system_error", "4.0": "network_error", "4.1": "network_error", "4.2": "network_error",
    "4.3": "host_unknown", "4.4": "host_unknown", "4.5": "rate_limited", "4.6": "system_error",
    "4.7": "expired", "5.0": "system_error", "5.1": "syntax_error", "5.2": "syntax_error", "5.3": "rate_limited",
    "5.4": "syntax_error", "5.5": "system_error", "6.0": "spam", "6.1": "policy", "6.3": "policy",
    "7.0": "policy", "7.1": "policy", "7.2": "policy", "7.7": "auth_failure", "7.13": "mailbox_disabled",
    "7.20": "auth_failure", "7.21": "auth_failure", "7.22": "auth_failure", "7.23": "auth_failure",
    "7.24": "auth_failure", "7.25": "blocked", "7.26": "auth_failure", "7.27": "host_unknown",
    "7.28": "rate_limited",
}
# Codes whose words are more precise than the number: a 5.1.1 that names SPF is an auth failure, a
# 5.7.1 that names a blocklist is a block. A generic code lets the words decide.
_GENERIC = {"0.0", "1.0", "7.0", "7.1", "7.2", "3.0", "5.0", "4.0", "2.0", "6.0", "1.1", "1.10", "4.1", "4.4", "4.7"}


# Full codes some providers give a meaning of their own (Microsoft's "Email non-delivery reports and
# SMTP errors in Exchange Online" table); looked up before the RFC 3463 subject.detail rules.
_EXACT: dict[str, str] = {
    "5.1.8": "blocked",  # the sender's account is blocked for sending spam
    "5.1.10": "user_unknown", "5.1.0": "user_unknown",
    "5.2.121": "rate_limited", "5.2.122": "rate_limited",  # the recipient's per-hour receive limit
    "5.4.14": "system_error", "5.4.6": "system_error",  # hop count exceeded, routing loop
    "5.4.300": "expired", "5.4.316": "expired", "4.4.316": "expired",
    "5.7.350": "spam",  # the remote server said the message is spam
    "5.7.509": "auth_failure", "5.7.515": "auth_failure",  # DMARC; the required authentication level
    "5.7.705": "blocked", "5.7.708": "blocked", "5.7.750": "blocked", "5.7.510": "policy",
    **{f"5.7.{n}": "blocked" for n in range(606, 650)},  # banned sending IP / address ranges
    **{f"4.7.{n}": "rate_limited" for n in range(500, 700)},  # "Server busy", IP rate limited
}


def classify(status: str | None, reply_code: str | None, text: str) -> str:
    """The reason (one of REASONS) of a failure from its enhanced status, reply code and words."""
    words = text or ""
    by_status = ""
    if status == "5.4.1" and re.search(r"recipient address rejected", words, re.I):
        return "user_unknown"  # Microsoft 365 directory-based edge blocking: no such recipient there
    if status in _EXACT:
        return _EXACT[status]
    if status:
        _, subject, detail = status.split(".")
        by_status = _STATUS_RULES.get(f"{int(subject)}.{int(detail)}", "")
        if by_status and f"{int(subject)}.{int(detail)}" not in _GENERIC:
            return by_status
    for reason, pattern in _TEXT_RULES_RE:
        if pattern.search(words):
            if by_status == "user_unknown" and reason in ("policy", "system_error", "syntax_error"):
                break  # "550 5.1.1 ... rejected": the code is more precise than a generic word
            return reason
    if by_status:
        return by_status
    code = reply_code or ""
    return {"552": "mailbox_full", "553": "syntax_error", "554": "policy", "521": "host_unknown",
            "556": "host_unknown", "421": "rate_limited", "450": "user_unknown", "451": "system_error",
            "452": "mailbox_full", "550": "user_unknown", "551": "has_moved"}.get(code, "unknown")


def auth_checks(text: str) -> tuple[str, ...]:
    """Which sender checks a receiver names in its refusal: spf, dkim, dmarc, ptr."""
    return tuple(name for name, pattern in _AUTH_WORDS.items() if re.search(pattern, text or "", re.I))


def _recipient(address: str, action: str, status: str | None, diagnostic: str, remote_mta: str,
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
    return Recipient(_one_line(address, 320).strip("<>") or "(not named)", status, reply_code,
                     _one_line(remote_mta, 300), _one_line(diagnostic), action, permanent, reason, checks)


# --- the formats ------------------------------------------------------------------------------------

def _parts(msg: Message) -> list[Message]:
    out: list[Message] = []
    for part in msg.walk():
        out.append(part)
        if len(out) >= MAX_PARTS:
            break
    return out


def _report_type(msg: Message) -> str:
    if msg.get_content_type() != "multipart/report":
        return ""
    return str(msg.get_param("report-type", "") or "").lower()


def _field_blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    encoding = str(part.get("Content-Transfer-Encoding", "") or "").strip().lower()
    if isinstance(payload, list) and encoding in ("base64", "quoted-printable"):
        # the parser read the encoded text as header blocks: undo the encoding of their text first
        encoded = "\n".join(p.as_string() if isinstance(p, Message) else str(p) for p in payload)[:MAX_TEXT]
        payload = _decoded_text(encoded, encoding)
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)][:MAX_RECIPIENTS + 1]
    if isinstance(payload, str):  # a part the parser kept as text (odd encoding): parse its blocks
        from email.parser import HeaderParser

        text = payload[:MAX_TEXT].replace("\r\n", "\n")
        return [HeaderParser().parsestr(b.strip() + "\n") for b in re.split(r"\n\s*\n", text) if b.strip()][
            :MAX_RECIPIENTS + 1]
    return []


def _decoded_text(text: str, encoding: str) -> str:
    import binascii
    import quopri

    data = text.encode("ascii", "replace")
    try:
        raw = binascii.a2b_base64(re.sub(rb"[^A-Za-z0-9+/=]", b"", data)) if encoding == "base64" else \
            quopri.decodestring(data)
    except (binascii.Error, ValueError):
        return text
    return raw.decode("utf-8", "replace")


def parse_dsn(msg: Message) -> Returned | None:
    """RFC 3464: the per-recipient blocks of the message/delivery-status part."""
    status_part = next((p for p in _parts(msg) if p.get_content_type() in ("message/delivery-status",
                                                                            "message/global-delivery-status")), None)
    if status_part is None:
        return None
    blocks = _field_blocks(status_part)
    if not blocks:
        return None
    first = blocks[0]
    reporting = _typed(str(first.get("Reporting-MTA", "")))
    recipients = []
    for block in blocks:
        address = block.get("Final-Recipient") or block.get("Original-Recipient")
        if not address:
            continue
        status = str(block.get("Status", "") or "")
        m = _STATUS.search(status)
        diagnostic = _typed(str(block.get("Diagnostic-Code", "") or ""))
        remote = block.get("Remote-MTA") or block.get("X-Remote-MTA") or ""
        recipients.append(_recipient(_typed(str(address)), _one_line(block.get("Action", ""), 40),
                                     ".".join(m.groups()) if m else None, diagnostic,
                                     _typed(str(remote)) or _remote(diagnostic)))
        if len(recipients) >= MAX_RECIPIENTS:
            break
    if not recipients:
        return None
    return Returned("dsn", "rfc3464", tuple(recipients), reporting)


def parse_feedback(msg: Message) -> Returned | None:
    """RFC 5965 ARF: someone (usually a mailbox provider's "this is spam" button) reported the mail."""
    part = next((p for p in _parts(msg) if p.get_content_type() == "message/feedback-report"), None)
    if part is None:
        return None
    blocks = _field_blocks(part)
    fields = blocks[0] if blocks else Message()
    ftype = _one_line(fields.get("Feedback-Type", "") or "abuse", 60).lower()
    rcpt = _typed(str(fields.get("Original-Rcpt-To", "") or "")) or "(not named)"
    details = {"feedback_type": ftype}
    for name in ("User-Agent", "Source-IP", "Reported-Domain", "Original-Mail-From", "Arrival-Date"):
        if fields.get(name):
            details[name.lower().replace("-", "_")] = _one_line(str(fields.get(name)), 300)
    reporter = _typed(str(fields.get("Reporting-MTA", "") or ""))
    words = f"the recipient's provider sent a feedback report of type {ftype}"
    recipient = Recipient(_one_line(rcpt, 320).strip("<>"), None, None, reporter, words, "", False, "feedback")
    return Returned("feedback", "rfc5965", (recipient,), reporter, details)


def original_header(msg: Message) -> Message | None:
    """The header of the returned original (a message/rfc822 or text/rfc822-headers part), if attached."""
    for part in _parts(msg)[1:]:
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if ctype in ("text/rfc822-headers", "message/global-headers"):
            from email.parser import HeaderParser

            text = _bytes_of(part)
            return HeaderParser().parsestr(text[:MAX_TEXT].decode("utf-8", "replace"))
    return None


def _bytes_of(part: Message) -> bytes:
    """A leaf part's content, transfer encoding undone (leniently: a broken one gives what is there)."""
    try:
        raw = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - broken transfer encoding: use what is there
        raw = None
    if isinstance(raw, bytes):
        return raw
    return str(part.get_payload())[:MAX_TEXT].encode("utf-8", "replace")


def _text_of(msg: Message) -> str:
    """The first text/plain part (the human-readable notice), decoded leniently and capped."""
    for part in _parts(msg):
        if part.get_content_type() == "text/plain" and not part.is_multipart():
            raw = _bytes_of(part)
            charset = part.get_content_charset() or "utf-8"
            try:
                text = raw[:MAX_TEXT].decode(charset, "replace")
            except LookupError:  # an unknown charset
                text = raw[:MAX_TEXT].decode("utf-8", "replace")
            return re.sub(r"\r+\n", "\n", text)  # CRLF, also doubled by a careless encoder
    return ""


_POSTFIX = re.compile(rf"^<({_ADDRESS})>(?: \([^)\n]*\))?:[ \t]*\n?((?:[ \t]*\S.*\n?)*)", re.M)
_EXIM = re.compile(rf"^([ \t]+)<?({_ADDRESS})>?[ \t]*\n((?:\1[ \t]+\S.*\n?)*)", re.M)  # words indented deeper
_SENDMAIL = re.compile(rf"^<?({_ADDRESS})>?[ \t]*\n[ \t]+\(reason: ([^\n]*)\)", re.M)
_EXCHANGE = re.compile(rf"^[ \t]*({_ADDRESS})(?:[ \t]+\([^)\n]*\))?[ \t]*\n((?:[ \t]*\S.*\n?){{1,8}})", re.M)
_REMOTE_HOST = re.compile(r"\bhost ([A-Za-z0-9.-]+\[[^\]\n]{1,60}\]|[A-Za-z0-9.-]+ \[[^\]\n]{1,60}\])"
                          r"|^([0-9a-fA-F.:]{3,45}) (?:does not like|failed after)", re.M)


def _remote(text: str) -> str:
    m = _REMOTE_HOST.search(text)
    return (m.group(1) or m.group(2) or "") if m else ""


def _temporary_notice(text: str) -> bool:
    return bool(re.search(r"delayed|not yet been delivered|will (?:keep )?(?:try|retry)|still trying"
                          r"|temporary (?:error|failure|problem)|has not been delivered yet", text[:4000], re.I))


def parse_plaintext(msg: Message) -> Returned | None:
    """The notice text of the MTAs that send no machine-readable report."""
    text = _text_of(msg)
    if not text:
        return None
    action = "delayed" if _temporary_notice(text) else "failed"
    found: list[tuple[str, str]] = []
    source = ""
    if re.search(r"qmail-send program|This is the mail system at host|Postfix program", text, re.I):
        source = "qmail" if "qmail" in text.lower() else "postfix"
        found = [(a, d) for a, d in _POSTFIX.findall(text)]
    elif re.search(r"following (?:address|recipient)\(?e?s?\)? failed|could not be delivered to one or more", text,
                   re.I) and "SMTP error" in text or re.search(r"address\(es\) failed|Exim", text):
        source = "exim"
        tail = re.split(r"following address\(es\) (?:failed|deferred):?", text, maxsplit=1, flags=re.I)[-1]
        tail = re.split(r"\n-{3,}", tail, maxsplit=1)[0]
        found = [(a, d) for _, a, d in _EXIM.findall(tail + "\n")]
    elif re.search(r"permanent fatal errors|Transcript of session follows", text, re.I):
        source = "sendmail"
        found = [(a, d) for a, d in _SENDMAIL.findall(text)]
        if not found:
            found = [(a, "") for a in re.findall(rf"^<({_ADDRESS})>", text, re.M)]
        transcript = text.split("Transcript of session follows", 1)[-1]
        found = [(a, d or _sendmail_reply(transcript, a)) for a, d in found]
    elif _EXCHANGE_NOTICE.search(text):
        source = "exchange"
        head = _EXCHANGE_DIAGNOSTIC.split(text, maxsplit=1)
        found = [(a, d) for a, d in _EXCHANGE.findall(head[0])]
        if len(head) > 1:
            found = _exchange_words(head[1], found)
    if not found and _looks_like_bounce(msg):
        source = "generic"
        found = _generic_recipients(text, msg)
    recipients = []
    for address, words in found[:MAX_RECIPIENTS]:
        words = words.strip()
        recipients.append(_recipient(address, action, None, words, _remote(words)))
    if not recipients:
        return None
    return Returned("plaintext", source or "generic", tuple(recipients))


# Exchange and Microsoft 365 notices, also in German and French (their most common other languages)
_EXCHANGE_NOTICE = re.compile(
    r"Delivery has failed to these recipients|Your message (?:to .* )?couldn't be delivered|Remote Server returned"
    r"|Die Zustellung an folgende Empf[aä]nger oder Gruppen ist fehlgeschlagen"
    r"|Ihre Nachricht (?:an .* )?konnte nicht (?:zugestellt|übermittelt) werden"
    r"|La remise aux destinataires ou groupes suivants a [ée]chou[ée]"
    r"|Votre message (?:pour .* )?n'a pas pu [êe]tre (?:remis|distribu[ée])", re.I)
_EXCHANGE_DIAGNOSTIC = re.compile(r"Diagnostic information for administrators"
                                  r"|Diagnoseinformationen f[üu]r Administratoren"
                                  r"|Informations de diagnostic pour les administrateurs", re.I)
_ORIGINAL_HEADERS = re.compile(r"^\s*(?:Original message headers|Urspr[üu]ngliche Nachrichtenkopfzeilen"
                               r"|En-t[êe]tes de message d'origine)", re.I | re.M)
_SAID = re.compile(r"Remote Server returned '([^'\n]*)'|^\s*#?([45]\d\d[ -]#?[245]\.\d+\.\d+.*?)[ #]*$", re.M | re.I)


def _exchange_words(diagnostic: str, found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The server's words per recipient from an Exchange notice's section for administrators: the lines
    under each address, else the one reply the section quotes."""
    diagnostic = _ORIGINAL_HEADERS.split(diagnostic, maxsplit=1)[0]
    said = _SAID.search(diagnostic)
    shared = (said.group(1) or said.group(2)) if said else ""
    addresses = [a for a, _ in found] or list(dict.fromkeys(re.findall(_ADDRESS, diagnostic)))[:MAX_RECIPIENTS]
    out = []
    for address in addresses:
        own = _words_after(diagnostic, address)
        mine = _SAID.search(own + "\n") if own else None
        words = (mine.group(1) or mine.group(2)) if mine else (own if any(codes_in(own)) else "")
        out.append((address, words or shared or dict(found).get(address, "")))
    return out


def _generic_recipients(text: str, msg: Message) -> list[tuple[str, str]]:
    """Recipients of a notice in no known layout: ``<addr>:`` then its words (qmail's layout, which Yahoo
    and many others keep), else each address the notice names with a reply code next to it."""
    found = [(a, d) for a, d in _POSTFIX.findall(text)]
    if found:
        return found
    own = {a.lower() for a in re.findall(_ADDRESS, f"{msg.get('From', '')} {msg.get('To', '')}")}
    for address in list(dict.fromkeys(re.findall(_ADDRESS, text[:MAX_TEXT])))[:50]:
        words = _words_after(text, address)
        if address.lower() not in own and any(codes_in(words)):
            found.append((address, words))
    if found:
        return found
    reply = re.search(r"^.*\b[45]\d\d[ -]#?[245]\.\d{1,3}\.\d{1,3}\b.*$", text, re.M)
    addresses = [a for a in re.findall(_ADDRESS, text) if a.lower() not in own] or re.findall(_ADDRESS, text)
    if addresses or reply:
        return [(addresses[0] if addresses else "", reply.group(0) if reply else "")]
    return []


def _with_notice_words(r: Recipient, notice: Returned | None, msg: Message) -> Recipient:
    """A DSN block without a Diagnostic-Code (OpenSMTPD, Exim after retries, some Exchange reports) takes
    the server's words for its recipient from the human-readable notice, when that names the recipient."""
    if r.diagnostic or r.action in ("delivered", "relayed", "expanded"):
        return r
    words = next((n.diagnostic for n in (notice.recipients if notice and notice.source != "generic" else ())
                  if n.recipient.lower() == r.recipient.lower() and n.diagnostic), "")
    if not words:
        words = _words_after(_text_of(msg), r.recipient)
    if not words:
        return r
    return _recipient(r.recipient, r.action, r.status, words, r.remote_mta or _remote(words))


def _words_after(text: str, address: str) -> str:
    """What a notice says next to ``address``: the rest of its line (``addr: 550 ...``) and the lines
    indented under it; after a lead-in ending in a colon (Dovecot: "Your message to <addr> was
    automatically rejected:") the next line too."""
    m = re.search(rf"<?{re.escape(address)}>?[ \t]*(?:\([^)\n]*\))?[:,]?[ \t]*(.*)\n((?:[ \t]+\S.*\n?)*)(.*)",
                  text[:MAX_TEXT], re.I)
    if not m:
        return ""
    words = f"{m.group(1)} {m.group(2)}".strip()
    if not words or words.endswith(":"):
        words = f"{words} {m.group(3)}"
    return _one_line(words, 1000)


def _sendmail_reply(transcript: str, address: str) -> str:
    m = re.search(rf"^<<< ([45]\d\d[ -].*{re.escape(address)}.*)$", transcript, re.M | re.I) or \
        re.search(r"^<<< ([45]\d\d[ -].*)$", transcript, re.M)
    return m.group(1) if m else ""


def _looks_like_bounce(msg: Message) -> bool:
    sender = str(msg.get("From", "")).lower()
    subject = str(msg.get("Subject", "")).lower()
    return bool(re.search(r"mailer-daemon|postmaster|mail delivery", sender)) or bool(re.search(
        r"undeliver|delivery (?:status|failure|notification|has failed)|returned mail|failure notice"
        r"|mail delivery failed|could not be delivered|delivery failed", subject))


_AUTOREPLY_SUBJECT = re.compile(r"^(?:auto(?:matic)?[ -]?(?:reply|response|antwort)|out of (?:the )?office"
                                r"|abwesenheit|r[ée]ponse automatique|vacation)", re.I)


def parse_autoreply(msg: Message) -> Returned | None:
    """RFC 3834: a response sent by software (vacation, out-of-office), not by a person."""
    auto = _one_line(msg.get("Auto-Submitted", ""), 100).lower()
    legacy = next((name for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")
                   if msg.get(name) and name != "X-Auto-Response-Suppress"), "")
    precedence = _one_line(msg.get("Precedence", ""), 40).lower()
    subject = _one_line(msg.get("Subject", ""), 300)
    auto_reply = auto.startswith("auto-replied") or bool(legacy) or precedence == "auto_reply" or \
        bool(_AUTOREPLY_SUBJECT.match(subject))
    if not auto_reply:
        return None
    who = _one_line(msg.get("From", ""), 320)
    m = re.search(_ADDRESS, who)
    recipient = Recipient(m.group(0) if m else who or "(not named)", None, None, "",
                          subject, "", False, "autoreply")
    return Returned("autoreply", "rfc3834", (recipient,), "",
                    {"auto_submitted": auto or legacy.lower() or precedence or "subject", "subject": subject})


def analyse(msg: Message) -> Returned:
    """What this message is: a DSN, a feedback report, a plain-text bounce, an auto-reply, or none."""
    rtype = _report_type(msg)
    if rtype == "feedback-report":
        found = parse_feedback(msg)
        if found:
            return found
    found = parse_dsn(msg)
    if found:
        text_source = parse_plaintext(msg)  # the notice names the MTA (Postfix, Exchange...): keep its name
        details = {"notice_from": text_source.source} if text_source and text_source.source != "generic" else {}
        recipients = tuple(_with_notice_words(r, text_source, msg) for r in found.recipients)
        return Returned(found.kind, found.source, recipients, found.reporting_mta, details)
    found = parse_feedback(msg)
    if found:
        return found
    if rtype == "delivery-status" or _looks_like_bounce(msg) or msg.get_content_type() == "text/plain":
        found = parse_plaintext(msg)
        if found and (found.source != "generic" or _looks_like_bounce(msg)):
            return found
    found = parse_autoreply(msg)
    if found:
        return found
    return Returned("none", "")
