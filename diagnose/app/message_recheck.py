"""`maildoctor message`: the DNS side of the authentication re-checks. ``gather`` asks the run's
resolver (``--nameserver``) for the DKIM and ARC keys, the SPF records and the DMARC policy the
message needs, bounded by the timeout policy; ``recheck`` runs it and hands the answers to the pure
``diagnose.app.message_auth.findings``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from diagnose.app.message_auth import MAX_KEYS, Found, address_of, domain_of, findings
from diagnose.app.message_headers import HEADERS
from diagnose.engine.model import Finding, Status
from diagnose.knowledge import headers
from diagnose.knowledge.dkimverify import arc_key_names, key_name, key_record
from diagnose.knowledge.dmarc.discovery import query_names
from diagnose.knowledge.mailfile import Loaded
from diagnose.knowledge.sanitize import clean
from diagnose.knowledge.spf.evaluate import SpfVerdict, check_host
from diagnose.knowledge.spf.record import MAX_DEPTH, analyze_spf
from diagnose.net.resolver import DnsResult, Outcome


async def gather(loaded: Loaded, dns: Any, *, budget_s: float) -> Found:
    """Ask DNS for the keys, the SPF records and the DMARC policy the message needs (bounded by ``budget_s``)."""
    msg = loaded.message
    found = Found()
    names = list(dict.fromkeys([key_name(s) for s in headers.signatures(msg) if s.domain and s.selector]
                               + arc_key_names(msg)))[:MAX_KEYS]
    answers = await asyncio.gather(*(dns.query(n, "TXT") for n in names))
    for name, answer in zip(names, answers, strict=True):
        if answer.outcome is Outcome.ANSWER:
            found.keys[name] = key_record(answer)
        elif answer.outcome in (Outcome.NXDOMAIN, Outcome.NODATA):
            found.keys[name] = None
        else:
            found.key_errors[name] = answer.describe()
    verdicts = headers.auth_results(msg)
    found.entry = headers.entry_point(msg, headers.hops(msg), verdicts[0].authserv if verdicts else "")
    return_path = str(msg.get("Return-Path", "") or "")
    found.mail_from = domain_of(return_path) or (found.entry.helo if found.entry and "." in found.entry.helo else "")
    if found.entry and found.mail_from:
        sender = address_of(return_path)
        found.spf, found.spf_record = await _spf(dns, found.mail_from, found.entry.ip, budget_s,
                                                 sender=sender, helo=found.entry.helo)
    found.from_domain = domain_of(str(msg.get("From", "") or ""))
    if found.from_domain:
        names = query_names(found.from_domain)  # RFC 9989's tree walk and RFC 7489's organizational domain
        found.dmarc = dict(zip(names, await asyncio.gather(*(dns.query(n, "TXT") for n in names)), strict=True))
    return found


async def _spf(dns: Any, domain: str, ip: str, budget_s: float, *, sender: str = "",
               helo: str = "") -> tuple[SpfVerdict, str]:
    """Bounded: each round asks what the evaluation still needs; the rounds stop after MAX_DEPTH + 4 or
    ``budget_s`` seconds. ``sender`` (the Return-Path address) and ``helo`` expand the macros that
    name the transaction."""
    answers: dict[tuple[str, str], DnsResult] = {}
    loop = asyncio.get_running_loop()
    start = loop.time()
    analysis = analyze_spf(domain, answers)
    verdict = check_host(analysis, ip, answers, sender=sender, helo=helo)
    for _ in range(MAX_DEPTH + 4):
        wanted = sorted((set(analysis.missing) | set(verdict.missing)) - set(answers))[:60]
        if not wanted or loop.time() - start > budget_s:
            break
        results = await asyncio.gather(*(dns.query(n, t) for n, t in wanted))
        answers.update(zip(wanted, results, strict=True))
        analysis = analyze_spf(domain, answers)
        verdict = check_host(analysis, ip, answers, sender=sender, helo=helo)
    if verdict.result == "pending":
        verdict = SpfVerdict("temperror", domain, detail="the evaluation needed more DNS lookups than time allowed")
    return verdict, clean(analysis.root.record or "", limit=500)


@dataclass(frozen=True)
class Lookup:
    """How `maildoctor message` may ask DNS: the resolvers (empty: the system's) and --timeout."""

    nameservers: tuple[str, ...] = ()
    timeout: float = 5.0


def recheck(loaded: Loaded, lookup: Lookup | None) -> list[Finding]:
    """The message's authentication re-checked through DNS (None: not asked, --offline), bounded by the
    run budget of the timeout policy; DNS that cannot be used is an error finding, never a pass."""
    from diagnose.engine.timeouts import Timeouts
    from diagnose.net.resolver import Dns, ResolverUnreachable, parse_nameserver

    if lookup is None:
        return findings(loaded, None)
    limits = Timeouts(lookup.timeout)
    try:
        dns = Dns([parse_nameserver(n) for n in lookup.nameservers], timeout=lookup.timeout)
    except ResolverUnreachable as exc:
        return [Finding(HEADERS, "message.dkim_not_tested", "message", Status.ERROR,
                        f"DKIM, ARC, SPF and DMARC could not be re-checked: {exc}")]

    async def run() -> Found:
        return await asyncio.wait_for(gather(loaded, dns, budget_s=limits.spf_walk), timeout=limits.run)

    try:
        found = asyncio.run(run())
    except TimeoutError:
        return [Finding(HEADERS, "message.dkim_not_tested", "message", Status.ERROR,
                        f"DKIM, ARC, SPF and DMARC could not be re-checked within {limits.run:.0f} s (DNS too slow)")]
    return findings(loaded, found)


def header_rechecks(loaded: Loaded, lookup: Lookup | None, *, authentication: bool = True) -> list[Finding]:
    """What the header says beyond its hops: the spam filters' verdicts, and (``authentication``) the
    sender's authentication re-checked."""
    from diagnose.app.message_spam import spam_findings

    spam = spam_findings(loaded.message, domain_of(str(loaded.message.get("From", "") or "")))
    return spam + (recheck(loaded, lookup) if authentication else [])


def lookup_error(lookup: Lookup | None) -> str:
    """Why the --nameserver values cannot be used ("" when they can)."""
    from diagnose.net.resolver import parse_nameserver

    for value in lookup.nameservers if lookup else ():
        try:
            parse_nameserver(value)
        except ValueError as exc:
            return str(exc)
    return ""
