"""Requests to certificate authorities, once per run: OCSP, CRLs and AIA issuer certificates.

Plain http:// only (as RFC 5280 and the CA/B rules publish them), names resolved through the run's
resolver (``ctx.dns``), every fetch bounded by ``limits`` (the ONE place the sizes and times live).
A certificate shared by several ports is judged once: results are cached per CheckContext by URL and
by certificate fingerprint. ``chain`` judges the leaf and the intermediates the server sent at once,
so a chain costs the time of its slowest certificate, within the one budget ``limits.total``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cryptography import x509

from diagnose.engine.plugin import CheckContext
from diagnose.knowledge.certs import fingerprint
from diagnose.knowledge.revocation import (
    Answer,
    ca_urls,
    find_issuer,
    judge_crl,
    judge_ocsp,
    ocsp_request,
    parse_issuer_certificates,
    sent_ca_path,
    summarize,
)
from diagnose.net.httpget import FetchResult, http_fetch
from diagnose.net.tls import trust_store

OCSP_GET_MAX = 255  # RFC 5019: use GET when the encoded request is this short, else POST


@dataclass(frozen=True, eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class CaLimits:
    """Bounds on fetching CRLs, OCSP answers and issuer certificates."""

    timeout: float  # seconds per connect and per response; 3 x for a whole fetch with redirects
    crl_bytes: int = 8 * 1024 * 1024  # a larger CRL is not read: revocation is then "not checked"
    ocsp_bytes: int = 64 * 1024
    cert_bytes: int = 64 * 1024
    redirects: int = 3
    urls: int = 2  # of each kind (OCSP, CRL, CA Issuers) tried per certificate
    total: float = 0.0  # seconds for one certificate's whole judgement (AIA + OCSP + CRL)


def limits(ctx: CheckContext) -> CaLimits:
    """Time and size limits of every request to a CA (from --timeout, like the other HTTP fetches)."""
    return CaLimits(timeout=ctx.timeouts.http, total=ctx.timeouts.revocation)


def enabled(ctx: CheckContext) -> bool:
    """False with --no-revocation: no request at all goes to a CA (no OCSP, CRL or AIA)."""
    return bool(getattr(ctx.options, "revocation", True))


@dataclass(frozen=True, eq=False)
class IssuerLookup:
    """Where a certificate's issuer was found (or not), and the fetches tried."""

    cert: x509.Certificate | None
    source: str  # "sent", "trust store", "AIA", or "" when not found
    attempts: tuple[dict, ...] = ()  # the AIA fetches tried: url, outcome, detail


@dataclass(frozen=True, eq=False)
class RevocationResult:
    """The revocation status of one certificate, with the answers it rests on."""

    outcome: str  # knowledge.revocation.summarize: revoked, good, stale, unknown, invalid, unavailable, unchecked
    answers: tuple[Answer, ...] = ()
    issuer: IssuerLookup | None = None
    urls: dict = field(default_factory=dict)
    detail: str = ""  # why unchecked


@dataclass(frozen=True, eq=False)
class CaRevocation:
    """The revocation of one CA certificate the server sent above its own (an intermediate)."""

    cert: x509.Certificate
    result: RevocationResult


def _attempt(result: FetchResult) -> dict[str, Any]:
    out: dict[str, Any] = {"url": result.url, "outcome": result.outcome, "detail": result.detail[:200]}
    if result.response is not None:
        out["http_status"] = result.response.status
    return out


