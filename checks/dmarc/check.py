"""dmarc.record: the domain's DMARC policy, as RFC 7489 receivers find it (the domain, else its
organizational domain by the Public Suffix List) and as RFC 9989 (DMARCbis) receivers find it (the
DNS Tree Walk); where the two standards disagree, the finding says which one a difference comes from."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.knowledge.dmarc.discovery import (
    Found,
    applied,
    org_domain_7489,
    org_domain_9989,
    policy_7489,
    policy_9989,
    query_names,
)
from diagnose.knowledge.dmarc.record import DmarcRecord, applied_policy, report_domains
from diagnose.knowledge.sanitize import clean
from diagnose.net.resolver import DnsResult, Outcome, txt_strings

organizational_domain = org_domain_7489  # the name other modules and tests have used


def needs_authorization(policy_domain: str, dest: str) -> bool:
    """RFC 7489 §7.1: a report destination outside the policy's organizational domain must consent."""
    return organizational_domain(dest) != organizational_domain(policy_domain)


@dataclass(eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class DmarcLookup:
    """What the probe found; the input of the pure evaluation."""

    domain: str
    org_domain: str  # by the PSL (RFC 7489)
    own: DnsResult
    org: DnsResult | None = None  # _dmarc.<org_domain>
    authorizations: dict[str, DnsResult] = field(default_factory=dict)  # dest domain -> TXT answer
    walk: dict[str, DnsResult] = field(default_factory=dict)  # "_dmarc.<name>" -> answer, the RFC 9989 tree walk

    def answers(self) -> dict[str, DnsResult]:
        out = dict(self.walk)
        out[f"_dmarc.{self.domain}"] = self.own
        if self.org is not None:
            out[f"_dmarc.{self.org_domain}"] = self.org
        return out


class DmarcCheck(Check):
    id = "dmarc.record"
    title = "DMARC policy tells receivers what to do with forged mail"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.OUTGOING
    services = ("dns",)
    texts = {
        "dmarc.policy": ("", ""),
        "dmarc.missing": (
            "DMARC (a TXT record at _dmarc.{domain}) tells receivers what to do with mail that "
            "claims to come from {domain} but fails SPF and DKIM. {domain} has none{org_note}. "
            "Gmail and Yahoo require DMARC from bulk senders, and without it forgeries of your "
            "domain are delivered like real mail.",
            "Start with a monitoring policy and a report address: "
            "`_dmarc.{domain}. 3600 IN TXT \"v=DMARC1; p=none; rua=mailto:dmarc@{domain}\"`; after a few "
            "weeks of clean reports change p=none to p=quarantine, then p=reject.",
        ),
        "dmarc.multiple": (
            "{where} has {count} DMARC records. RFC 7489 §6.6.3 says receivers then apply no DMARC "
            "at all, as if there were none; RFC 9989 (DMARCbis) receivers ignore them and use a parent "
            "domain's record, if there is one. Either way, this record is not applied.",
            "Keep exactly one TXT record starting with v=DMARC1 at {where} and delete the others.",
        ),
        "dmarc.syntax": (
            "The DMARC record at {where} is invalid: {errors}. Receivers may ignore it completely.",
            "Fix the TXT record at {where}; a valid example: "
            "`\"v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}\"` (tags separated by semicolons).",
        ),
        "dmarc.lookup_failed": (
            "Looking up the DMARC record at {where} failed ({why}); receivers hit the same error "
            "and cannot apply the policy.",
            "Make sure the name servers of {domain} answer TXT queries for {where}.",
        ),
        "dmarc.p_none": (
            "The DMARC policy of {domain}{inherited} is p=none: receivers only report, they still "
            "deliver forged mail. This is the right first step, but gives no protection.",
            "When the reports show that all your real mail passes, change the record at {where} "
            "to `\"{record_fixed}\"` (then to p=reject).",
        ),
        "dmarc.pct": (
            "The DMARC record at {where} has pct={pct}: receivers following RFC 7489 apply p={p} to only {pct}% "
            "of failing mail and treat the rest as p=none. RFC 9989 (DMARCbis, which obsoletes RFC 7489) "
            "removed pct: its receivers ignore it and apply p={p} to all failing mail. The two kinds of "
            "receivers treat your mail differently.",
            "Remove pct from the record at {where}. To test a policy first, RFC 9989 has t=y (testing: "
            "receivers do not apply the policy); RFC 7489 receivers ignore t, so use p=none while testing.",
        ),
        "dmarc.testing": (
            "The DMARC record at {where} has t=y, the testing mode of RFC 9989 (DMARCbis): receivers following "
            "RFC 9989 do not apply p={p} to failing mail. Receivers following RFC 7489 do not know the t tag, "
            "ignore it and apply p={p}. Forged mail is rejected by some receivers and delivered by others.",
            "When testing is over, remove t=y from the record at {where} (or set t=n).",
        ),
        "dmarc.np_none": (
            "The DMARC record at {where} has np=none (RFC 9989, DMARCbis): receivers following RFC 9989 "
            "deliver forged mail from subdomains of {org} that do not exist at all (e.g. "
            "invoice-x7.{org}), although the policy is p={p}. RFC 7489 receivers ignore np and apply sp/p.",
            "Remove np=none from the record at {where} (non-existent subdomains then get sp= or p=), or set "
            "np=reject: a name that does not exist sends no real mail.",
        ),
        "dmarc.psd_self": (
            "The DMARC record at {where} has psd=y, which tells RFC 9989 (DMARCbis) receivers that {domain} is "
            "a public suffix (like a registry's co.uk), not an organization. Its subdomains are then treated as "
            "separate organizations: mail from news.{domain} signed by {domain} no longer aligns.",
            "Unless {domain} really is a public suffix run for other owners, remove psd=y (or set psd=n) in the "
            "record at {where}.",
        ),
        "dmarc.discovery_differs": (
            "Receivers find a different DMARC record for {domain} depending on the standard they follow: "
            "RFC 7489 looks at _dmarc.{domain} and then the organizational domain by the Public Suffix List "
            "({org}), and applies {old}; RFC 9989 (DMARCbis) walks up the DNS tree and applies {new}. Mail "
            "from {domain} gets different policies at different receivers.",
            "Publish a record at _dmarc.{domain} itself: both standards then use it. Example: "
            "`_dmarc.{domain}. 3600 IN TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}\"`.",
        ),
        "dmarc.org_domain_differs": (
            "The organizational domain of {domain} is {old} for receivers following RFC 7489 (the Public "
            "Suffix List) and {new} for receivers following RFC 9989 (DMARCbis: the DNS tree walk, where "
            "psd= tags mark the boundaries). Relaxed alignment compares organizational domains, so SPF or "
            "DKIM of a sibling or parent domain aligns at one kind of receiver and not at the other.",
            "Make the boundary explicit: publish psd=n in the DMARC record of the domain that is your "
            "organization (`v=DMARC1; p=...; psd=n`), and sign and send with the From domain itself (strict "
            "alignment does not depend on organizational domains).",
        ),
        "dmarc.sp_none": (
            "The record at {where} protects {org} itself (p={p}) but its subdomains have sp=none, so "
            "forged mail from any made-up subdomain such as billing.{org} is delivered.",
            "Remove sp=none from the record at {where} (subdomains then inherit p={p}).",
        ),
        "dmarc.no_rua": (
            "The DMARC record at {where} has no rua= address, so nobody receives the daily reports "
            "that show which servers send mail as {domain} and whether it passes.",
            "Add a report address: `rua=mailto:dmarc@{domain}` to the record at {where}.",
        ),
        "dmarc.report_unauthorized": (
            "The DMARC record sends reports to {dest}, a different domain. Receivers only send "
            "reports there if {dest} agrees by publishing a TXT record at {auth_name} (RFC 7489 §7.1); "
            "it does not ({why}), so those reports are never sent.",
            "Ask the owner of {dest} to publish `{auth_name}. IN TXT \"v=DMARC1\"`, or use a report "
            "address in your own domain.",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        domain = ctx.target.domain
        org = organizational_domain(domain)
        names = query_names(domain)  # at most 8 + 1 queries, asked at once
        results = await asyncio.gather(*(ctx.dns.query(n, "TXT") for n in names))
        walk = dict(zip(names, results, strict=True))
        lookup = DmarcLookup(domain, org, walk[f"_dmarc.{domain}"], walk.get(f"_dmarc.{org}") if org != domain
                             else None, walk=walk)
        chosen = self._chosen(lookup)
        if chosen.record is not None and not chosen.record.errors:
            dests = [d for d in report_domains(chosen.record) if needs_authorization(chosen.domain, d)]
            names = [f"{chosen.domain}._report._dmarc.{d}" for d in dests[:5]]
            answers = await asyncio.gather(*(ctx.dns.query(n, "TXT") for n in names))
            lookup.authorizations = dict(zip(dests, answers, strict=False))
        for finding in self.evaluate_dmarc(lookup):
            yield finding

    @staticmethod
    def _chosen(lookup: DmarcLookup) -> Found:
        return applied(lookup.domain, lookup.answers())

    def evaluate_dmarc(self, lookup: DmarcLookup) -> list[Finding]:
        """Pure: judge the DMARC answers of a domain under RFC 7489 and RFC 9989."""
        domain = lookup.domain
        answers = lookup.answers()
        old, new = policy_7489(domain, answers), policy_9989(domain, answers)
        org9989 = org_domain_9989(domain, answers)
        ev: dict = {"domain": domain, "organizational_domain": lookup.org_domain,
                    "organizational_domain_rfc9989": org9989,
                    "queries": {name: _show(res) for name, res in answers.items()},
                    "policy_rfc7489": f"_dmarc.{old.domain}" if old.record else None,
                    "policy_rfc9989": f"_dmarc.{new.domain}" if new.record else None}

        def one(code: str, status: Status, summary: str, **facts: object) -> list[Finding]:
            shown: dict[str, Any] = {k: clean(str(v), limit=400) for k, v in facts.items()}
            return [self.finding(code, status, domain, clean(summary, limit=300), evidence=ev, domain=domain,
                                 **shown)]

        failed = old.failed or new.failed
        if failed:
            res = answers[failed]
            return one("dmarc.lookup_failed", Status.FAIL, f"DMARC lookup at {failed} failed",
                       where=failed, why=res.describe())
        if old.multiple:
            return one("dmarc.multiple", Status.FAIL, f"_dmarc.{old.domain} has {old.multiple} DMARC records",
                       where=f"_dmarc.{old.domain}", count=old.multiple)
        chosen = new if new.record is not None else old
        if chosen.record is None:
            org_note = (f" and neither has its organizational domain {lookup.org_domain}"
                        if lookup.org_domain != domain else "")
            return one("dmarc.missing", Status.WARN, f"{domain} has no DMARC record", org_note=org_note)
        record: DmarcRecord = chosen.record
        where = f"_dmarc.{chosen.domain}"
        ev["record"] = clean(record.text, limit=600)
        ev["where"] = where
        out: list[Finding] = []
        if old.domain != new.domain:
            out += one("dmarc.discovery_differs", Status.WARN,
                       f"RFC 7489 and RFC 9989 receivers apply different DMARC records to {domain}",
                       old=f"_dmarc.{old.domain}" if old.record else "no record at all",
                       new=f"_dmarc.{new.domain}" if new.record else "no record at all", org=lookup.org_domain)
        if org9989 != lookup.org_domain:
            out += one("dmarc.org_domain_differs", Status.WARN,
                       f"organizational domain of {domain}: {lookup.org_domain} (RFC 7489, PSL), "
                       f"{org9989} (RFC 9989, tree walk)", old=lookup.org_domain, new=org9989)
        if record.errors:
            return out + one("dmarc.syntax", Status.FAIL, f"DMARC record at {where} is invalid: {record.errors[0]}",
                             where=where, errors="; ".join(record.errors))
        out += self._policy_findings(domain, chosen, record, where, one)
        if not record.tags.get("rua"):
            out += one("dmarc.no_rua", Status.WARN, f"DMARC record at {where} asks for no reports (no rua)",
                       where=where)
        for dest, res in lookup.authorizations.items():
            if not any(t.lower().startswith("v=dmarc1") for t in txt_strings(res)):
                auth = f"{chosen.domain}._report._dmarc.{dest}"
                out += one("dmarc.report_unauthorized", Status.WARN,
                           f"DMARC reports go to {dest}, which has not agreed to receive them",
                           dest=dest, auth_name=auth, why=res.describe() if res.outcome is not Outcome.ANSWER
                           else "its TXT record there is not v=DMARC1")
        if not out:
            how = f" (from {where})" if not chosen.own else ""
            out += one("dmarc.policy", Status.PASS, f"DMARC p={applied_policy(record, own=chosen.own)}{how}: "
                       f"{record.text}")
        return out

    @staticmethod
    def _policy_findings(domain: str, chosen: Found, record: DmarcRecord, where: str, one) -> list[Finding]:
        inherited = "" if chosen.own else f" (inherited from {chosen.domain})"
        policy = applied_policy(record, own=chosen.own)
        out: list[Finding] = []
        if policy == "none":
            fixed = re.sub(r"\b(s?p)\s*=\s*none", r"\1=quarantine", record.text, flags=re.I)
            out += one("dmarc.p_none", Status.WARN, f"DMARC policy of {domain} is none (monitoring only)",
                       where=where, record_fixed=fixed, inherited=inherited)
        elif chosen.own and record.tag("sp") == "none":
            out += one("dmarc.sp_none", Status.WARN, f"DMARC of {domain} leaves subdomains unprotected (sp=none)",
                       where=where, org=domain, p=policy)
        if record.tag("psd") == "y" and chosen.own:
            out += one("dmarc.psd_self", Status.WARN, f"the DMARC record of {domain} declares it a public suffix "
                       "(psd=y)", where=where)
        if policy != "none" and record.tag("np") == "none":
            out += one("dmarc.np_none", Status.WARN,
                       f"DMARC np=none: RFC 9989 receivers deliver forged mail from non-existent subdomains of "
                       f"{chosen.domain}", where=where, p=policy, org=chosen.domain)
        if policy != "none" and record.tag("t") == "y":
            out += one("dmarc.testing", Status.WARN,
                       f"DMARC t=y (testing): RFC 9989 receivers do not apply p={policy}; RFC 7489 receivers do",
                       where=where, p=policy)
        pct = record.tag("pct", "100")
        if policy != "none" and pct.isdigit() and int(pct) < 100:
            out += one("dmarc.pct", Status.WARN,
                       f"DMARC pct={pct}: RFC 7489 receivers apply p={policy} to {pct}% of failing mail; RFC 9989 "
                       "receivers ignore pct", where=where, pct=pct, p=policy)
        return out


def _show(result: DnsResult) -> dict:
    return {"outcome": result.outcome.value, "records": [clean(r, limit=600) for r in result.records[:10]]}
