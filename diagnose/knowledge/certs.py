"""Pure certificate evaluation: trust, host name, dates, chain completeness, key and signature.

``evaluate_certificate(chain, hostname, now, warn_days, anchors=..., intermediates=...)`` takes the
certificates exactly as the server sent them (leaf first) and returns the problems found plus
the evidence a person needs to fix them. No I/O: the trust anchors are passed in (diagnose.net.tls
loads the system store and --ca-file).

Chain building and signature checks are cryptography's X.509 verifier (RFC 5280 / CA/B profile).
Host-name matching is done here, separately, so a wrong name and an untrusted issuer are told
apart; the verifier is given a name the certificate itself carries for that reason.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import DNSName, IPAddress, PolicyBuilder, Store, VerificationError

from diagnose.engine.model import Status

MIN_RSA_BITS = 2048  # NIST SP 800-131A; CA/B forum minimum since 2014
MIN_EC_BITS = 256
WEAK_HASHES = {"md5", "sha1"}  # collisions are practical: browsers and MTAs refuse them


@dataclass(frozen=True)
class CertIssue:
    """One problem (or success) of a certificate chain, as a finding code with its facts."""

    code: str
    status: Status  # as seen by a client that verifies certificates
    summary: str
    facts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CertVerdict:
    """The judgement of one chain: its issues and the evidence they rest on."""

    issues: tuple[CertIssue, ...]
    evidence: dict

    @property
    def ok(self) -> bool:
        return not any(i.status in (Status.FAIL, Status.ERROR) for i in self.issues)

    def codes(self) -> list[str]:
        return [i.code for i in self.issues]


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def common_name(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else name.rfc4514_string()


def san_names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(DNS names lower case, IP addresses) from the subjectAltName extension."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return ([n.lower().rstrip(".") for n in san.get_values_for_type(x509.DNSName)],
            [str(a) for a in san.get_values_for_type(x509.IPAddress)])


def name_matches(pattern: str, hostname: str) -> bool:
    """RFC 6125 §6.4.3: exact match, or ``*`` as the whole left-most label matching one label."""
    pattern, hostname = pattern.lower().rstrip("."), hostname.lower().rstrip(".")
    if pattern == hostname:
        return True
    if not pattern.startswith("*.") or "*" in pattern[1:]:
        return False
    suffix = pattern[1:]  # ".example.com"
    if suffix.count(".") < 2:  # "*.com" would match every .com host: never honoured
        return False
    head, dot, rest = hostname.partition(".")
    return bool(head) and bool(dot) and "." + rest == suffix


def hostname_matches(cert: x509.Certificate, hostname: str) -> bool:
    dns_names, ips = san_names(cert)
    try:
        ip = ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        return any(name_matches(p, hostname) for p in dns_names)
    return str(ip) in ips


def key_description(cert: x509.Certificate) -> tuple[str, int, bool]:
    """("RSA", 2048, weak?) for the certificate's public key."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, key.key_size < MIN_RSA_BITS
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.curve.key_size, key.curve.key_size < MIN_EC_BITS
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return (
            type(key).__name__.replace("PublicKey", ""),
            256 if isinstance(key, ed25519.Ed25519PublicKey) else 456,
            False,
        )
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, True  # DSA is no longer accepted for TLS certificates
    return type(key).__name__, 0, False


def signature_hash(cert: x509.Certificate) -> str:
    algo = cert.signature_hash_algorithm
    return algo.name if algo is not None else cert.signature_algorithm_oid._name  # Ed25519 has no separate hash


def is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def describe(cert: x509.Certificate, now: dt.datetime) -> dict:
    """The evidence for one certificate."""
    dns_names, ips = san_names(cert)
    kind, bits, _weak = key_description(cert)
    not_after = cert.not_valid_after_utc
    return {
        "subject": cert.subject.rfc4514_string(),
        "san": dns_names + ips,
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "X"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": not_after.isoformat(),
        "days_left": (not_after - now).days,
        "key": f"{kind} {bits}" if bits else kind,
        "signature": signature_hash(cert),
        "sha256": fingerprint(cert),
    }


_STORES: dict[tuple[int, ...], tuple[list[x509.Certificate], Store]] = {}
MAX_STORES = 4  # a run has one trust store (system + --ca-file); tests make a few more