class CaFetcher:
    def __init__(self, ctx: CheckContext) -> None:
        # what the fetches need, not the context itself: this fetcher is the value of a WeakKeyDictionary
        # keyed by the context, and a value that holds its key keeps the whole run (resolver cache,
        # sessions, tasks) alive for the rest of the process
        self.dns = ctx.dns
        self.ca_file = ctx.options.ca_file
        self.enabled = enabled(ctx)
        self.limits = limits(ctx)
        self._fetches: dict[tuple, asyncio.Future] = {}
        self._revocation: dict[str, asyncio.Future] = {}
        self._issuers: dict[str, asyncio.Future] = {}
        self._paths: dict[str, list[x509.Certificate]] = {}
        self._chains: dict[tuple, asyncio.Future] = {}

    async def _resolve(self, host: str) -> list[str]:
        a, aaaa = await asyncio.gather(self.dns.query(host, "A"), self.dns.query(host, "AAAA"))
        return [*a.records, *aaaa.records]

    async def fetch(self, url: str, max_body: int, body: bytes | None = None, content_type: str = "") -> FetchResult:
        key = (url, body)
        if key not in self._fetches:
            self._fetches[key] = asyncio.ensure_future(http_fetch(
                url, resolve=self._resolve, timeout=self.limits.timeout, max_body=max_body,
                max_redirects=self.limits.redirects, body=body, content_type=content_type))
        return await asyncio.shield(self._fetches[key])

    async def issuer(self, leaf: x509.Certificate, sent: list[x509.Certificate]) -> IssuerLookup:
        """The certificate that issued ``leaf``: from what the server sent, the trust store, or AIA
        (once per chain and run: tls.certificate and tls.revocation ask for every port that serves it,
        and each answer costs a signature check)."""
        key = (leaf, *sent)  # certificates compare and hash by their DER
        if key not in self._chains:
            self._chains[key] = asyncio.ensure_future(self._issuer(leaf, list(sent)))
        return await asyncio.shield(self._chains[key])

    async def _issuer(self, leaf: x509.Certificate, sent: list[x509.Certificate]) -> IssuerLookup:
        found = find_issuer(leaf, sent)
        if found is not None:
            return IssuerLookup(found, "sent")
        store = trust_store(self.ca_file)
        found = find_issuer(leaf, [*store.intermediates, *store.anchors_named(leaf.issuer)])
        if found is not None:
            return IssuerLookup(found, "trust store")
        return await self.issuer_via_aia(leaf)

    async def issuer_via_aia(self, leaf: x509.Certificate) -> IssuerLookup:
        """Download the issuer from the leaf's AIA 'CA Issuers' URLs (once per leaf and run)."""
        key = fingerprint(leaf)
        if key not in self._issuers:
            self._issuers[key] = asyncio.ensure_future(self._aia(leaf))
        return await asyncio.shield(self._issuers[key])

    async def _aia(self, leaf: x509.Certificate) -> IssuerLookup:
        attempts = []
        if not self.enabled:
            return IssuerLookup(None, "")
        for url in ca_urls(leaf).ca_issuers[:self.limits.urls]:
            result = await self.fetch(url, self.limits.cert_bytes)
            attempt = _attempt(result)
            attempts.append(attempt)
            if result.outcome != "ok" or result.response is None:
                continue
            if result.response.status != 200 or result.response.truncated:
                attempt["detail"] = f"HTTP {result.response.status}" if result.response.status != 200 else "too large"
                continue
            found = find_issuer(leaf, parse_issuer_certificates(result.response.body))
            if found is not None:
                attempt["issuer"] = found.subject.rfc4514_string()[:200]
                return IssuerLookup(found, "AIA", tuple(attempts))
            attempt["detail"] = "no certificate there issued this one"
        return IssuerLookup(None, "", tuple(attempts))

    async def chain(self, chain: list[x509.Certificate]) -> tuple[RevocationResult, tuple[CaRevocation, ...]]:
        """The leaf's revocation and that of each intermediate the server sent (up to a root or a trust
        anchor), each asked of its own issuer's OCSP/CRL. All start together, so the chain takes the
        time of its slowest certificate, never more than ``limits.total``."""
        key = fingerprint(chain[0])
        if key not in self._paths:  # once per leaf and run: every port presenting it sent the same path
            self._paths[key] = sent_ca_path(chain, trust_store(self.ca_file).anchors_named)
        cas = self._paths[key]
        leaf, above = await asyncio.gather(self.revocation(chain),
                                           asyncio.gather(*(self._intermediate(ca, chain) for ca in cas)))
        return leaf, tuple(above)

    async def _intermediate(self, ca: x509.Certificate, chain: list[x509.Certificate]) -> CaRevocation:
        try:
            return CaRevocation(ca, await self.revocation([ca, *(c for c in chain[1:] if c is not ca)]))
        except ValueError as exc:  # a certificate cryptography cannot decode
            return CaRevocation(ca, RevocationResult("unchecked", detail=f"the certificate cannot be decoded "
                                                                        f"({str(exc)[:100]})"))

    async def revocation(self, chain: list[x509.Certificate]) -> RevocationResult:
        """Is ``chain[0]`` revoked (the leaf, or an intermediate with what was sent above it)? OCSP first,
        then the CRLs, until one answer is definitive; once per certificate and run."""
        key = fingerprint(chain[0])
        if key not in self._revocation:
            self._revocation[key] = asyncio.ensure_future(self._revoke(chain))
        return await asyncio.shield(self._revocation[key])

    async def _revoke(self, chain: list[x509.Certificate]) -> RevocationResult:
        deadline = asyncio.get_running_loop().time() + self.limits.total
        leaf = chain[0]
        urls = ca_urls(leaf)
        listed = {"ocsp": list(urls.ocsp), "crl": list(urls.crl), "ca_issuers": list(urls.ca_issuers)}
        if urls.other:
            listed["not_fetched"] = list(urls.other)
        if not urls.ocsp and not urls.crl:
            why = "the certificate names no OCSP responder and no CRL"
            if urls.other:
                why += " that maildoctor can fetch (only " + ", ".join(u.split(":")[0] for u in urls.other) + " URLs)"
            return RevocationResult("unchecked", urls=listed, detail=why)
        try:
            async with asyncio.timeout_at(deadline):
                issuer = await self.issuer(leaf, list(chain[1:]))
        except TimeoutError:
            issuer = IssuerLookup(None, "", ({"url": "", "outcome": "timeout", "detail": "no time left"},))
        if issuer.cert is None:
            return RevocationResult("unchecked", issuer=issuer, urls=listed,
                                    detail="the issuing CA's certificate is not available (not sent, not in the "
                                           "trust store, no usable AIA download), so answers cannot be verified")
        answers: list[Answer] = []
        asks = [("ocsp", url, self._ocsp) for url in urls.ocsp[:self.limits.urls]]
        asks += [("crl", url, self._crl) for url in urls.crl[:self.limits.urls]]
        for source, url, ask in asks:  # OCSP first, then the CRLs, until one answer is definitive
            try:
                async with asyncio.timeout_at(deadline):
                    answers.append(await ask(url, leaf, issuer.cert))
            except TimeoutError:
                answers.append(Answer(source, url, "timeout", f"no answer within {self.limits.total:g} s for "
                                                                "this certificate's revocation"))
                break
            if answers[-1].definitive:
                break
        return RevocationResult(summarize(answers), tuple(answers), issuer, listed)

    async def _ocsp(self, url: str, leaf: x509.Certificate, issuer: x509.Certificate) -> Answer:
        request = ocsp_request(leaf, issuer)
        encoded = base64.b64encode(request).decode("ascii")
        if len(encoded) <= OCSP_GET_MAX:  # GET: cacheable, what RFC 5019 prefers for small requests
            result = await self.fetch(url.rstrip("/") + "/" + quote(encoded, safe=""), self.limits.ocsp_bytes)
        else:
            result = await self.fetch(url, self.limits.ocsp_bytes, body=request,
                                      content_type="application/ocsp-request")
        failed = _failed("ocsp", url, result)
        if failed is not None:
            return failed
        assert result.response is not None  # _failed answered otherwise
        return judge_ocsp(result.response.body, leaf, issuer, dt.datetime.now(dt.UTC), url)

    async def _crl(self, url: str, leaf: x509.Certificate, issuer: x509.Certificate) -> Answer:
        result = await self.fetch(url, self.limits.crl_bytes)
        failed = _failed("crl", url, result)
        if failed is not None:
            return failed
        assert result.response is not None  # _failed answered otherwise
        data = result.response.body
        return await asyncio.to_thread(judge_crl, data, leaf, issuer, dt.datetime.now(dt.UTC), url)


def _failed(source: str, url: str, result: FetchResult) -> Answer | None:
    """An Answer for a fetch that brought no usable body, else None."""
    if result.outcome != "ok" or result.response is None:
        return Answer(source, url, result.outcome, result.detail[:200] or result.outcome)
    if result.response.status != 200:
        return Answer(source, url, "http", f"HTTP {result.response.status} {result.response.reason[:60]}".strip())
    if result.response.truncated:
        return Answer(source, url, "too_large", "the answer is larger than maildoctor reads")
    return None


_fetchers: weakref.WeakKeyDictionary[CheckContext, CaFetcher] = weakref.WeakKeyDictionary()


def ca_fetcher(ctx: CheckContext) -> CaFetcher:
    """The run's fetcher (one per CheckContext, i.e. per diagnosis)."""
    fetcher = _fetchers.get(ctx)
    if fetcher is None:
        fetcher = _fetchers[ctx] = CaFetcher(ctx)
    return fetcher
