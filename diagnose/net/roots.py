"""The system's trust store, loaded as OpenSSL reads it fastest: from the hashed CA directory when
that is all the system trusts, else as ssl.create_default_context loads it. Shared by the verifying
contexts of diagnose.net.tls and the probe's fast path (diagnose.net.verified_session), so both trust
the same roots; light on purpose (os, ssl): the fast path imports it."""

from __future__ import annotations

import functools
import os
import ssl


@functools.lru_cache(maxsize=1)
def hashed_roots() -> str | None:
    """The system's CA directory when it is all the system trusts and is hashed for OpenSSL
    (``c_rehash``: Debian's /etc/ssl/certs), else None. Loading the bundle file instead parses every
    root (~25 ms of CPU) before the first connection; a directory is read one root at a time."""
    paths = ssl.get_default_verify_paths()
    named = os.environ.get(paths.openssl_cafile_env)
    if not paths.capath or (named and os.path.realpath(named) != os.path.realpath(paths.openssl_cafile)):
        return None  # SSL_CERT_FILE names another bundle than the system's: trust exactly what it holds
    try:
        with os.scandir(paths.capath) as entries:
            hashed = any(entry.name.endswith(".0") for entry in entries)
    except OSError:
        return None
    return paths.capath if hashed else None


def load_system_roots(ctx: ssl.SSLContext) -> None:
    """The system's roots into ``ctx``: the hashed directory (read one root at a time, when a chain needs
    it), else OpenSSL's defaults (the bundle, or what SSL_CERT_FILE and SSL_CERT_DIR name)."""
    roots = hashed_roots()
    if roots is None:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        ctx.load_verify_locations(capath=roots)