def _store(anchors: list[x509.Certificate]) -> Store:
    """The verification store of ``anchors``, built once per set of certificate objects: building
    it from the ~150 system roots costs ~1 ms, and a diagnosis judges one chain per endpoint.
    Keyed by object identity (cheap); the entry keeps the certificates alive, so an id is never reused."""
    key = tuple(map(id, anchors))
    hit = _STORES.get(key)
    if hit is None:
        if len(_STORES) >= MAX_STORES:
            _STORES.pop(next(iter(_STORES)))
        hit = _STORES[key] = (list(anchors), Store(anchors))
    return hit[1]


def verify_chain(leaf: x509.Certificate, intermediates: list[x509.Certificate], anchors: list[x509.Certificate],
                 when: dt.datetime) -> str:
    """"" if ``leaf`` chains to one of ``anchors`` through ``intermediates`` at ``when``, else why not."""
    if not anchors:
        return "no trusted certificate authorities are available"
    dns_names, ips = san_names(leaf)
    subject: DNSName | IPAddress
    try:
        if dns_names:
            subject = DNSName(dns_names[0].replace("*", "x", 1))
        elif ips:
            subject = IPAddress(ipaddress.ip_address(ips[0]))
        else:
            return "the certificate has no subjectAltName, which clients require"
        verifier = PolicyBuilder().store(_store(anchors)).time(when).build_server_verifier(subject)
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        return _plain_verification_error(str(exc))
    except (ValueError, TypeError) as exc:
        return f"cannot validate: {exc}"
    return ""


def _plain_verification_error(text: str) -> str:
    """cryptography's verifier speaks of path-building 'candidates'; say what that means."""
    if "candidates exhausted" in text and "interior errors" in text:
        return "no chain from this certificate to a trusted root could be built"
    text = text.removeprefix("validation failed: ")
    return text.replace("candidates exhausted: ", "") or "the chain does not validate"


def evaluate_certificate(chain: list[x509.Certificate], hostname: str, now: dt.datetime, warn_days: int = 14, *,
                         anchors: Sequence[x509.Certificate] = (), intermediates: Sequence[x509.Certificate] = ()
                         ) -> CertVerdict:
    """Judge the chain a server sent (leaf first) for a client that connected to ``hostname``.

    ``anchors`` are the trusted roots; ``intermediates`` are extra CA certificates a client may
    know already (used only to tell a missing intermediate from an unknown CA)."""
    if not chain:
        return CertVerdict((CertIssue("tls.cert_none", Status.FAIL, "the server sent no certificate"),), {})
    leaf, sent = chain[0], list(chain[1:])
    hostname = hostname.lower().rstrip(".")
    evidence = describe(leaf, now)
    evidence["hostname"] = hostname
    evidence["chain"] = [common_name(c.subject) for c in chain]
    issues: list[CertIssue] = []
    facts = {"hostname": hostname, "cert_subject": common_name(leaf.subject), "issuer": common_name(leaf.issuer),
             "not_after": leaf.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC"),
             "not_before": leaf.not_valid_before_utc.strftime("%Y-%m-%d %H:%M UTC"),
             "days_left": evidence["days_left"], "names": ", ".join(evidence["san"]) or "none",
             "warn_days": warn_days}

    # Dates. A certificate outside its validity is refused by every verifying client.
    if now < leaf.not_valid_before_utc:
        issues.append(CertIssue("tls.cert_not_yet_valid", Status.FAIL,
                                f"certificate not valid before {facts['not_before']}", facts))
    elif now > leaf.not_valid_after_utc:
        issues.append(CertIssue("tls.cert_expired", Status.FAIL, f"certificate expired on {facts['not_after']}", facts))
    elif (leaf.not_valid_after_utc - now) < dt.timedelta(days=warn_days):
        issues.append(CertIssue("tls.cert_expiring", Status.WARN,
                                f"certificate expires in {evidence['days_left']} days ({facts['not_after']})", facts))

    evidence["name_matches"] = hostname_matches(leaf, hostname)  # trust (below) says nothing about the name
    if not evidence["name_matches"]:
        issues.append(CertIssue("tls.cert_name_mismatch", Status.FAIL,
                                f"certificate is for {facts['names']}, not {hostname}", facts))

    # Trust, judged at a moment inside the leaf's validity so expiry is reported once, above.
    when = min(max(now, leaf.not_valid_before_utc), leaf.not_valid_after_utc)
    self_signed = is_self_signed(leaf)
    evidence["self_signed"] = self_signed
    trusted_leaf = leaf in anchors  # Certificate equality compares the DER: no hash of every root per call
    why = "" if trusted_leaf else verify_chain(leaf, sent, list(anchors), when)
    evidence["trusted"] = not why
    if why:
        evidence["validation_error"] = why
        facts = {**facts, "why": why}
        issuer_sent = any(c.subject == leaf.issuer for c in sent)
        if self_signed:
            issues.append(CertIssue("tls.cert_self_signed", Status.FAIL, "certificate is self-signed", facts))
        elif not issuer_sent and intermediates and not verify_chain(leaf, sent + list(intermediates),
                                                                      list(anchors), when):
            issues.append(
                CertIssue(
                    "tls.cert_chain_incomplete",
                    Status.FAIL,
                    f"the server does not send the intermediate certificate ({facts['issuer']})",
                    facts,
                )
            )
        elif not issuer_sent and _has_aia_issuer(leaf):
            issues.append(
                CertIssue(
                    "tls.cert_chain_incomplete",
                    Status.FAIL,
                    f"the server does not send the intermediate certificate ({facts['issuer']})",
                    facts,
                )
            )
        else:
            issues.append(CertIssue("tls.cert_untrusted", Status.FAIL,
                                    f"certificate issuer {facts['issuer']} is not trusted", facts))

    kind, bits, weak = key_description(leaf)
    if weak:
        issues.append(
            CertIssue("tls.cert_weak_key", Status.FAIL, f"weak key: {kind} {bits} bits",
                      {**facts, "key": f"{kind} {bits}"})
        )
    for cert in [leaf, *sent]:
        algo = signature_hash(cert)
        if algo in WEAK_HASHES and not is_self_signed(cert):  # a root's self-signature is never checked
            issues.append(CertIssue("tls.cert_weak_signature", Status.FAIL,
                                    f"{common_name(cert.subject)} is signed with {algo.upper()}",
                                    {**facts, "algorithm": algo.upper(), "cert": common_name(cert.subject)}))
            break
    return CertVerdict(tuple(issues), evidence)


