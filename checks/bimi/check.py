"""bimi.logo (optional: runs only with --check bimi): the default._bimi record, the logo at l=
(SVG Tiny PS), the mark certificate at a= (VMC/CMC), and DMARC settings that make receivers
ignore BIMI. Fetches go over HTTPS to the addresses maildoctor resolved, bounded in size and time."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from checks.bimi.record import BimiRecord, dmarc_blockers, parse_bimi, select_bimi
from checks.bimi.svg import MAX_BYTES, check_svg
from checks.bimi.vmc import check_mark
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.knowledge.dmarc.discovery import Found, applied, org_domain_7489, query_names
from diagnose.knowledge.sanitize import clean
from diagnose.net.httpget import FetchResult, https_get
from diagnose.net.resolver import DnsResult, Outcome, txt_strings

MAX_CERT_BYTES = 64 * 1024

_WHY = ("BIMI lets mailbox providers (Gmail, Apple Mail, Yahoo) show the brand's logo next to mail from "
        "{domain} that passes DMARC. ")


@dataclass
class BimiLookup:
    """What the probe found: the input of the pure evaluation."""

    domain: str
    answers: dict[str, DnsResult]  # default._bimi.<domain> (and of the organizational domain)
    dmarc: Found | None = None
    logo: FetchResult | None = None
    cert: FetchResult | None = None
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def _body(fetch: FetchResult | None) -> bytes | None:
    if fetch is None or fetch.outcome != "ok" or fetch.response is None or fetch.response.status != 200:
        return None
    return fetch.response.body


def _fetch_problem(fetch: FetchResult) -> str:
    if fetch.outcome != "ok" or fetch.response is None:
        return f"{fetch.outcome}: {fetch.detail}" if fetch.detail else fetch.outcome
    return f"HTTP {fetch.response.status} {fetch.response.reason}".strip()


class Bimi(Check):
    id = "bimi.logo"
    title = "BIMI: the brand logo shown next to the domain's mail (optional)"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.OUTGOING
    services = ("dns",)
    optional = True
    texts = {
        "bimi.logo": ("", ""),
        "bimi.missing": (_WHY + "{domain} publishes no BIMI record at default._bimi.{domain}, so no logo is shown.",
                         'Publish `default._bimi.{domain}. 3600 IN TXT "v=BIMI1; l=https://{domain}/bimi/logo.svg; '
                         'a=https://{domain}/bimi/vmc.pem"` (the logo in SVG Tiny PS; a= a VMC or CMC).'),
        "bimi.declined": ("", ""),
        "bimi.multiple": (_WHY + "{where} has {count} BIMI records; receivers then use none.",
                          "Keep exactly one TXT record starting with v=BIMI1 at {where}."),
        "bimi.syntax": (_WHY + "The BIMI record at {where} is invalid: {errors}.",
                        'Correct it, e.g. `"v=BIMI1; l=https://{domain}/bimi/logo.svg; a=https://{domain}/bimi/vmc.pem"`.'),
        "bimi.lookup_failed": (_WHY + "Looking up {where} failed ({why}); receivers cannot read it either.",
                               "Make sure the name servers of {domain} answer TXT queries for {where}."),
        "bimi.logo_unreachable": (_WHY + "The logo at {url} could not be fetched ({why}); receivers show no logo.",
                                  "Serve the SVG file at {url} over HTTPS with a valid certificate (HTTP 200)."),
        "bimi.logo_invalid": (_WHY + "The logo at {url} does not follow the SVG Tiny PS profile that BIMI requires: "
                              "{problems}. Receivers refuse such a logo.",
                              "Export the logo as SVG Tiny PS (baseProfile=\"tiny-ps\" version=\"1.2\", a <title>, "
                              "square, no scripts, no raster images, no external references, at most 32 KB), e.g. "
                              "with the BIMI group's conversion tools."),
        "bimi.no_certificate": (_WHY + "The record has no a= certificate. Gmail and Apple Mail show a BIMI logo only "
                                "with a Verified Mark Certificate (VMC) or Common Mark Certificate (CMC); Yahoo "
                                "shows some without.",
                                "Obtain a VMC or CMC for the logo from a mark certificate authority and publish it: "
                                "a=https://{domain}/bimi/vmc.pem."),
        "bimi.cert_unreachable": (_WHY + "The certificate at {url} could not be fetched ({why}).",
                                  "Serve the PEM file (the certificate and its issuer's) at {url} over HTTPS."),
        "bimi.cert_invalid": (_WHY + "The mark certificate at {url} is not usable: {problems}. Receivers that need a "
                              "certificate show no logo.",
                              "Renew or reissue the VMC/CMC for {domain} with the same logo as l=, and publish the "
                              "certificate followed by its issuer's certificate (PEM) at {url}."),
        "bimi.dmarc_blocks": (_WHY + "Receivers show BIMI logos only for domains whose DMARC policy is at enforcement, "
                              "and the DMARC settings of {domain} silently turn BIMI off: {problems}. The BIMI "
                              "record itself can be perfect and still no logo appears.",
                              "Set the DMARC record at {where} to p=quarantine or p=reject, with no sp=none, no "
                              "pct below 100 and no t=y, e.g. `\"v=DMARC1; p=reject; rua=mailto:dmarc@{domain}\"`."),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        domain = ctx.target.domain
        org = org_domain_7489(domain)
        names = list(dict.fromkeys([f"default._bimi.{domain}", f"default._bimi.{org}"]))
        dmarc_names = query_names(domain)
        results = await asyncio.gather(*(ctx.dns.query(n, "TXT") for n in names + dmarc_names))
        answers = dict(zip(names, results[:len(names)], strict=True))
        lookup = BimiLookup(domain, answers, applied(domain, dict(zip(dmarc_names, results[len(names):],
                                                                      strict=True))))
        record, _where = self._record(lookup)
        if record is not None and not record.errors:
            lookup.logo = await self._fetch(ctx, record.logo, MAX_BYTES + 1) if record.logo else None
            lookup.cert = await self._fetch(ctx, record.evidence, MAX_CERT_BYTES) if record.evidence else None
        for finding in self.evaluate_bimi(lookup):
            yield finding

    @staticmethod
    async def _fetch(ctx: CheckContext, url: str, limit: int) -> FetchResult:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        a, aaaa = await asyncio.gather(ctx.dns.query(host, "A"), ctx.dns.query(host, "AAAA"))
        addresses = [*a.records, *aaaa.records]
        if not addresses:
            return FetchResult(url, "", "no_address", f"{host} has no address ({a.describe()})")
        return await https_get(host, parts.path or "/", addresses, ca_file=ctx.options.ca_file,
                               timeout=ctx.options.timeout, max_body=limit, port=parts.port or 443)

    @staticmethod
    def _record(lookup: BimiLookup) -> tuple[BimiRecord | None, str]:
        for name, result in lookup.answers.items():
            records = select_bimi(txt_strings(result))
            if len(records) == 1:
                return parse_bimi(records[0]), name
            if records:
                return None, name
        return None, ""

    def evaluate_bimi(self, lookup: BimiLookup) -> list[Finding]:
        """Pure: judge the BIMI record, logo, certificate and DMARC of ``lookup``."""
        domain = lookup.domain
        ev: dict[str, Any] = {"queries": {n: {"outcome": r.outcome.value, "records": [clean(t, limit=400) for t in
                                                                                       r.records[:5]]}
                                          for n, r in lookup.answers.items()}}

        def one(code: str, status: Status, summary: str, **facts: object) -> Finding:
            shown: dict[str, Any] = {k: clean(str(v), limit=600) for k, v in facts.items()}
            return self.finding(code, status, domain, clean(summary, limit=300), evidence=dict(ev), domain=domain,
                                **shown)

        where, records = "", []
        for name, res in lookup.answers.items():
            where = name
            if res.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT):
                return [one("bimi.lookup_failed", Status.FAIL, f"BIMI lookup at {name} failed", where=name,
                            why=res.describe())]
            records = select_bimi(txt_strings(res))
            if records:
                break
        if not records:
            return [one("bimi.missing", Status.WARN, f"{domain} publishes no BIMI record")]
        if len(records) > 1:
            return [one("bimi.multiple", Status.FAIL, f"{where} has {len(records)} BIMI records", where=where,
                        count=len(records))]
        record = parse_bimi(records[0])
        ev.update(record=clean(record.text, limit=600), where=where)
        if record.errors:
            return [one("bimi.syntax", Status.FAIL, f"BIMI record at {where} is invalid: {record.errors[0]}",
                        where=where, errors="; ".join(record.errors))]
        if record.declined:
            return [one("bimi.declined", Status.SKIP, f"{domain} declines BIMI (l= and a= are empty)")]
        out = self._dmarc(lookup, one)
        logo = _body(lookup.logo)
        if record.logo and logo is None and lookup.logo is not None:
            out.append(one("bimi.logo_unreachable", Status.FAIL, f"BIMI logo at {record.logo} not fetched: "
                           f"{_fetch_problem(lookup.logo)}", url=record.logo, why=_fetch_problem(lookup.logo)))
        elif logo is not None:
            verdict = check_svg(logo)
            ev["logo"] = {"bytes": len(logo), "title": clean(verdict.title, limit=100), "width": verdict.width,
                          "height": verdict.height}
            if not verdict.ok:
                out.append(one("bimi.logo_invalid", Status.FAIL, f"BIMI logo is not SVG Tiny PS: {verdict.problems[0]}",
                               url=record.logo, problems="; ".join(verdict.problems)))
        if not record.evidence:
            out.append(one("bimi.no_certificate", Status.WARN, "BIMI record has no mark certificate (a=)"))
        elif (pem := _body(lookup.cert)) is None and lookup.cert is not None:
            out.append(one("bimi.cert_unreachable", Status.FAIL, f"BIMI certificate at {record.evidence} not fetched: "
                           f"{_fetch_problem(lookup.cert)}", url=record.evidence, why=_fetch_problem(lookup.cert)))
        elif pem is not None:
            mark = check_mark(pem, domain, lookup.now, logo)
            ev["certificate"] = {k: clean(v, limit=300) if isinstance(v, str) else v for k, v in mark.facts.items()}
            if not mark.ok:
                out.append(one("bimi.cert_invalid", Status.FAIL, f"BIMI mark certificate: {mark.problems[0]}",
                               url=record.evidence, problems="; ".join(mark.problems)))
        if not out:
            how = "logo and mark certificate valid" if record.evidence else "logo valid"
            out.append(one("bimi.logo", Status.PASS, f"BIMI published at {where}: {how}, DMARC at enforcement"))
        return out

    @staticmethod
    def _dmarc(lookup: BimiLookup, one) -> list[Finding]:
        found = lookup.dmarc
        if found is not None and found.failed:
            return [one("bimi.dmarc_blocks", Status.FAIL, "BIMI: the DMARC policy could not be looked up",
                        where=found.failed, problems=f"the lookup of {found.failed} failed")]
        record = found.record if found is not None else None
        blockers = dmarc_blockers(record, own=bool(found and found.own))
        if not blockers:
            return []
        where = f"_dmarc.{found.domain}" if found is not None and found.domain else f"_dmarc.{lookup.domain}"
        return [one("bimi.dmarc_blocks", Status.FAIL, f"BIMI is switched off by DMARC: {blockers[0]}",
                    where=where, problems="; ".join(blockers))]
