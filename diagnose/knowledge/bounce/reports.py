"""The machine-readable formats: RFC 3464 delivery status notifications (a block without its own words
takes them from the notice), RFC 5965 feedback reports, RFC 3834 auto-replies, and the returned
original's header.
"""

from __future__ import annotations

import re
from dataclasses import replace
from email.message import Message

from diagnose.knowledge.bounce.model import (
    ADDRESS,
    MAX_RECIPIENTS,
    MAX_TEXT,
    Recipient,
    Returned,
    bytes_of,
    header_text,
    make_recipient,
    one_line,
    parts,
    remote_of,
    text_of,
    typed,
)
from diagnose.knowledge.bounce.notices import words_after
from diagnose.knowledge.bounce.reasons import STATUS_CODE


def report_type(msg: Message) -> str:
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
    status_part = next((p for p in parts(msg) if p.get_content_type() in ("message/delivery-status",
                                                                            "message/global-delivery-status")), None)
    if status_part is None:
        return None
    blocks = [one for block in _field_blocks(status_part) for one in _per_recipient(block)]
    if not blocks:
        return None
    first = blocks[0]
    reporting = typed(str(first.get("Reporting-MTA", "")))
    recipients = []
    for block in blocks:
        address = block.get("Final-Recipient") or block.get("Original-Recipient")
        if not address:
            continue
        status = str(block.get("Status", "") or "")
        m = STATUS_CODE.search(status)
        diagnostic = typed(str(block.get("Diagnostic-Code", "") or ""))
        remote = block.get("Remote-MTA") or block.get("X-Remote-MTA") or ""
        recipients.append(make_recipient(typed(str(address)), one_line(block.get("Action", ""), 40),
                                     ".".join(m.groups()) if m else None, diagnostic,
                                     typed(str(remote)) or remote_of(diagnostic)))
        if len(recipients) >= MAX_RECIPIENTS:
            break
    if not recipients:
        return None
    return Returned("dsn", "rfc3464", tuple(recipients), reporting)


def _per_recipient(block: Message) -> list[Message]:
    """A block that holds several recipients (an MTA that left out the blank lines between them) split
    before each Final-Recipient; any other block as it is."""
    if len(block.get_all("Final-Recipient") or []) < 2:
        return [block]
    from email.parser import HeaderParser

    pieces = re.split(r"(?im)^(?=Final-Recipient:)", block.as_string()[:MAX_TEXT])
    return [HeaderParser().parsestr(p) for p in pieces if p.strip()][:MAX_RECIPIENTS + 1]


def with_notice_words(r: Recipient, notice: Returned | None, msg: Message) -> Recipient:
    """A DSN block without a Diagnostic-Code (OpenSMTPD, Exim after retries, some Exchange reports) takes
    the server's words for its recipient from the human-readable notice, when that names the recipient."""
    if r.diagnostic or r.action in ("delivered", "relayed", "expanded"):
        return r
    words = next((n.diagnostic for n in (notice.recipients if notice and notice.source != "generic" else ())
                  if n.recipient.lower() == r.recipient.lower() and n.diagnostic), "")
    if not words:
        words = words_after(text_of(msg), r.recipient)
    if not words:
        return r
    return make_recipient(r.recipient, r.action, r.status, words, r.remote_mta or remote_of(words))


def parse_feedback(msg: Message) -> Returned | None:
    """RFC 5965 ARF: someone (usually a mailbox provider's "this is spam" button) reported the mail."""
    part = next((p for p in parts(msg) if p.get_content_type() == "message/feedback-report"), None)
    if part is None:
        return None
    blocks = _field_blocks(part)
    fields = blocks[0] if blocks else Message()
    ftype = one_line(fields.get("Feedback-Type", "") or "abuse", 60).lower()
    rcpt = typed(str(fields.get("Original-Rcpt-To", "") or "")) or "(not named)"
    details = {"feedback_type": ftype}
    for name in ("User-Agent", "Source-IP", "Reported-Domain", "Original-Mail-From", "Arrival-Date"):
        if fields.get(name):
            details[name.lower().replace("-", "_")] = one_line(str(fields.get(name)), 300)
    reporter = typed(str(fields.get("Reporting-MTA", "") or ""))
    words = f"the recipient's provider sent a feedback report of type {ftype}"
    recipient = Recipient(one_line(rcpt, 320).strip("<>"), None, None, reporter, words, "", False, "feedback")
    return Returned("feedback", "rfc5965", (recipient,), reporter, details)


def original_header(msg: Message) -> Message | None:
    """The header of the returned original (a message/rfc822 or text/rfc822-headers part), if attached."""
    for part in parts(msg)[1:]:
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if ctype in ("text/rfc822-headers", "message/global-headers"):
            from email.parser import HeaderParser

            text = bytes_of(part)
            return HeaderParser().parsestr(text[:MAX_TEXT].decode("utf-8", "replace"))
    return None


_AUTOREPLY_SUBJECT = re.compile(r"^(?:auto(?:matic)?[ -]?(?:reply|response|antwort)|out of (?:the )?office"
                                r"|abwesenheit|r[ée]ponse automatique|vacation)", re.I)


def parse_mdn(msg: Message) -> Returned | None:
    """RFC 8098 disposition notifications: a Sieve ``reject`` (RFC 5429, Dovecot's Pigeonhole) or a
    mailbox that refused the message says ``deleted``/``denied``/``failed``; a read receipt says
    ``displayed``/``dispatched``/``processed`` (the message arrived)."""
    part = next((p for p in parts(msg) if p.get_content_type() == "message/disposition-notification"), None)
    if part is None:
        return None
    blocks = _field_blocks(part)
    fields = blocks[0] if blocks else Message()
    disposition = one_line(fields.get("Disposition", ""), 200).lower()
    address = typed(str(fields.get("Final-Recipient") or fields.get("Original-Recipient") or ""))
    kind = disposition.rpartition(";")[2].strip().split("/")[0]
    reporter = typed(str(fields.get("Reporting-UA", "") or ""))
    if kind in ("displayed", "dispatched", "processed"):
        return Returned("dsn", "rfc8098", (make_recipient(address, "delivered", None, disposition, ""),), reporter)
    if kind not in ("deleted", "denied", "failed", "rejected"):
        return None
    notice = text_of(msg)
    words = (words_after(notice, address) if address else "") or one_line(notice, 1000) or disposition
    refused = make_recipient(address, "failed", None, words, "")
    if refused.reason == "unknown":  # the recipient's own filter said no, in its own words
        refused = replace(refused, reason="policy")
    return Returned("dsn", "rfc8098", (refused,), reporter)


def parse_autoreply(msg: Message) -> Returned | None:
    """RFC 3834: a response sent by software (vacation, out-of-office), not by a person."""
    auto = one_line(msg.get("Auto-Submitted", ""), 100).lower()
    legacy = next((name for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")
                   if msg.get(name) and name != "X-Auto-Response-Suppress"), "")
    precedence = one_line(msg.get("Precedence", ""), 40).lower()
    subject = header_text(msg, "Subject")
    auto_reply = auto.startswith("auto-replied") or bool(legacy) or precedence == "auto_reply" or \
        bool(_AUTOREPLY_SUBJECT.match(subject))
    if not auto_reply:
        return None
    who = one_line(msg.get("From", ""), 320)
    m = re.search(ADDRESS, who)
    recipient = Recipient(m.group(0) if m else who or "(not named)", None, None, "",
                          subject, "", False, "autoreply")
    return Returned("autoreply", "rfc3834", (recipient,), "",
                    {"auto_submitted": auto or legacy.lower() or precedence or "subject", "subject": subject})
