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
# holding it (``--password-env SMTP_PASS``): the name is not a secret and stays.
_ENV_NAME = re.compile(r"[-_]env(var)?$", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/:@\s]+):[^/@\s]+@", re.IGNORECASE)


def is_secret_option(option: str) -> bool:
    """True for ``--password``, ``--imap-password``, ``--token=…`` (the part before ``=``)."""
    if not option.startswith("-") or option in ("-", "--"):
        return False
    name = option.lstrip("-").split("=", 1)[0]
    return bool(_SECRET_NAME.search(name)) and not _ENV_NAME.search(name)


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
