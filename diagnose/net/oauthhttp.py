"""The HTTPS side of OAuth 2.0 logins: a form POST to a token or device-authorization endpoint, JSON back.

Names are resolved with maildoctor's own resolver (``--nameserver``), never the system's; only
https:// URLs (the bodies carry refresh tokens and codes), certificates verified like every other
TLS connection (system roots + --ca-file). Bounded in time (``Timeouts.http`` per step) and size.
Neither the request nor the response is logged anywhere: the caller keeps the secrets in ``Secret``s.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from diagnose.engine.timeouts import Timeouts
from diagnose.net.httpget import https_post_one
from diagnose.net.resolver import Dns, Nameserver, Outcome

MAX_BODY = 64 * 1024


class OAuthHttpError(Exception):
    """The endpoint could not be reached or did not answer JSON; one line for the user."""


@dataclass(frozen=True)
class JsonAnswer:
    status: int
    data: dict


def https_parts(url: str) -> tuple[str, int, str]:
    """(host, port, path?query) of an https:// URL; ValueError for anything else. Pure."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise ValueError(f"not an https:// URL without credentials: {url[:80]!r}")
    if any(c in url for c in "\r\n\0 "):
        raise ValueError("the URL contains spaces or control characters")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, parts.port or 443, path


async def addresses(host: str, dns: Dns) -> list[str]:
    """The host's addresses from maildoctor's resolver (an address literal as it is)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    answers = await asyncio.gather(dns.query(host, "A"), dns.query(host, "AAAA"))
    return [str(r) for answer in answers if answer.outcome is Outcome.ANSWER for r in answer.records]


async def post_form(url: str, form: dict[str, str], *, nameservers: list[Nameserver], ca_file: Path | None,
                    timeout: float) -> JsonAnswer:
    """POST ``form`` (application/x-www-form-urlencoded) to ``url``; the JSON object it answers.
    OAuthHttpError when there is no JSON answer (the error says where it failed, never the form)."""
    try:
        host, port, path = https_parts(url)
    except ValueError as exc:
        raise OAuthHttpError(str(exc)) from None
    dns = Dns(nameservers or None, timeout=timeout)
    found = await addresses(host, dns)
    if not found:
        raise OAuthHttpError(f"{host} has no address (asked {', '.join(dns.nameservers) or 'the resolver'})")
    body = urlencode(form).encode("ascii")
    limit = Timeouts(timeout).http
    result = None
    for address in found[:4]:
        result = await https_post_one(url, host, path, address, port, ca_file=ca_file, timeout=limit,
                                      max_body=MAX_BODY, body=body, content_type="application/x-www-form-urlencoded")
        if result.outcome not in ("refused", "timeout", "unreachable"):
            break
    if result is None or result.response is None:
        raise OAuthHttpError(f"{url}: {result.outcome if result else 'not tried'} "
                             f"{result.detail if result else ''}".strip())
    try:
        data = json.loads(result.response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise OAuthHttpError(f"{url} answered HTTP {result.response.status} without JSON") from None
    if not isinstance(data, dict):
        raise OAuthHttpError(f"{url} answered JSON that is not an object")
    return JsonAnswer(result.response.status, data)
