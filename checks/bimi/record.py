"""Pure BIMI record syntax (draft-brand-indicators-for-message-identification, §4) and the DMARC
settings that make receivers ignore BIMI (§4.3: DMARC at enforcement for the domain and its
organizational domain: p=quarantine or p=reject, no sp=none, and pct=100 where pct is still read)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from diagnose.knowledge.dmarc.record import DmarcRecord


@dataclass(frozen=True)
class BimiRecord:
    text: str
    tags: dict[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()

    @property
    def logo(self) -> str:
        return self.tags.get("l", "").strip()

    @property
    def evidence(self) -> str:
        return self.tags.get("a", "").strip()

    @property
    def declined(self) -> bool:
        """l= and a= empty: the domain says it has no BIMI logo (§4.2)."""
        return not self.logo and not self.evidence


def select_bimi(texts: list[str]) -> list[str]:
    """Records at the name that begin with v=BIMI1 (others are ignored)."""
    return [t for t in texts if re.match(r"^\s*v\s*=\s*BIMI1\s*(;|$)", t, re.I)]


def parse_bimi(text: str) -> BimiRecord:
    tags: dict[str, str] = {}
    errors: list[str] = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, eq, value = part.partition("=")
        name = name.strip().lower()
        if not eq or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            errors.append(f"{part[:60]!r} is not a tag=value pair")
            continue
        if name in tags:
            errors.append(f"tag {name} appears twice")
        tags[name] = value.strip()
    for tag, what in (("l", "logo"), ("a", "certificate")):
        value = tags.get(tag, "")
        uris = [u.strip() for u in value.split(",") if u.strip()]
        if len(uris) > 1:
            errors.append(f"{tag}= holds {len(uris)} URIs; one {what} location is allowed")
        for uri in uris:
            # visible ASCII only: the path goes into an HTTP request line
            if not re.fullmatch(r"https://[A-Za-z0-9.-]+(?::\d{1,5})?/[\x21-\x7e]*", uri):
                errors.append(f"{tag}={uri[:80]} is not an https:// URL of the {what}")
    if "l" not in tags and "a" not in tags:
        errors.append("the record has neither l= (the logo) nor a= (the certificate)")
    return BimiRecord(text, tags, tuple(errors))


def dmarc_blockers(record: DmarcRecord | None, *, own: bool) -> list[str]:
    """Why the DMARC ``record`` (the one receivers apply, ``own``: at the domain itself) makes
    receivers ignore BIMI; empty when DMARC is at enforcement."""
    if record is None:
        return ["the domain has no DMARC record (BIMI needs DMARC at p=quarantine or p=reject)"]
    if record.errors:
        return [f"the DMARC record is invalid ({record.errors[0]})"]
    out = []
    policy = record.tag("p", "none") if own else (record.tag("sp") or record.tag("p", "none"))
    if policy == "none":
        out.append(f"DMARC {'p' if own or not record.tag('sp') else 'sp'}=none (monitoring only)")
    if record.tag("sp") == "none" and (own and policy != "none"):
        out.append("DMARC sp=none: subdomains are not at enforcement")
    pct = record.tag("pct", "100")
    if pct.isdigit() and int(pct) < 100:
        out.append(f"DMARC pct={pct} (below 100: the policy is not applied to all failing mail)")
    if record.tag("t") == "y":
        out.append("DMARC t=y (testing: RFC 9989 receivers do not apply the policy)")
    return out
