"""Pure SPF (RFC 7208) analysis: record selection, term syntax and the DNS-lookup budget.

No sockets here. ``analyze_spf(domain, answers)`` walks the include/redirect tree using the DNS
answers it is given and returns the tree plus the questions it still needs answered; the probe
in ``checks/spf.py`` asks those and calls it again (a bounded loop), like dnspython's
``_Resolution`` keeps resolution logic free of I/O.

Counting follows RFC 7208 §4.6.4: ``include``, ``a``, ``mx``, ``ptr``, ``exists`` and ``redirect``
cost one DNS lookup each, across the whole evaluation (nested includes included); more than 10 is
a permerror. Lookups that find nothing ("void lookups") beyond 2 are a permerror too. This is a
static worst case (every term evaluated, as for a sender no term matches), the number every
receiver may hit.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Mapping

from diagnose.resolver import DnsResult, Outcome

LOOKUP_LIMIT = 10  # RFC 7208 §4.6.4
VOID_LIMIT = 2  # RFC 7208 §4.6.4
MAX_RECORDS = 40  # records we fetch at most (a sane policy needs < 11)
MAX_DEPTH = 10  # include/redirect nesting we follow
MAX_RECORD_CHARS = 4096

MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists", "redirect")
_NAME = re.compile(r"^[a-z][a-z0-9_.-]*$", re.I)
_MACRO = re.compile(r"%(\{[slodiphcrtv][0-9]*r?[.\-+,/_=]*\}|%|_|-)", re.I)
_STATIC_MACRO = re.compile(r"%(\{[do]\}|%|_|-)", re.I)  # expandable without a sender
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$", re.I)


@dataclass(frozen=True)
class Term:
    text: str
    name: str  # mechanism or modifier name, lower case
    qualifier: str = "+"
    value: str = ""  # domain-spec or network ("" when absent)
    modifier: bool = False


@dataclass(frozen=True)
class Problem:
    code: str  # e.g. "syntax", "multiple", "include_missing"
    domain: str
    detail: str


@dataclass
class SpfNode:
    domain: str
    via: str  # "root", "include" or "redirect"
    record: str | None = None
    terms: tuple[Term, ...] = ()
    lookups: int = 0  # lookup-costing terms in this record itself
    children: list["SpfNode"] = field(default_factory=list)
    state: str = "ok"  # ok, pending, none, multiple, syntax, temperror, loop, not_followed
    detail: str = ""

    def to_dict(self) -> dict:
        data = {"domain": self.domain, "via": self.via, "record": self.record, "lookups": self.lookups,
                "state": self.state}
        if self.detail:
            data["detail"] = self.detail
        if self.children:
            data["children"] = [c.to_dict() for c in self.children]
        return data

    def lines(self, depth: int = 0) -> list[str]:
        """The tree as indented text lines, for evidence a person can read."""
        what = self.record if self.record is not None else f"({self.state}{': ' + self.detail if self.detail else ''})"
        own = f"{'  ' * depth}{self.via if depth else ''}{' ' if depth else ''}{self.domain}: {what}"
        out = [f"{own}  [{self.lookups} lookup{'s' if self.lookups != 1 else ''}]"]
        for c in self.children:
            out += c.lines(depth + 1)
        return out


@dataclass
class SpfAnalysis:
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


def txt_strings(result: DnsResult) -> list[str]:
    """TXT records as text: the character-strings of each record joined without spaces (§3.3)."""
    out = []
    for rdata in result.rdata:
        strings = getattr(rdata, "strings", None)
        if strings is None:
            continue
        out.append("".join(s.decode("utf-8", "replace") if isinstance(s, bytes) else s for s in strings))
    return out


def select_spf(texts: list[str]) -> list[str]:
    """Records that are SPF records: start with "v=spf1" then a space or the end (§4.5)."""
    return [t for t in texts if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


def parse_record(record: str) -> tuple[list[Term], list[str]]:
    """Split an SPF record into terms; return (terms, syntax errors)."""
    errors: list[str] = []
    terms: list[Term] = []
    if len(record) > MAX_RECORD_CHARS:
        return [], [f"the record is {len(record)} characters long"]
    if any(ord(c) > 126 or (ord(c) < 32) for c in record):
        errors.append("the record contains characters outside printable ASCII")
    seen_mods: set[str] = set()
    for word in record.split(" ")[1:]:
        if not word:
            continue
        term, error = parse_term(word)
        if error:
            errors.append(error)
            continue
        assert term is not None
        if term.modifier and term.name in ("redirect", "exp"):
            if term.name in seen_mods:
                errors.append(f"the {term.name}= modifier appears more than once")
            seen_mods.add(term.name)
        terms.append(term)
    return terms, errors


def parse_term(word: str) -> tuple[Term | None, str]:
    """One term: a mechanism with optional qualifier, or a name=value modifier."""
    shown = word if len(word) <= 80 else word[:77] + "..."
    m = re.match(r"^([a-z][a-z0-9_.-]*)=(.*)$", word, re.I)
    if m:
        name, value = m.group(1).lower(), m.group(2)
        if name in ("redirect", "exp") and (err := domain_spec_error(value)):
            return None, f"{shown!r}: {err}"
        return Term(word, name, "", value, modifier=True), ""
    qualifier = "+"
    if word[0] in "+-~?":
        qualifier, word = word[0], word[1:]
    m = re.match(r"^([a-z0-9]+)(?::(.*?))?(/.*)?$", word, re.I) if word else None
    if not m or m.group(1).lower() not in MECHANISMS:
        return None, f"{shown!r} is not an SPF mechanism (known: {', '.join(MECHANISMS)})"
    name, arg, cidr = m.group(1).lower(), m.group(2), m.group(3) or ""
    if name == "all":
        if arg is not None or cidr:
            return None, f"{shown!r}: 'all' takes no argument"
        return Term(word, name, qualifier), ""
    if name in ("ip4", "ip6"):
        if not arg:
            return None, f"{shown!r}: {name} needs an address"
        if err := _network_error(name, arg + cidr):
            return None, f"{shown!r}: {err}"
        return Term(word, name, qualifier, arg + cidr), ""
    if arg is not None and arg == "":
        return None, f"{shown!r}: empty domain after ':'"
    if name in ("include", "exists") and not arg:
        return None, f"{shown!r}: {name} needs a domain"
    if arg and (err := domain_spec_error(arg)):
        return None, f"{shown!r}: {err}"
    if cidr:
        if name not in ("a", "mx"):
            return None, f"{shown!r}: {name} takes no /prefix"
        if err := _dual_cidr_error(cidr):
            return None, f"{shown!r}: {err}"
    return Term(word, name, qualifier, arg or ""), ""


def _network_error(kind: str, text: str) -> str:
    addr, _, prefix = text.partition("/")
    try:
        if prefix and not prefix.isdigit():
            raise ValueError
        # host bits may be set (the prefix masks them), hence strict=False
        (ipaddress.IPv4Network if kind == "ip4" else ipaddress.IPv6Network)(text, strict=False)
    except ValueError:
        return f"{text!r} is not an IPv{kind[-1]} address or network"
    return ""


def _dual_cidr_error(cidr: str) -> str:
    m = re.fullmatch(r"(?:/(\d{1,2}))?(?://(\d{1,3}))?", cidr)
    if not m or (m.group(1) and int(m.group(1)) > 32) or (m.group(2) and int(m.group(2)) > 128):
        return f"bad prefix length {cidr!r} (IPv4 /0-32, IPv6 //0-128)"
    return ""


def domain_spec_error(spec: str) -> str:
    """Why a domain-spec (RFC 7208 §7.1) is malformed, or ''."""
    if "%" in _MACRO.sub("", spec):
        return f"bad macro in {spec!r}"
    if any(ord(c) < 33 or ord(c) > 126 for c in spec):
        return f"{spec!r} contains spaces or non-ASCII characters"
    if is_dynamic(spec):
        return ""  # depends on the sender: only checkable at receive time
    labels = expand_static(spec, "x.invalid").split(".")
    if len(labels) < 2 or not all(_LABEL.match(lb) for lb in labels) or labels[-1].isdigit():
        return f"{spec!r} is not a domain name"
    return ""


def is_dynamic(spec: str) -> bool:
    """The domain-spec uses macros that depend on the sender (client IP, sender address...)."""
    return "%" in _STATIC_MACRO.sub("", spec)


def expand_static(spec: str, domain: str) -> str:
    """Expand the macros that need no sender: %{d} and %{o} (the current domain), %%, %_, %-."""
    return re.sub(r"%(\{[do]\}|%|_|-)", lambda m: {"%": "%", "_": " ", "-": "%20"}.get(m.group(1), domain),
                  spec, flags=re.I).lower().rstrip(".")


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
    _count_terms(node, an, answers, path=path + (node.domain,), budget=budget)


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
        target = expand_static(term.value, node.domain) if term.value else node.domain
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
        child = SpfNode(expand_static(redirect.value, node.domain), "redirect")
        node.children.append(child)
        _visit(child, an, answers, path=path, budget=budget)


def _void_check(an: SpfAnalysis, answers: Mapping, name: str, rdtypes: tuple[str, ...]) -> DnsResult | None:
    results = [answers.get((name, t)) for t in rdtypes]
    for t, r in zip(rdtypes, results):
        if r is None:
            an.missing.add((name, t))
    if any(r is None for r in results):
        return None
    if all(r.outcome in (Outcome.NXDOMAIN, Outcome.NODATA) for r in results):
        an.void_names.append(name)
    return results[0]


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
    found: list[str] = []

    def walk(node: SpfNode) -> None:
        for child in node.children:
            if child.via == "include" and child.state == "ok" and all_qualifier(child) == "+":
                found.append(child.domain)
            walk(child)

    walk(root)
    return found
