"""Remove secrets from a command line before it is shown or saved in a report.

Any option whose name says it carries a secret (``--password``, ``--smtp-password``, ``--pass``,
``--secret``, ``--token``, ``--api-key``, ``--credentials``…) loses its value, whether given as
``--password VALUE`` or ``--password=VALUE``; so does the password part of a ``user:pass@host`` URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "REDACTED"

# Option names (without the leading dashes) that carry a secret as their value.
_SECRET_NAME = re.compile(
    r"(^|[-_])(pass(word|wd|phrase)?|secret|token|api[-_]?key|credentials?|auth[-_]?key)s?([-_]|$)", re.IGNORECASE
)
# Options whose *name* mentions a secret but whose value is only the name of an environment variable
# holding it (``--password-env SMTP_PASS``): the name is not a secret and stays. A string: re compiles
# it when an option's name mentions a secret.
_ENV_NAME = r"[-_]env(var)?$"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/:@\s]+):[^/@\s]+@", re.IGNORECASE)


def is_secret_option(option: str) -> bool:
    """True for ``--password``, ``--imap-password``, ``--token=…`` (the part before ``=``)."""
    if not option.startswith("-") or option in ("-", "--"):
        return False
    name = option.lstrip("-").split("=", 1)[0]
    return bool(_SECRET_NAME.search(name)) and not re.search(_ENV_NAME, name, re.IGNORECASE)


def redact_argv(argv: Iterable[str]) -> list[str]:
    """A copy of ``argv`` with the values of secret options (and URL passwords) replaced by REDACTED."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        arg = str(arg)
        if hide_next:
            hide_next = False
            out.append(REDACTED)
            continue
        if arg == "--":
            out.append(arg)
            continue
        if is_secret_option(arg):
            if "=" in arg:
                out.append(arg.split("=", 1)[0] + "=" + REDACTED)
            else:
                out.append(arg)
                hide_next = True  # the value is the next word
            continue
        out.append(redact_text(arg))
    return out


def redact_text(text: str) -> str:
    """Hide the password of ``scheme://user:password@host`` in free text."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}:{REDACTED}@", text)


def run_meta(argv: Iterable[str], host: str, *, anonymize: bool = False, fail_on: str | None = None,
             profile: str | None = None) -> dict:
    """The report's ``meta``: where and how it ran, secrets removed, the host name only if allowed."""
    meta: dict = {"command": redact_argv(["maildoctor", *argv])}
    if anonymize:
        meta["anonymized"] = True
    else:
        meta["host"] = host
    if fail_on:
        meta["fail_on"] = str(fail_on)
    if profile:
        meta["profile"] = profile
    return meta


# -- pseudonyms for the names of a message (maildoctor message --anonymize) -------------------------

# pattern strings, compiled by `re` on first use: every check run imports this module for redact_argv
_EMAIL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z0-9-]{1,63}"
_IPV4 = r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"
_IPV6 = r"(?<![0-9A-Za-z:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Za-z:])"  # checked below
_HOST = r"(?<![A-Za-z0-9.-])(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})\.)+([A-Za-z]{2,63})(?![A-Za-z0-9-])"


def _ip_version(text: str) -> int:
    import ipaddress

    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return 0


class Pseudonyms:
    """Consistent stand-ins for the addresses, host names and IP addresses of one message: the same name
    always gets the same stand-in (``host1.example``, ``user1@domain1.example``, ``192.0.2.1``,
    ``2001:db8::1``), so a report stays readable while naming nobody.

    ``add`` the names known to identify someone (from the message's header); ``apply`` then replaces
    them, every e-mail address and IP address, and any host name ending in a top-level domain seen
    among the known names."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # lower-case original -> stand-in
        self.tlds: set[str] = set()
        self._counts: dict[str, int] = {}

    def _next(self, kind: str) -> int:
        self._counts[kind] = self._counts.get(kind, 0) + 1
        return self._counts[kind]

    def add(self, name: str) -> None:
        name = name.strip().strip("<>[]().;,").rstrip(".").lower()
        if not name or name in self.names:
            return
        if "@" in name:
            self.add(name.rpartition("@")[2])
            self.names[name] = f"user{self._next('user')}@{self.names.get(name.rpartition('@')[2], 'domain.example')}"
        elif (version := _ip_version(name)) == 4:
            self.names[name] = f"192.0.2.{self._next('ip4')}"
        elif version == 6:
            self.names[name] = f"2001:db8::{self._next('ip6'):x}"
        elif ":" in name:
            return  # a time of day (10:00:03), not an address
        elif "." in name:
            self.tlds.add(name.rsplit(".", 1)[1])
            self.names[name] = f"host{self._next('host')}.example"

    def apply(self, text: str) -> str:
        if not text:
            return text
        for pattern in (_EMAIL, _IPV6, _IPV4):
            for found in set(re.findall(pattern, text)):
                if isinstance(found, str) and found:
                    self.add(found)
        for m in list(re.finditer(_HOST, text)):
            if m.group(1).lower() in self.tlds:
                self.add(m.group(0))
        lowered = text.lower()
        for original in sorted((n for n in self.names if n in lowered), key=len, reverse=True):
            text = re.sub(re.escape(original), self.names[original], text, flags=re.IGNORECASE)
        return text

    def deep(self, value):
        """``apply`` to every string inside lists and dicts (keys too)."""
        if isinstance(value, str):
            return self.apply(value)
        if isinstance(value, list | tuple):
            return type(value)(self.deep(v) for v in value)
        if isinstance(value, dict):
            return {self.deep(k): self.deep(v) for k, v in value.items()}
        return value
