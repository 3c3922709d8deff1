"""The system's trust store, loaded as OpenSSL reads it fastest: from the hashed CA directory when
that is all the system trusts, else as ssl.create_default_context loads it. Shared by the verifying
contexts of diagnose.net.tls and the probe's fast path (diagnose.net.verified_session), so both trust
the same roots; light on purpose (os and ssl's C module): the fast path imports it."""

from __future__ import annotations

import _ssl
import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name)
if TYPE_CHECKING:
    import ssl

_FOUND: list[str | None] = []  # hashed_roots()'s answer, once looked for


def hashed_roots() -> str | None:
    """The system's CA directory when it is all the system trusts and is hashed for OpenSSL
    (``c_rehash``: Debian's /etc/ssl/certs), else None. Loading the bundle file instead parses every
    root (~25 ms of CPU) before the first connection; a directory is read one root at a time.
    Looked for once (``forget()`` to look again)."""
    if not _FOUND:
        _FOUND.append(_find_hashed_roots())
    return _FOUND[0]


def forget() -> None:
    """Look for the directory again at the next call (the environment changed: tests)."""
    _FOUND.clear()


def _find_hashed_roots() -> str | None:
    # ssl.get_default_verify_paths(), without the ssl module: the environment names override OpenSSL's defaults
    cafile_env, default_cafile, capath_env, default_capath = _ssl.get_default_verify_paths()
    capath = os.environ.get(capath_env, default_capath)
    named = os.environ.get(cafile_env)
    if not capath or not os.path.isdir(capath) or (
            named and os.path.realpath(named) != os.path.realpath(default_cafile)):
        return None  # SSL_CERT_FILE names another bundle than the system's: trust exactly what it holds
    try:
        with os.scandir(capath) as entries:
            hashed = any(entry.name.endswith(".0") for entry in entries)
    except OSError:
        return None
    return capath if hashed else None


def load_system_roots(ctx: ssl.SSLContext | _ssl._SSLContext) -> None:
    """The system's roots into ``ctx`` (an ssl.SSLContext, or the probe's context of diagnose.net.rawtls):
    the hashed directory (read one root at a time, when a chain needs it), else OpenSSL's defaults (the
    bundle, or what SSL_CERT_FILE and SSL_CERT_DIR name: what ``load_default_certs`` loads outside Windows)."""
    roots = hashed_roots()
    if roots is None:
        ctx.set_default_verify_paths()
    else:
        ctx.load_verify_locations(None, roots)
