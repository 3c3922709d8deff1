"""dmarc.record: the domain's DMARC policy (RFC 7489) at _dmarc.<domain>, or its organizational domain's."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.knowledge.sanitize import clean
from diagnose.net.resolver import DnsResult, Outcome, txt_strings

POLICIES = ("none", "quarantine", "reject")
_TAG = re.compile(r"^[a-z][a-z0-9]*$", re.I)
_MAILTO = re.compile(r"^mailto:([^@\s!,]+)@([a-z0-9.-]+\.[a-z0-9-]+)(?:!\d+[kmgt]?)?$", re.I)


@functools.lru_cache(maxsize=1)
def _psl():
    # publicsuffixlist ships the list inside the package and loads it from there: no network.
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """RFC 7489 §3.2: the registrable domain (public suffix + one label), via the bundled PSL."""
    domain = domain.lower().rstrip(".")
    return _psl().privatesuffix(domain) or domain


@dataclass(frozen=True)
class DmarcRecord:
    text: str
    tags: dict[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()


def select_dmarc(texts: list[str]) -> list[str]:
    """RFC 7489 §6.6.3: records that begin with v=DMARC1; others at the name are ignored."""
    return [t for t in texts if re.match(r"^\s*v\s*=\s*DMARC1\s*(;|$)", t)]


def parse_dmarc(text: str) -> DmarcRecord:
    """Parse tag=value pairs; collect every syntax problem rather than stopping at the first."""
    tags: dict[str, str] = {}
    errors: list[str] = []
    if len(text) > 4096:
        return DmarcRecord(text[:100], {}, (f"the record is {len(text)} characters long",))
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, eq, value = part.partition("=")
        name, value = name.strip().lower(), value.strip()
        if not eq or not _TAG.match(name):
            errors.append(f"{part[:60]!r} is not a tag=value pair")
            continue
        if name in tags:
            errors.append(f"tag {name} appears twice")
        tags[name] = value
    p = tags.get("p")
    if p is None:
        errors.append("the required p= tag (the policy) is missing")
    elif p.lower() not in POLICIES:
        errors.append(f"p={p[:30]} is not one of none, quarantine, reject")
    if "sp" in tags and tags["sp"].lower() not in POLICIES:
        errors.append(f"sp={tags['sp'][:30]} is not one of none, quarantine, reject")
    if "pct" in tags and not (tags["pct"].isascii() and tags["pct"].isdigit() and 0 <= int(tags["pct"]) <= 100):
        errors.append(f"pct={tags['pct'][:30]} is not a number from 0 to 100")
    for tag in ("adkim", "aspf"):
        if tag in tags and tags[tag].lower() not in ("r", "s"):
            errors.append(f"{tag}={tags[tag][:30]} must be r (relaxed) or s (strict)")
    for tag in ("rua", "ruf"):
        for uri in report_uris(tags.get(tag, "")):
            if not _MAILTO.match(uri):
                errors.append(f"{tag} address {uri[:60]!r} is not a mailto: URI such as mailto:dmarc@example.com")
    return DmarcRecord(text, tags, tuple(errors))


def report_uris(value: str) -> list[str]:
    return [u.strip() for u in value.split(",") if u.strip()][:20]


def report_domains(record: DmarcRecord) -> list[str]:
    """Domains of the valid rua/ruf mailto: addresses, in order, without repeats."""
    out: dict[str, None] = {}
    for tag in ("rua", "ruf"):
        for uri in report_uris(record.tags.get(tag, "")):
            if m := _MAILTO.match(uri):
                out[m.group(2).lower().rstrip(".")] = None
    return list(out)


def needs_authorization(policy_domain: str, dest: str) -> bool:
    """RFC 7489 §7.1: a report destination outside the policy's organizational domain must consent."""
    return organizational_domain(dest) != organizational_domain(policy_domain)


@dataclass
class DmarcLookup:
    """What the probe found; the input of the pure evaluation."""

    domain: str
    org_domain: str
    own: DnsResult
    org: DnsResult | None = None  # only asked when the domain has no record of its own
    authorizations: dict[str, DnsResult] = field(default_factory=dict)  # dest domain -> TXT answer


