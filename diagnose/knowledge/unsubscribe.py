"""One-click unsubscribe (RFC 8058), judged on a message's header. Pure.

RFC 8058 §3.1: the message carries ``List-Unsubscribe`` with at least one HTTPS URI and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``; §4: a valid DKIM signature covers both
(its h= tag names them). Whether the signature verifies is the receiver's verdict: a
``dkim=pass`` in Authentication-Results for the signing domain, when the message has one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from diagnose.knowledge.headers import auth_results, tag_list
from diagnose.knowledge.sanitize import clean

_URI = re.compile(r"<([^<>\s]{1,2000})>")


@dataclass(frozen=True)
class OneClick:
    problems: tuple[str, ...]  # what RFC 8058 asks that the message lacks; empty: one-click works
    https: tuple[str, ...] = ()  # the HTTPS URIs of List-Unsubscribe
    mailto: bool = False
    signed_by: tuple[str, ...] = ()  # d= of the DKIM signatures whose h= covers both fields
    verified: bool | None = None  # the receiver's dkim=pass for one of them (None: no verdict in the message)

    @property
    def ok(self) -> bool:
        return not self.problems


def _signed_fields(value: str) -> tuple[str, set[str]]:
    """(d=, the lower-case header field names of h=) of one DKIM-Signature value."""
    tags = tag_list(value)
    return tags.get("d", "").lower(), {h.strip().lower() for h in tags.get("h", "").split(":") if h.strip()}


def one_click(msg: Any) -> OneClick:
    """Judge RFC 8058 one-click unsubscribe on the message ``msg`` (an email.message.Message)."""
    problems: list[str] = []
    listed = " ".join(str(v) for v in (msg.get_all("List-Unsubscribe") or [])[:5])
    uris = [clean(u, limit=300, keep_newlines=False) for u in _URI.findall(listed)]
    https = tuple(u for u in uris if u.lower().startswith("https://"))
    mailto = any(u.lower().startswith("mailto:") for u in uris)
    if not listed.strip():
        problems.append("the message has no List-Unsubscribe header field")
    elif not https:
        problems.append("List-Unsubscribe has no https:// URI (RFC 8058 §3.1; "
                        + ("mailto: alone is not one-click)" if mailto else "give it as <https://...>)"))
    posts = [re.sub(r"\s+", "", str(v)) for v in (msg.get_all("List-Unsubscribe-Post") or [])[:5]]
    if not posts:
        problems.append("the message has no List-Unsubscribe-Post header field")
    elif len(posts) > 1 or posts[0].lower() != "list-unsubscribe=one-click":
        problems.append(f"List-Unsubscribe-Post must be exactly 'List-Unsubscribe=One-Click', not "
                        f"{clean(' | '.join(posts), limit=80, keep_newlines=False)!r}")
    covering = []
    for value in (msg.get_all("DKIM-Signature") or [])[:10]:
        domain, fields = _signed_fields(str(value))
        if {"list-unsubscribe", "list-unsubscribe-post"} <= fields:
            covering.append(clean(domain, limit=255, keep_newlines=False))
    if not covering:
        problems.append("no DKIM signature covers both List-Unsubscribe and List-Unsubscribe-Post (their names "
                        "must be in the signature's h= tag, RFC 8058 §4)")
    verdicts = [v for v in auth_results(msg) if v.method == "dkim"]
    verified: bool | None = None
    if covering and verdicts:
        verified = any(v.result == "pass" and v.properties.get("header.d", "").lower() in covering for v in verdicts)
        if not verified:
            problems.append("the receiver did not verify the DKIM signature that covers them (no dkim=pass for "
                            f"{', '.join(covering)} in Authentication-Results)")
    return OneClick(tuple(problems), https, mailto, tuple(covering), verified)
