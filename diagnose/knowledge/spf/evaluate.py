"""Pure SPF evaluation (RFC 7208 §4 check_host): the result for one client address, on the tree
``analyze_spf`` built and the DNS answers gathered so far.

Like ``analyze_spf`` it never asks DNS itself: it returns the (name, type) questions it still needs
(the A/AAAA of ``a`` and ``mx`` targets, the MX hosts' addresses) and the caller asks them and
calls again. Used by ``maildoctor message`` to re-evaluate SPF for the address a message came from.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from diagnose.knowledge.dnsanswer import DnsResult, Outcome
from diagnose.knowledge.spf.macros import Sender, expand
from diagnose.knowledge.spf.record import LOOKUP_LIMIT, LOOKUP_TERMS, SpfAnalysis, SpfNode
from diagnose.knowledge.spf.syntax import Term, expand_static, is_dynamic

RESULTS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
_CIDR = re.compile(r"(?:/(\d{1,2}))?(?://(\d{1,3}))?$")
MAX_MX = 10  # RFC 7208 §4.6.4: more MX records than this is a permerror
EXPANDED = ("a", "mx", "exists")  # terms whose transaction macros are expanded (an include's record is
# walked by analyze_spf, which cannot know the transaction: a dynamic include stays "unknown")


@dataclass(frozen=True)
class SpfVerdict:
    result: str  # pass, fail, softfail, neutral, none, temperror, permerror, or "pending" (answers missing)
    domain: str  # the record that decided
    mechanism: str = ""  # the term that matched ("" when the default applied)
    detail: str = ""
    missing: frozenset[tuple[str, str]] = frozenset()


@dataclass
class _Walk:
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    answers: Mapping[tuple[str, str], DnsResult]
    sender_domain: str  # %{o}: the domain checked, as analyze_spf expands it
    transaction: Sender | None = None  # the SMTP transaction's values, when known: every macro expands
    lookups: int = 0
    missing: set[tuple[str, str]] = field(default_factory=set)


class _Stop(Exception):
    def __init__(self, result: str, detail: str) -> None:
        self.result, self.detail = result, detail


def check_host(an: SpfAnalysis, ip: str, answers: Mapping[tuple[str, str], DnsResult], *, sender: str = "",
               helo: str = "") -> SpfVerdict:
    """The SPF result for a client at ``ip`` sending for ``an.root.domain``, over the same ``answers``
    ``analyze_spf`` walked (the tree's records) plus the address lookups this evaluation asks for.

    ``sender`` (the MAIL FROM address) and ``helo``: with them, a/mx/exists terms whose macros name
    the transaction (%{s}, %{l}, %{i}, %{h}, ...) are expanded (RFC 7208 §7) and evaluated; without
    them such a term gives "unknown"."""
    transaction = None
    if sender or helo:  # §4.3: an empty MAIL FROM is postmaster@HELO
        transaction = Sender(sender=sender or f"postmaster@{helo}", ip=ip, helo=helo)
    walk = _Walk(ipaddress.ip_address(ip), answers, an.root.domain, transaction)
    try:
        verdict = _node(an.root, walk)
    except _Stop as stop:
        verdict = SpfVerdict(stop.result, an.root.domain, detail=stop.detail)
    if walk.missing:
        return SpfVerdict("pending", an.root.domain, missing=frozenset(walk.missing))
    return verdict


def _node(node: SpfNode, walk: _Walk) -> SpfVerdict:
    if node.state == "pending":
        walk.missing.add((node.domain, "TXT"))
        return SpfVerdict("pending", node.domain)
    if node.state == "none":
        return SpfVerdict("none", node.domain, detail=f"{node.domain} publishes no SPF record")
    if node.state == "temperror":
        raise _Stop("temperror", f"{node.domain}: {node.detail}")
    if node.state != "ok":
        raise _Stop("permerror", f"{node.domain}: {node.state} {node.detail}".strip())
    children = {(c.via, c.domain): c for c in node.children}
    redirect = None
    for term in node.terms:
        if term.modifier:
            if term.name == "redirect":
                redirect = term
            continue
        if term.name in LOOKUP_TERMS:
            walk.lookups += 1
            if walk.lookups > LOOKUP_LIMIT:
                raise _Stop("permerror", f"more than {LOOKUP_LIMIT} DNS lookups (RFC 7208 §4.6.4)")
        if term.value and is_dynamic(term.value) and (walk.transaction is None or term.name not in EXPANDED):
            raise _Stop("unknown", f"{node.domain}: {term.text} uses macros that maildoctor does not expand"
                        + ("" if walk.transaction is None else " there"))
        matched = _matches(term, node, walk, children)
        if matched is None:
            return SpfVerdict("pending", node.domain)
        if matched:
            shown = term.text if term.qualifier == "+" else term.qualifier + term.text
            return SpfVerdict(RESULTS[term.qualifier], node.domain, shown)
    if redirect is not None:
        child = children.get(("redirect", expand_static(redirect.value, node.domain, walk.sender_domain)))
        if child is None:
            raise _Stop("permerror", f"{node.domain}: redirect={redirect.value} not followed")
        walk.lookups += 1
        verdict = _node(child, walk)
        if verdict.result == "none":
            raise _Stop("permerror", f"redirect={child.domain} has no SPF record")
        return verdict
    return SpfVerdict("neutral", node.domain, detail="no mechanism matched and the record has no 'all'")


def _matches(term: Term, node: SpfNode, walk: _Walk, children: dict) -> bool | None:
    """Does the client match the mechanism; None while answers are missing."""
    name, ip = term.name, walk.ip
    target = _target(term.value, node.domain, walk) if term.value else node.domain
    if name == "all":
        return True
    if name in ("ip4", "ip6"):
        network = ipaddress.ip_network(term.value, strict=False)
        return network.version == ip.version and ip in network
    if name == "include":
        child = children.get(("include", target))
        if child is None:
            raise _Stop("permerror", f"{node.domain}: include:{target} not followed")
        verdict = _node(child, walk)
        if verdict.result in ("pending",):
            return None
        if verdict.result in ("temperror", "permerror"):
            raise _Stop(verdict.result, verdict.detail)
        if verdict.result == "none":
            raise _Stop("permerror", f"include:{target} has no SPF record")
        return verdict.result == "pass"
    if name == "exists":
        found = _answer(walk, target, "A")
        return None if found is None else bool(found.outcome is Outcome.ANSWER and found.rdata)
    if name == "ptr":
        return False  # RFC 7208 §5.5 says not to use it; receivers may skip it, so do we
    m = _CIDR.search(term.text)
    prefix = int((m.group(1) if ip.version == 4 else m.group(2)) or (32 if ip.version == 4 else 128)) if m else None
    rdtype = "A" if ip.version == 4 else "AAAA"
    if name == "a":
        return _in(walk, target, rdtype, prefix)
    if name == "mx":
        mx = _answer(walk, target, "MX")
        if mx is None:
            return None
        if mx.outcome is not Outcome.ANSWER:
            return False
        if len(mx.rdata) > MAX_MX:
            raise _Stop("permerror", f"{target} has {len(mx.rdata)} MX records (limit {MAX_MX})")
        results = [_in(walk, str(r.exchange).rstrip(".").lower(), rdtype, prefix) for r in mx.rdata]
        return True if any(results) else None if None in results else False
    return False


def _target(spec: str, domain: str, walk: _Walk) -> str:
    """A term's domain-spec expanded: with the transaction's values when the spec names them."""
    if walk.transaction is None or not is_dynamic(spec):
        return expand_static(spec, domain, walk.sender_domain)
    name = expand(spec, replace(walk.transaction, domain=domain)).lower().rstrip(".")
    while len(name) > 253 and "." in name:  # §7.3: drop labels from the left until it fits
        name = name.split(".", 1)[1]
    return name


def _answer(walk: _Walk, name: str, rdtype: str) -> DnsResult | None:
    found = walk.answers.get((name, rdtype))
    if found is None:
        walk.missing.add((name, rdtype))
        return None
    if found.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT):
        raise _Stop("temperror", f"{rdtype} lookup of {name}: {found.describe()}")
    return found


def _in(walk: _Walk, name: str, rdtype: str, prefix: int | None) -> bool | None:
    found = _answer(walk, name, rdtype)
    if found is None:
        return None
    if found.outcome is not Outcome.ANSWER:
        return False
    for r in found.rdata:
        address = getattr(r, "address", None)
        if address is None:
            continue
        net = ipaddress.ip_network(f"{address}/{prefix if prefix is not None else (32 if rdtype == 'A' else 128)}",
                                   strict=False)
        if walk.ip in net:
            return True
    return False
