"""Ask a domain's own name servers, not the resolver: who is supposed to answer, and what each says.

When the resolver answers SERVFAIL or nothing, the reason is usually one of the name servers the
parent zone delegates to (down, refusing, or not serving the zone: a *lame delegation*) or DNSSEC.
This module finds the delegation the parent publishes and asks each delegated server directly
(no recursion), so a diagnosis can name the server at fault. Every query is bounded by the given
time limit; at most ``MAX_SERVERS`` servers are asked, all at once.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

from diagnose.net import dnsfeatures  # noqa: F401 - before dnspython: see its docstring

# isort: split
import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from diagnose.engine.plugin import Resolver
from diagnose.net.guard import AddressRefused, allowed
from diagnose.net.resolver import Outcome

MAX_SERVERS = 6
MAX_PARENT_STEPS = 8  # labels walked up to find the parent zone


class Answer(str, enum.Enum):
    """What one name server said when asked directly about the domain."""

    AUTHORITATIVE = "answers"
    REFUSED = "refused"
    SERVFAIL = "servfail"
    NOT_AUTHORITATIVE = "not authoritative"  # a referral or an answer without the AA bit: lame
    NO_ANSWER = "no answer"
    UNREACHABLE = "unreachable"  # port 53 refused (ICMP) or no route
    NOT_ASKED = "not asked"  # a private address a shared server does not query (diagnose.net.guard)


@dataclass(frozen=True)
class ServerAnswer:
    name: str
    address: str
    answer: Answer

    def describe(self) -> str:
        words = {Answer.REFUSED: "refuses queries for it", Answer.SERVFAIL: "answers SERVFAIL",
                 Answer.NOT_AUTHORITATIVE: "does not serve the zone (not authoritative)",
                 Answer.NO_ANSWER: "does not answer", Answer.UNREACHABLE: "is unreachable (port 53 closed)",
                 Answer.AUTHORITATIVE: "answers",
                 Answer.NOT_ASKED: "was not asked (a private address; this server queries public ones only)"}
        return f"{self.name} ({self.address}) {words[self.answer]}"


@dataclass(frozen=True)
class Delegation:
    """The parent's delegation of ``domain`` and what each delegated server answered."""

    domain: str
    parent: str
    servers: tuple[ServerAnswer, ...]

    @property
    def lame(self) -> bool:
        """Delegated, but no delegated server answers for the domain (each one asked: a server the
        guard kept us from asking may well answer)."""
        return bool(self.servers) and all(s.answer not in (Answer.AUTHORITATIVE, Answer.NOT_ASKED)
                                          for s in self.servers)

    def to_evidence(self) -> dict[str, object]:
        return {"parent": self.parent, "name_servers": [
            {"name": s.name, "address": s.address, "answer": s.answer.value} for s in self.servers]}


async def delegation(resolver: Resolver, domain: str, timeout: float) -> Delegation | None:
    """The delegation of ``domain`` as its parent publishes it, each server asked directly; None when
    the parent's servers cannot be found or publish no delegation for it."""
    parent, parent_servers = await _parent_zone(resolver, domain)
    if not parent_servers:
        return None
    referral = None
    for address in parent_servers[:3]:
        referral = await _ask(address, domain, dns.rdatatype.NS, timeout)
        if isinstance(referral, dns.message.Message):
            break
    if not isinstance(referral, dns.message.Message):
        return None
    names, glue = _delegated(referral, domain)
    if not names:
        return None
    targets: list[tuple[str, str]] = []
    for name in names[:MAX_SERVERS]:
        addresses = glue.get(name) or await _addresses(resolver, name)
        targets += [(name, a) for a in addresses[:2]]
    answers = await asyncio.gather(*(_probe(name, address, domain, timeout) for name, address in
                                     targets[:MAX_SERVERS]))
    return Delegation(domain, parent, tuple(answers))


async def _parent_zone(resolver: Resolver, domain: str) -> tuple[str, list[str]]:
    labels = domain.rstrip(".").split(".")
    for i in range(1, min(len(labels), MAX_PARENT_STEPS + 1)):
        parent = ".".join(labels[i:])
        result = await resolver.query(parent, "NS")
        if result.outcome is Outcome.ANSWER:
            servers = [r.rstrip(".").lower() for r in result.records]  # NS rdata is one name
            addresses = [a for ns in servers[:4] for a in await _addresses(resolver, ns)]
            return parent, addresses
        if result.outcome not in (Outcome.NODATA, Outcome.NXDOMAIN):
            return parent, []
    return "", []


async def _addresses(resolver: Resolver, name: str) -> list[str]:
    result = await resolver.query(name, "A")
    return list(result.records) if result.outcome is Outcome.ANSWER else []


def _delegated(referral: dns.message.Message, domain: str) -> tuple[list[str], dict[str, list[str]]]:
    """NS names for ``domain`` from a referral (authority section) or an answer, with their glue."""
    owner = dns.name.from_text(domain)
    names: list[str] = []
    for rrset in (*referral.answer, *referral.authority):
        if rrset.rdtype == dns.rdatatype.NS and rrset.name == owner:
            names += [r.target.to_text(omit_final_dot=True).lower() for r in rrset]
    glue: dict[str, list[str]] = {}
    for rrset in referral.additional:
        if rrset.rdtype == dns.rdatatype.A:
            glue.setdefault(rrset.name.to_text(omit_final_dot=True).lower(), []).extend(r.address for r in rrset)
    return sorted(set(names)), glue


async def _ask(address: str, name: str, rdtype: dns.rdatatype.RdataType,
               timeout: float) -> dns.message.Message | Answer:
    query = dns.message.make_query(name, rdtype)
    query.flags &= ~dns.flags.RD  # ask the server itself, no recursion
    try:
        allowed(address)
        return await dns.asyncquery.udp(query, address, timeout=timeout, ignore_unexpected=True)
    except AddressRefused:
        return Answer.NOT_ASKED
    except dns.exception.Timeout:
        return Answer.NO_ANSWER
    except OSError:
        return Answer.UNREACHABLE
    except dns.exception.DNSException:
        return Answer.SERVFAIL


async def _probe(name: str, address: str, domain: str, timeout: float) -> ServerAnswer:
    reply = await _ask(address, domain, dns.rdatatype.SOA, timeout)
    if isinstance(reply, Answer):
        return ServerAnswer(name, address, reply)
    rcode = reply.rcode()
    if rcode == dns.rcode.REFUSED:
        return ServerAnswer(name, address, Answer.REFUSED)
    if rcode == dns.rcode.SERVFAIL:
        return ServerAnswer(name, address, Answer.SERVFAIL)
    if not reply.flags & dns.flags.AA:
        return ServerAnswer(name, address, Answer.NOT_AUTHORITATIVE)
    return ServerAnswer(name, address, Answer.AUTHORITATIVE)

