"""Certificates with absurd fields, minted per run with cryptography (never committed).

Some absurdities the builder refuses (a negative serial, invalid UTF-8 in a UTF8String): those
are minted with a placeholder and patched in the DER afterwards, keeping every length, so the
certificate still parses (its signature no longer matches, which a client must survive too).
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

KINDS = ("huge_san", "non_utf8", "negative_serial", "dates_1950_9999", "escapes_in_names", "long_chain")
_KEY = ec.generate_private_key(ec.SECP256R1())
_CN_MARK = "QQQQCNMARKQQQQ"
_SAN_MARK = "zzzzsanmarkzzzz.invalid"
_SERIAL_MARK = 0x5A5A5A5A5A5A5A5A5A


def _utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def mint(kind: str, host: str) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for one absurd kind; ``host`` is a name the SAN list includes."""
    now = dt.datetime.now(dt.UTC)
    cn, sans, serial = host, [host], 4242
    not_before, not_after = now - dt.timedelta(days=1), now + dt.timedelta(days=90)
    if kind == "long_chain":
        return _long_chain(host, 40)
    if kind == "huge_san":
        sans = [f"h{i}.{host}" for i in range(2000)] + [host]  # ~40 kB: under OpenSSL's 100 kB certificate-list cap
    elif kind == "non_utf8":
        cn, sans = _CN_MARK, [host, _SAN_MARK]
    elif kind == "negative_serial":
        serial = _SERIAL_MARK
    elif kind == "dates_1950_9999":
        not_before, not_after = _utc(1950, 1, 1), _utc(9999, 12, 31, 23, 59, 59)
    elif kind == "escapes_in_names":
        cn = "\x1b[2J\x1b]0;owned\x07<script>alert(1)</script>&amp;"
        sans = [host]
    else:
        raise ValueError(kind)
    # invalid UTF-8 in a UTF8String makes OpenSSL refuse to load the certificate at all, so the
    # non-UTF-8 name is a T61String (no charset rules in OpenSSL) and an IA5String dNSName
    cn_type = _ASN1Type.T61String if kind == "non_utf8" else _ASN1Type.UTF8String
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn, _type=cn_type),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hostile <b>kit</b> \u202e")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(_KEY.public_key())
            .serial_number(serial).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
            .sign(_KEY, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    if kind == "non_utf8":
        der = _patch(der, _CN_MARK.encode(), b"\xff\xfe\xc0\x80bad\xed\xa0\x80utf8")
        der = _patch(der, _SAN_MARK.encode(), b"\xff\xfe\x1b[31m\x80\x00".ljust(len(_SAN_MARK) - 8, b"z") + b".invalid")
    elif kind == "negative_serial":
        marked = _SERIAL_MARK.to_bytes(9, "big")
        der = _patch(der, marked, b"\xff" + marked[1:])
    pem = b"-----BEGIN CERTIFICATE-----\n"
    import base64

    b64 = base64.b64encode(der)
    pem += b"\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) + b"\n-----END CERTIFICATE-----\n"
    key = _KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    return pem, key


def _patch(der: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new) and der.count(old) >= 1, old
    return der.replace(old, new)


def mint_server(hosts: list[str]) -> tuple[bytes, bytes]:
    """A sane self-signed certificate for ``hosts`` (to pass as --ca-file): the fault is elsewhere."""
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(_KEY.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .sign(_KEY, hashes.SHA256()))
    key = _KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key


def _long_chain(host: str, length: int) -> tuple[bytes, bytes]:
    """leaf + ``length`` intermediates, each issued by the next: far deeper than any verifier allows."""
    now = dt.datetime.now(dt.UTC)
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(length + 1)]
    names = [x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host if i == 0 else f"CA level {i}")])
             for i in range(length + 1)]
    pems = []
    for i in range(length + 1):
        issuer = min(i + 1, length)  # the last one signs itself
        builder = (x509.CertificateBuilder().subject_name(names[i]).issuer_name(names[issuer])
                   .public_key(keys[i].public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=i > 0, path_length=None), critical=True))
        if i == 0:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        pems.append(builder.sign(keys[issuer], hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    key = keys[0].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return b"".join(pems), key
