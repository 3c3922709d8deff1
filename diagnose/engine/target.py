"""Parse what the user typed (a domain or an email address) into a normalised target.

Normalise at the edge: every other module sees the ASCII (punycode) form of the domain; the
Unicode form is kept only for display.
"""

from __future__ import annotations

from dataclasses import dataclass

from diagnose.engine.hostnames import TargetError, normalise_domain, shorten

# TargetError and normalise_domain live in diagnose.engine.hostnames (light: the probe parses with them)
__all__ = ["MAX_INPUT", "Target", "TargetError", "normalise_domain", "parse_target"]

MAX_INPUT = 320  # 64 local part + @ + 255 domain, RFC 5321 §4.5.3.1


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
            raise TargetError(f"{shorten(text)!r} has {text.count('@')} @ signs; "
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


def _check_local_part(local: str) -> str:
    if not local:
        raise TargetError("the address has nothing before the @")
    if len(local.encode("utf-8")) > 64:
        raise TargetError("the part before the @ is longer than the 64 octets mail allows")
    if local.startswith('"') and local.endswith('"') and len(local) >= 2:
        return local  # RFC 5321 quoted string: accepted as given
    if local.startswith(".") or local.endswith(".") or ".." in local or any(c in local for c in ' "(),:;<>[\\]'):
        raise TargetError(f"{shorten(local)!r} is not a valid local part of a mail address")
    return local
