"""Pure DMARC record syntax: RFC 7489 §6.3 and its revision RFC 9989 (DMARCbis) §4.7.

RFC 9989 adds the tags ``np`` (policy for non-existent subdomains), ``psd`` (the domain is a public
suffix: y, n, or u for unknown) and ``t`` (testing: y or n), and removes ``pct``, ``rf`` and ``ri``.
An RFC 7489 receiver ignores the new tags (unknown tags are ignored, §6.3); an RFC 9989 receiver
ignores the removed ones. Errors here name the standard whose tag is malformed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

POLICIES = ("none", "quarantine", "reject")
REMOVED_IN_9989 = ("pct", "rf", "ri")
_TAG = re.compile(r"^[a-z][a-z0-9]*$", re.I)
_MAILTO = re.compile(r"^mailto:([^@\s!,]+)@([a-z0-9.-]+\.[a-z0-9-]+)(?:!\d+[kmgt]?)?$", re.I)


@dataclass(frozen=True)
class DmarcRecord:
    """A DMARC record parsed: its tags, and what is wrong with it."""

    text: str
    tags: dict[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()

    def tag(self, name: str, default: str = "") -> str:
        return self.tags.get(name, default).strip().lower()


def select_dmarc(texts: list[str]) -> list[str]:
    """RFC 7489 §6.6.3 / RFC 9989 §4.10: records that begin with v=DMARC1; others are ignored."""
    return [t for t in texts if re.match(r"^\s*v\s*=\s*DMARC1\s*(;|$)", t)]


def parse_dmarc(text: str) -> DmarcRecord:
    """Parse tag=value pairs; collect every syntax problem rather than stopping at the first."""
    tags: dict[str, str] = {}
    errors: list[str] = []
    if len(text) > 4096:
        return DmarcRecord(text[:100], {}, (f"the record is {len(text)} characters long",))
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, eq, value = part.partition("=")
        name, value = name.strip().lower(), value.strip()
        if not eq or not _TAG.match(name):
            errors.append(f"{part[:60]!r} is not a tag=value pair")
            continue
        if name in tags:
            errors.append(f"tag {name} appears twice")
        tags[name] = value
    p = tags.get("p")
    if p is None:
        errors.append("the required p= tag (the policy) is missing")
    elif p.lower() not in POLICIES:
        errors.append(f"p={p[:30]} is not one of none, quarantine, reject")
    if "sp" in tags and tags["sp"].lower() not in POLICIES:
        errors.append(f"sp={tags['sp'][:30]} is not one of none, quarantine, reject")
    if "np" in tags and tags["np"].lower() not in POLICIES:
        errors.append(f"np={tags['np'][:30]} is not one of none, quarantine, reject (RFC 9989 §4.7)")
    if "psd" in tags and tags["psd"].lower() not in ("y", "n", "u"):
        errors.append(f"psd={tags['psd'][:30]} must be y, n or u (RFC 9989 §4.7)")
    if "t" in tags and tags["t"].lower() not in ("y", "n"):
        errors.append(f"t={tags['t'][:30]} must be y (testing) or n (RFC 9989 §4.7)")
    if "pct" in tags and not (tags["pct"].isascii() and tags["pct"].isdigit() and 0 <= int(tags["pct"]) <= 100):
        errors.append(f"pct={tags['pct'][:30]} is not a number from 0 to 100 (RFC 7489 §6.3)")
    for tag in ("adkim", "aspf"):
        if tag in tags and tags[tag].lower() not in ("r", "s"):
            errors.append(f"{tag}={tags[tag][:30]} must be r (relaxed) or s (strict)")
    for tag in ("rua", "ruf"):
        for uri in report_uris(tags.get(tag, "")):
            if not _MAILTO.match(uri):
                errors.append(f"{tag} address {uri[:60]!r} is not a mailto: URI such as mailto:dmarc@example.com")
    return DmarcRecord(text, tags, tuple(errors))


def report_uris(value: str) -> list[str]:
    return [u.strip() for u in value.split(",") if u.strip()][:20]


def report_domains(record: DmarcRecord) -> list[str]:
    """Domains of the valid rua/ruf mailto: addresses, in order, without repeats."""
    out: dict[str, None] = {}
    for tag in ("rua", "ruf"):
        for uri in report_uris(record.tags.get(tag, "")):
            if m := _MAILTO.match(uri):
                out[m.group(2).lower().rstrip(".")] = None
    return list(out)


def applied_policy(record: DmarcRecord, *, own: bool, exists: bool = True, rfc9989: bool = True) -> str:
    """The policy a receiver applies to mail from a domain that found ``record``: at the domain itself
    (``own``) p=; at an ancestor sp= (else p=), and under RFC 9989 np= for a domain that does not
    exist (§4.10, §5.3.1); RFC 7489 has no np (§6.6.3)."""
    p = record.tag("p", "none")
    if own:
        return p
    if rfc9989 and not exists and record.tag("np"):
        return record.tag("np")
    return record.tag("sp") or p
