"""Pure DANE matching for SMTP (RFC 7672, RFC 6698): TLSA records against the chain a server sent.

SMTP uses only DANE-TA(2) and DANE-EE(3) (RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are
"unusable" for SMTP). DANE-EE matches the leaf alone, with no name or date checks (RFC 7672
§3.1.1); DANE-TA matches a CA certificate the server sends, and the leaf must chain to it and
carry the MX host name (§3.1.2).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

USAGE_NAMES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}


@dataclass(frozen=True)
class Tlsa:
    """One TLSA record (RFC 6698): certificate usage, selector, matching type and the data."""

    usage: int
    selector: int
    mtype: int
    data: bytes

    def __str__(self) -> str:
        return f"{self.usage} {self.selector} {self.mtype} {self.data.hex()[:64]}{'…' if len(self.data) > 32 else ''}"

    @property
    def usable(self) -> bool:
        return self.usage in (2, 3) and self.selector in (0, 1) and self.mtype in (0, 1, 2)


@dataclass(frozen=True)
class DaneResult:
    """How a server's certificate chain fares against its TLSA records."""

    matched: Tlsa | None  # the first record that matched, else None
    usable: int  # how many records SMTP clients can use
    unusable: tuple[str, ...]  # the others, with why
    detail: str  # one sentence for a person

    @property
    def ok(self) -> bool:
        return self.matched is not None


def association(cert: x509.Certificate, selector: int, mtype: int) -> bytes:
    """The bytes a TLSA record of this selector and matching type holds for ``cert``."""
    data = cert.public_bytes(Encoding.DER) if selector == 0 else \
        cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return data


def tlsa_for(cert: x509.Certificate, usage: int = 3, selector: int = 1, mtype: int = 1) -> Tlsa:
    """The record an operator should publish for ``cert`` (3 1 1 by default, RFC 7671 §5.1)."""
    return Tlsa(usage, selector, mtype, association(cert, selector, mtype))


def _chains_to(chain: list[x509.Certificate], index: int) -> bool:
    """Every certificate up to ``chain[index]`` is signed by the next one."""
    try:
        for child, parent in zip(chain[:index], chain[1:index + 1], strict=False):
            child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def match_tlsa(records: list[Tlsa], chain: list[x509.Certificate], *, name_ok: bool) -> DaneResult:
    """Does any usable record match the chain (leaf first)? ``name_ok``: the leaf carries the MX name."""
    usable = [r for r in records if r.usable]
    unusable = tuple(f"{r} ({USAGE_NAMES.get(r.usage, 'unknown usage')}: not usable for SMTP)"
                     for r in records if not r.usable)
    if not usable:
        return DaneResult(None, 0, unusable, "no TLSA record is usable for SMTP (only usages 2 and 3 are)")
    if not chain:
        return DaneResult(None, len(usable), unusable, "the server sent no certificate")
    for record in usable:
        if record.usage == 3 and association(chain[0], record.selector, record.mtype) == record.data:
            return DaneResult(record, len(usable), unusable, "the server's certificate matches a DANE-EE record")
        if record.usage == 2:
            for i, cert in enumerate(chain[1:], start=1):
                if association(cert, record.selector, record.mtype) == record.data and _chains_to(chain, i):
                    if not name_ok:
                        return DaneResult(None, len(usable), unusable,
                                          "a DANE-TA record matches the CA, but the certificate is not for the MX name")
                    return DaneResult(
                        record,
                        len(usable),
                        unusable,
                        f"the server's chain matches a DANE-TA record (CA {cert.subject.rfc4514_string()})",
                    )
    return DaneResult(None, len(usable), unusable, "no TLSA record matches the certificate chain the server sent")
