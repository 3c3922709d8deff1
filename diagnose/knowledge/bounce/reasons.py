"""Why a recipient failed: the reason (one of ``REASONS``) from the enhanced status code (RFC 3463), the
SMTP reply code and the server's own words, and the sender checks a receiver names (SPF, DKIM...).
Pure functions on strings; the documented replies of providers are in tests/unit/test_message.py.
"""

from __future__ import annotations

import re

REASONS = ("user_unknown", "mailbox_full", "mailbox_disabled", "has_moved", "host_unknown", "network_error",
           "expired", "relay_denied", "auth_failure", "blocked", "rate_limited", "spam", "virus", "policy",
           "message_too_large", "system_error", "syntax_error", "autoreply", "feedback", "delivered", "unknown")
# an enhanced status code anywhere in the words, never a piece of an IP address or a version number
STATUS_CODE = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
# a reply code, "550 ", "550-", "550:" (Yahoo), "#550" (Exchange), then maybe its enhanced status
_REPLY = re.compile(r"(?<![\w.])#?([245]\d\d)(?:[ -]|:(?!\d)|$)(?:\s*#?([245]\.\d{1,3}\.\d{1,3})(?![\w]|\.\d))?")


def codes_in(text: str) -> tuple[str | None, str | None]:
    """(reply code, enhanced status) first found in a server's words: "550 5.1.1 ..." -> ("550", "5.1.1")."""
    reply = status = None
    m = _REPLY.search(text)
    if m:
        reply, status = m.group(1), m.group(2)
    if status is None:
        s = STATUS_CODE.search(text)
        status = ".".join(s.groups()) if s else None
    return reply, status


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
                r"|reputation|(?<!not )listed (?:at|on|in|by)|reverse dns|\bptr\b|rdns|5\.7\.25\b|banned sending"
                r"|not allowed to send from|permanently deferred|\[TSS0[39]\]|\[TS0[23]\]|envelope blocked"
                r"|traffic not accepted from this ip|poor reputation|dynamic reputation"),
    ("spam", r"\bspam\b|unsolicited|junk|bulk mail|content (?:rejected|filter)|message content"),
    ("relay_denied", r"relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited|not allowed)"
                     r"|not permitted to relay|unable to relay|we do not relay|does not relay|relay access"
                     r"|open relay not allowed|relaying denied"),
    ("message_too_large", r"too (?:large|big)|message size|size limit|exceeds (?:the )?(?:maximum )?(?:message )?size"),
    ("mailbox_full", r"mailbox (?:is )?full|over ?quota|quota ?exceeded|exceeds? (?:its |the )?quota"
                     r"|exceeded (?:the |its )?(?:storage|quota)"
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
                     r"|not listed in (?:the )?(?:domino directory|public name & address book)"
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
    if status == "5.1.8" and re.search(r"domain not found|sender domain|null mx|no mx|unknown domain", words, re.I):
        return "host_unknown"  # Postfix's reject_unknown_sender_domain, not Microsoft's "bad outbound sender"
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
