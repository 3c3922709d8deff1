"""A private CA for the lab: root -> intermediate -> one leaf per host.

Servers present leaf + intermediate; clients trust only the root
(``ca.pem``). EC P-256 keys keep generation fast.

Given ``urls`` (the lab's HTTP and OCSP hosts), leaves carry a CRL distribution point and AIA
(OCSP + CA Issuers) like public CAs' leaves, and ``write_revocation`` publishes what they point at:
the intermediate's CRL (DER), a stale CRL, the intermediate (DER) and the index.txt that
``openssl ocsp`` answers from. Revocation variants: crlrevoked (listed in the CRL, no OCSP URL),
ocsprevoked (revoked only in the OCSP index), ocspdown (OCSP URL where nothing listens, no CRL),
crlstale (only a CRL whose next update has passed).

With ``urls["root_crl"]`` the intermediates carry a CRL distribution point and AIA CA Issuers of their
own, pointing at the root's CRL and certificate. A second intermediate, which the root revoked (in its
CRL and in the index of its OCSP responder, ``root_index.txt``), issues the leaves of variant
intrevoked (their own CRL, signed by that intermediate, lists nothing); only it names the root's OCSP
responder (``urls["root_ocsp"]``), so the healthy chains are asked of the root's CRL alone, as public
CAs that dropped OCSP publish, and the revoked one of OCSP first.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

VARIANTS = ("", "expired", "expiring", "wrongname", "selfsigned", "nochain",
            "crlrevoked", "ocsprevoked", "ocspdown", "crlstale", "intrevoked")
REVOKED_IN_CRL = ("crlrevoked",)
REVOKED_IN_OCSP = ("crlrevoked", "ocsprevoked")


def _name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "maildoctor test lab"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _der(tag: int, content: bytes) -> bytes:
    """One DER TLV (definite length)."""
    n = len(content)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + content


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


class CertAuthority:
    def __init__(self, directory: Path, label: str, days: int = 30, urls: dict[str, str] | None = None):
        """``urls``: crl, stale_crl, issuer, ocsp, ocsp_down (http:// URLs); None: leaves get only an
        AIA CA Issuers URL under .invalid (never fetched) and no revocation information."""
        self.urls = urls
        self.issued: list[tuple[x509.Certificate, str]] = []
        self.dir = directory
        self.label = label.replace(".", "-")
        self.dir.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        self.now = now
        self.not_before = now - dt.timedelta(hours=1)
        self.not_after = now + dt.timedelta(days=days)
        # the CAs are older than any leaf, so an expired leaf still chains to them
        self.ca_not_before = now - dt.timedelta(days=90)

        self.root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = _name(f"maildoctor lab root CA {label}")
        self.root = (
            self._builder(root_name, root_name, self.root_key.public_key(), self.root_key.public_key(),
                          self.ca_not_before)
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                           critical=True)
            .sign(self.root_key, hashes.SHA256())
        )
        self.inter_key = ec.generate_private_key(ec.SECP256R1())
        self.inter = self._intermediate(_name(f"maildoctor lab intermediate CA {label}"), self.inter_key)
        # the intermediate the root revoked (root.crl, root OCSP): it issues the intrevoked leaves
        self.inter2_key = ec.generate_private_key(ec.SECP256R1())
        self.inter2 = self._intermediate(_name(f"maildoctor lab intermediate CA 2 {label}"), self.inter2_key,
                                         ocsp=(self.urls or {}).get("root_ocsp"))
        _write(self.ca_file, _cert_pem(self.root))
        _write(self.dir / "ca.key", _key_pem(self.root_key), 0o600)
        _write(self.dir / "intermediate.pem", _cert_pem(self.inter))
        _write(self.dir / "intermediate.key", _key_pem(self.inter_key), 0o600)

    def _intermediate(self, name: x509.Name, key, ocsp: str | None = None) -> x509.Certificate:
        """A CA certificate signed by the root; with the root's publication points when urls name them
        (and the root's OCSP responder ``ocsp``)."""
        builder = (
            self._builder(name, self.root.subject, key.public_key(), self.root_key.public_key(), self.ca_not_before)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                           critical=True)
        )
        urls = self.urls or {}
        if urls.get("root_crl"):
            builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(urls["root_crl"])], None, None, None)]), critical=False)
        aia = [x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp))
               ] if ocsp else []
        if urls.get("root_issuer"):
            aia.append(x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                              x509.UniformResourceIdentifier(urls["root_issuer"])))
        if aia:
            builder = builder.add_extension(x509.AuthorityInformationAccess(aia), critical=False)
        return builder.sign(self.root_key, hashes.SHA256())

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.pem"

    def _builder(self, subject, issuer, pub, issuer_pub, not_before=None, not_after=None) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or self.not_before)
            .not_valid_after(not_after or self.not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_pub), critical=False)
        )

    def issue_mark(self, domain: str, logo: bytes) -> bytes:
        """A BIMI mark certificate (VMC-like) for ``domain`` holding ``logo`` in its logotype extension
        (RFC 3709, as VMCs carry it: a gzip-compressed data: URI), then the intermediate: PEM bytes."""
        import base64
        import gzip

        key = ec.generate_private_key(ec.SECP256R1())
        uri = b"data:image/svg+xml;base64," + base64.b64encode(gzip.compress(logo, mtime=0))
        logotype = _der(0x30, _der(0x16, uri))  # a SEQUENCE holding the IA5String URI (enough for a reader)
        cert = (
            self._builder(_name(domain), self.inter.subject, key.public_key(), self.inter_key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier("1.3.6.1.5.5.7.3.31")]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
            .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.5.5.7.1.12"), logotype),
                           critical=False)
            .sign(self.inter_key, hashes.SHA256())
        )
        return _cert_pem(cert) + _cert_pem(self.inter)

    def issue(self, stem: str, names: list[str], variant: str = "") -> dict[str, str]:
        """Leaf for `names` (first is the CN). Returns paths: cert, key, chain.

        ``variant`` (VARIANTS) makes a faulty one: expired, expiring (5 days left), wrongname
        (for other.NAME), selfsigned, nochain (the chain file holds the leaf alone)."""
        if variant not in VARIANTS:
            raise ValueError(f"unknown certificate variant {variant!r}")
        key = ec.generate_private_key(ec.SECP256R1())
        if variant == "wrongname":
            names = [f"other.{n}" for n in names]
        not_before, not_after = {
            "expired": (self.now - dt.timedelta(days=60), self.now - dt.timedelta(days=2)),
            "expiring": (None, self.now + dt.timedelta(days=5)),
        }.get(variant, (None, None))
        inter, inter_key = (self.inter2, self.inter2_key) if variant == "intrevoked" else (self.inter, self.inter_key)
        issuer, issuer_key = (_name(names[0]), key) if variant == "selfsigned" else (inter.subject, inter_key)
        builder = (
            self._builder(_name(names[0]), issuer, key.public_key(), issuer_key.public_key(), not_before, not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        )
        if variant != "selfsigned" and self.urls is None:  # where to fetch the issuer (never fetched)
            builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(f"http://ca.{self.label}.invalid/intermediate.der"))]), critical=False)
        elif variant != "selfsigned":
            builder = self._revocation_extensions(builder, variant)
        cert = builder.sign(issuer_key, hashes.SHA256())
        if variant != "selfsigned":
            self.issued.append((cert, variant))
        paths = {
            "cert": self.dir / f"{stem}.pem",
            "key": self.dir / f"{stem}.key",
            "chain": self.dir / f"{stem}.chain.pem",
        }
        _write(paths["cert"], _cert_pem(cert))
        _write(paths["key"], _key_pem(key), 0o600)
        sent = b"" if variant in ("selfsigned", "nochain") else _cert_pem(inter)
        _write(paths["chain"], _cert_pem(cert) + sent)
        return {k: str(v) for k, v in paths.items()}

    def _revocation_extensions(self, builder: x509.CertificateBuilder, variant: str) -> x509.CertificateBuilder:
        urls = self.urls or {}
        crl = {"ocspdown": None, "crlstale": urls["stale_crl"], "intrevoked": urls.get("crl2")}.get(variant, urls["crl"])
        ocsp = {"crlrevoked": None, "crlstale": None, "ocspdown": urls["ocsp_down"],
                "intrevoked": None}.get(variant, urls["ocsp"])
        issuer = urls.get("issuer2") if variant == "intrevoked" else urls["issuer"]
        aia = [x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                      x509.UniformResourceIdentifier(issuer))] if issuer else []
        if ocsp:
            aia.insert(0, x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp)))
        if aia:
            builder = builder.add_extension(x509.AuthorityInformationAccess(aia), critical=False)
        if crl:
            builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(crl)], None, None, None)]), critical=False)
        return builder

    @property
    def index_file(self) -> Path:
        """The ``openssl ocsp -index`` file (written by write_revocation)."""
        return self.dir / "index.txt"

    @property
    def root_index_file(self) -> Path:
        """The root's ``openssl ocsp -index`` file: its two intermediates, the second revoked."""
        return self.dir / "root_index.txt"

    def write_revocation(self, www: Path) -> None:
        """Publish, after the last ``issue``: ``www``/intermediate.crl, stale.crl, intermediate.der, the
        root's root.crl (listing the second intermediate) and root.der, the second intermediate's
        intermediate2.crl and intermediate2.der, and the OCSP index (every leaf the first intermediate
        issued, revoked ones marked R)."""
        www.mkdir(parents=True, exist_ok=True)
        revoked_at = self.now - dt.timedelta(days=1)
        fresh = (self.now - dt.timedelta(hours=1), self.now + dt.timedelta(days=7))

        def entry(serial: int, reason: x509.ReasonFlags) -> x509.RevokedCertificate:
            return (x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(revoked_at)
                    .add_extension(x509.CRLReason(reason), critical=False).build())

        listed = [entry(c.serial_number, x509.ReasonFlags.key_compromise) for c, v in self.issued if v in REVOKED_IN_CRL]
        _write(www / "intermediate.crl", self._crl(listed, *fresh))
        _write(www / "stale.crl", self._crl([], self.now - dt.timedelta(days=10), self.now - dt.timedelta(days=3)))
        _write(www / "intermediate.der", self.inter.public_bytes(serialization.Encoding.DER))
        _write(www / "root.crl", self._crl([entry(self.inter2.serial_number, x509.ReasonFlags.ca_compromise)], *fresh,
                                           issuer=(self.root, self.root_key)))
        _write(www / "root.der", self.root.public_bytes(serialization.Encoding.DER))
        _write(www / "intermediate2.crl", self._crl([], *fresh, issuer=(self.inter2, self.inter2_key)))
        _write(www / "intermediate2.der", self.inter2.public_bytes(serialization.Encoding.DER))
        # issued by the second intermediate: not this responder's
        leaves = [(cert, "keyCompromise" if variant in REVOKED_IN_OCSP else "") for cert, variant in self.issued
                  if variant != "intrevoked"]
        _write(self.index_file, _ocsp_index(leaves, revoked_at))
        _write(self.dir / "index.txt.attr", b"unique_subject = no\n")
        _write(self.root_index_file, _ocsp_index([(self.inter, ""), (self.inter2, "CACompromise")], revoked_at))
        _write(self.dir / "root_index.txt.attr", b"unique_subject = no\n")

    def _crl(self, revoked: list, this_update: dt.datetime, next_update: dt.datetime, *,
             issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None) -> bytes:
        """A CRL signed by ``issuer`` (certificate, key), by default the intermediate."""
        cert, key = issuer or (self.inter, self.inter_key)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(cert.subject)
                   .last_update(this_update).next_update(next_update)
                   .add_extension(x509.CRLNumber(1), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                                  critical=False))
        for entry in revoked:
            builder = builder.add_revoked_certificate(entry)
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _ocsp_index(entries: list[tuple[x509.Certificate, str]], revoked_at: dt.datetime) -> bytes:
    """An ``openssl ca`` index (what ``openssl ocsp -index`` answers from): one line per certificate,
    V (valid) or, with a reason (``keyCompromise``, ``CACompromise``), R (revoked at ``revoked_at``)."""
    lines = []
    for cert, reason in entries:
        serial = format(cert.serial_number, "X")
        serial = "0" * (len(serial) % 2) + serial
        expiry = cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
        dn = "/" + "/".join(f"{a.rfc4514_attribute_name}={a.value}" for a in cert.subject)
        if reason:
            lines.append(f"R\t{expiry}\t{revoked_at.strftime('%y%m%d%H%M%SZ')},{reason}\t{serial}\tunknown\t{dn}")
        else:
            lines.append(f"V\t{expiry}\t\t{serial}\tunknown\t{dn}")
    return ("\n".join(lines) + "\n").encode()
