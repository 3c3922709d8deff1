"""DNS resolution through dnspython only, with the user's nameservers, classified outcomes and a
per-run cache so no name is asked twice."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import dns.asyncbackend
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver

from diagnose.engine.target import port_number, split_host_port
from diagnose.engine.timeouts import DEFAULT_TIMEOUT, Timeouts

# the classified answer is a value type of the knowledge layer (pure evaluators read it); checks import
# it from here as well
from diagnose.knowledge.dnsanswer import DnsResult, Outcome, txt_strings

__all__ = ["Dns", "DnsResult", "Nameserver", "Outcome", "ResolverUnreachable", "parse_nameserver", "txt_strings"]


class ResolverUnreachable(RuntimeError):
    """No configured resolver answered at all: no diagnosis can be made."""


@dataclass(frozen=True)
class Nameserver:
    address: str
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


def parse_nameserver(text: str) -> Nameserver:
    """Parse ``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or ``IPv6``; raise ValueError with a reason."""
    import ipaddress

    try:
        host, typed = split_host_port(text)
    except ValueError as exc:
        raise ValueError(f"bad nameserver {text.strip()!r}: {exc}") from None
    port = 53 if typed is None else port_number(typed)
    if port is None:
        raise ValueError(f"bad nameserver {text.strip()!r}: port must be 1-65535")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"bad nameserver {text.strip()!r}: give an IP address, optionally with :PORT") from None
    return Nameserver(host, port)


class Dns:
    """One resolver configuration for a whole diagnosis; queries are cached and de-duplicated."""

    def __init__(self, nameservers: list[Nameserver] | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout  # --timeout; the limits below come from the policy
        self.limits = Timeouts(timeout)
        if nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [dns.nameserver.Do53Nameserver(ns.address, ns.port) for ns in nameservers]
            self.source = "command line"
        else:
            try:
                resolver = dns.asyncresolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                raise ResolverUnreachable(
                    "this machine has no DNS resolver configured; pass --nameserver IP"
                ) from None
            self.source = "system (/etc/resolv.conf)"
        # Each try waits the whole --timeout (a slow answer is an answer, not a lost one); the
        # lookup's lifetime leaves room for one retry after a lost datagram.
        resolver.lifetime = self.limits.dns_total
        resolver.timeout = self.limits.dns_attempt
        resolver.use_edns(0, dns.flags.DO, 1232)
        self._resolver = resolver
        self._cache: dict[tuple[str, str], asyncio.Future[DnsResult]] = {}

    def _without_edns(self) -> dns.asyncresolver.Resolver:
        plain = dns.asyncresolver.Resolver(configure=False)
        plain.nameservers = self._resolver.nameservers
        plain.lifetime, plain.timeout = self._resolver.lifetime, self._resolver.timeout
        plain.use_edns(False)
        return plain

    @property
    def nameservers(self) -> list[str]:
        return [f"{ns.address}:{ns.port}" for ns in self._servers()]

    def _servers(self) -> list[dns.nameserver.Do53Nameserver]:
        """The resolver's servers as plain-DNS server objects: dnspython keeps the system's
        (from /etc/resolv.conf) as address strings, ours (--nameserver) as objects."""
        r = self._resolver
        return [dns.nameserver.Do53Nameserver(ns, r.nameserver_ports.get(ns, r.port)) if isinstance(ns, str) else ns
                for ns in r.nameservers if isinstance(ns, str | dns.nameserver.Do53Nameserver)]

    def describe(self) -> dict:
        return {"nameservers": self.nameservers, "source": self.source, "timeout_s": self.timeout}

    async def query(self, name: str, rdtype: str) -> DnsResult:
        """Ask once per (name, type) per run; concurrent askers share the answer."""
        key = (name.lower().rstrip("."), rdtype.upper())
        fut = self._cache.get(key)
        if fut is None:
            fut = asyncio.ensure_future(self._query(*key))
            self._cache[key] = fut
        return await asyncio.shield(fut)

    async def _query(self, name: str, rdtype: str, *, edns: bool = True) -> DnsResult:
        start = time.monotonic()
        resolver = self._resolver if edns else self._without_edns()
        try:
            answer = await resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return DnsResult(name, rdtype, Outcome.NXDOMAIN, elapsed_s=time.monotonic() - start)
        except dns.resolver.LifetimeTimeout:
            return DnsResult(name, rdtype, Outcome.TIMEOUT, elapsed_s=time.monotonic() - start)
        except dns.resolver.NoNameservers as exc:
            if edns and "FORMERR" in _servfail_detail(exc):
                # RFC 6891 §7: an old resolver or a middlebox that rejects EDNS; ask again without it
                return await self._query(name, rdtype, edns=False)
            return DnsResult(name, rdtype, Outcome.SERVFAIL, detail=_servfail_detail(exc),
                             elapsed_s=time.monotonic() - start)
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            return DnsResult(name, rdtype, Outcome.SERVFAIL, detail=type(exc).__name__,
                             elapsed_s=time.monotonic() - start)
        elapsed = time.monotonic() - start
        canonical = answer.canonical_name.to_text(omit_final_dot=True).lower()
        ad = bool(answer.response.flags & dns.flags.AD)
        if answer.rrset is None:
            return DnsResult(name, rdtype, Outcome.NODATA, canonical_name=canonical, elapsed_s=elapsed,
                             authenticated=ad)
        rdata = tuple(answer.rrset)
        return DnsResult(
            name, rdtype, Outcome.ANSWER,
            records=tuple(r.to_text() for r in rdata), rdata=rdata,
            canonical_name=canonical, ttl=answer.rrset.ttl, elapsed_s=elapsed, authenticated=ad,
        )

    async def preflight(self) -> float:
        """Check that at least one resolver answers anything; return its round-trip in seconds.

        Any reply (even REFUSED or SERVFAIL) proves the resolver is there; only silence or a
        refused socket means no diagnosis is possible.
        """
        start = time.monotonic()
        request = dns.message.make_query(".", dns.rdatatype.NS)
        errors = []
        deadline = start + self.limits.dns_attempt
        for ns in self._servers():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                await ns.async_query(request, timeout=remaining, source=None, source_port=0,
                                     max_size=False, backend=dns.asyncbackend.get_default_backend())
                return time.monotonic() - start
            except (dns.exception.Timeout, OSError, dns.exception.DNSException) as exc:
                errors.append(f"{ns.address}:{ns.port}: {_why(exc)}")
        servers = ", ".join(self.nameservers) or "none"
        raise ResolverUnreachable(
            f"no DNS resolver answered ({servers}) within {self.limits.dns_attempt:g} s"
            + (f": {'; '.join(errors)}" if errors else "")
        )


def _why(exc: BaseException) -> str:
    if isinstance(exc, dns.exception.Timeout):
        return "no answer"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__


def _servfail_detail(exc: dns.resolver.NoNameservers) -> str:
    rcodes = []
    for err in exc.kwargs.get("errors", []):
        text = str(err[-1]) if err else ""
        for word in ("SERVFAIL", "REFUSED", "FORMERR", "NOTIMP"):
            if word in text and word not in rcodes:
                rcodes.append(word)
    return ", ".join(rcodes) if rcodes and rcodes != ["SERVFAIL"] else ""

