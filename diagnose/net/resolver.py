"""DNS resolution with the user's nameservers, classified outcomes and a per-run cache so no name
is asked twice. dnspython finds the system's servers, builds names and reads the records; the
messages go through a lean path (diagnose.net.dnswire, diagnose.net.dnstransport) that reads only
what a diagnosis uses. dnspython's resolver and query modules (with dns.message, ~20 ms of start-up)
are imported only to read /etc/resolv.conf when no --nameserver is given."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dns.exception
import dns.rcode

from diagnose.engine.hostnames import port_number, split_host_port
from diagnose.engine.timeouts import DEFAULT_TIMEOUT, Timeouts

# the classified answer is a value type of the knowledge layer (pure evaluators read it); checks import
# it from here as well
from diagnose.knowledge.dnsanswer import DnsResult, Outcome, txt_strings
from diagnose.net.dnstransport import UdpClient, ping, source_form, tcp_ask
from diagnose.net.dnswire import Malformed, Question, Reply

if TYPE_CHECKING:
    import dns.resolver

__all__ = ["Dns", "DnsResult", "Nameserver", "Outcome", "ResolverUnreachable", "parse_nameserver", "txt_strings"]


class ResolverUnreachable(RuntimeError):
    """No configured resolver answered at all: no diagnosis can be made."""


@dataclass(frozen=True)
class Nameserver:
    """A resolver to ask: an address and a port."""

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
            self.source = "command line"
        else:
            nameservers = system_nameservers()
            self.source = "system (/etc/resolv.conf)"
        self._servers = list(nameservers)
        self._cache: dict[tuple[str, str], asyncio.Future[DnsResult]] = {}
        self._udp = UdpClient()
        # (address, port) of each server, the address as the kernel reports a reply's source
        self._targets = [(source_form(ns.address), ns.port) for ns in self._servers]

    @property
    def nameservers(self) -> list[str]:
        return [f"{ns.address}:{ns.port}" for ns in self._servers]

    def describe(self) -> dict:
        return {"nameservers": self.nameservers, "source": self.source, "timeout_s": self.timeout}

    async def query(self, name: str, rdtype: str) -> DnsResult:
        """Ask once per (name, type) per run; concurrent askers share the answer."""
        key = (name.lower().rstrip("."), rdtype.upper())
        fut = self._cache.get(key)
        if fut is None:
            fut = asyncio.ensure_future(self._query(*key))
            self._cache[key] = fut
        elif fut.done():
            return fut.result()
        return await asyncio.shield(fut)

    async def _query(self, name: str, rdtype: str, *, edns: bool = True) -> DnsResult:
        """One lookup, dnspython's resolver rules (dns.resolver._Resolution) on the lean path
        (diagnose.net.dnswire, diagnose.net.dnstransport): the servers in turn, each try at most
        ``dns_attempt`` and the lookup ``dns_total`` seconds, a pause (0.1 s, doubling to 2 s)
        before each new round; a server that fails or answers an error rcode is not asked again;
        a truncated answer is asked again over TCP."""
        start = time.monotonic()
        try:
            question = Question(name, rdtype)
        except (dns.exception.DNSException, ValueError) as exc:  # a bad name or type: dnspython's reason
            return DnsResult(name, rdtype, Outcome.SERVFAIL, detail=type(exc).__name__, elapsed_s=0.0)
        deadline = start + self.limits.dns_total
        servers = list(self._targets)
        left: list[tuple[str, int]] = []
        rcodes: list[str] = []  # the error rcodes answered
        # Each try waits the whole --timeout (a slow answer is an answer, not a lost one); the
        # lookup's lifetime leaves room for one retry after a lost datagram.
        backoff, rounds, tcp, server = 0.1, 0, False, ("", 0)
        while True:
            if not tcp:
                if not left:
                    if not servers:  # every server failed or refused: what they said
                        detail = ", ".join(rcodes) if rcodes and rcodes != ["SERVFAIL"] else ""
                        if edns and "FORMERR" in rcodes:
                            # RFC 6891 §7: an old resolver or a middlebox that rejects EDNS; ask again without it
                            return await self._query(name, rdtype, edns=False)
                        return DnsResult(name, rdtype, Outcome.SERVFAIL, detail=detail,
                                         elapsed_s=time.monotonic() - start)
                    if rounds:  # a new round: wait a little before asking the same servers again
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, 2.0)
                    rounds += 1
                    left = servers[:]
                server = left.pop(0)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return DnsResult(name, rdtype, Outcome.TIMEOUT, elapsed_s=time.monotonic() - start)
            attempt = min(remaining, self.limits.dns_attempt)
            via_tcp, tcp = tcp, False
            try:
                if via_tcp:
                    reply: Reply | None = await tcp_ask(question, *server, edns=edns, timeout=attempt)
                else:
                    reply = await self._udp.ask(question, *server, edns=edns, timeout=attempt)
            except TimeoutError:
                continue
            except (OSError, EOFError, Malformed):  # this server is no good: take it out of the mix
                servers.remove(server)
                continue
            if reply is None:  # no answer in time: the next server, or the same one in the next round
                continue
            if reply.truncated and not via_tcp:
                tcp = True  # TC: ask the same server over TCP
                continue
            if reply.rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                try:
                    canonical, rdata, texts, ttl = reply.chase(question)
                except (Malformed, dns.exception.DNSException):  # a chain too long, an unreadable record
                    servers.remove(server)
                    continue
                elapsed = time.monotonic() - start
                if reply.rcode == dns.rcode.NXDOMAIN:
                    return DnsResult(name, rdtype, Outcome.NXDOMAIN, elapsed_s=elapsed)
                if not rdata:
                    return DnsResult(name, rdtype, Outcome.NODATA, canonical_name=canonical, elapsed_s=elapsed,
                                     authenticated=reply.authenticated)
                return DnsResult(name, rdtype, Outcome.ANSWER, records=texts,
                                 rdata=rdata, canonical_name=canonical, ttl=ttl, elapsed_s=elapsed,
                                 authenticated=reply.authenticated)
            if reply.rcode == dns.rcode.YXDOMAIN:
                return DnsResult(name, rdtype, Outcome.SERVFAIL, detail="YXDOMAIN", elapsed_s=time.monotonic() - start)
            servers.remove(server)  # SERVFAIL, REFUSED, FORMERR, NOTIMP ...: not asked again for this name
            word = dns.rcode.to_text(reply.rcode)
            if word not in rcodes:
                rcodes.append(word)

    async def preflight(self) -> float:
        """Check that at least one resolver answers anything; return its round-trip in seconds.

        Any reply (even REFUSED or SERVFAIL) proves the resolver is there; only silence or a
        refused socket means no diagnosis is possible.
        """
        start = time.monotonic()
        errors = []
        deadline = start + self.limits.dns_attempt
        for ns in self._servers:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                await ping(ns.address, ns.port, timeout=remaining)
                return time.monotonic() - start
            except (TimeoutError, OSError) as exc:
                errors.append(f"{ns.address}:{ns.port}: {_why(exc)}")
        servers = ", ".join(self.nameservers) or "none"
        raise ResolverUnreachable(
            f"no DNS resolver answered ({servers}) within {self.limits.dns_attempt:g} s"
            + (f": {'; '.join(errors)}" if errors else "")
        )


def system_nameservers(resolver: dns.resolver.BaseResolver | None = None) -> list[Nameserver]:
    """The servers of /etc/resolv.conf, as dnspython reads it (``resolver``: a dnspython resolver
    already configured); ResolverUnreachable when there are none."""
    from dns.nameserver import Do53Nameserver
    from dns.resolver import NoResolverConfiguration, Resolver

    if resolver is None:
        try:
            resolver = Resolver()
        except NoResolverConfiguration:
            raise ResolverUnreachable("this machine has no DNS resolver configured; pass --nameserver IP") from None
    # dnspython keeps the system's servers as address strings, other kinds as objects
    return [Nameserver(ns, resolver.nameserver_ports.get(ns, resolver.port)) if isinstance(ns, str)
            else Nameserver(ns.address, ns.port)
            for ns in resolver.nameservers if isinstance(ns, str | Do53Nameserver)]


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__
