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

The package: ``reasons`` (codes and words -> reason), ``model`` (what is kept per recipient),
``reports`` (DSN, ARF, auto-replies), ``notices`` (plain-text notices); ``analyse`` picks the format.
"""

from __future__ import annotations

from email.message import Message

from diagnose.knowledge.bounce.model import MAX_RECIPIENTS, MAX_TEXT, Recipient, Returned, parts
from diagnose.knowledge.bounce.notices import looks_like_bounce, parse_plaintext
from diagnose.knowledge.bounce.reasons import REASONS, auth_checks, classify, codes_in
from diagnose.knowledge.bounce.reports import (
    original_header,
    parse_autoreply,
    parse_dsn,
    parse_feedback,
    parse_mdn,
    report_type,
    with_notice_words,
)

__all__ = ["MAX_RECIPIENTS", "MAX_TEXT", "REASONS", "Recipient", "Returned", "analyse", "auth_checks", "classify",
           "codes_in", "original_header", "parse_autoreply", "parse_dsn", "parse_feedback", "parse_mdn",
           "parse_plaintext"]


def analyse(msg: Message, *, depth: int = 0) -> Returned:
    """What this message is: a DSN, a feedback report, a plain-text bounce, an auto-reply, or none; a
    message that forwards a bounce as an attachment (what people send to their helpdesk) is read for it."""
    rtype = report_type(msg)
    if rtype == "feedback-report":
        found = parse_feedback(msg)
        if found:
            return found
    found = parse_dsn(msg)
    if found:
        text_source = parse_plaintext(msg)  # the notice names the MTA (Postfix, Exchange...): keep its name
        details = {"notice_from": text_source.source} if text_source and text_source.source != "generic" else {}
        recipients = tuple(with_notice_words(r, text_source, msg) for r in found.recipients)
        return Returned(found.kind, found.source, recipients, found.reporting_mta, details)
    found = parse_feedback(msg) or parse_mdn(msg)
    if found:
        return found
    if rtype == "delivery-status" or looks_like_bounce(msg) or msg.get_content_type() == "text/plain":
        found = parse_plaintext(msg)
        if found and (found.source != "generic" or looks_like_bounce(msg)):
            return found
    found = parse_autoreply(msg)
    if found:
        return found
    forwarded = _forwarded_bounce(msg, depth)
    if forwarded:
        return forwarded
    return Returned("none", "")


def _forwarded_bounce(msg: Message, depth: int) -> Returned | None:
    """The bounce inside a message/rfc822 attachment (one level of forwarding, at most 5 attachments)."""
    if depth >= 1:
        return None
    payloads = [p.get_payload() for p in parts(msg)[1:] if p.get_content_type() == "message/rfc822"]
    attached = [p[0] for p in payloads if isinstance(p, list) and p and isinstance(p[0], Message)]
    for inner in attached[:5]:
        if looks_like_bounce(inner):
            found = analyse(inner, depth=depth + 1)
            if found.kind != "none":
                return Returned(found.kind, found.source, found.recipients, found.reporting_mta,
                                {**found.details, "forwarded": "yes"})
    return None
