"""``--require bulk-sender``: the big mailbox providers' rules for bulk senders, judged on a diagnosis.

A post-processing step like ``expect``: after the checks ran, ``evaluate(findings, domain)`` turns
what they found into one ``bulk_sender.*`` finding per rule: met (pass), broken (fail, naming each
provider whose rule it breaks and how to fix it) or not tested (error: the user asked for the rule,
so a rule nothing could judge is never a quiet pass). One-click unsubscribe (RFC 8058) is a property
of a message: ``maildoctor message --require bulk-sender`` judges it (diagnose.knowledge.unsubscribe).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check

REQUIRE_SETS = ("bulk-sender",)  # the names --require and a profile's `require` accept


@dataclass(frozen=True)
class Provider:
    name: str
    rule: str  # which published rule, and since when
    source: str  # where it is published


PROVIDERS = {
    "google": Provider("Google (Gmail)", "the email sender guidelines for bulk senders (5,000+ messages a day to "
                       "Gmail), enforced from February 2024", "https://support.google.com/a/answer/81126"),
    "yahoo": Provider("Yahoo", "the sender requirements for bulk senders, enforced from February 2024",
                      "https://senders.yahooinc.com/best-practices/"),
    "microsoft": Provider("Microsoft (Outlook.com)", "the requirements for high-volume senders (5,000+ messages a "
                          "day), enforced from 5 May 2025: failing mail is rejected with 550 5.7.515",
                          "https://techcommunity.microsoft.com/blog/microsoftdefenderforoffice365blog/"
                          "strengthening-email-ecosystem-outlook%E2%80%99s-new-requirements-for-high%E2%80%90volume-"
                          "senders/4399730"),
}


@dataclass(frozen=True)
class Rule:
    key: str  # the code's last word: bulk_sender.<key>
    what: str  # the rule in a few words
    providers: tuple[str, ...]  # keys of PROVIDERS whose rules include it
    checks: tuple[str, ...]  # the checks whose findings judge it
    broken_codes: frozenset[str]  # codes that break the rule
    fix: str  # the remedy, {domain} filled in
    ports: tuple[int, ...] = ()  # tls rules: which endpoints (by port)
    met_codes: frozenset[str] = frozenset()  # when given, only these codes show the rule met


RULES = (
    Rule("spf", "an SPF record that receivers can evaluate (no permerror)", ("google", "yahoo", "microsoft"),
         ("spf.record",), frozenset({"spf.missing", "spf.multiple", "spf.syntax", "spf.include_missing", "spf.loop",
                                     "spf.too_deep", "spf.too_many_lookups", "spf.void_lookups", "spf.mx_too_many",
                                     "spf.lookup_failed"}),
         'Publish one valid SPF record listing every server that sends for {domain}, e.g. `{domain}. 3600 IN TXT '
         '"v=spf1 mx include:_spf.your-provider.example -all"`; see the spf.record findings for what is wrong.'),
    Rule("dkim", "a published DKIM key (the mail must be signed with it)", ("google", "yahoo", "microsoft"),
         ("dkim.keys",), frozenset({"dkim.not_found", "dkim.no_key", "dkim.syntax", "dkim.revoked", "dkim.weak_key"}),
         "Sign all mail from {domain} with DKIM (a 2048-bit RSA key; Google requires at least 1024 bits) and "
         "publish the key at SELECTOR._domainkey.{domain}; give the selector with --dkim-selector to test it.",
         met_codes=frozenset({"dkim.key", "dkim.testing"})),
    Rule("dmarc", "a DMARC record, at least p=none (the From domain must align with SPF or DKIM)",
         ("google", "yahoo", "microsoft"), ("dmarc.record",),
         frozenset({"dmarc.missing", "dmarc.multiple", "dmarc.syntax", "dmarc.lookup_failed"}),
         'Publish `_dmarc.{domain}. 3600 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@{domain}"` and send with a '
         "From address in {domain} whose mail passes SPF or DKIM for {domain} (or a subdomain of it)."),
    Rule("ptr", "forward-confirmed reverse DNS (PTR) for the sending servers' addresses", ("google", "yahoo"),
         ("ptr.fcrdns",), frozenset({"ptr.missing", "ptr.mismatch"}),
         "Ask the owner of each sending address (your hosting or internet provider) to set its PTR record to a "
         "name that resolves back to the same address, e.g. mail.{domain}."),
    Rule("tls_mx", "TLS (STARTTLS) on the MX servers", ("google",), ("tls.handshake",),
         frozenset({"tls.no_starttls", "tls.starttls_refused", "tls.handshake_failed", "tls.only_legacy"}),
         "Enable STARTTLS with a valid certificate on every MX server of {domain} (Postfix: "
         "`smtpd_tls_security_level = may` with smtpd_tls_cert_file/smtpd_tls_key_file).", ports=(25,),
         met_codes=frozenset({"tls.ok"})),
    Rule("tls_submission", "TLS on the submission servers (mail is sent over TLS)", ("google",), ("tls.handshake",),
         frozenset({"tls.no_starttls", "tls.starttls_refused", "tls.handshake_failed", "tls.only_legacy"}),
         "Offer submission only with TLS: port 465 (implicit TLS) or 587 with STARTTLS required (Postfix: "
         "`-o smtpd_tls_security_level=encrypt` on the submission service).", ports=(587, 465),
         met_codes=frozenset({"tls.ok"})),
)
UNSUBSCRIBE = Rule("unsubscribe", "one-click unsubscribe (RFC 8058) on marketing and subscribed mail",
                   ("google", "yahoo"), (), frozenset(),
                   "Add `List-Unsubscribe: <https://{domain}/unsubscribe?id=...>` and `List-Unsubscribe-Post: "
                   "List-Unsubscribe=One-Click` to every bulk message, and include both header fields in the DKIM "
                   "signature (h=). Microsoft also expects a working unsubscribe link.")


def _who(rule: Rule) -> str:
    return "; ".join(f"{PROVIDERS[p].name}: {PROVIDERS[p].rule} ({PROVIDERS[p].source})" for p in rule.providers)


def _names(rule: Rule) -> str:
    names = [PROVIDERS[p].name for p in rule.providers]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _texts(rule: Rule) -> dict[str, tuple[str, str]]:
    who = _who(rule)
    return {
        f"bulk_sender.{rule.key}": ("", ""),
        f"bulk_sender.{rule.key}_broken": (
            f"Bulk senders must have {rule.what}. {{domain}} does not ({{detail}}), which breaks the rules of "
            f"{_names(rule)}: {who}. Their receivers send such mail to spam or reject it.", rule.fix),
        f"bulk_sender.{rule.key}_unknown": (
            f"Bulk senders must have {rule.what} ({_names(rule)}). This run could not tell whether {{domain}} has "
            "it ({detail}), so the requirement you asked for is not shown as met.",
            "Run the checks it needs too (" + (", ".join(rule.checks) or "maildoctor message on a sent message")
            + ") and fix what stopped them; see their findings."),
    }


class BulkSender(Check):
    """Not a plugin (it runs after the others, on their findings): a Check only for ``finding`` and texts."""

    id = "bulk_sender.rules"
    title = "Bulk-sender rules of Google, Yahoo and Microsoft (--require bulk-sender)"
    side = Side.OUTGOING
    texts = {k: v for rule in (*RULES, UNSUBSCRIBE) for k, v in _texts(rule).items()}


_CHECK = BulkSender()


def evaluate(findings: list[Finding], *, domain: str) -> list[Finding]:
    """Pure: one bulk_sender.* finding per rule, judged on the diagnosis' findings."""
    return [_judge(rule, findings, domain) for rule in RULES]


