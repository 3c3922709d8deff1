"""DNS messages on the wire, as far as the resolver reads them: the question it asks, a reply
matched to it, the answer section's CNAME chain and the final records.

dnspython parses every record of every section into objects, hashes each one into its rdataset
and validates each name several times; a diagnosis reads only the header (rcode, AD) and the
records that answer the question. So this module walks the sections itself and hands only those
records to dnspython (``dns.rdata.from_wire``): ``DnsResult.rdata`` keeps dnspython's rdata objects.
The rules are dnspython's: a reply matches a query by id, QR, opcode and question (an error reply
may have no question); the CNAME chain is followed as ``Message.resolve_chaining`` does, at most
``dns.message.MAX_CHAIN`` (16) links; the rdata of one type are a set (a repeated record counts once),
its TTL the smallest; trailing bytes or a record that runs past the end make the reply malformed.
"""

from __future__ import annotations

import re
import struct

from diagnose.net import dnsfeatures  # noqa: F401 - before dnspython: see its docstring

# isort: split
import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from diagnose.net.dnsname import BadName, name_wire

QR, AA, TC, RD, AD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0020
OPCODE_MASK = 0x7800
IN = 1
CNAME = 5
OPT = 41
# dns.message.MAX_CHAIN: the CNAME links followed (dns.message itself, ~10 ms of start-up, is not needed here)
MAX_CHAIN = 16
EDNS_PAYLOAD = 1232  # bytes: the DNS flag day 2020 size, no IP fragmentation on common paths
ERROR_RCODES = frozenset((1, 2, 4, 5))  # FORMERR, SERVFAIL, NOTIMP, REFUSED: the question may be left out
_HEADER = struct.Struct("!6H")
_RR = struct.Struct("!HHIH")
_TYPE_CLASS = struct.Struct("!HH")
# OPT pseudo-record (RFC 6891): root owner, type 41, class = UDP payload size, TTL = extended rcode,
# version 0 and flags (no DO: answers come without RRSIGs), no options
_OPT = b"\x00" + struct.pack("!HHIH", OPT, EDNS_PAYLOAD, 0, 0)


class Malformed(dns.exception.FormError):
    """A reply that cannot be read."""


_PLAIN = re.compile(r"(?=.{1,253}\.?\Z)(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?", re.ASCII)
_TYPES = {t.name: t for t in dns.rdatatype.RdataType}


class Question:
    """One question, ready to send: its name (a dnspython Name), type, wire form and match key."""

    __slots__ = ("rdtype", "text", "key", "wire")

    def __init__(self, name: str, rdtype: str) -> None:
        """``name``: a domain name as text (IDNA applied as dnspython does); ``rdtype``: e.g. "MX".
        Raises dnspython's errors for a bad name, an unknown type or a meta-type (ANY, AXFR)."""
        self.rdtype = _TYPES.get(rdtype) or dns.rdatatype.RdataType.make(rdtype)
        if dns.rdatatype.is_metatype(self.rdtype):
            from dns.resolver import NoMetaqueries  # for its exception only: no check asks a meta-type

            raise NoMetaqueries
        if _PLAIN.fullmatch(name):  # letters, digits, - and _ in labels of 1-63: the wire form is the text
            plain = name.rstrip(".")
            self.text = plain.lower()
            name_wire = b"".join(bytes((len(label),)) + label.encode() for label in plain.split(".")) + b"\0"
        else:  # escapes, IDNA, the root: dnspython's rules
            parsed = dns.name.from_text(name)
            self.text = parsed.to_text(omit_final_dot=True).lower()
            name_wire = parsed.to_wire() or b""
        self.key = name_wire.lower()
        self.wire = name_wire + _TYPE_CLASS.pack(self.rdtype, IN)

    def query(self, qid: int, *, edns: bool) -> bytes:
        """The query message: recursion desired, and AD set so that a validating resolver says
        whether it validated the answer (RFC 6840 §5.7) without sending the signatures (no DO)."""
        return _HEADER.pack(qid, RD | AD, 1, 0, 0, 1 if edns else 0) + self.wire + (_OPT if edns else b"")


