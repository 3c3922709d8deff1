"""Pure check of a BIMI mark certificate (a VMC, Verified Mark Certificate, or a CMC, Common Mark
Certificate) given as PEM at the record's a= URL: the leaf's validity dates, the BIMI extended key
usage, the logotype extension (RFC 3709) and whether it holds the same logo as l=, the domain in its
names, and each certificate signed by the next one in the file (the chain to its issuer).

maildoctor ships no list of the mark certificate authorities' roots, so it says up to which issuer
the chain was verified and does not claim the root is trusted."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import re
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from diagnose.knowledge.certs import load_pem_bundle, name_matches, san_names

LOGOTYPE_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.12")  # id-pe-logotype (RFC 3709)
BIMI_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.31")  # id-kp-BrandIndicatorforMessageIdentification
_DATA_URI = re.compile(rb"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)")


@dataclass(frozen=True)
class MarkVerdict:
    problems: tuple[str, ...]
    facts: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def embedded_logo(cert: x509.Certificate) -> bytes | None:
    """The SVG inside the logotype extension (a data: URI, gzip-compressed as VMCs carry it), or None."""
    try:
        value = cert.extensions.get_extension_for_oid(LOGOTYPE_OID).value
    except x509.ExtensionNotFound:
        return None
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    m = _DATA_URI.search(raw)
    if not m:
        return None
    try:
        data = base64.b64decode(m.group(1), validate=True)
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (ValueError, OSError, EOFError):
        return None


def check_mark(pem: bytes, domain: str, now: dt.datetime, logo: bytes | None = None) -> MarkVerdict:
    """The problems of the mark certificate ``pem`` for ``domain`` at ``now`` (``logo``: the file at l=)."""
    certs = load_pem_bundle(pem)
    if not certs:
        return MarkVerdict(("the file holds no PEM certificate",))
    leaf = certs[0]
    problems: list[str] = []
    dns_names, _ips = san_names(leaf)
    facts: dict = {"subject": leaf.subject.rfc4514_string()[:300], "issuer": leaf.issuer.rfc4514_string()[:300],
                   "not_before": leaf.not_valid_before_utc.isoformat(),
                   "not_after": leaf.not_valid_after_utc.isoformat(), "san": dns_names[:20], "certificates": len(certs)}
    if now < leaf.not_valid_before_utc:
        problems.append(f"it is not valid before {leaf.not_valid_before_utc:%Y-%m-%d}")
    if now > leaf.not_valid_after_utc:
        problems.append(f"it expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
    try:
        usages = list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = []
    if BIMI_EKU not in usages:
        problems.append("it lacks the BIMI extended key usage (1.3.6.1.5.5.7.3.31): it is not a mark certificate")
    try:
        leaf.extensions.get_extension_for_oid(LOGOTYPE_OID)
        facts["logotype"] = True
    except x509.ExtensionNotFound:
        facts["logotype"] = False
        problems.append("it has no logotype extension (RFC 3709), which carries the verified logo")
    inside = embedded_logo(leaf)
    if logo is not None and inside is not None:
        facts["logo_matches"] = inside.strip() == logo.strip()
        if not facts["logo_matches"]:
            problems.append("the logo in the certificate differs from the file at l=")
    if not any(name_matches(n.lower(), domain) or domain.endswith("." + n.lower()) for n in dns_names):
        problems.append(f"{domain} is not among the names it was issued for ({', '.join(dns_names[:5]) or 'none'})")
    chain: list[str] = []
    for child, parent in zip(certs, certs[1:], strict=False):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            problems.append(f"{child.subject.rfc4514_string()[:80]} is not signed by the next certificate in the "
                            "file: the chain to its issuer is broken")
            break
        chain.append(parent.subject.rfc4514_string()[:120])
    if len(certs) == 1:
        problems.append("the file holds the certificate alone, without its issuer's certificate (the chain)")
    facts["chain_verified_to"] = chain[-1] if chain else None
    return MarkVerdict(tuple(problems), facts)
