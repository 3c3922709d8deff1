"""What the domain's DNS says about its mail provider: the lookups behind provider.detect.

Bounded: the MX set, the apex SPF record and the records it includes (two levels, at most
``MAX_INCLUDES`` names), the autodiscover/autoconfig names, and the CNAME and TXT of every DKIM
selector a known provider signs with; all asked at once per round (three rounds).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from diagnose.engine.plugin import CheckContext
from diagnose.knowledge.providers import Catalogue, Match, Signals, recognise
from diagnose.net.resolver import DnsResult, Outcome, txt_strings

PROVIDER_FACT = "provider.hosting"  # checks.provider.signals.Hosting: the providers recognised, and why
MAX_INCLUDES = 12  # SPF include/redirect names followed (RFC 7208 allows 10 lookups in all)
_INCLUDE = re.compile(r"(?:^|\s)[+\-~?]?include:(\S+)|(?:^|\s)redirect=(\S+)", re.I)


@dataclass(frozen=True)
class Hosting:
    """The published fact: the signals seen and the providers they name."""

    signals: Signals
    matches: tuple[Match, ...]
    failed: tuple[str, ...] = ()  # lookups that failed (SERVFAIL/timeout): the picture may be incomplete
    dmarc: str | None = None  # the _dmarc record, if any
    problems: tuple[str, ...] = field(default=())  # provider data that failed to load


def spf_of(texts: list[str]) -> str | None:
    records = [t for t in texts if t.lower().startswith("v=spf1") and (len(t) == 6 or t[6] == " ")]
    return records[0] if len(records) == 1 else None


def includes_of(record: str | None) -> list[str]:
    """include: and redirect= domains of an SPF record (macros left out: they cannot be followed)."""
    out = []
    for m in _INCLUDE.finditer(record or ""):
        name = (m.group(1) or m.group(2)).lower().rstrip(".")
        if "%" not in name:
            out.append(name)
    return out


def _first(result: DnsResult) -> str:
    return result.records[0].lower().rstrip(".") if result.outcome is Outcome.ANSWER and result.records else ""


async def gather(ctx: CheckContext, catalogue: Catalogue) -> Hosting:
    """Ask DNS what maildoctor needs to recognise the provider."""
    domain = ctx.target.domain
    selectors = list(dict.fromkeys(s for p in catalogue.providers for s in p.dkim))
    questions = [(domain, "MX"), (domain, "TXT"), (f"_dmarc.{domain}", "TXT"), (f"autodiscover.{domain}", "CNAME"),
                 (f"_autodiscover._tcp.{domain}", "SRV"), (f"autoconfig.{domain}", "CNAME")]
    questions += [(f"{s}._domainkey.{domain}", t) for s in selectors for t in ("CNAME", "TXT")]
    answers = dict(zip(questions, await asyncio.gather(*(ctx.dns.query(n, t) for n, t in questions)), strict=True))
    failed = [f"{n} {t}" for (n, t), r in answers.items() if r.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT)]

    spf = spf_of(txt_strings(answers[(domain, "TXT")]))
    seen: list[str] = []
    level = includes_of(spf)
    for _ in range(2):  # two levels of includes: providers are usually named at the first
        level = [n for n in dict.fromkeys(level) if n not in seen][: MAX_INCLUDES - len(seen)]
        if not level:
            break
        seen += level
        results = await asyncio.gather(*(ctx.dns.query(n, "TXT") for n in level))
        level = [i for r in results for i in includes_of(spf_of(txt_strings(r)))]

    mx = tuple(sorted({r.split()[-1].lower().rstrip(".") for r in answers[(domain, "MX")].records
                       if answers[(domain, "MX")].outcome is Outcome.ANSWER and len(r.split()) == 2} - {""}))
    srv = answers[(f"_autodiscover._tcp.{domain}", "SRV")]
    cnames = {s: _first(answers[(f"{s}._domainkey.{domain}", "CNAME")]) for s in selectors}
    keys = tuple(s for s in selectors if any("p=" in t.replace(" ", "")
                                             for t in txt_strings(answers[(f"{s}._domainkey.{domain}", "TXT")])))
    dmarc = [t for t in txt_strings(answers[(f"_dmarc.{domain}", "TXT")]) if t.lower().startswith("v=dmarc1")]
    signals = Signals(
        domain=domain, mx=mx, spf_includes=tuple(seen), spf_record=spf,
        dkim_cnames={s: t for s, t in cnames.items() if t}, dkim_keys=keys,
        autodiscover=_first(answers[(f"autodiscover.{domain}", "CNAME")]),
        autodiscover_srv=srv.records[0].split()[-1].lower().rstrip(".") if srv.outcome is Outcome.ANSWER
        and srv.records else "",
        autoconfig=_first(answers[(f"autoconfig.{domain}", "CNAME")]),
    )
    return Hosting(signals, tuple(recognise(signals, catalogue.providers)), tuple(failed),
                   dmarc[0] if len(dmarc) == 1 else None, catalogue.problems)
