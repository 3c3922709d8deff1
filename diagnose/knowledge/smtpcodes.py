"""SMTP replies in plain words: the basic code (RFC 5321 §4.2) and the enhanced status code (RFC 3463).

``explain_reply(550, "5.7.1 Relaying denied")`` -> "550: permanent failure; 5.7.1: delivery not
authorized, message refused (security or policy)". Pure and total: unknown codes still get the
meaning of their first digit, so every reply met on the way can be shown with words.
"""

from __future__ import annotations

import re

BASIC = {
    211: "system status",
    214: "help message",
    220: "service ready",
    221: "closing the connection",
    235: "authentication succeeded",
    250: "accepted",
    251: "user not local; will forward",
    252: "cannot verify the user",
    334: "server challenge (go on with the login)",
    354: "start the message text",
    421: "service not available, closing the connection (often: too busy, or too many connections from you)",
    432: "a password transition is needed",
    450: "mailbox unavailable for now (busy, or greylisting)",
    451: "local error in processing, try again later (often greylisting or a failed lookup)",
    452: "insufficient storage or too many recipients, try again later",
    454: "temporary authentication failure (or TLS not available now)",
    455: "server cannot take the parameters now",
    500: "command not recognized",
    501: "syntax error in the parameters",
    502: "command not implemented",
    503: "bad sequence of commands (e.g. MAIL before a login the server requires)",
    504: "parameter (e.g. the login mechanism) not implemented",
    521: "this host accepts no mail",
    530: "authentication (or encryption) required",
    534: "login mechanism too weak",
    535: "authentication credentials invalid (wrong user name or password)",
    538: "encryption required for this login mechanism",
    550: "mailbox unavailable or message refused (policy)",
    551: "user not local",
    552: "exceeded storage allocation (mailbox full or message too big)",
    553: "mailbox name not allowed (e.g. a sender address you may not use)",
    554: "transaction failed (rejected)",
    556: "the domain does not accept mail",
}
FIRST = {
    2: "success",
    3: "intermediate (the server waits for more)",
    4: "temporary failure: the sender should retry later",
    5: "permanent failure: retrying will not help",
}
SUBJECT = {0: "other or undefined", 1: "addressing", 2: "mailbox", 3: "mail system", 4: "network and routing",
           5: "mail delivery protocol", 6: "message content or media", 7: "security or policy"}
DETAIL = {
    "1.0": "other address status", "1.1": "no such mailbox (bad destination address)",
    "1.2": "bad destination system address (no such domain)", "1.3": "bad destination address syntax",
    "1.6": "the mailbox has moved", "1.7": "bad sender address syntax", "1.8": "bad sender's system address",
    "1.10": "the recipient domain accepts no mail (null MX)",
    "2.0": "mailbox problem", "2.1": "mailbox disabled, not accepting messages", "2.2": "mailbox full",
    "2.3": "message longer than the mailbox allows", "2.4": "mailing list expansion problem",
    "3.0": "mail system problem", "3.1": "mail system full", "3.2": "system not accepting mail",
    "3.4": "message too big for the system", "3.5": "system incorrectly configured",
    "4.0": "network or routing problem", "4.1": "no answer from the host", "4.2": "bad connection",
    "4.3": "directory server (e.g. DNS) failure", "4.4": "unable to route", "4.5": "mail system congestion",
    "4.6": "routing loop detected", "4.7": "delivery time expired",
    "5.0": "protocol problem", "5.1": "invalid command", "5.2": "syntax error", "5.3": "too many recipients",
    "5.4": "invalid command arguments", "5.5": "wrong protocol version", "5.6": "authentication exchange line too long",
    "6.0": "message content problem", "6.1": "media not supported", "6.3": "conversion required and not allowed",
    "6.6": "message content not accepted",
    "7.0": "security or policy problem (often: authentication or encryption required)",
    "7.1": "delivery not authorized, message refused (relaying denied or blocked by policy)",
    "7.2": "mailing list expansion prohibited", "7.3": "security conversion required but not possible",
    "7.4": "security features not supported", "7.5": "cryptographic failure", "7.7": "message integrity failure",
    "7.8": "authentication credentials invalid", "7.9": "authentication mechanism too weak",
    "7.10": "encryption needed", "7.11": "encryption required for the requested authentication mechanism",
    "7.12": "a password transition is needed", "7.13": "user account disabled", "7.14": "trust relationship required",
    "7.15": "priority level too low", "7.16": "message too big for its priority",
    "7.20": "no passing DKIM signature found", "7.23": "SPF validation failed", "7.24": "SPF validation error",
    "7.25": "reverse DNS validation failed", "7.26": "multiple authentication checks failed",
    "7.27": "the sender address has a null MX",
    # Microsoft 365's own (not in RFC 3463's registry)
    "7.30": "basic authentication is not supported for client submission (Microsoft 365: log in with OAuth)",
    "7.57": "the client is not authenticated to send mail (Microsoft 365: log in with SMTP AUTH first)",
    "7.139": "authentication unsuccessful (Microsoft 365: SMTP AUTH or basic authentication switched off, or "
             "security defaults)",
}
SUCCESS = {"0.0": "success", "1.0": "sender address accepted", "1.5": "recipient address valid",
           "6.0": "message accepted", "7.0": "authentication succeeded"}
_ENHANCED = r"\b([245])\.(\d{1,3})\.(\d{1,3})\b"  # a string: re compiles it when a reply is explained


def enhanced(text: str) -> str:
    """The enhanced status code at the start of a reply text ("5.7.8"), or ""."""
    m = re.match(_ENHANCED, text.strip().removeprefix("-").strip()) or re.search(_ENHANCED, text[:20])
    return ".".join(m.groups()) if m else ""


def explain_reply(code: int, text: str = "") -> str:
    """Plain words for a reply code and, when the text starts with one, its enhanced status code."""
    text = re.sub(rf"^{code}[ -]?", "", text.strip()) if text else ""
    words = BASIC.get(code) or FIRST.get(code // 100, "not a valid SMTP reply code")
    out = f"{code}: {words}"
    if code // 100 in (4, 5) and code not in BASIC:
        out += f" ({FIRST[code // 100]})"
    status = enhanced(text)
    if status:
        klass, subj, det = (int(x) for x in status.split("."))
        if klass == 2:  # the detail table names problems; a 2.x.x says that part went well
            meaning = SUCCESS.get(f"{subj}.{det}") or f"success ({SUBJECT.get(subj, 'other')})"
        else:
            meaning = DETAIL.get(f"{subj}.{det}") or f"{SUBJECT.get(subj, 'unknown')} problem"
        out += f"; {status}: {meaning}"
    return out


def is_temporary(code: int) -> bool:
    """4xx: the server asks to try again later (greylisting, rate limits, a failed lookup)."""
    return 400 <= code < 500
