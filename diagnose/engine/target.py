"""Parse what the user typed (a domain or an email address) into a normalised target.

Normalise at the edge: every other module sees the ASCII (punycode) form of the domain; the
Unicode form is kept only for display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LDH_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_INPUT = 320  # 64 local part + @ + 255 domain, RFC 5321 §4.5.3.1


class TargetError(ValueError):
    """The target is not a domain or an email address maildoctor can diagnose."""


@dataclass(frozen=True)
class Target:
    """A mail domain to diagnose, and the mailbox address when one was given."""

    raw: str
    domain: str  # ASCII form, lower case, no trailing dot
    domain_unicode: str
    address: str | None = None
    local_part: str | None = None

    @property
    def display(self) -> str:
        """The domain as a person reads it, with the ASCII form beside an IDN."""
        if self.domain_unicode != self.domain:
            return f"{self.domain_unicode} ({self.domain})"
        return self.domain


def parse_target(text: str) -> Target:
    """Parse a domain or email address; raise TargetError with a one-line reason."""
    raw = text
    text = (text or "").strip()
    if not text:
        raise TargetError("the target is empty: give a domain (example.com) or an email address")
    if len(text) > MAX_INPUT:
        raise TargetError(f"the target is {len(text)} characters long, more than any mail address can be")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise TargetError("the target contains control characters")
    local = None
    if "@" in text:
        local, _, domain_part = text.rpartition("@")
        if "@" in local and not (local.startswith('"') and local.endswith('"')):  # an @ only inside quotes
            raise TargetError(f"{_shorten(text)!r} has {text.count('@')} @ signs; "
                              "a mail address has one, like you@example.com")
        local = _check_local_part(local)
    else:
        domain_part = text
    if domain_part.startswith("[") and domain_part.endswith("]"):
        raise TargetError(
            f"{domain_part} is an address literal; maildoctor diagnoses mail domains, give the domain name"
        )
    ascii_domain, unicode_domain = normalise_domain(domain_part)
    address = f"{local}@{ascii_domain}" if local is not None else None
    return Target(raw=raw, domain=ascii_domain, domain_unicode=unicode_domain, address=address, local_part=local)


def normalise_domain(name: str) -> tuple[str, str]:
    """Return (ascii, unicode) forms of a domain name, or raise TargetError."""
    name = name.strip()
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise TargetError("the domain part is empty")
    if ".." in name:
        raise TargetError(f"{_shorten(name)!r} has an empty label (two dots in a row)")
    shown = _shorten(name)
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
        if not _LDH_LABEL.match(label):
            bad = sorted({c for c in label if not (c.isalnum() or c == "-")})
            why = (
                f"it contains {''.join(bad)!r}"
                if bad
                else f"label {_shorten(label)!r} is empty, too long or starts/ends with '-'"
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


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_local_part(local: str) -> str:
    if not local:
        raise TargetError("the address has nothing before the @")
    if len(local.encode("utf-8")) > 64:
        raise TargetError("the part before the @ is longer than the 64 octets mail allows")
    if local.startswith('"') and local.endswith('"') and len(local) >= 2:
        return local  # RFC 5321 quoted string: accepted as given
    if local.startswith(".") or local.endswith(".") or ".." in local or any(c in local for c in ' "(),:;<>[\\]'):
        raise TargetError(f"{_shorten(local)!r} is not a valid local part of a mail address")
    return local
