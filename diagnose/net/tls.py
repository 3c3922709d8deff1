"""TLS client contexts for probing, the peer's chain, and the trust store (system + --ca-file).

Probes never let OpenSSL judge the certificate: the handshake runs with verification off so the
chain is always seen, and diagnose.knowledge.certs judges it afterwards. A failed verification must become
a certificate finding, never "TLS not supported" (the false verdict other tools give).
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from diagnose.knowledge.certs import is_self_signed, load_pem_bundle
from diagnose.net.roots import load_system_roots

LEGACY_VERSIONS = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)


def probe_context(*, legacy: bool = False) -> ssl.SSLContext:
    """A client context that accepts any certificate (we judge it ourselves) and sends SNI.

    ``legacy``: offer only TLS 1.0 and 1.1, to learn whether the server still accepts them.
    One of each per process, shared by every handshake (a context holds no per-connection state).
    """
    return _probe_context(bool(legacy))


# keyed by the one positional flag: an lru_cache keys ``f()`` and ``f(legacy=False)`` apart, so
# the three spellings the callers use overflowed a 2-entry cache and built ~4 contexts a run
@functools.cache
def _probe_context(legacy: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # Security level 0 lets OpenSSL complete handshakes with weak keys and SHA-1, so we can
    # report them instead of failing with an opaque handshake error.
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if legacy:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # what current clients offer
    return ctx


@functools.lru_cache(maxsize=8)
def verifying_context(ca_file: Path | None) -> ssl.SSLContext:
    """A client context like a mail program's or a browser's: the system's trust store plus
    --ca-file, host names checked. Used where maildoctor sends something that matters (credentials,
    an MTA-STS policy request); the probes use probe_context and judge certificates themselves.
    One per --ca-file and process, shared by every connection."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # as create_default_context, with the roots below
    load_system_roots(ctx)
    if ca_file is not None:
        ctx.load_verify_locations(cafile=str(ca_file))
    return ctx


@functools.lru_cache(maxsize=1)
def legacy_supported_here() -> str:
    """"" if this machine's OpenSSL can offer TLS 1.0/1.1 at all, else why not."""
    try:
        ctx = probe_context(legacy=True)
        obj = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=False)
        obj.do_handshake()
    except ssl.SSLWantReadError:
        return ""  # the ClientHello was written: the versions are available
    except (ssl.SSLError, ValueError) as exc:
        return f"the local OpenSSL ({ssl.OPENSSL_VERSION}) cannot offer TLS 1.0/1.1: {exc}"
    return ""


def sni_name(hostname: str) -> str | None:
    """The SNI to send: the host name without a trailing dot; none for an address literal."""
    name = hostname.rstrip(".")
    if not name or name.replace(".", "").isdigit() or ":" in name:
        return None
    return name


@dataclass(frozen=True, eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class TlsInfo:
    """What a TLS handshake agreed on, and the chain the server sent."""

    version: str  # "TLSv1.3"
    cipher: str
    bits: int
    chain: tuple[x509.Certificate, ...]  # as the server sent it, leaf first


def session_info(ssl_object) -> TlsInfo:
    """Negotiated parameters and the unverified chain from an ``ssl.SSLObject``/``SSLSocket``."""
    name, _proto, bits = ssl_object.cipher() or ("", "", 0)
    chain: list[x509.Certificate] = []
    raw = getattr(ssl_object, "_sslobj", None)
    getter = getattr(raw, "get_unverified_chain", None)  # CPython >= 3.10 (public in 3.13)
    try:
        if getter is not None:
            chain = [x509.load_der_x509_certificate(c.public_bytes(2)) for c in getter() or []]  # 2 = ENCODING_DER
        if not chain:
            der = ssl_object.getpeercert(binary_form=True)
            chain = [x509.load_der_x509_certificate(der)] if der else []
    except ValueError:
        chain = []
    return TlsInfo(ssl_object.version() or "", name, bits or 0, tuple(chain))


@dataclass(frozen=True)
class TrustStore:
    """The certificates a chain is verified against: anchors and known intermediates."""

    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...]  # CA certificates from --ca-file that are not roots
    sources: tuple[str, ...]

    def anchors_named(self, subject: x509.Name) -> tuple[x509.Certificate, ...]:
        """The anchors with this subject (indexed once per store: revocation asks for every certificate)."""
        return self._by_subject.get(subject.public_bytes(), ())

    @functools.cached_property
    def _by_subject(self) -> dict[bytes, tuple[x509.Certificate, ...]]:
        index: dict[bytes, tuple[x509.Certificate, ...]] = {}
        for anchor in self.anchors:
            name = anchor.subject.public_bytes()
            index[name] = (*index.get(name, ()), anchor)
        return index


@functools.lru_cache(maxsize=8)
def trust_store(ca_file: Path | None) -> TrustStore:
    """The system's roots plus --ca-file. In --ca-file, self-signed certificates are trusted roots;
    other CA certificates are "known intermediates", as a client that cached them would have,
    used only to recognise a server that forgets to send its intermediate."""
    anchors: list[x509.Certificate] = []
    sources = []
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            try:
                anchors += load_pem_bundle(Path(candidate).read_bytes())
                sources.append(candidate)
                break
            except OSError:
                continue
    intermediates: list[x509.Certificate] = []
    if ca_file is not None:
        try:
            extra = load_pem_bundle(Path(ca_file).read_bytes())
        except OSError:
            extra = []
        for cert in extra:
            (anchors if is_self_signed(cert) else intermediates).append(cert)
        sources.append(str(ca_file))
    return TrustStore(tuple(anchors), tuple(intermediates), tuple(sources))