class DmarcCheck(Check):
    id = "dmarc.record"
    title = "DMARC policy tells receivers what to do with forged mail"
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
            "at all, as if there were none.",
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
            "The DMARC policy applies to only pct={pct}% of failing mail; the rest is treated as p=none.",
            "Remove the pct tag (the default is 100) from the record at {where}.",
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
        lookup = DmarcLookup(domain, organizational_domain(domain), await ctx.dns.query(f"_dmarc.{domain}", "TXT"))
        if (
            not select_dmarc(txt_strings(lookup.own))
            and lookup.own.outcome in (Outcome.NXDOMAIN, Outcome.NODATA, Outcome.ANSWER)
            and lookup.org_domain != domain
        ):
            lookup.org = await ctx.dns.query(f"_dmarc.{lookup.org_domain}", "TXT")
        record, where = self._chosen(lookup)
        if record is not None and not record.errors:
            dests = [d for d in report_domains(record) if needs_authorization(where.removeprefix("_dmarc."), d)]
            names = [f"{where.removeprefix('_dmarc.')}._report._dmarc.{d}" for d in dests[:5]]
            answers = await asyncio.gather(*(ctx.dns.query(n, "TXT") for n in names))
            lookup.authorizations = dict(zip(dests, answers, strict=False))
        for finding in self.evaluate_dmarc(lookup):
            yield finding

    @staticmethod
    def _chosen(lookup: DmarcLookup) -> tuple[DmarcRecord | None, str]:
        for name, result in ((lookup.domain, lookup.own), (lookup.org_domain, lookup.org)):
            if result is not None:
                records = select_dmarc(txt_strings(result))
                if len(records) == 1:
                    return parse_dmarc(records[0]), f"_dmarc.{name}"
        return None, ""

    def evaluate_dmarc(self, lookup: DmarcLookup) -> list[Finding]:
        """Pure: judge the DMARC answers of a domain (and its organizational domain)."""
        domain = lookup.domain
        ev: dict = {"domain": domain, "organizational_domain": lookup.org_domain,
                    "queries": {f"_dmarc.{domain}": _show(lookup.own)}}
        if lookup.org is not None:
            ev["queries"][f"_dmarc.{lookup.org_domain}"] = _show(lookup.org)

        def one(code: str, status: Status, summary: str, **facts: object) -> list[Finding]:
            shown: dict[str, Any] = {k: clean(str(v), limit=400) for k, v in facts.items()}
            return [self.finding(code, status, domain, clean(summary, limit=300), evidence=ev, domain=domain,
                                 **shown)]

        where, records = "", []
        for name, res in ((domain, lookup.own), (lookup.org_domain, lookup.org)):
            if res is None:
                continue
            where = f"_dmarc.{name}"
            if res.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT):
                return one("dmarc.lookup_failed", Status.FAIL, f"DMARC lookup at {where} failed",
                           where=where, why=res.describe())
            records = select_dmarc(txt_strings(res))
            if records:
                break
        if not records:
            org_note = (f" and neither has its organizational domain {lookup.org_domain}"
                        if lookup.org_domain != domain else "")
            return one("dmarc.missing", Status.WARN, f"{domain} has no DMARC record", org_note=org_note)
        if len(records) > 1:
            return one("dmarc.multiple", Status.FAIL, f"{where} has {len(records)} DMARC records",
                       where=where, count=len(records))
        record = parse_dmarc(records[0])
        ev["record"] = clean(record.text, limit=600)
        ev["where"] = where
        if record.errors:
            return one("dmarc.syntax", Status.FAIL, f"DMARC record at {where} is invalid: {record.errors[0]}",
                       where=where, errors="; ".join(record.errors))
        inherited_from = where.removeprefix("_dmarc.")
        inherited = inherited_from != domain
        tags = {k: v.lower() for k, v in record.tags.items() if k in ("p", "sp", "pct")}
        policy = tags.get("sp", tags["p"]) if inherited else tags["p"]
        out: list[Finding] = []
        if policy == "none":
            fixed = re.sub(r"\b(s?p)\s*=\s*none", r"\1=quarantine", record.text, flags=re.I)
            out += one("dmarc.p_none", Status.WARN, f"DMARC policy of {domain} is none (monitoring only)",
                       where=where, record_fixed=fixed,
                       inherited=f" (inherited from {inherited_from})" if inherited else "")
        elif not inherited and tags.get("sp") == "none":
            out += one("dmarc.sp_none", Status.WARN, f"DMARC of {domain} leaves subdomains unprotected (sp=none)",
                       where=where, org=domain, p=policy)
        if int(tags.get("pct", "100")) < 100 and policy != "none":
            out += one("dmarc.pct", Status.WARN, f"DMARC policy applies to only {tags['pct']}% of mail",
                       where=where, pct=tags["pct"])
        if not record.tags.get("rua"):
            out += one(
                "dmarc.no_rua", Status.WARN, f"DMARC record at {where} asks for no reports (no rua)", where=where
            )
        for dest, res in lookup.authorizations.items():
            if not any(t.lower().startswith("v=dmarc1") for t in txt_strings(res)):
                auth = f"{inherited_from}._report._dmarc.{dest}"
                out += one("dmarc.report_unauthorized", Status.WARN,
                           f"DMARC reports go to {dest}, which has not agreed to receive them",
                           dest=dest, auth_name=auth, why=res.describe() if res.outcome is not Outcome.ANSWER
                           else "its TXT record there is not v=DMARC1")
        if not out:
            how = f" (from {where})" if inherited else ""
            out += one("dmarc.policy", Status.PASS, f"DMARC p={policy}{how}: {record.text}")
        return out


def _show(result: DnsResult) -> dict:
    return {"outcome": result.outcome.value, "records": [clean(r, limit=600) for r in result.records[:10]]}
