"""A small HTTPS GET for policy files (MTA-STS, autoconfig): to addresses we resolved, bounded in
time and size, certificate checked like every other TLS connection maildoctor makes.

No name resolution happens here: callers pass the addresses they got from ``ctx.dns`` and the
host name goes only into SNI, certificate checking and the Host header. Redirects are never
followed (RFC 8461 §3.3 forbids it for MTA-STS); the caller sees the 3xx.

``http_fetch`` is the plain-http:// client for certificate authorities' URLs (CRLs, OCSP, AIA
issuers): the caller hands in a ``resolve`` coroutine (maildoctor's own resolver), a few redirects
are followed, and the whole fetch, redirects included, stays within 3 x ``timeout``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from diagnose.engine.timeouts import Timeouts
from diagnose.net.guard import AddressRefused, open_connection
from diagnose.net.tcp import classify_socket_error
from diagnose.net.tls import verifying_context

MAX_HEADER_BYTES = 16 * 1024


@dataclass(frozen=True, eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class HttpResponse:
    """An HTTP response: status, headers and (a bounded part of) the body."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    truncated: bool = False  # the body was longer than the caller's limit


@dataclass(frozen=True, eq=False)
class FetchResult:
    """How one HTTP(S) request went: the outcome, and the response if one came."""

    url: str
    address: str
    outcome: str  # "ok", "tls", "refused", "timeout", "unreachable", "error", "protocol", "no_address",
    # and from http_fetch: "bad_url" (not a plain http:// URL we may fetch), "redirects" (too many);
    # "not_allowed": the run's connect guard refused the address (diagnose.net.guard), nothing was tried
    detail: str = ""
    response: HttpResponse | None = None
    elapsed_s: float = 0.0
    tried: tuple[str, ...] = ()