def reply_id(wire: bytes) -> int:
    return (wire[0] << 8 | wire[1]) if len(wire) >= 2 else -1


def matches(wire: bytes, question: Question) -> bool:
    """Is ``wire`` (whose id already matched) a reply to ``question``? dnspython's ``is_response``
    rules: QR set, opcode QUERY, the same question (names compared without case); an error reply
    (FORMERR, SERVFAIL, NOTIMP, REFUSED) may come without the question."""
    if len(wire) < 12:
        return False
    flags, qdcount = wire[2] << 8 | wire[3], wire[4] << 8 | wire[5]
    if not flags & QR or flags & OPCODE_MASK:
        return False
    if qdcount == 0:
        return flags & 0xF in ERROR_RCODES
    end = 12 + len(question.wire)
    return (qdcount == 1 and wire[12:end - 4].lower() == question.key
            and wire[end - 4:end] == question.wire[-4:])


class Reply:
    """A reply, read as far as the resolver needs: flags, the full rcode (with EDNS's extended bits)
    and the answer section as (owner key, type, class, ttl, rdata offset, rdata length) tuples."""

    __slots__ = ("wire", "flags", "rcode", "answers")

    def __init__(self, wire: bytes) -> None:
        """Raises Malformed when the message cannot be read."""
        try:
            _id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire)
            pos = 12
            for _ in range(qdcount):
                pos = _skip_name(wire, pos) + 4
            answers = []
            for _ in range(ancount):
                owner, pos = _name_key(wire, pos)
                rtype, rclass, ttl, rdlen = _RR.unpack_from(wire, pos)
                pos += 10
                answers.append((owner, rtype, rclass, ttl, pos, rdlen))
                pos += rdlen
            for _ in range(nscount):
                pos = _skip_name(wire, pos)
                pos += 10 + _RR.unpack_from(wire, pos)[3]
            rcode = flags & 0xF
            for _ in range(arcount):
                pos = _skip_name(wire, pos)
                rtype, _rclass, ttl, rdlen = _RR.unpack_from(wire, pos)
                if rtype == OPT:
                    rcode |= (ttl >> 24) << 4
                pos += 10 + rdlen
        except (struct.error, IndexError) as exc:
            raise Malformed("the message ends inside a record") from exc
        if pos != len(wire):
            raise Malformed("bytes past the end of the message" if pos < len(wire) else "a record runs past the end")
        self.wire, self.flags, self.rcode, self.answers = wire, flags, rcode, answers

    @property
    def truncated(self) -> bool:
        return bool(self.flags & TC)

    @property
    def authenticated(self) -> bool:
        return bool(self.flags & AD)

    def chase(self, question: Question) -> tuple[str, tuple, tuple[str, ...], int | None]:
        """Follow the CNAME chain from the question's name (``Message.resolve_chaining``): the
        canonical name (text, lower case, no final dot), the records of the question's type found
        there (dnspython rdata, in the order sent, each once), their text and their TTL (the
        smallest), or ``()``, ``()`` and None when there are none. Raises Malformed for a chain longer
        than ``MAX_CHAIN``, an answer with NXDOMAIN or rdata that cannot be read."""
        key, rdtype, answers = question.key, question.rdtype, self.answers
        canonical_at = -1  # offset of the last CNAME target followed
        for _ in range(MAX_CHAIN):
            found = [a for a in answers if a[0] == key and a[1] == rdtype and a[2] == IN]
            if found:
                break
            link = None if rdtype == CNAME else next(
                (a for a in answers if a[0] == key and a[1] == CNAME and a[2] == IN), None)
            if link is None:
                break
            canonical_at = link[4]
            key = _name_key(self.wire, canonical_at)[0]
        else:
            raise Malformed("the CNAME chain is too long")
        canonical = question.text if canonical_at < 0 else _name_text(self.wire, canonical_at)
        if not found:
            return canonical, (), (), None
        if self.rcode == 3:
            raise Malformed("an answer with NXDOMAIN")
        rdata, texts, seen = [], [], set()
        for _owner, _type, _class, _ttl, at, size in found:
            plain = _plain_rdata(rdtype, self.wire, at, size)
            mark = plain if plain is not None else self.wire[at:at + size]
            if mark in seen:  # a record sent twice counts once
                continue
            seen.add(mark)
            if plain is None:
                rd = dns.rdata.from_wire(dns.rdataclass.IN, rdtype, self.wire, at, size)
                text = rd.to_text()
            else:
                rd, text = _parsed(rdtype, plain)
            rdata.append(rd)
            texts.append(text)
        return canonical, tuple(rdata), tuple(texts), min(a[3] for a in found)


