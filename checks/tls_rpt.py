"""tls_rpt.record: SMTP TLS Reporting (RFC 8460): the _smtp._tls TXT record and its report addresses."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.knowledge.sanitize import clean
from diagnose.net.resolver import DnsResult, Outcome, txt_strings

_MAILTO = re.compile(r"^mailto:[^@\s,;]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$")
_HTTPS = r"^https://[A-Za-z0-9.-]+(:\d+)?(/[^\s,;]*)?$"  # a string: re compiles it when a rua is not mailto:


def select_tlsrpt(texts: list[str]) -> list[str]:
    return [t for t in texts if re.match(r"^v=TLSRPTv1\s*(;|$)", t)]


def parse_tlsrpt(text: str) -> tuple[list[str], list[str]]:
    """RFC 8460 §3: ``v=TLSRPTv1; rua=URI[,URI]`` -> (report URIs, errors)."""
    fields: dict[str, str] = {}
    errors: list[str] = []
    for part in text.split(";")[1:]:
        part = part.strip()
        if not part:
            continue
        name, eq, value = part.partition("=")
        if not eq or not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", name.strip()):
            errors.append(f"{part[:40]!r} is not a name=value field")
            continue
        fields.setdefault(name.strip(), value.strip())
    uris = [u.strip() for u in fields.get("rua", "").split(",") if u.strip()][:20]
    if not uris:
        errors.append("the rua= field (where reports go) is missing or empty")
    for uri in uris:
        if not (_MAILTO.match(uri) or re.match(_HTTPS, uri)):
            errors.append(f"rua {uri[:60]!r} is neither mailto:address nor https://URL")
    return uris, errors


class TlsRpt(Check):
    id = "tls_rpt.record"
    title = "TLS-RPT asks senders to report TLS problems with the MX"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.INCOMING
    services = ("smtp",)
    texts = {
        "tls_rpt.record": ("", ""),
        "tls_rpt.none": ("", ""),
        "tls_rpt.invalid": (
            "TLS-RPT (a TXT record at _smtp._tls.{domain}) asks sending servers to send you a daily "
            "report of failed TLS connections to your MX. The record is invalid ({problem}), so no "
            "reports arrive and MTA-STS or DANE problems go unnoticed.",
            "Publish exactly one record: `_smtp._tls.{domain}. 3600 IN TXT \"v=TLSRPTv1; "
            "rua=mailto:tlsrpt@{domain}\"`.",
        ),
        "tls_rpt.lookup_failed": (
            "Looking up the TLS-RPT record at _smtp._tls.{domain} failed ({why}).",
            "Make sure the name servers of {domain} answer TXT queries for _smtp._tls.{domain}.",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        domain = ctx.target.domain
        yield self.evaluate_tlsrpt(domain, await ctx.dns.query(f"_smtp._tls.{domain}", "TXT"))

    def evaluate_tlsrpt(self, domain: str, result: DnsResult) -> Finding:
        """Pure: judge the _smtp._tls TXT answer."""
        texts = txt_strings(result)
        ev = {"query": f"_smtp._tls.{domain} TXT", "outcome": result.outcome.value,
              "records": [clean(t, limit=300) for t in texts[:5]]}
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, duration_s=result.elapsed_s, domain=domain)
        if result.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT):
            return self.finding("tls_rpt.lookup_failed", Status.FAIL, domain, "TLS-RPT record lookup failed",
                                why=result.describe(), **kw)
        records = select_tlsrpt(texts)
        if not records:
            return self.finding("tls_rpt.none", Status.SKIP, domain,
                                f"{domain} does not use TLS-RPT (no _smtp._tls TXT record; optional)", **kw)
        if len(records) > 1:
            return self.finding(
                "tls_rpt.invalid",
                Status.FAIL,
                domain,
                f"_smtp._tls.{domain} has {len(records)} records",
                problem=f"{len(records)} records; senders need exactly one",
                **kw,
            )
        uris, errors = parse_tlsrpt(records[0])
        if errors:
            return self.finding("tls_rpt.invalid", Status.FAIL, domain,
                                clean(f"TLS-RPT record is invalid: {errors[0]}", limit=300),
                                problem=clean("; ".join(errors), limit=500), **kw)
        ev["rua"] = [clean(u, limit=200) for u in uris]
        return self.finding("tls_rpt.record", Status.PASS, domain,
                            clean(f"TLS reports go to {', '.join(uris)}", limit=300), **kw)
