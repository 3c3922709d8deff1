"""Mint small PKIs in tests (aiosmtpd's habit: certificates are made per test, never committed)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
_EC_KEY = ec.generate_private_key(ec.SECP256R1())  # reused: key generation is the slow part


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _builder(subject, issuer, pub, issuer_pub, not_before, not_after):
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(pub)
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_pub), critical=False))


class Pki:
    """root -> intermediate -> leaves, valid around NOW."""

    def __init__(self, label: str = "test") -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self.ca(f"root {label}", None, path_length=1)
        self.inter_key = ec.generate_private_key(ec.SECP256R1())
        self.inter = self.ca(f"intermediate {label}", self.root, key=self.inter_key, path_length=0)

    def ca(self, cn, issuer, *, key=None, path_length=None):
        key = key or self.root_key
        issuer_name = issuer.subject if issuer is not None else name(cn)
        issuer_key = self.root_key
        return (
            _builder(
                name(cn),
                issuer_name,
                key.public_key(),
                issuer_key.public_key(),
                NOW - dt.timedelta(days=365),
                NOW + dt.timedelta(days=3650),
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(issuer_key, hashes.SHA256())
        )

    def leaf(self, *names: str, days_before=30, days_after=60, key=None, hash_=None, aia=False, ips=()):
        key = key or _EC_KEY
        b = (
            _builder(
                name(names[0] if names else "no-san"),
                self.inter.subject,
                key.public_key(),
                self.inter_key.public_key(),
                NOW - dt.timedelta(days=days_before),
                NOW + dt.timedelta(days=days_after),
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        alt = [x509.DNSName(n) for n in names] + [x509.IPAddress(__import__("ipaddress").ip_address(i)) for i in ips]
        if alt:
            b = b.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        if aia:
            b = b.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier("http://ca.test/i.der"))]),
                critical=False)
        return b.sign(self.inter_key, hash_ or hashes.SHA256())


def self_signed(*names: str, key=None, hash_=None):
    key = key or _EC_KEY
    b = (_builder(name(names[0]), name(names[0]), key.public_key(), key.public_key(),
                  NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=300))
         .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False))
    return b.sign(key, hash_ or hashes.SHA256())


def rsa_key(bits: int):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)