# Records read before, by type and content (names decompressed): a batch reads the same MX, SPF and
# SOA records for many domains of one provider. dnspython's rdata are immutable, so they are shared.
PARSED_ENTRIES = 4096
_PARSED: dict[tuple[int, bytes], tuple[dns.rdata.Rdata, str]] = {}
# the types cached: without names, or with names that may be compressed at fixed places (RFC 3597 §4)
_NO_NAMES = frozenset((1, 16, 28))  # A, TXT, AAAA
_ONE_NAME = {2: 0, 5: 0, 12: 0, 15: 2}  # NS, CNAME, PTR: the name; MX: preference, then the name
SOA = 6


def _parsed(rdtype: dns.rdatatype.RdataType, plain: bytes) -> tuple[dns.rdata.Rdata, str]:
    hit = _PARSED.get((rdtype, plain))
    if hit is None:
        rd = dns.rdata.from_wire(dns.rdataclass.IN, rdtype, plain, 0, len(plain))
        if len(_PARSED) >= PARSED_ENTRIES:
            _PARSED.clear()
        hit = _PARSED[(rdtype, plain)] = (rd, rd.to_text())
    return hit


def _plain_rdata(rdtype: int, wire: bytes, at: int, size: int) -> bytes | None:
    """The rdata at ``at`` with its names decompressed (the same record wherever it sits in a
    message), or None for a type not cached or rdata whose names do not end where the record does."""
    end = at + size
    if rdtype in _NO_NAMES:
        return wire[at:end]
    skip = _ONE_NAME.get(rdtype)
    if skip is not None and size > skip:
        name, after = _name_wire(wire, at + skip)
        return wire[at:at + skip] + name if after == end else None
    if rdtype == SOA:
        mname, after = _name_wire(wire, at)
        rname, after = _name_wire(wire, after)
        return mname + rname + wire[after:end] if after + 20 == end else None
    return None


def _name_key(wire: bytes, pos: int) -> tuple[bytes, int]:
    """The name at ``pos`` as uncompressed wire, lower case, and the offset after it in the message."""
    name, end = _name_wire(wire, pos)
    return name.lower(), end


def _name_wire(wire: bytes, pos: int) -> tuple[bytes, int]:
    """The name at ``pos`` as uncompressed wire and the offset after it (Malformed when unreadable)."""
    try:
        return name_wire(wire, pos)
    except BadName as exc:
        raise Malformed(str(exc)) from None


def _skip_name(wire: bytes, pos: int) -> int:
    """The offset after the name at ``pos`` (a pointer ends it; its target is not read)."""
    while True:
        n = wire[pos]
        if n == 0:
            return pos + 1
        if n >= 0xC0:
            return pos + 2
        if n > 63:
            raise Malformed("a label type that is not used")
        pos += n + 1


def _name_text(wire: bytes, pos: int) -> str:
    name, _ = dns.name.from_wire(wire, pos)
    return name.to_text(omit_final_dot=True).lower()
