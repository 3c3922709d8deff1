"""Pure revocation judgement: where a certificate's CA publishes revocation (CRL distribution
points, OCSP, AIA 'CA Issuers'), the OCSP request to send, and what a CRL or OCSP answer says.

No I/O: the bytes come from diagnose.net.cafetch. Everything a CA's server returns is untrusted:
an answer counts only when it parses, is signed by the certificate's issuer (or, for OCSP, by a
responder certificate the issuer delegated with the OCSP-signing purpose) and is in date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from diagnose.knowledge.certs import is_self_signed

SKEW = dt.timedelta(minutes=5)  # clock difference tolerated on thisUpdate / nextUpdate
MAX_URLS = 4  # per kind: a certificate with hundreds of URLs must not make hundreds of fetches


@dataclass(frozen=True, eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class CaUrls:
    """Where a certificate says its revocation status and its issuer can be fetched."""

    crl: tuple[str, ...] = ()
    ocsp: tuple[str, ...] = ()
    ca_issuers: tuple[str, ...] = ()
    other: tuple[str, ...] = ()  # ldap:, https: ... URLs we do not fetch (said in the evidence)


@dataclass(frozen=True, eq=False)
class Answer:
    """What one CRL or OCSP answer says about one certificate."""

    source: str  # "ocsp" or "crl"
    url: str
    outcome: str  # "good", "revoked", "unknown" (OCSP), "stale", "invalid", or a fetch outcome ("timeout", ...)
    detail: str = ""
    facts: dict = field(default_factory=dict)  # this_update, next_update, revoked_at, reason, signer

    @property
    def definitive(self) -> bool:
        return self.outcome in ("good", "revoked")


def ca_urls(cert: x509.Certificate) -> CaUrls:
    """The URLs of the certificate's CRL distribution points and AIA (OCSP, CA Issuers)."""
    crl: list[str] = []
    ocsp_urls: list[str] = []
    issuers: list[str] = []
    other: list[str] = []

    def take(into: list[str], name) -> None:
        if isinstance(name, x509.UniformResourceIdentifier):
            url = str(name.value)
            (into if url[:7].lower() == "http://" else other).append(url[:500])

    try:
        for dp in cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value:
            for name in dp.full_name or ():
                take(crl, name)
    except (x509.ExtensionNotFound, ValueError):
        pass
    try:
        for desc in cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value:
            if desc.access_method == AuthorityInformationAccessOID.OCSP:
                take(ocsp_urls, desc.access_location)
            elif desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
                take(issuers, desc.access_location)
    except (x509.ExtensionNotFound, ValueError):
        pass

    def first(urls: list[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(urls))[:MAX_URLS]

    return CaUrls(first(crl), first(ocsp_urls), first(issuers), first(other))


def find_issuer(leaf: x509.Certificate, candidates) -> x509.Certificate | None:
    """The candidate whose key signed ``leaf``, or None."""
    for cand in candidates:
        if cand.subject != leaf.issuer:
            continue
        try:
            leaf.verify_directly_issued_by(cand)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        return cand
    return None


def sent_ca_path(chain: Sequence[x509.Certificate],
                 anchors: Callable[[x509.Name], Sequence[x509.Certificate]]) -> list[x509.Certificate]:
    """The CA certificates above the leaf (``chain[0]``) whose revocation clients check: the issuer path
    through what the server sent (``chain[1:]``, in any order, each used once), up to a self-signed
    certificate or a trust anchor (same subject and key as one of ``anchors(subject)``, the trust
    anchors with that subject), which no CA revokes."""
    path: list[x509.Certificate] = []
    current, rest = chain[0], list(chain[1:])
    while rest:  # bounded: every step takes one certificate out of rest
        issuer = find_issuer(current, rest)
        if issuer is None or is_self_signed(issuer) or is_anchor(issuer, anchors(issuer.subject)):
            break
        path.append(issuer)
        rest = [c for c in rest if c is not issuer]
        current = issuer
    return path


def is_anchor(cert: x509.Certificate, anchors: Sequence[x509.Certificate]) -> bool:
    """True when one of ``anchors`` has the certificate's subject and key (the anchor itself, or a
    cross-signed copy of it: clients stop building the path there)."""
    key = _spki(cert)
    return any(anchor.subject == cert.subject and _spki(anchor) == key for anchor in anchors)


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def parse_issuer_certificates(data: bytes) -> list[x509.Certificate]:
    """An AIA 'CA Issuers' download: DER, PEM, or a PKCS#7 'certs-only' bundle (.p7c); [] if none."""
    # imported here: pkcs7 brings the email package (~4 ms of start-up) and is needed only for a download
    from cryptography.hazmat.primitives.serialization import pkcs7

    loaders = (
        lambda d: [x509.load_der_x509_certificate(d)],
        lambda d: [x509.load_pem_x509_certificate(d)],
        pkcs7.load_der_pkcs7_certificates,
        pkcs7.load_pem_pkcs7_certificates,
    )
    for load in loaders:
        try:
            return list(load(data))
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
    return []


def ocsp_request(leaf: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """DER OCSP request for ``leaf`` (SHA-1 CertID and no nonce, as RFC 5019 responders expect)."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1())
    return builder.build().public_bytes(serialization.Encoding.DER)


def _verify(key, signature: bytes, data: bytes, algorithm) -> bool:
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _when(value: dt.datetime | None) -> str:
    return value.isoformat() if value else ""


def judge_ocsp(data: bytes, leaf: x509.Certificate, issuer: x509.Certificate, now: dt.datetime,
               url: str = "") -> Answer:
    """What an OCSP response (DER bytes) says about ``leaf``."""
    def answer(outcome: str, detail: str, **facts) -> Answer:
        return Answer("ocsp", url, outcome, detail[:300], facts)

    try:
        resp = ocsp.load_der_ocsp_response(data)
        status = resp.response_status
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return answer("invalid", f"not an OCSP response ({str(exc)[:120]})")
    if status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return answer("invalid", f"the responder answered {status.name.lower()}")
    try:
        mine = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, resp.hash_algorithm).build()
        single = next((r for r in resp.responses if r.serial_number == leaf.serial_number
                       and r.issuer_key_hash == mine.issuer_key_hash
                       and r.issuer_name_hash == mine.issuer_name_hash), None)
        if single is None:
            return answer("invalid", "the response is about another certificate")
        # who signed: the issuer itself, or a responder certificate the issuer delegated (RFC 6960 4.2.2.2)
        signer, signer_name = issuer, "the issuing CA"
        if resp.responder_name is not None:
            named = resp.responder_name == issuer.subject
        else:
            named = resp.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
        if not named:
            delegated = next((c for c in resp.certificates if _delegated(c, issuer, now)), None)
            if delegated is None:
                return answer("invalid", "the response is signed neither by the CA nor by a responder it delegated")
            signer = delegated
            signer_name = f"a responder the CA delegated ({signer.subject.rfc4514_string()[:120]})"
        if not _verify(signer.public_key(), resp.signature, resp.tbs_response_bytes, resp.signature_hash_algorithm):
            return answer("invalid", "the response's signature does not verify")
        facts = {"this_update": _when(single.this_update_utc), "next_update": _when(single.next_update_utc),
                 "signer": signer_name}
        if single.this_update_utc > now + SKEW:
            return answer("invalid", f"the response is dated in the future ({facts['this_update']})", **facts)
        cert_status = single.certificate_status
        if cert_status == ocsp.OCSPCertStatus.REVOKED:
            reason = single.revocation_reason
            return answer("revoked", "revoked according to OCSP", **facts,
                          revoked_at=_when(single.revocation_time_utc), reason=reason.name if reason else "")
        if single.next_update_utc is not None and single.next_update_utc < now - SKEW:
            return answer("stale", f"the response expired on {facts['next_update']}", **facts)
        if cert_status == ocsp.OCSPCertStatus.UNKNOWN:
            return answer("unknown", "the responder does not know this certificate", **facts)
        return answer("good", "not revoked according to OCSP", **facts)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return answer("invalid", f"the response cannot be read ({str(exc)[:120]})")


def _delegated(cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        return (ExtendedKeyUsageOID.OCSP_SIGNING in eku and find_issuer(cert, [issuer]) is not None
                and cert.not_valid_before_utc <= now <= cert.not_valid_after_utc)
    except (x509.ExtensionNotFound, ValueError):
        return False


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """DER or PEM; ValueError if neither."""
    try:
        return x509.load_der_x509_crl(data)
    except ValueError:
        return x509.load_pem_x509_crl(data)


def judge_crl(data: bytes, leaf: x509.Certificate, issuer: x509.Certificate, now: dt.datetime,
              url: str = "") -> Answer:
    """What a CRL (DER or PEM bytes) says about ``leaf``. A listed serial is revoked even in an
    outdated CRL (revocation is final); an unlisted one is 'good' only in a CRL still in date."""
    def answer(outcome: str, detail: str, **facts) -> Answer:
        return Answer("crl", url, outcome, detail[:300], facts)

    try:
        crl = load_crl(data)
        if crl.issuer != leaf.issuer:
            return answer("invalid", "the CRL is from another CA than the certificate's issuer")
        # the issuer signed the leaf, so its key is one that signs (the type mypy cannot know)
        if not crl.is_signature_valid(cast(CertificateIssuerPublicKeyTypes, issuer.public_key())):
            return answer("invalid", "the CRL's signature does not verify with the issuer's key")
        facts = {"this_update": _when(crl.last_update_utc), "next_update": _when(crl.next_update_utc),
                 "entries": len(crl)}
        if crl.last_update_utc > now + SKEW:
            return answer("invalid", f"the CRL is dated in the future ({facts['this_update']})", **facts)
        entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
        if entry is not None:
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
            except (x509.ExtensionNotFound, ValueError):
                reason = ""
            return answer("revoked", "listed in the CA's revocation list", **facts,
                          revoked_at=_when(entry.revocation_date_utc), reason=reason)
        if crl.next_update_utc is None or crl.next_update_utc < now - SKEW:
            return answer("stale", f"the CRL is out of date (next update was due {facts['next_update'] or 'never'})",
                          **facts)
        return answer("good", "not listed in the CA's current revocation list", **facts)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return answer("invalid", f"not a readable CRL ({str(exc)[:120]})")


def summarize(answers: list[Answer]) -> str:
    """The overall outcome of the answers tried, best evidence first: "revoked" if any source says so,
    else "good" if one did, else the most telling failure ("stale", "unknown", "invalid",
    "unavailable"), else "unchecked" when nothing was tried."""
    outcomes = [a.outcome for a in answers]
    for kind in ("revoked", "good", "stale", "unknown", "invalid"):
        if kind in outcomes:
            return kind
    return "unavailable" if answers else "unchecked"
