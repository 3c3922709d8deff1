"""Where a receiver finds a domain's DMARC policy, and what its organizational domain is, under
RFC 7489 (the Public Suffix List) and under RFC 9989 (DMARCbis: the DNS Tree Walk, §4.10).

Pure, on DNS answers given as ``{name: DnsResult}`` for the ``_dmarc.`` names. ``walk_names``
says which names a tree walk asks (at most 8); ``policy_7489``/``policy_9989`` find the record
that applies; ``org_domain_7489``/``org_domain_9989`` the organizational domain (relaxed alignment
compares organizational domains, so the two standards can disagree on whether mail aligns).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from diagnose.knowledge.dmarc.record import DmarcRecord, parse_dmarc, select_dmarc
from diagnose.knowledge.dnsanswer import DnsResult, Outcome, txt_strings

MAX_WALK_QUERIES = 8  # RFC 9989 §4.10: the walk asks at most 8 names
_SKIP_TO = 7  # a name of 8 or more labels: the second query is at its last 7 labels


@functools.lru_cache(maxsize=64)
def _psl(tld: str):  # type: ignore[no-untyped-def]
    """The public suffix list reduced to the rules under one top-level label (the only ones that can
    match a name under it): parsing the whole list costs ~60 ms of CPU per run, this a few.
    publicsuffixlist ships the list inside the package and loads it from there: no network."""
    from publicsuffixlist import PSLFILE, PublicSuffixList

    variants = {tld}
    try:  # a rule is written in Unicode; a name may come in either form
        variants.add(tld.encode("idna").decode("ascii") if not tld.isascii() else tld.encode("ascii").decode("idna"))
    except UnicodeError:
        pass
    with open(PSLFILE, encoding="utf-8") as fh:
        lines = fh.read().lower().splitlines()
    # a rule line is the rule alone ("co.uk", "*.ck", "!www.ck"); comments start with "//"
    under = tuple("." + v for v in variants)
    return PublicSuffixList([line for line in lines if line.endswith(under) or line in variants])


def org_domain_7489(domain: str) -> str:
    """RFC 7489 §3.2: the registrable domain (public suffix + one label), via the bundled PSL."""
    domain = domain.lower().rstrip(".")
    return _psl(domain.rpartition(".")[2]).privatesuffix(domain) or domain


def walk_names(domain: str) -> list[str]:
    """RFC 9989 §4.10: the domains whose _dmarc record the tree walk asks for, in order: the domain
    itself, then (past 7 labels, straight to the last 7) one label shorter each time, down to the TLD."""
    labels = domain.lower().rstrip(".").split(".")
    names = [".".join(labels)]
    for count in range(min(len(labels) - 1, _SKIP_TO), 0, -1):
        names.append(".".join(labels[-count:]))
    return names[:MAX_WALK_QUERIES]


@dataclass(frozen=True)
class Found:
    """The outcome of looking for a policy: a record at ``domain``, nothing, or a failed lookup."""

    start: str  # the domain whose policy was looked for
    domain: str = ""  # where the record is ("" when none was found)
    record: DmarcRecord | None = None
    failed: str = ""  # the _dmarc name whose lookup failed (SERVFAIL, timeout): receivers get a temperror
    multiple: int = 0  # more than one DMARC record at ``domain`` (RFC 7489 §6.6.3: no policy at all)

    @property
    def own(self) -> bool:
        """The record is the domain's own (p= applies), not an ancestor's (sp=, np=)."""
        return self.record is not None and self.domain == self.start


def _at(answers: Mapping[str, DnsResult | None], name: str) -> tuple[str, list[str]]:
    """("failed" | "missing" | "ok", DMARC records) for _dmarc.<name>."""
    result = answers.get(f"_dmarc.{name}")
    if result is None:
        return "missing", []
    if result.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT):
        return "failed", []
    return "ok", select_dmarc(txt_strings(result))


def policy_7489(domain: str, answers: Mapping[str, DnsResult | None]) -> Found:
    """RFC 7489 §6.6.3: _dmarc.<domain>, else _dmarc.<organizational domain by the PSL>."""
    return _first(domain, [domain, org_domain_7489(domain)], answers, multiple_stops=True)


def policy_9989(domain: str, answers: Mapping[str, DnsResult | None]) -> Found:
    """RFC 9989 §4.10: the first of the tree walk's names with exactly one DMARC record."""
    return _first(domain, walk_names(domain), answers, multiple_stops=False)


def _first(start: str, names: list[str], answers: Mapping[str, DnsResult | None], *, multiple_stops: bool) -> Found:
    for name in dict.fromkeys(names):
        state, records = _at(answers, name)
        if state == "failed":
            return Found(start, failed=f"_dmarc.{name}")
        if state == "missing":
            continue
        if len(records) == 1:
            return Found(start, name, parse_dmarc(records[0]))
        if len(records) > 1 and multiple_stops:  # RFC 7489 step 5: several records = no DMARC at all
            return Found(start, name, None, multiple=len(records))
        # RFC 9989 §4.10 step 2: an empty set or more than one record: the walk goes on upwards
    return Found(start)


def applied(domain: str, answers: Mapping[str, DnsResult | None]) -> Found:
    """The record receivers apply: RFC 9989's tree walk result, else RFC 7489's."""
    found = policy_9989(domain, answers)
    return found if found.record is not None else policy_7489(domain, answers)


def query_names(domain: str) -> list[str]:
    """The _dmarc names to ask so both standards can be judged: the tree walk's and the PSL's (at most 9)."""
    return [f"_dmarc.{n}" for n in dict.fromkeys([*walk_names(domain), org_domain_7489(domain)])]


def org_domain_9989(domain: str, answers: Mapping[str, DnsResult | None]) -> str:
    """RFC 9989 §4.10.2: walking up from ``domain``, a record with psd=n marks the organizational
    domain; one with psd=y (other than at the start) marks a public suffix, whose child on the path
    is the organizational domain; else the record with the fewest labels; with none, the domain."""
    names = walk_names(domain)
    labels = names[0].split(".")
    candidate = ""
    for name in names:
        state, records = _at(answers, name)
        if state != "ok" or len(records) != 1:
            continue
        record = parse_dmarc(records[0])
        psd = record.tag("psd", "u")
        if psd == "n":
            return name
        if psd == "y" and name != names[0]:
            return ".".join(labels[-(name.count(".") + 2):])
        candidate = name
    return candidate or names[0]


def aligned(identifier: str, from_domain: str, mode: str = "r") -> bool:
    """RFC 7489 §3.1: an authenticated domain is aligned with the From domain when it is the same
    domain (strict, ``s``) or has the same organizational domain (relaxed, ``r``, the default)."""
    identifier, from_domain = identifier.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not identifier or not from_domain:
        return False
    if mode.lower() == "s":
        return identifier == from_domain
    return org_domain_7489(identifier) == org_domain_7489(from_domain)