def parse_http_response(data: bytes, *, max_body: int) -> HttpResponse:
    """Pure: parse a whole HTTP/1.x response read until the server closed; ValueError if malformed."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, rest = data.partition(b"\n\n")
    if not sep or len(head) > MAX_HEADER_BYTES:
        raise ValueError("no complete HTTP header")
    lines = head.decode("iso-8859-1").replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ", 2)
    if (
        len(parts) < 2
        or not parts[0].startswith("HTTP/1.")
        or not (parts[1].isascii() and parts[1].isdigit())
        or len(parts[1]) != 3
    ):
        raise ValueError(f"not an HTTP response: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip():
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        rest = _dechunk(rest)
    elif (length := headers.get("content-length", "")).isascii() and length.isdigit():
        rest = rest[: int(headers["content-length"])]
    truncated = len(rest) > max_body
    return HttpResponse(int(parts[1]), parts[2].strip() if len(parts) > 2 else "", headers, rest[:max_body], truncated)


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    for _ in range(100_000):  # bounded: every round consumes at least one line
        line, sep, data = data.partition(b"\r\n")
        if not sep:
            raise ValueError("truncated chunked body")
        size_text = line.split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ValueError("bad chunk size") from None
        if size == 0:
            return bytes(out)
        if len(data) < size + 2:
            raise ValueError("truncated chunk")
        out += data[:size]
        data = data[size + 2:]
    raise ValueError("too many chunks")


async def https_get(host: str, path: str, addresses: tuple[str, ...] | list[str], *, ca_file: Path | None,
                    timeout: float, max_body: int = 64 * 1024, port: int = 443, body: bytes | None = None,
                    content_type: str = "") -> FetchResult:
    """GET https://host/path (POST ``body`` when given) from the first address that connects; ``timeout``
    is --timeout: per address ``Timeouts.http`` for connect + TLS and again for the response, ``http_total``
    for all."""
    limits = Timeouts(timeout)
    url = f"https://{host}{path}" if port == 443 else f"https://{host}:{port}{path}"
    if not addresses:
        return FetchResult(url, "", "no_address", f"{host} has no address")
    context = verifying_context(ca_file)
    last = FetchResult(url, "", "error", "not tried")
    tried: list[str] = []
    deadline = time.monotonic() + limits.http_total  # all addresses together: callers stay inside their budget
    for address in list(addresses)[:4]:
        remaining = deadline - time.monotonic()
        if remaining < 0.2:
            break
        tried.append(address)
        last = await _get_one(url, host, path, address, port, context, min(limits.http, remaining / 2), max_body,
                              body, content_type)
        last = FetchResult(**{**last.__dict__, "tried": tuple(tried)})
        if last.outcome not in ("refused", "timeout", "unreachable"):
            return last  # a TLS or HTTP answer is the server's answer: do not hide it behind another address
    return last


async def _get_one(url: str, host: str, path: str, address: str, port: int, context: ssl.SSLContext | None,
                   timeout: float, max_body: int, body: bytes | None = None, content_type: str = "") -> FetchResult:
    """One request to one address; ``context`` None: plain HTTP; ``body``: a POST of it."""
    start = time.monotonic()
    writer = None
    try:
        try:
            async with asyncio.timeout(timeout):
                if context is None:
                    reader, writer = await open_connection(address, port)
                else:
                    reader, writer = await open_connection(address, port, ssl=context, server_hostname=host,
                                                                   ssl_handshake_timeout=timeout)
        except ssl.SSLCertVerificationError as exc:
            return FetchResult(url, address, "tls", exc.verify_message or str(exc), elapsed_s=time.monotonic() - start)
        except ssl.SSLError as exc:
            return FetchResult(url, address, "tls", exc.reason or str(exc), elapsed_s=time.monotonic() - start)
        except AddressRefused as exc:
            return FetchResult(url, address, "not_allowed", exc.strerror or "", elapsed_s=time.monotonic() - start)
        except (OSError, TimeoutError) as exc:
            outcome, detail = classify_socket_error(exc)
            return FetchResult(url, address, outcome.value, detail, elapsed_s=time.monotonic() - start)
        method = "GET" if body is None else "POST"
        host_header = f"{host}:{port}" if context is None and port != 80 else host  # https: as before
        extra = "" if body is None else f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        request = (f"{method} {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: maildoctor\r\nAccept: */*\r\n"
                   f"{extra}Connection: close\r\n\r\n").encode("ascii") + (body or b"")
        data = bytearray()
        try:
            async with asyncio.timeout(timeout):
                writer.write(request)
                await writer.drain()
                while len(data) <= max_body + MAX_HEADER_BYTES:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    data += chunk
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            if not data:
                outcome, detail = classify_socket_error(exc)
                return FetchResult(url, address, outcome.value, f"no HTTP response: {detail}",
                                   elapsed_s=time.monotonic() - start)
        try:
            response = parse_http_response(bytes(data), max_body=max_body)
        except ValueError as exc:
            return FetchResult(url, address, "protocol", str(exc), elapsed_s=time.monotonic() - start)
        return FetchResult(url, address, "ok", response=response, elapsed_s=time.monotonic() - start)
    finally:
        if writer is not None:
            writer.transport.abort()


async def https_post_one(url: str, host: str, path: str, address: str, port: int, *, ca_file: Path | None,
                         timeout: float, max_body: int, body: bytes, content_type: str) -> FetchResult:
    """POST ``body`` to https://host/path at one address (the OAuth token endpoints, diagnose.net.oauthhttp):
    certificate verified, ``timeout`` (seconds) for connect + TLS and again for the response."""
    return await _get_one(url, host, path, address, port, verifying_context(ca_file), timeout, max_body,
                          body=body, content_type=content_type)


Resolve = Callable[[str], Awaitable[list[str]]]  # host name -> addresses (maildoctor's resolver)
REDIRECTS = (301, 302, 303, 307, 308)


def plain_http_url(url: str) -> tuple[str, int, str] | None:
    """(host, port, path?query) of an http:// URL we may fetch, else None. Pure; the URL is untrusted
    (it comes from a certificate): ASCII only, no user info, no control characters or spaces."""
    if not url.isascii() or any(c <= " " or c == "\x7f" for c in url) or len(url) > 2000:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port or 80
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme.lower() != "http" or not host or "@" in parts.netloc:
        return None
    return host, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


async def http_fetch(url: str, *, resolve: Resolve, timeout: float, max_body: int, max_redirects: int = 3,
                     body: bytes | None = None, content_type: str = "") -> FetchResult:
    """GET (or POST ``body``) a plain http:// URL, following at most ``max_redirects`` redirects (GET
    only); ``timeout`` is --timeout: ``Timeouts.http`` per connect and per response, ``http_total`` in all."""
    limits = Timeouts(timeout)
    deadline = time.monotonic() + limits.http_total
    tried: list[str] = []
    for _ in range(max_redirects + 1):
        target = plain_http_url(url)
        if target is None:
            return FetchResult(url[:300], "", "bad_url", "not a plain http:// URL", tried=tuple(tried))
        host, port, path = target
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                addresses = await asyncio.wait_for(resolve(host), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                addresses = []
        if not addresses:
            return FetchResult(url, "", "no_address", f"{host} has no address", tried=tuple(tried))
        result = FetchResult(url, "", "timeout", "no time left", tried=tuple(tried))
        for address in list(addresses)[:4]:
            remaining = deadline - time.monotonic()
            if remaining < 0.1:
                break
            tried.append(address)
            result = await _get_one(url, host, path, address, port, None, min(limits.http, remaining), max_body,
                                    body, content_type)
            result = FetchResult(**{**result.__dict__, "tried": tuple(tried)})
            if result.outcome not in ("refused", "timeout", "unreachable"):
                break
        response = result.response
        if result.outcome != "ok" or response is None or response.status not in REDIRECTS or body is not None:
            return result
        location = response.headers.get("location", "")
        if not location:
            return result
        url = urljoin(url, location)
    return FetchResult(url[:300], "", "redirects", f"more than {max_redirects} redirects", tried=tuple(tried))


async def http_redirect_target(host: str, path: str, addresses: tuple[str, ...] | list[str], *,
                               timeout: float) -> tuple[str, FetchResult]:
    """GET http://host/path once, follow nothing: (the Location of a 3xx answer or '', the fetch).
    Microsoft's Autodiscover "HTTP redirect method" uses it; nothing secret goes over it."""
    limits = Timeouts(timeout)
    url = f"http://{host}{path}"
    result = FetchResult(url, "", "no_address", f"{host} has no address")
    for address in list(addresses)[:2]:
        result = await _get_one(url, host, path, address, 80, None, limits.http, 16 * 1024)
        if result.outcome not in ("refused", "timeout", "unreachable"):
            break
    response = result.response
    if result.outcome == "ok" and response is not None and response.status in REDIRECTS:
        return response.headers.get("location", ""), result
    return "", result
