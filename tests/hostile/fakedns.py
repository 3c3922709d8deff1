"""A fake authoritative DNS server (dnspython message handling, UDP + TCP) for DNS faults.

It plays the resolver that maildoctor's ``--nameserver`` points at: it answers every question
itself (RA and AA set), authoritatively for the zones of its records, NXDOMAIN for anything else.
Faults per owner name: ``timeout`` (never answers), ``servfail``, ``refused``, ``truncate`` (UDP
answers carry TC and nothing else, so the client must retry over TCP); forgeries over UDP, each
sent just before the real answer: ``wrongid`` (a forged answer with another query id),
``otherquestion`` (the right id, the answer to another name), ``garbage`` (the right id, then bytes
that are no DNS message), ``spoofed`` (a forged answer from ``spoof_from``, another address, to the
client's port); ``garbageonly`` sends the garbage and never the answer. Forged answers carry the
address in ``FORGED``. ``delay`` holds every answer back that many seconds (a slow resolver). Answers too big for the client's UDP
size are truncated the same way, as a real server does. CNAMEs are chased inside the data, at
most 30 links, so a loop ends with the links seen (what BIND returns for a loop in its zone).
"""

from __future__ import annotations

import asyncio
import socket
import struct

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

MAX_CHAIN = 30
TTL = 300
FORGED = "192.0.2.66"  # the address forged answers give
FORGERIES = ("wrongid", "otherquestion", "garbage", "spoofed", "garbageonly")


class Zone:
    """Records: ``[(owner, type, rdata-text or list of bytes for TXT)]``; faults: ``{owner: kind}``."""

    def __init__(self, records, faults: dict[str, str] | None = None, *, delay: float = 0.0,
                 spoof_from: str | None = None) -> None:
        self.delay = delay
        self.spoof_from = spoof_from
        self.rrsets: dict[tuple[dns.name.Name, int], dns.rrset.RRset] = {}
        self.owners: set[dns.name.Name] = set()
        self.faults = {dns.name.from_text(k): v for k, v in (faults or {}).items()}
        for owner, rtype, data in records:
            name = dns.name.from_text(owner)
            rdtype = dns.rdatatype.from_text(rtype)
            if rdtype == dns.rdatatype.TXT and isinstance(data, list):  # raw strings, any bytes
                strings = [bytes.fromhex(s) if isinstance(s, str) else bytes(s) for s in data]
                rd = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, rdtype, strings)
            else:
                rd = dns.rdata.from_text(dns.rdataclass.IN, rdtype, data)
            rrset = self.rrsets.get((name, rdtype))
            if rrset is None:
                rrset = self.rrsets[(name, rdtype)] = dns.rrset.RRset(name, dns.rdataclass.IN, rdtype)
            rrset.add(rd, TTL)
            self.owners.add(name)

    def fault(self, qname: dns.name.Name) -> str:
        return self.faults.get(qname, "")

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA | dns.flags.RA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        q = query.question[0]
        name, seen = q.name, set()
        for _ in range(MAX_CHAIN):
            if self.fault(name) in ("servfail", "refused"):
                response.set_rcode(dns.rcode.SERVFAIL if self.fault(name) == "servfail" else dns.rcode.REFUSED)
                return response
            exact = self.rrsets.get((name, q.rdtype))
            if exact is not None:
                response.answer.append(exact)
                return response
            cname = self.rrsets.get((name, dns.rdatatype.CNAME))
            if cname is None or q.rdtype == dns.rdatatype.CNAME:
                break
            response.answer.append(cname)
            seen.add(name)
            name = cname[0].target
            if name in seen:
                return response  # a loop: the links seen, as an authoritative server gives them
        if name not in self.owners and not any(o.is_subdomain(name) for o in self.owners):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response  # NODATA otherwise


def _truncated(query: dns.message.Message) -> bytes:
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA | dns.flags.RA | dns.flags.TC
    return response.to_wire()


def reply_wire(zone: Zone, data: bytes, *, udp: bool) -> bytes | None:
    """The reply to one request, or None to stay silent."""
    try:
        query = dns.message.from_wire(data)
    except dns.exception.DNSException:
        return None
    qname = query.question[0].name if query.question else dns.name.root
    kind = zone.fault(qname)
    if zone.faults.get(dns.name.root) == "formerr_edns" and query.edns >= 0:  # an old middlebox
        response = dns.message.make_response(query)
        response.use_edns(False)
        response.set_rcode(dns.rcode.FORMERR)
        return response.to_wire()
    if kind == "timeout":
        return None
    if kind == "truncate" and udp:
        return _truncated(query)
    response = zone.answer(query)
    limit = max(512, query.payload if query.edns >= 0 else 512) if udp else 65535
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        return _truncated(query)


def forgery(zone: Zone, data: bytes) -> tuple[str, bytes] | None:
    """(kind, the forged datagram) for a query whose name has a forgery fault, else None."""
    try:
        query = dns.message.from_wire(data)
    except dns.exception.DNSException:
        return None
    kind = zone.fault(query.question[0].name) if query.question else ""
    if kind not in FORGERIES:
        return None
    if kind in ("garbage", "garbageonly"):
        return kind, data[:2] + b"\x81\x80\x00\x01\x00\x01\xff\xff garbage, not a DNS message"
    if kind == "otherquestion":
        query = dns.message.make_query(f"other.{query.question[0].name}", query.question[0].rdtype, id=query.id)
    forged = dns.message.make_response(query)
    forged.flags |= dns.flags.AA | dns.flags.RA
    q = query.question[0]
    forged.answer.append(dns.rrset.from_text(q.name, TTL, "IN", "A", FORGED))
    if kind == "wrongid":
        forged.id = (query.id + 1) % 65536
    return kind, forged.to_wire()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self.zone = zone

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        forged = forgery(self.zone, data)
        if forged is not None:
            kind, wire = forged
            if kind == "spoofed":  # from another address of this machine, to the port the query came from
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.bind((self.zone.spoof_from, self.transport.get_extra_info("sockname")[1]))
                    sock.sendto(wire, addr)
            else:
                self.transport.sendto(wire, addr)
            if kind == "garbageonly":
                return
        wire = reply_wire(self.zone, data, udp=True)
        if wire is not None and self.zone.delay:
            asyncio.get_running_loop().call_later(self.zone.delay, self.transport.sendto, wire, addr)
        elif wire is not None:
            self.transport.sendto(wire, addr)


async def _tcp(zone: Zone, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            wire = reply_wire(zone, await reader.readexactly(size), udp=False)
            if wire is None:
                await asyncio.sleep(3600)
            await asyncio.sleep(zone.delay)
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve_dns(zone: Zone, address: str, port: int = 53) -> list:
    """Start UDP and TCP listeners; return the objects to close."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(zone), local_addr=(address, port))
    server = await asyncio.start_server(lambda r, w: _tcp(zone, r, w), address, port)
    return [transport, server]