class Verdicts:
    """``evaluate_certificate`` remembered for one diagnosis: the same chain is served on several
    ports (25, 465, 587, 993, 995) and judged again for MTA-STS, ~0.4 ms of signature checks each.

    A remembered verdict is exactly the one a fresh call would give: the key is the chain (by
    value), the name, the warning days, the very trust anchors and intermediates (by identity; the
    entry keeps them alive, so an id is never reused) and the second of ``now``. X.509 times are
    whole seconds and cryptography's verifier truncates its clock to the second, so every instant
    strictly inside one second gets the same verdict; a whole second itself is its own key."""

    def __init__(self) -> None:
        self._seen: dict[tuple, tuple[CertVerdict, tuple, tuple]] = {}

    def evaluate(self, chain: Sequence[x509.Certificate], hostname: str, now: dt.datetime, warn_days: int = 14, *,
                 anchors: Sequence[x509.Certificate] = (), intermediates: Sequence[x509.Certificate] = ()
                 ) -> CertVerdict:
        """As ``evaluate_certificate`` (and raising what it raises, never remembered)."""
        anchors, intermediates = tuple(anchors), tuple(intermediates)
        key = (tuple(chain), hostname.lower().rstrip("."), warn_days, tuple(map(id, anchors)),
               tuple(map(id, intermediates)), now.replace(microsecond=0), now.microsecond == 0)
        hit = self._seen.get(key)
        if hit is None:
            verdict = evaluate_certificate(list(chain), hostname, now, warn_days, anchors=anchors,
                                           intermediates=intermediates)
            hit = self._seen[key] = (verdict, anchors, intermediates)
        return hit[0]


def _has_aia_issuer(cert: x509.Certificate) -> bool:
    """Public CAs put a 'CA Issuers' URL in every leaf; its presence hints at a missing intermediate."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return False
    return any(d.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS for d in aia)


def load_pem_bundle(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle; unparsable ones are skipped (one bad root must not hide the rest)."""
    out = []
    marker = b"-----END CERTIFICATE-----"
    for block in data.split(marker)[:-1]:
        start = block.find(b"-----BEGIN CERTIFICATE-----")
        if start < 0:
            continue
        try:
            with warnings.catch_warnings():  # some system roots have non-positive serials: still usable
                warnings.simplefilter("ignore")
                out.append(x509.load_pem_x509_certificate(block[start:] + marker + b"\n"))
        except ValueError:
            continue
    return out
