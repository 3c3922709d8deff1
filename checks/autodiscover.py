"""autodiscover.settings: Microsoft Autodiscover, where Outlook and phones find the mail servers.

Looked for where Outlook looks for it from outside the company network: ``https://autodiscover.<domain>``,
then Microsoft's "HTTP redirect method" (a GET of ``http://autodiscover.<domain>/autodiscover/autodiscover.xml``
whose redirect names the https URL to use: how a CNAME to autodiscover.outlook.com works, since that
server's certificate is not valid for the customer's name), then the ``_autodiscover._tcp.<domain>``
SRV record (its target and port); the POX request
(``diagnose/knowledge/autodiscover.py``) is POSTed for the user's address (``postmaster@<domain>``
when only a domain was given). Redirects (``redirectUrl`` to another https URL, ``redirectAddr`` to
another address) are followed, at most ``MAX_HOPS`` requests in all. maildoctor never sends a
password here: an endpoint that asks for a login (Exchange, Microsoft 365) is reported as such.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from checks.autoconfig import ServerSetting
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.knowledge.sanitize import clean
from diagnose.net.httpget import FetchResult, http_redirect_target, https_get
from diagnose.net.resolver import Outcome

if TYPE_CHECKING:  # the request and answer code is imported when something is published (most domains: nothing)
    from diagnose.knowledge.autodiscover import AutodiscoverAnswer
    from diagnose.knowledge.dnsanswer import DnsResult

AUTODISCOVER_SETTINGS = "autodiscover.settings"  # tuple of checks.autoconfig.ServerSetting
MAX_HOPS = 5  # requests in all, redirects included


class Autodiscover(Check):
    id = "autodiscover.settings"
    title = "Outlook can configure itself (Microsoft Autodiscover)"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.BOTH
    services = ("imap", "pop3", "submission")
    provides = (AUTODISCOVER_SETTINGS,)
    texts = {
        "autodiscover.found": ("", ""),
        "autodiscover.none": ("", ""),
        "autodiscover.login_required": ("", ""),
        "autodiscover.unreachable": (
            "{where} is published, but the Autodiscover request to {url} failed: {problem}. Outlook and "
            "phones then fall back to asking the user for the server settings, or give up.",
            "Serve Autodiscover at {url} over HTTPS with a certificate valid for its name, or remove the "
            "records that point there ({where}).",
        ),
        "autodiscover.invalid": (
            "The Autodiscover answer from {url} cannot be used: {problem}. Outlook cannot set up the account "
            "from it.",
            "Make the endpoint answer the POX request with an <Autodiscover><Response><Account> document "
            "listing the IMAP/POP3/SMTP servers (Microsoft's POX Autodiscover reference), or remove {where}.",
        ),
        "autodiscover.plain": (
            "Autodiscover tells mail programs to use {servers} without encryption: passwords and mail would "
            "cross the network readable by anyone on the way.",
            "Answer with <SSL>on</SSL> (ports 993, 995, 465) or <Encryption>TLS</Encryption> (143, 110, 587).",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        domain = ctx.target.domain
        a, srv = await asyncio.gather(ctx.dns.query(f"autodiscover.{domain}", "A"),
                                      ctx.dns.query(f"_autodiscover._tcp.{domain}", "SRV"))
        published = bool(a.records) or srv.outcome is Outcome.ANSWER
        fetches = await self._fetch(ctx, a, srv) if published else []
        findings, settings = self.evaluate(domain, fetches)
        if settings:
            ctx.publish(AUTODISCOVER_SETTINGS, tuple(settings))
        else:
            ctx.withhold(AUTODISCOVER_SETTINGS, f"{domain} publishes no usable Autodiscover answer")
        for finding in findings:
            yield finding

    async def _fetch(self, ctx: CheckContext, a: DnsResult, srv: DnsResult
                     ) -> list[tuple[str, FetchResult, AutodiscoverAnswer | None]]:
        """The requests made to the places ``a`` (autodiscover.DOMAIN) and ``srv`` publish, following
        redirects (at most MAX_HOPS in all); the request and answer code is imported only here."""
        from diagnose.knowledge.autodiscover import MAX_XML, PATH, parse_response, request_body

        domain = ctx.target.domain
        email = ctx.target.address or f"postmaster@{domain}"
        places: list[tuple[str, int, str, str]] = []  # host, port, how it was found, path
        if a.records:
            places.append((f"autodiscover.{domain}", 443, f"autodiscover.{domain}", PATH))
        if srv.outcome is Outcome.ANSWER:
            for record in srv.records[:2]:
                fields = record.split()  # priority weight port target
                if len(fields) == 4 and fields[2].isdigit() and fields[3] not in (".", ""):
                    places.append((fields[3].rstrip(".").lower(), int(fields[2]), f"SRV _autodiscover._tcp.{domain}",
                                   PATH))
        fetches: list[tuple[str, FetchResult, AutodiscoverAnswer | None]] = []
        hops = 0
        queue = list(places)
        redirect_asked = not a.records
        while queue and hops < MAX_HOPS:
            host, port, where, path = queue.pop(0)
            hops += 1
            if host == "" and where == "http":  # the HTTP redirect method: only a Location is read
                location, fetch = await http_redirect_target(f"autodiscover.{domain}", PATH, a.records,
                                                             timeout=ctx.timeout)
                parts = urlsplit(location)
                if parts.scheme == "https" and parts.hostname:
                    queue.insert(0, (parts.hostname.lower(), parts.port or 443,
                                     f"HTTP redirect of autodiscover.{domain}", parts.path or PATH))
                continue
            addrs = (await ctx.dns.query(host, "A")).records if host != f"autodiscover.{domain}" else a.records
            fetch = await https_get(host, path, addrs, ca_file=ctx.options.ca_file, timeout=ctx.timeout,
                                    max_body=MAX_XML, port=port, body=request_body(email),
                                    content_type="text/xml; charset=utf-8")
            answer = None
            if fetch.outcome == "ok" and fetch.response is not None and fetch.response.status == 200:
                answer = parse_response(fetch.response.body.decode("utf-8", "replace"))
                follow = _redirect(answer, where)
                if follow is not None:
                    queue.insert(0, follow)
                    fetches.append((where, fetch, answer))
                    continue
            fetches.append((where, fetch, answer))
            if answer is not None and answer.servers:
                break
            if not redirect_asked and where == f"autodiscover.{domain}":  # next: the HTTP redirect method
                redirect_asked = True
                queue.insert(0, ("", 80, "http", PATH))
        return fetches

    def evaluate(self, domain: str, fetches: list[tuple[str, FetchResult, AutodiscoverAnswer | None]]
                 ) -> tuple[list[Finding], list[ServerSetting]]:
        """Pure: judge the requests made (in order); the first answer that lists servers is the settings."""
        ev: dict[str, Any] = {"tried": [{"url": f.url, "found_by": where, "outcome": f.outcome,
                                         "status": f.response.status if f.response else None,
                                         "detail": clean(f.detail, limit=200),
                                         "answer": (a.error or ("redirect " + (a.redirect_url or a.redirect_addr))
                                                    if a and not a.servers else "servers" if a else None)}
                                        for where, f, a in fetches]}
        if not fetches:
            return [self.finding("autodiscover.none", Status.SKIP, domain,
                                 f"{domain} publishes no Autodiscover (no autodiscover.{domain}, no "
                                 f"_autodiscover._tcp SRV record)", evidence=ev)], []
        good = next(((w, f, a) for w, f, a in fetches if a is not None and a.servers), None)
        if good is None:
            where, fetch, answer = fetches[-1]
            kw: dict[str, Any] = dict(evidence=ev, domain=domain, url=fetch.url,
                                      where=where.removeprefix("redirect from "))
            if fetch.response is not None and fetch.response.status in (401, 403):
                return [self.finding("autodiscover.login_required", Status.SKIP, domain,
                                     f"Autodiscover at {fetch.url} asks for a login ({fetch.response.status}); "
                                     "maildoctor sends no password there", **kw)], []
            if answer is not None:
                problem = answer.error or "; ".join(answer.problems) or \
                    f"it still redirects after {len(fetches)} requests (a redirect loop, or too many redirects)"
                return [self.finding("autodiscover.invalid", Status.WARN, domain,
                                     clean(f"Autodiscover answer from {fetch.url} is unusable: {problem}", limit=300),
                                     problem=clean(problem, limit=400), **kw)], []
            problem = (f"HTTP {fetch.response.status} {fetch.response.reason}" if fetch.response is not None
                       else fetch.detail or fetch.outcome)
            return [self.finding("autodiscover.unreachable", Status.WARN, domain,
                                 clean(f"Autodiscover at {fetch.url} failed: {problem}", limit=300),
                                 problem=clean(problem, limit=300), **kw)], []
        where, fetch, answer = good
        settings = [ServerSetting(s.direction, s.protocol, s.hostname, s.port, s.security, s.username)
                    for s in answer.servers]
        ev.update(url=fetch.url, found_by=where, servers=[asdict(s) for s in settings],
                  problems=list(answer.problems))
        listed = ", ".join(s.describe() for s in settings)
        out = [self.finding("autodiscover.found", Status.PASS, domain, f"Autodiscover ({fetch.url}): {listed}",
                            evidence=ev)]
        plain = [s.describe() for s in settings if s.security == "plain"]
        if plain:
            out.append(self.finding("autodiscover.plain", Status.WARN, domain,
                                    f"Autodiscover offers unencrypted {', '.join(plain)}", evidence=ev,
                                    servers=", ".join(plain)))
        return out, settings


def _redirect(answer: AutodiscoverAnswer, where: str) -> tuple[str, int, str, str] | None:
    """Where a redirect answer sends the next request (https URLs only; an address: its domain's
    autodiscover name), still credited to the place the first request went to."""
    from diagnose.knowledge.autodiscover import PATH

    where = where if where.startswith("redirect from ") else f"redirect from {where}"
    if answer.redirect_url:
        parts = urlsplit(answer.redirect_url)
        if parts.scheme == "https" and parts.hostname:
            return parts.hostname.lower(), parts.port or 443, where, parts.path or PATH
    if answer.redirect_addr and "@" in answer.redirect_addr:
        domain = answer.redirect_addr.rpartition("@")[2].lower()
        return f"autodiscover.{domain}", 443, where, PATH
    return None
