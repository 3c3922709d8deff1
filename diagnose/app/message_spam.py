"""`maildoctor message`: the receivers' spam verdicts (Microsoft 365, SpamAssassin) as findings, in plain
words with what to do. Decoding is in diagnose.knowledge.spamheaders."""

from __future__ import annotations

from typing import Any

from diagnose.app.message_headers import HEADERS
from diagnose.engine.model import Finding, Status
from diagnose.knowledge import spamheaders
from diagnose.knowledge.spamheaders import SENDER_RULES

SPAM_TEXTS: dict[str, tuple[str, str]] = {
    "message.spam_clean": ("", ""),
    "message.spam_flagged": (
        "{who} judged the message to be {what}: such mail goes to the Junk folder or quarantine, or is refused. "
        "{detail}",
        "Make sure the sender's SPF, DKIM and DMARC pass (`maildoctor check {domain}`). {advice}"),
    "message.spam_bulk": (
        "Microsoft 365 rates the sender as bulk mail with a bulk complaint level (BCL) of {bcl}: {words}. "
        "At the default threshold of 7 such mail goes to the Junk Email folder.",
        "Send only to people who asked for your mail, make unsubscribing easy (List-Unsubscribe), and remove "
        "addresses that complain or never open your mail."),
}
_CHECKS = {"spf": "spf.record", "dkim": "dkim.keys", "dmarc": "dmarc.record", "ptr": "ptr.fcrdns", "dnsbl": "dnsbl"}


def spam_findings(msg: Any, sender_domain: str = "") -> list[Finding]:
    """One finding per spam filter that left its verdict in the header (none when none did)."""
    out: list[Finding] = []
    ms = spamheaders.microsoft(msg)
    if ms is not None:
        out += _microsoft(ms, sender_domain)
    sa = spamheaders.spamassassin(msg)
    if sa is not None:
        out.append(_spamassassin(sa, sender_domain))
    return out


def _domain(sender_domain: str) -> str:
    return sender_domain or "your-domain"


def _microsoft(ms: spamheaders.MicrosoftVerdict, sender_domain: str) -> list[Finding]:
    fields = [{"name": f.name, "value": f.value, "meaning": f.meaning} for f in ms.fields]
    ev = {"filter": "microsoft", "sfv": ms.sfv or None, "cat": ms.cat or None, "scl": ms.scl, "bcl": ms.bcl,
          "pcl": ms.pcl, "fields": fields}
    shown = ", ".join(f"{f.name}:{f.value}" for f in ms.fields if f.name in ("SFV", "CAT", "SCL", "BCL", "PCL"))
    out: list[Finding] = []
    if ms.spam:
        what = spamheaders.CAT.get(ms.cat, "spam") if ms.cat and ms.cat != "NONE" else "spam"
        detail = "; ".join(f"{f.name} {f.meaning}" if f.name == "SCL" else f"{f.name}:{f.value} ({f.meaning})"
                           for f in ms.fields if f.name in ("SFV", "CAT", "SCL", "SFTY")) + "."
        domain = _domain(sender_domain)
        advice = ("A SPOOF verdict means the From domain failed authentication at Microsoft. If the mail is "
                  "wanted, the recipient can mark it 'Not junk' or add the sender to Safe Senders; an administrator "
                  "can submit it to Microsoft as a false positive.")
        explanation, remedy = (t.format(who="Microsoft 365 (Exchange Online Protection)", what=what,
                                        detail=detail, domain=domain, advice=advice)
                               for t in SPAM_TEXTS["message.spam_flagged"])
        out.append(Finding(HEADERS, "message.spam_flagged", "Microsoft 365", Status.FAIL if ms.high_confidence
                           else Status.WARN, f"Microsoft 365 filed the message as {what} ({shown})",
                           explanation, remedy, ev))
    else:
        words = spamheaders.SFV.get(ms.sfv, "no spam verdict") if ms.sfv else (
            spamheaders.scl_words(ms.scl) if ms.scl is not None else "no spam verdict")
        out.append(Finding(HEADERS, "message.spam_clean", "Microsoft 365", Status.PASS,
                           f"Microsoft 365: {words}" + (f" ({shown})" if shown else ""), evidence=ev))
    if ms.bulk and ms.bcl is not None:
        explanation, remedy = (t.format(bcl=ms.bcl, words=spamheaders.bcl_words(ms.bcl))
                               for t in SPAM_TEXTS["message.spam_bulk"])
        out.append(Finding(HEADERS, "message.spam_bulk", "Microsoft 365", Status.WARN,
                           f"Microsoft 365 rates the sender as bulk mail (BCL {ms.bcl})", explanation, remedy,
                           {"filter": "microsoft", "bcl": ms.bcl}))
    return out


def _spamassassin(sa: spamheaders.SpamAssassinVerdict, sender_domain: str) -> Finding:
    rules = [{"name": r.name, "score": r.value or None, "meaning": r.meaning or None} for r in sa.rules]
    ev = {"filter": "spamassassin", "spam": sa.spam, "score": sa.score, "required": sa.required, "rules": rules,
          "version": sa.version or None}
    score = f"score {sa.score:g}" if sa.score is not None else "no score"
    limit = f" of {sa.required:g} needed" if sa.required is not None else ""
    if not sa.spam:
        return Finding(HEADERS, "message.spam_clean", "SpamAssassin", Status.PASS,
                       f"SpamAssassin: not spam ({score}{limit})", evidence=ev)
    explained = [f"{r.name} ({r.meaning})" for r in sa.rules if r.meaning][:12]
    detail = ("Rules that matched: " + "; ".join(explained) + ".") if explained else ""
    fixable = sorted({SENDER_RULES[r.name] for r in sa.rules if r.name in SENDER_RULES})
    domain = _domain(sender_domain)
    commands = [f"`maildoctor check {domain} --check {_CHECKS[c]}`" for c in fixable if c in _CHECKS]
    advice = ("Fix what the sender controls first: " + ", ".join(commands) + ". " if commands else "") + (
        "Content rules (BAYES_*, HTML_*, URIBL_*) weigh the text and links: write plain, personal mail and link "
        "only to domains with a clean reputation.")
    explanation, remedy = (t.format(who="SpamAssassin", what=f"spam ({score}{limit})", detail=detail, domain=domain,
                                    advice=advice) for t in SPAM_TEXTS["message.spam_flagged"])
    return Finding(HEADERS, "message.spam_flagged", "SpamAssassin", Status.WARN,
                   f"SpamAssassin marked the message as spam ({score}{limit}; "
                   f"{', '.join(r.name for r in sa.rules[:8]) or 'no rules listed'})", explanation, remedy, ev)
