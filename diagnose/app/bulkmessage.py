"""`maildoctor message --require bulk-sender`: the bulk-sender rules that show on a message, as
bulk_sender.* findings: one-click unsubscribe (RFC 8058, diagnose.knowledge.unsubscribe), and SPF, DKIM
and DMARC passing (DMARC pass = the From domain aligned) as the receiver's Authentication-Results say."""

from __future__ import annotations

from typing import Any

from diagnose.app.message_auth import domain_of
from diagnose.engine.bulksender import RULES, UNSUBSCRIBE, judged
from diagnose.engine.model import Finding, Status
from diagnose.knowledge.headers import auth_results
from diagnose.knowledge.unsubscribe import one_click


def _from_domain(msg: Any) -> str:
    return domain_of(str(msg.get("From", "") or "")) or "your-domain.example"


def findings(msg: Any) -> list[Finding]:
    """Every bulk-sender rule a message shows: SPF, DKIM, DMARC as received, and one-click unsubscribe."""
    return [*auth_findings(msg), unsubscribe_finding(msg)]


def auth_findings(msg: Any) -> list[Finding]:
    """bulk_sender.spf/dkim/dmarc from the receiver's verdicts (the topmost Authentication-Results):
    a pass meets the rule, only other results break it, no verdict at all is "not judged" (error)."""
    domain = _from_domain(msg)
    verdicts = auth_results(msg)
    out = []
    for rule in (r for r in RULES if r.key in ("spf", "dkim", "dmarc")):
        mine = [v for v in verdicts if v.method == rule.key]
        seen = ", ".join(dict.fromkeys(f"{v.method}={v.result}" for v in mine[:5]))
        evidence = {"receiver_verdicts": seen or None, "authserv": mine[0].authserv if mine else None}
        if any(v.result == "pass" for v in mine):
            out.append(judged(rule, Status.PASS, domain, f"{rule.key.upper()} passed at the receiver ({seen})",
                              evidence))
        elif mine:
            out.append(judged(rule, Status.FAIL, domain, f"{rule.key.upper()} did not pass at the receiver ({seen})",
                              evidence, detail=f"the receiver's verdict: {seen}"))
        else:
            why = "the message carries no receiver's Authentication-Results verdict for it"
            out.append(judged(rule, Status.ERROR, domain, f"{rule.key.upper()} not judged: {why}", evidence,
                              detail=why + "; give the copy as received at a mailbox (e.g. Gmail's 'Show original')"))
    return out


def unsubscribe_finding(msg: Any) -> Finding:
    """bulk_sender.unsubscribe (pass) or bulk_sender.unsubscribe_broken (fail, with what is missing)."""
    domain = _from_domain(msg)
    verdict = one_click(msg)
    evidence = {"https_uris": list(verdict.https), "mailto": verdict.mailto, "dkim_covering": list(verdict.signed_by),
                "dkim_verified_by_receiver": verdict.verified, "problems": list(verdict.problems),
                "providers": ["Google (Gmail)", "Yahoo"]}
    if verdict.ok:
        how = "" if verdict.verified else " (the DKIM signature's validity was not seen: no receiver's verdict)"
        return judged(UNSUBSCRIBE, Status.PASS, domain, f"{UNSUBSCRIBE.what}: met{how}", evidence)
    detail = "; ".join(verdict.problems)
    return judged(UNSUBSCRIBE, Status.FAIL, domain, f"{UNSUBSCRIBE.what}: {verdict.problems[0]}", evidence,
                  detail=detail)
