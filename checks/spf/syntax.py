"""Pure SPF record syntax (RFC 7208 §4.5, §5, §6, §7): record selection, terms, domain-specs, macros."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

MAX_RECORD_CHARS = 4096
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
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
