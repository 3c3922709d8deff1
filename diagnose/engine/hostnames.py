"""Host names and HOST[:PORT] as the user types them: checked, normalised to their ASCII form.

Pure, and light on purpose (nothing imported; idna for a non-ASCII name): the probe's fast path
(diagnose.app.probe) parses its target with these before anything heavy is imported.
diagnose.engine.target builds the diagnosis target (a domain or a mail address) on them.
"""

from __future__ import annotations

_LDH = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _ldh_label(label: str) -> bool:
    """A host name label of the ASCII (lower-case) form: letters, digits, hyphens; 1-63 of them, no
    hyphen first or last (RFC 1123 §2.1)."""
    return 0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-" and _LDH.issuperset(label)


class TargetError(ValueError):
    """The target is not a domain or an email address maildoctor can diagnose."""


def normalise_domain(name: str) -> tuple[str, str]:
    """Return (ascii, unicode) forms of a domain name, or raise TargetError."""
    name = name.strip()
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise TargetError("the domain part is empty")
    if ".." in name:
        raise TargetError(f"{shorten(name)!r} has an empty label (two dots in a row)")
    shown = shorten(name)
    if name.isascii():
        ascii_name = name.lower()  # LDH rules below reject what IDNA would
    else:
        import idna  # only for a non-ASCII name: its tables cost start-up time

        try:
            ascii_name = idna.encode(name, uts46=True).decode("ascii").lower()
        except (idna.IDNAError, UnicodeError) as exc:
            raise TargetError(f"{shown!r} is not a valid internationalised domain name: {exc}") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253:
        raise TargetError("the domain is longer than the 253 characters DNS allows")
    for label in labels:
        if not _ldh_label(label):
            bad = sorted({c for c in label if not (c.isalnum() or c == "-")})
            why = (
                f"it contains {''.join(bad)!r}"
                if bad
                else f"label {shorten(label)!r} is empty, too long or starts/ends with '-'"
            )
            raise TargetError(f"{shown!r} is not a valid domain name: {why}")
    if len(labels) < 2:
        raise TargetError(f"{shown!r} is not a full domain name (expected something like example.com)")
    if labels[-1].isdigit():
        raise TargetError(f"{shown!r} looks like an IP address, not a domain name")
    if "xn--" not in ascii_name:
        return ascii_name, ascii_name  # nothing to decode: both forms are the same
    import idna

    try:
        unicode_name = idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError) as exc:
        raise TargetError(f"{shown!r} has a punycode label that does not decode: {exc}") from None
    return ascii_name, unicode_name


def split_host_port(text: str) -> tuple[str, str | None]:
    """``host``, ``host:port``, ``[IPv6]``, ``[IPv6]:port`` or a bare IPv6 address -> (host, the port as
    typed or None); ValueError (the expected form) for a bracket that is not closed or is followed by
    anything but ``:PORT``. Pure; the caller checks the host and the port (``port_number``)."""
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise ValueError("expected [IPv6] or [IPv6]:PORT")
        if rest and not rest.startswith(":"):
            raise ValueError("expected [IPv6]:PORT")
        return host, rest[1:] if rest else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, None


def port_number(text: str) -> int | None:
    """A TCP port as typed (1-65535), or None."""
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 65536 else None


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters for a message, with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
