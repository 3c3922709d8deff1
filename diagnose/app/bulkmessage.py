"""`maildoctor message --require bulk-sender`: the one-click unsubscribe rule (RFC 8058) of the
bulk-sender requirements, judged on the message (diagnose.knowledge.unsubscribe) as a bulk_sender.* finding."""

from __future__ import annotations

import re
from typing import Any

from diagnose.engine.bulksender import UNSUBSCRIBE, judged
from diagnose.engine.model import Finding, Status
from diagnose.knowledge.sanitize import clean
from diagnose.knowledge.unsubscribe import one_click


def unsubscribe_finding(msg: Any) -> Finding:
    """bulk_sender.unsubscribe (pass) or bulk_sender.unsubscribe_broken (fail, with what is missing)."""
    sender = re.search(r"@([A-Za-z0-9.-]{1,253})", clean(str(msg.get("From", "") or ""), limit=400,
                                                          keep_newlines=False))
    domain = sender.group(1).lower().rstrip(".") if sender else "your-domain.example"
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
