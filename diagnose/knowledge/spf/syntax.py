"""Pure SPF record syntax, exactly per RFC 7208's ABNF (§12), plus the prose rules that make a
record a permerror (§4.6, §5, §6, §7.1, §7.3).

A record is "invalid" here only where the RFC makes it a permerror; a record that is valid but odd
(mechanisms after ``all``, an unknown modifier, a name that cannot exist in DNS, host bits set
beyond the prefix...) parses without error and gets *oddities*: notes that say it is valid but
probably not what was meant.

    record           = version terms *SP
    terms            = *( 1*SP ( directive / modifier ) )
    directive        = [ qualifier ] mechanism
    mechanism        = all / include / a / mx / ptr / ip4 / ip6 / exists
    a / mx           = "a" / "mx" [ ":" domain-spec ] [ dual-cidr-length ]
    ip4-cidr-length  = "/" ("0" / %x31-39 0*1DIGIT)   ; 0-32
    ip6-cidr-length  = "/" ("0" / %x31-39 0*2DIGIT)   ; 0-128
    dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
    modifier         = redirect / explanation / unknown-modifier
    unknown-modifier = name "=" macro-string            ; name not a known modifier
    name             = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
    domain-spec      = macro-string domain-end
    domain-end       = ( "." toplabel [ "." ] ) / macro-expand
    toplabel         = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the macro code is imported for a text with a "%" only (knowledge/spf/macros.py)
    from diagnose.knowledge.spf.macros import Token

MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
MODIFIERS = ("redirect", "exp")
UDP_SAFE_CHARS = 450  # §3.4: keep the answer within a 512-byte UDP DNS message
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_QNUM = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IP4 = re.compile(rf"{_QNUM}\.{_QNUM}\.{_QNUM}\.{_QNUM}")
_IP4_CIDR = re.compile(r"/(0|[1-9][0-9]?)")
_IP6_CIDR = re.compile(r"/(0|[1-9][0-9]{0,2})")
_DUAL_CIDR = re.compile(r"(?:/(0|[1-9][0-9]?))?(?://(0|[1-9][0-9]{0,2}))?")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)", re.I)
_STATIC = frozenset("do")  # macros that need no sender: the current domain and the sender's domain


@dataclass(frozen=True)
class Term:
    """One term of an SPF record: a mechanism or a modifier."""

    text: str
    name: str  # mechanism or modifier name, lower case
    qualifier: str = "+"
    value: str = ""  # domain-spec (without the cidr) or network with its prefix ("" when absent)
    modifier: bool = False
    cidr: str = ""  # the dual-cidr-length of a and mx, as written


def macro_tokens(text: str) -> list[Token] | None:
    """``macros.tokens(text)``: the macro-string as literals and Macros, or None when it is not one. A
    text without "%" (nearly every record) is one literal of visible ASCII characters, or not a
    macro-string: told without importing the macro code."""
    if "%" not in text:
        return None if any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in text) else [text] if text else []
    from diagnose.knowledge.spf.macros import tokens

    return tokens(text)


def select_spf(texts: list[str]) -> list[str]:
    """Records that are SPF records: start with "v=spf1" then a space or the end (§4.5)."""
    return [t for t in texts if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


def parse_record(record: str) -> tuple[list[Term], list[str]]:
    """Split an SPF record into terms; return (terms, permerror syntax errors)."""
    errors: list[str] = []
    terms: list[Term] = []
    seen_mods: set[str] = set()
    for word in record.split(" ")[1:]:  # terms = *( 1*SP ...): runs of spaces are allowed
        if not word:
            continue
        term, error = parse_term(word)
        if error:
            errors.append(error)
            continue
        assert term is not None
        if term.modifier and term.name in MODIFIERS:
            if term.name in seen_mods:  # §6: redirect and exp MUST NOT appear more than once
                errors.append(f"the {term.name}= modifier appears more than once")
            seen_mods.add(term.name)
        terms.append(term)
    return terms, errors


def _shown(word: str) -> str:
    return repr(word if len(word) <= 80 else word[:77] + "...")


def parse_term(word: str) -> tuple[Term | None, str]:
    """One term: a directive (optional qualifier and a mechanism) or a name=macro-string modifier."""
    shown = _shown(word)
    name, eq, value = word.partition("=")
    if eq and _NAME.fullmatch(name):
        return _modifier(word, name.lower(), value, shown)
    qualifier = "+"
    if word[:1] in ("+", "-", "~", "?"):
        qualifier, word = word[0], word[1:]
    lower = word.lower()
    mech = next((m for m in sorted(MECHANISMS, key=len, reverse=True)
                 if lower.startswith(m) and lower[len(m):len(m) + 1] in ("", ":", "/")), None)
    if mech is None:
        head = re.split(r"[:/=]", word, maxsplit=1)[0]
        return None, f"{shown}: {head[:40]!r} is not an SPF mechanism (known: {', '.join(MECHANISMS)})"
    rest = word[len(mech):]
    if mech == "all":
        if rest:
            return None, f"{shown}: 'all' takes no argument"
        return Term(word, mech, qualifier), ""
    if mech in ("ip4", "ip6"):
        if not rest.startswith(":") or len(rest) < 2:
            example = "192.0.2.0/24" if mech == "ip4" else "2001:db8::/32"
            return None, f"{shown}: {mech} needs an address, e.g. {mech}:{example}"
        if err := network_error(mech, rest[1:]):
            return None, f"{shown}: {err}"
        return Term(word, mech, qualifier, rest[1:]), ""
    if mech in ("include", "exists"):
        if not rest.startswith(":"):
            return None, f"{shown}: {mech} needs a domain ({mech}:DOMAIN)"
        if err := domain_spec_error(rest[1:]):
            return None, f"{shown}: {err}"
        return Term(word, mech, qualifier, rest[1:]), ""
    if mech == "ptr":
        if rest.startswith("/"):
            return None, f"{shown}: ptr takes no /prefix"
        if rest and (err := domain_spec_error(rest[1:])):
            return None, f"{shown}: {err}"
        return Term(word, mech, qualifier, rest[1:]), ""
    spec, cidr, err = _split_dual_cidr(rest)  # a, mx
    if err:
        return None, f"{shown}: {err}"
    return Term(word, mech, qualifier, spec, cidr=cidr), ""


def _modifier(word: str, name: str, value: str, shown: str) -> tuple[Term | None, str]:
    if name in MODIFIERS:
        if err := domain_spec_error(value):
            return None, f"{shown}: {err}"
    elif macro_tokens(value) is None:
        return None, f"{shown}: the value of the modifier {name}= is not a valid macro-string ({_why_not(value)})"
    return Term(word, name, "", value, modifier=True), ""


def _split_dual_cidr(rest: str) -> tuple[str, str, str]:
    """``[":" domain-spec] [dual-cidr-length]`` -> (domain-spec, cidr, error)."""
    if not rest:
        return "", "", ""
    if rest.startswith("/"):
        return "", rest, dual_cidr_error(rest)
    if not rest.startswith(":"):
        return "", "", "expected ':' or '/' after the mechanism name"
    body = rest[1:]
    # a domain-spec cannot end in "/digits" (its end is a toplabel or a macro-expand), so at most
    # one split is valid: try the whole text as domain-spec, then each "/" near the end as the cidr
    cuts = [len(body)] + [i for i in range(len(body) - 1, max(-1, len(body) - 10), -1) if body[i] == "/"]
    errors = []
    for cut in cuts:
        spec, cidr = body[:cut], body[cut:]
        if err := domain_spec_error(spec):
            errors.append(err)
            continue
        return spec, cidr, dual_cidr_error(cidr) if cidr else ""
    return "", "", errors[0]


def dual_cidr_error(cidr: str) -> str:
    """Why ``cidr`` is not a dual-cidr-length (IPv4 0-32, IPv6 0-128, no leading zeros), or ''."""
    m = _DUAL_CIDR.fullmatch(cidr)
    if not m or int(m.group(1) or 0) > 32 or int(m.group(2) or 0) > 128:
        return _cidr_error(cidr)
    return ""


def _cidr_error(cidr: str) -> str:
    return (f"bad prefix length {cidr[:20]!r}: /0 to /32 for IPv4 and //0 to //128 for IPv6, "
            "written without leading zeros (RFC 7208 §12)")


def network_error(kind: str, text: str) -> str:
    """Why ``text`` is not ``ip4-network [ip4-cidr-length]`` (or the ip6 form), or ''."""
    if kind == "ip4":
        addr, slash, prefix = text.partition("/")
        if not _IP4.fullmatch(addr):
            return f"{addr[:60]!r} is not an IPv4 address (four numbers 0-255, no leading zeros)"
        if slash and (not _IP4_CIDR.fullmatch("/" + prefix) or int(prefix) > 32):
            return _cidr_error("/" + prefix)
        return ""
    addr, slash, prefix = text.partition("/")
    try:
        if "%" in addr or not addr:  # RFC 4291 §2.2 text forms only: no zone index
            raise ValueError
        ipaddress.IPv6Address(addr)
    except ValueError:
        return f"{addr[:60]!r} is not an IPv6 address"
    if slash and (not _IP6_CIDR.fullmatch("/" + prefix) or int(prefix) > 128):
        return _cidr_error("/" + prefix)
    return ""


def _why_not(text: str) -> str:
    for ch in text:
        if ord(ch) < 0x21 or ord(ch) > 0x7E:
            return f"character {ch!r} is not allowed"
    return "a '%' must start %{letter...}, %%, %_ or %-"


def domain_spec_error(spec: str) -> str:
    """Why ``spec`` is not a domain-spec (RFC 7208 §12 and §7.1), or ''."""
    if not spec:
        return "the domain is empty"
    parts = macro_tokens(spec)
    if parts is None:
        return f"{spec[:60]!r} is not a valid domain-spec: {_why_not(spec)}"
    for macro in (t for t in parts if not isinstance(t, str)):  # a Macro: the macro code is loaded
        from diagnose.knowledge.spf.macros import EXP_ONLY

        if macro.letter.lower() in EXP_ONLY:
            return f"the macro {macro.text} is allowed only in exp text (RFC 7208 §7.1)"
        if macro.digits == 0:
            return f"the macro {macro.text} keeps 0 parts; the digit must be nonzero (RFC 7208 §7.3)"
    if not isinstance(parts[-1], str):
        return ""  # domain-end = macro-expand
    body = spec[:-1] if spec.endswith(".") else spec
    head, dot, top = body.rpartition(".")
    if not dot or not _toplabel(top):
        return (f"{spec[:60]!r} does not end in a domain name's last label (letters, digits, hyphens; "
                "not all digits) or a macro")
    return ""


def _toplabel(label: str) -> bool:
    if not label or not set(label) <= _ALNUM | {"-"}:
        return False
    if "-" not in label:
        return any(c.isalpha() for c in label)
    return label[0] in _ALNUM and label[-1] in _ALNUM


def is_dynamic(spec: str) -> bool:
    """The domain-spec uses macros that depend on the sender (client IP, sender address...)."""
    return any(not isinstance(t, str) and not t.escape and t.letter.lower() not in _STATIC
               for t in macro_tokens(spec) or [])


def expand_static(spec: str, domain: str, sender_domain: str = "") -> str:
    """Expand the macros that need no sender's address: %{d} (the current ``domain``), %{o} (the
    domain of the sender, ``sender_domain``: the domain checked), %%, %_, %- (§7.3)."""
    if "%" not in spec and len(spec) <= 253 and macro_tokens(spec) is not None:  # no macro; §7.3 cuts only over 253
        return spec.lower().rstrip(".")
    from diagnose.knowledge.spf.macros import Sender, expand

    return expand(spec, Sender(sender=f"postmaster@{sender_domain or domain}", domain=domain)).lower().rstrip(".")


def dns_name_problem(name: str) -> tuple[str, bool]:
    """(why the expanded ``name`` is odd, whether it can never exist in DNS), or ("", False).
    Impossible: an empty label, a label over 63 characters, over 253 in all (the lookup finds
    nothing). Odd but possible: characters host names do not use (DNS itself allows any octet)."""
    if not name:
        return "the name is empty", True
    if len(name) > 253:
        return "the name is longer than 253 characters", True
    labels = name.split(".")
    if any(not lb for lb in labels):
        return "the name has an empty label", True
    if long := next((lb for lb in labels if len(lb) > 63), None):
        return f"the label {long[:20]!r}... is longer than 63 characters", True
    bad = next((lb for lb in labels if not _LABEL.fullmatch(lb)), None)
    if bad is not None:
        return f"the label {bad[:70]!r} is not a host name label (letters, digits, hyphens)", False
    return "", False
