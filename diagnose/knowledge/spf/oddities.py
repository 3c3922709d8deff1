"""Valid but odd SPF records: what RFC 7208 allows but is probably not what was meant.

Pure. ``oddities(record, terms)`` returns one plain sentence per oddity; none of them is a
permerror (those are syntax errors, ``diagnose/knowledge/spf/syntax.py``), and the finding says so.
"""

from __future__ import annotations

import ipaddress

from diagnose.knowledge.spf.syntax import (
    MECHANISMS,
    UDP_SAFE_CHARS,
    Term,
    dns_name_problem,
    expand_static,
    is_dynamic,
    macro_tokens,
)


def oddities(record: str, terms: list[Term] | tuple[Term, ...], domain: str, sender_domain: str = "") -> list[str]:
    """Sentences describing what is valid but odd in ``record`` (the record at ``domain``)."""
    out: list[str] = []
    if len(record.encode()) > UDP_SAFE_CHARS:
        out.append(f"the record is {len(record.encode())} bytes long; RFC 7208 §3.4 advises under {UDP_SAFE_CHARS} "
                   "so the answer fits a 512-byte UDP DNS message (receivers may need to retry over TCP)")
    directives = [t for t in terms if not t.modifier]
    names = [t.name for t in directives]
    if "all" in names:
        after = directives[names.index("all") + 1:]
        if after:
            out.append(f"{', '.join(t.text for t in after[:5])} come{'s' if len(after) == 1 else ''} after 'all' and "
                       "are never evaluated (RFC 7208 §5.1)")
        if any(t.modifier and t.name == "redirect" for t in terms):
            out.append("redirect= is ignored because the record has an 'all' mechanism (RFC 7208 §6.1)")
    seen: set[str] = set()
    for t in directives:
        key = f"{t.name}:{t.value.lower()}{t.cidr}"
        if key in seen:
            out.append(f"{t.text} is listed twice")
        seen.add(key)
    for t in terms:
        out += _term_oddities(t, domain, sender_domain)
    if any(t.modifier and t.name == "exp" for t in terms) and not any(t.qualifier == "-" for t in directives):
        out.append("exp= is only used when the result is fail, and no mechanism of this record has the '-' "
                   "qualifier, so the explanation is never shown (RFC 7208 §6.2)")
    return out


def _term_oddities(t: Term, domain: str, sender_domain: str) -> list[str]:
    out: list[str] = []
    if t.modifier and t.name not in ("redirect", "exp"):
        if t.name in MECHANISMS:
            out.append(f"{t.text} is an unknown modifier, ignored by receivers (RFC 7208 §6); "
                       f"the mechanism is written {t.name}:{t.value}")
        else:
            out.append(f"{t.text} is an unknown modifier: allowed, but receivers ignore it (RFC 7208 §6)")
        return out
    if t.name in ("ip4", "ip6"):
        net = ipaddress.ip_network(t.value, strict=False)
        written = ipaddress.ip_address(t.value.partition("/")[0])
        if written != net.network_address:
            out.append(f"{t.text} has bits set after the prefix; it covers {net}")
        if net.prefixlen == 0 and t.qualifier == "+":
            out.append(f"{t.text} matches every IPv{net.version} address, like +all")
        return out
    if t.cidr and t.qualifier == "+" and any(p == "0" for p in t.cidr.split("/") if p):
        out.append(f"{t.text} has a /0 prefix: it matches every address of that family, like +all")
    spec = t.value
    parts = macro_tokens(spec) if spec else None
    if parts is None:
        return out
    if any(not isinstance(m, str) and m.letter.lower() == "p" for m in parts):
        out.append(f"{t.text} uses the %{{p}} macro, which RFC 7208 §7.3 says not to use (slow and unreliable)")
    if not is_dynamic(spec) and t.name != "exp":
        name = expand_static(spec, domain, sender_domain)
        problem, impossible = dns_name_problem(name)
        if impossible:
            out.append(f"{t.text}: {problem}, so this name can never exist in DNS and the lookup finds nothing "
                       "(a void lookup)")
        elif problem:
            out.append(f"{t.text}: {problem}; DNS allows it, but it is probably a mistake")
    return out


def explanation_problem(texts: list[str]) -> str:
    """Why the TXT answer at an exp= target gives no explanation (§6.2), or ''."""
    if not texts:
        return "it has no TXT record"
    if len(texts) > 1:
        return f"it has {len(texts)} TXT records (exactly one is needed)"
    # explain-string = *( macro-string / SP )
    if any(macro_tokens(word) is None for word in texts[0].split(" ")):
        return f"its text {texts[0][:80]!r} is not a valid explain-string (a bad '%' macro or a non-ASCII character)"
    return ""
