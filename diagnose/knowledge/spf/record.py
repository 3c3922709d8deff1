"""Pure SPF (RFC 7208) analysis: record selection, term syntax and the DNS-lookup budget.

No sockets here. ``analyze_spf(domain, answers)`` walks the include/redirect tree using the DNS
answers it is given and returns the tree plus the questions it still needs answered; the probe
in ``checks/spf/check.py`` asks those and calls it again (a bounded loop), like dnspython's
``_Resolution`` keeps resolution logic free of I/O.

Counting follows RFC 7208 §4.6.4: ``include``, ``a``, ``mx``, ``ptr``, ``exists`` and ``redirect``
cost one DNS lookup each, across the whole evaluation (nested includes included); more than 10 is
a permerror. Lookups that find nothing ("void lookups") beyond 2 are a permerror too. This is a
static worst case (every term evaluated, as for a sender no term matches), the number every
receiver may hit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from diagnose.knowledge.dnsanswer import DnsResult, Outcome, txt_strings
from diagnose.knowledge.spf.oddities import explanation_problem, oddities
from diagnose.knowledge.spf.syntax import Term, expand_static, is_dynamic, parse_record, select_spf

LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists", "redirect")

LOOKUP_LIMIT = 10  # RFC 7208 §4.6.4
VOID_LIMIT = 2  # RFC 7208 §4.6.4
MAX_RECORDS = 40  # records we fetch at most (a sane policy needs < 11)
MAX_DEPTH = 10  # include/redirect nesting we follow



@dataclass(frozen=True)
class Problem:
    """One problem of an SPF record tree, at the domain where it is."""

    code: str  # e.g. "syntax", "multiple", "include_missing"
    domain: str
    detail: str


@dataclass(eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class SpfNode:
    """One record of the SPF include tree, with its children."""

    domain: str
    via: str  # "root", "include" or "redirect"
    record: str | None = None
    terms: tuple[Term, ...] = ()
    lookups: int = 0  # lookup-costing terms in this record itself
    children: list[SpfNode] = field(default_factory=list)
    state: str = "ok"  # ok, pending, none, multiple, syntax, temperror, loop, not_followed
    detail: str = ""
    oddities: list[str] = field(default_factory=list)  # valid but odd (knowledge/spf/oddities.py)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"domain": self.domain, "via": self.via, "record": self.record, "lookups": self.lookups,
                "state": self.state}
        if self.detail:
            data["detail"] = self.detail
        if self.oddities:
            data["oddities"] = list(self.oddities)
        if self.children:
            data["children"] = [c.to_dict() for c in self.children]
        return data

    def nodes(self) -> list[SpfNode]:
        """This record and every record below it, depth first."""
        return [self, *(n for c in self.children for n in c.nodes())]

    def lines(self, depth: int = 0) -> list[str]:
        """The tree as indented text lines, for evidence a person can read."""
        what = self.record if self.record is not None else f"({self.state}{': ' + self.detail if self.detail else ''})"
        own = f"{'  ' * depth}{self.via if depth else ''}{' ' if depth else ''}{self.domain}: {what}"
        out = [f"{own}  [{self.lookups} lookup{'s' if self.lookups != 1 else ''}]"]
        for c in self.children:
            out += c.lines(depth + 1)
        return out


@dataclass(eq=False)
class SpfAnalysis:
    """The whole SPF tree of a domain: lookups counted, problems found, names still to ask."""

    root: SpfNode
    lookups: int = 0
    void_names: list[str] = field(default_factory=list)  # lookups that found nothing (§4.6.4)
    problems: list[Problem] = field(default_factory=list)
    missing: set[tuple[str, str]] = field(default_factory=set)  # (name, type) still to ask
    dynamic: list[str] = field(default_factory=list)  # terms with macros we cannot follow

    @property
    def voids(self) -> int:
        return len(self.void_names)

    @property
    def complete(self) -> bool:
        return not self.missing


def analyze_spf(domain: str, answers: Mapping[tuple[str, str], DnsResult]) -> SpfAnalysis:
    """Walk the SPF tree of ``domain`` over ``answers`` ((name, TYPE) -> DnsResult)."""
    domain = domain.lower().rstrip(".")
    analysis = SpfAnalysis(SpfNode(domain, "root"))
    budget = [MAX_RECORDS]
    _visit(analysis.root, analysis, answers, path=(), budget=budget)
    return analysis


def _visit(node: SpfNode, an: SpfAnalysis, answers: Mapping, *, path: tuple[str, ...], budget: list[int]) -> None:
    if node.domain in path:
        node.state, node.detail = "loop", f"{node.domain} includes itself"
        an.problems.append(Problem("loop", node.domain, " -> ".join(path + (node.domain,))))
        return
    if len(path) > MAX_DEPTH or budget[0] <= 0:
        node.state, node.detail = "not_followed", "nesting too deep"
        an.problems.append(Problem("too_deep", node.domain, f"more than {MAX_DEPTH} levels or {MAX_RECORDS} records"))
        return
    budget[0] -= 1
    result = answers.get((node.domain, "TXT"))
    if result is None:
        node.state = "pending"
        an.missing.add((node.domain, "TXT"))
        return
    if result.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT):
        node.state, node.detail = "temperror", result.describe()
        an.problems.append(Problem("temperror", node.domain, f"TXT lookup {result.describe()}"))
        return
    records = select_spf(txt_strings(result))
    if not records:
        node.state = "none"
        if result.outcome is not Outcome.ANSWER and node.via != "root":
            an.void_names.append(node.domain)
        if node.via != "root":
            an.problems.append(Problem(f"{node.via}_missing", node.domain, f"{node.domain} has no SPF record"))
        return
    if len(records) > 1:
        node.state, node.detail = "multiple", f"{len(records)} records"
        an.problems.append(Problem("multiple", node.domain, " | ".join(records)))
        return
    node.record = records[0]
    terms, errors = parse_record(node.record)
    node.terms = tuple(terms)
    if errors:
        node.state, node.detail = "syntax", "; ".join(errors)
        for e in errors:
            an.problems.append(Problem("syntax", node.domain, e))
        return
    node.oddities = oddities(node.record, terms, node.domain, an.root.domain)
    _count_terms(node, an, answers, path=path + (node.domain,), budget=budget)
    _check_explanation(node, an, answers)


def _count_terms(node: SpfNode, an: SpfAnalysis, answers: Mapping, *, path, budget) -> None:
    has_all = False
    redirect = None
    for term in node.terms:
        if term.modifier:
            if term.name == "redirect":
                redirect = term
            continue
        if has_all:
            continue  # §5.1: mechanisms after "all" are never tested
        if term.name == "all":
            has_all = True
            continue
        if term.name not in LOOKUP_TERMS:
            continue
        node.lookups += 1
        an.lookups += 1
        target = expand_static(term.value, node.domain, an.root.domain) if term.value else node.domain
        if term.value and is_dynamic(term.value):
            an.dynamic.append(f"{node.domain}: {term.text}")
            continue
        if term.name == "include":
            child = SpfNode(target, "include")
            node.children.append(child)
            _visit(child, an, answers, path=path, budget=budget)
        elif term.name == "ptr":
            an.problems.append(Problem("ptr", node.domain, term.text))
        elif term.name in ("a", "exists"):
            _void_check(an, answers, target, ("A", "AAAA"))
        elif term.name == "mx":
            mx = _void_check(an, answers, target, ("MX",))
            if mx is not None and len(mx.rdata) > 10:
                an.problems.append(Problem("mx_too_many", node.domain,
                                           f"{term.text}: {target} has {len(mx.rdata)} MX records (limit 10)"))
    if redirect is not None and not has_all:  # §6.1: redirect is ignored when "all" is present
        node.lookups += 1
        an.lookups += 1
        if is_dynamic(redirect.value):
            an.dynamic.append(f"{node.domain}: {redirect.text}")
            return
        child = SpfNode(expand_static(redirect.value, node.domain, an.root.domain), "redirect")
        node.children.append(child)
        _visit(child, an, answers, path=path, budget=budget)


def _check_explanation(node: SpfNode, an: SpfAnalysis, answers: Mapping) -> None:
    """§6.2: the exp= target's TXT record is fetched only on fail and does not count against the
    lookup limits; a missing or malformed one means "no explanation", never a permerror."""
    exp = next((t for t in node.terms if t.modifier and t.name == "exp"), None)
    if exp is None or is_dynamic(exp.value):
        return
    target = expand_static(exp.value, node.domain, an.root.domain)
    result = answers.get((target, "TXT"))
    if result is None:
        an.missing.add((target, "TXT"))
        return
    if result.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT):
        problem = f"its TXT lookup failed ({result.describe()})"
    else:
        problem = explanation_problem(txt_strings(result))
    if problem:
        node.oddities.append(f"{exp.text}: {target} gives no explanation because {problem}; receivers then "
                             "reject without one (RFC 7208 §6.2)")


def _void_check(an: SpfAnalysis, answers: Mapping, name: str, rdtypes: tuple[str, ...]) -> DnsResult | None:
    results = [answers.get((name, t)) for t in rdtypes]
    for t, r in zip(rdtypes, results, strict=False):
        if r is None:
            an.missing.add((name, t))
    found = [r for r in results if r is not None]
    if len(found) < len(results):
        return None
    if all(r.outcome in (Outcome.NXDOMAIN, Outcome.NODATA) for r in found):
        an.void_names.append(name)
    return found[0]


def all_qualifier(node: SpfNode) -> str | None:
    """The qualifier of the record's "all" mechanism, or None if it has none."""
    for term in node.terms:
        if term.name == "all" and not term.modifier:
            return term.qualifier
    return None


def effective_all(root: SpfNode) -> tuple[str | None, SpfNode]:
    """The "all" that decides for unlisted senders: the root's, else the one its redirects reach."""
    node = root
    for _ in range(MAX_DEPTH + 1):
        qualifier = all_qualifier(node)
        nxt = next((c for c in node.children if c.via == "redirect"), None)
        if qualifier is not None or nxt is None or nxt.state != "ok":
            return qualifier, node
        node = nxt
    return None, node


def pass_all_includes(root: SpfNode) -> list[str]:
    """Included records that end in +all: the include then matches every sender (RFC 7208 §5.2)."""
    return [n.domain for n in root.nodes()[1:]
            if n.via == "include" and n.state == "ok" and all_qualifier(n) == "+"]