def judge_sets(require: Sequence[str], findings: list[Finding], *, domain: str) -> list[Finding]:
    """The --require rule sets judged on a run's findings (those of an earlier judgement left out): for
    `check` (app.plan.Plan.judge) and for each `batch` target."""
    if "bulk-sender" not in require:
        return []
    return evaluate([f for f in findings if f.check != BulkSender.id], domain=domain)


def checks_for(require: Sequence[str]) -> tuple[str, ...]:
    """The checks the --require rule sets are judged on."""
    if "bulk-sender" not in require:
        return ()
    return tuple(dict.fromkeys(c for rule in RULES for c in rule.checks))


def _relevant(rule: Rule, findings: list[Finding]) -> list[Finding]:
    own = [f for f in findings if f.check in rule.checks]
    if rule.ports:
        own = [f for f in own if f.subject.rpartition(":")[2] in {str(p) for p in rule.ports}]
    return [f for f in own if not (f.status is Status.SKIP or f.code.endswith((".skipped", ".not_tested")))]


def _judge(rule: Rule, findings: list[Finding], domain: str) -> Finding:
    own = _relevant(rule, findings)
    broken = [f for f in own if f.code in rule.broken_codes]
    facts: dict[str, Any] = {"providers": [PROVIDERS[p].name for p in rule.providers],
                   "sources": [PROVIDERS[p].source for p in rule.providers],
                   "judged_from": sorted({f"{f.code} ({f.subject})" for f in own})[:20]}
    if broken:
        detail = "; ".join(dict.fromkeys(f.summary for f in broken[:3]))
        return judged(rule, Status.FAIL, domain, f"{rule.what}: missing or broken ({detail}); breaks the rules of "
                      f"{_names(rule)}", facts, detail=detail)
    met = [f for f in own if (f.code in rule.met_codes if rule.met_codes else f.status is not Status.ERROR)]
    if not met:
        seen = [f for f in findings if f.check in rule.checks] or own  # skips too: they say why
        why = "; ".join(dict.fromkeys(f.summary for f in seen[:2])) or f"{', '.join(rule.checks)} did not run"
        return judged(rule, Status.ERROR, domain, f"{rule.what}: not tested ({why})", facts, detail=why)
    return judged(rule, Status.PASS, domain, f"{rule.what}: met", facts)


def judged(rule: Rule, status: Status, domain: str, summary: str, evidence: dict[str, Any], **facts: Any) -> Finding:
    """The finding of ``rule`` with ``status`` (also used by `maildoctor message` for the unsubscribe rule)."""
    suffix = {Status.FAIL: "_broken", Status.ERROR: "_unknown"}.get(status, "")
    return _CHECK.finding(f"bulk_sender.{rule.key}{suffix}", status, domain, summary, evidence=evidence,
                          domain=domain, **facts)

