"""The human-readable notices of MTAs that send no machine-readable report, or send one that names no
reason: Postfix and qmail (``<addr>: ...``, which Yahoo and many others keep), Exim, Sendmail, Exchange
and Microsoft 365 (also in German and French), and any other layout that names an address next to a
reply code.
"""

from __future__ import annotations

import re
from email.message import Message

from diagnose.knowledge.bounce.model import (
    ADDRESS,
    MAX_RECIPIENTS,
    MAX_TEXT,
    Returned,
    header_text,
    make_recipient,
    one_line,
    remote_of,
    text_of,
)
from diagnose.knowledge.bounce.reasons import codes_in

_POSTFIX = re.compile(rf"^<({ADDRESS})>(?: \([^)\n]*\))?:[ \t]*\n?((?:[ \t]*\S.*\n?)*)", re.M)
_EXIM = re.compile(rf"^([ \t]+)<?({ADDRESS})>?[ \t]*\n((?:\1[ \t]+\S.*\n?)*)", re.M)  # words indented deeper
_SENDMAIL = re.compile(rf"^<?({ADDRESS})>?[ \t]*\n[ \t]+\(reason: ([^\n]*)\)", re.M)
# an address on a line of its own, also as Exchange writes it: "John Doe (john@x)", "john@x<mailto:john@x>"
_EXCHANGE = re.compile(rf"^[ \t]*(?:[^\n@()<>]{{0,80}}\()?({ADDRESS})\)?(?:[ \t]*<mailto:[^>\n]{{0,320}}>)?"
                       rf"(?:[ \t]+\([^)\n]*\))?[ \t]*\n((?:[ \t]*\S.*\n?){{1,8}})", re.M)


def _temporary_notice(text: str) -> bool:
    return bool(re.search(r"delayed|not yet been delivered|will (?:keep )?(?:try|retry)|still trying"
                          r"|temporary (?:error|failure|problem)|has not been delivered yet", text[:4000], re.I))


def parse_plaintext(msg: Message) -> Returned | None:
    """The notice text of the MTAs that send no machine-readable report."""
    text = text_of(msg)
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
            found = [(a, "") for a in re.findall(rf"^<({ADDRESS})>", text, re.M)]
        transcript = text.split("Transcript of session follows", 1)[-1]
        found = [(a, d or _sendmail_reply(transcript, a)) for a, d in found]
    elif _EXCHANGE_NOTICE.search(text):
        source = "exchange"
        head = _EXCHANGE_DIAGNOSTIC.split(text, maxsplit=1)
        found = [(a, d) for a, d in _EXCHANGE.findall(head[0])]
        if len(head) > 1:
            found = _exchange_words(head[1], found)
    if not found and looks_like_bounce(msg):
        source = "generic"
        found = _generic_recipients(text, msg)
    recipients = []
    for address, words in found[:MAX_RECIPIENTS]:
        words = words.strip()
        recipients.append(make_recipient(address, action, None, words, remote_of(words)))
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
    addresses = [a for a, _ in found] or list(dict.fromkeys(re.findall(ADDRESS, diagnostic)))[:MAX_RECIPIENTS]
    out = []
    for address in addresses:
        own = words_after(diagnostic, address)
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
    own = {a.lower() for a in re.findall(ADDRESS, f"{msg.get('From', '')} {msg.get('To', '')}")}
    for address in list(dict.fromkeys(re.findall(ADDRESS, text[:MAX_TEXT])))[:50]:
        words = words_after(text, address)
        if address.lower() not in own and any(codes_in(words)):
            found.append((address, words))
    if found:
        return found
    reply = re.search(r"^.*\b[45]\d\d[ -]#?[245]\.\d{1,3}\.\d{1,3}\b.*$", text, re.M) or \
        re.search(r"\b(?:because|reason|grund|raison|motivo)\s*:[ \t]*\n?\s*(\S.*)$", text, re.M | re.I)  # Domino...
    addresses = [a for a in re.findall(ADDRESS, text) if a.lower() not in own] or re.findall(ADDRESS, text)
    if addresses or reply:
        said = (reply.group(reply.lastindex or 0) if reply else "") or \
            (words_after(text, addresses[0]) if addresses else "") or header_text(msg, "Subject")
        return [(addresses[0] if addresses else "", said)]
    return []


def words_after(text: str, address: str) -> str:
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
    return one_line(words, 1000)


def _sendmail_reply(transcript: str, address: str) -> str:
    m = re.search(rf"^<<< ([45]\d\d[ -].*{re.escape(address)}.*)$", transcript, re.M | re.I) or \
        re.search(r"^<<< ([45]\d\d[ -].*)$", transcript, re.M)
    return m.group(1) if m else ""


def looks_like_bounce(msg: Message) -> bool:
    sender = str(msg.get("From", "")).lower()
    subject = header_text(msg, "Subject").lower()
    return bool(re.search(r"mailer-daemon|postmaster|mail delivery", sender)) or bool(re.search(
        r"undeliver|delivery (?:status|failure|notification|has failed)|returned mail|failure notice"
        r"|mail delivery failed|could not be delivered|delivery failed"
        # the same in the other languages Exchange and the big providers write most
        r"|unzustellbar|nicht zustellbar|non remis|non distribu|impossible de remettre|non recapitabile"
        r"|no se puede entregar|no entregado|onbestelbaar|niedostarczalna|n[ãa]o entregue", subject))
