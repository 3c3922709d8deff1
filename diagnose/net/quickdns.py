"""The probe's quick look-up of HOST: its A and AAAA records from one recursive resolver, over a
blocking UDP socket, without dnspython or asyncio (together ~200 ms of the probe's start-up).

It answers only the clear case, the resolver giving addresses, and says nothing (None) otherwise:
an error code, no data, truncation, silence, an answer that does not match the question or does not
parse. The caller then asks dnspython (diagnose.net.resolver), whose classification of every outcome
and its words are the contract; this module never words a failure. Like that path it takes the first
address of the A records, else of the AAAA records, after the CNAME chain the resolver gives.
"""

from __future__ import annotations

import _socket  # the C module: socket's enums and selectors cost the probe's start-up ~4 ms
import os
import struct
import time

from diagnose.net.dnsname import BadName, name_text

A, AAAA, CNAME, IN = 1, 28, 5, 1
MAX_CHAIN = 16  # CNAME hops followed inside one answer
MAX_UDP = 512  # bytes: no EDNS, so a longer answer comes truncated (TC) and goes to dnspython


class Unclear(Exception):
    """The answer is not the clear case: leave it to dnspython."""


def first_address(name: str, server: tuple[str, int], timeout: float) -> str | None:
    """The address the probe connects to for ``name`` (ASCII, no trailing dot), asked of ``server``
    (IP address, port) within ``timeout`` seconds; None when anything is unclear."""
    family = _socket.AF_INET6 if ":" in server[0] else _socket.AF_INET
    deadline = time.monotonic() + timeout
    ids = {qtype: int.from_bytes(os.urandom(2), "big") for qtype in (A, AAAA)}
    answers: dict[int, list[str] | None] = {}
    try:
        sock = _socket.socket(family, _socket.SOCK_DGRAM)
        try:
            sock.connect(server)  # replies from any other address are not delivered to a connected socket
            for qtype, qid in ids.items():
                sock.send(query(name, qtype, qid))
            while A not in answers or (not answers[A] and AAAA not in answers):
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                sock.settimeout(left)
                data = sock.recv(MAX_UDP + 1)
                for qtype, qid in ids.items():
                    if qtype not in answers and data[:2] == qid.to_bytes(2, "big"):
                        try:
                            answers[qtype] = records(data, name, qtype)
                        except (Unclear, IndexError, struct.error, UnicodeError):
                            answers[qtype] = None
        finally:
            sock.close()
    except (OSError, ValueError):  # unreachable, refused (ICMP), timed out, a name that cannot be sent
        return None
    for qtype in (A, AAAA):
        found = answers.get(qtype)
        if found:
            return found[0]
    return None


def query(name: str, qtype: int, qid: int) -> bytes:
    """A recursive query (RD) for ``name`` ``qtype`` IN, RFC 1035 §4.1."""
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _wire_name(name) + struct.pack("!HH", qtype, IN)


def _wire_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad label in {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def records(data: bytes, name: str, qtype: int) -> list[str]:
    """The addresses of a NOERROR answer to (name, qtype), in the order given, after the CNAME chain;
    an empty list for an answer without them; Unclear for anything but a plain answer."""
    _qid, flags, qdcount, ancount = struct.unpack_from("!HHHH", data, 0)
    if not flags & 0x8000 or flags & 0x0200 or flags & 0x000F or qdcount != 1:  # QR, TC, RCODE
        raise Unclear("not a plain answer")
    qname, at = _read_name(data, 12)
    if qname != name.lower().rstrip(".") or struct.unpack_from("!HH", data, at) != (qtype, IN):
        raise Unclear("another question")
    at += 4
    rrs: list[tuple[str, int, bytes, int]] = []
    for _ in range(ancount):
        owner, at = _read_name(data, at)
        rtype, rclass, _ttl, length = struct.unpack_from("!HHIH", data, at)
        at += 10
        if at + length > len(data):
            raise Unclear("a record beyond the message")
        if rclass == IN:
            rrs.append((owner, rtype, data[at:at + length], at))
        at += length
    target = qname
    for _ in range(MAX_CHAIN):
        alias = next((rdata_at for owner, rtype, _r, rdata_at in rrs if owner == target and rtype == CNAME), None)
        if alias is None:
            break
        target = _read_name(data, alias)[0]
    else:
        raise Unclear("a CNAME chain too long")
    size, family = (4, _socket.AF_INET) if qtype == A else (16, _socket.AF_INET6)
    found: list[str] = []
    for owner, rtype, rdata, _at in rrs:
        if owner == target and rtype == qtype:
            if len(rdata) != size:
                raise Unclear("an address of the wrong size")
            text = _socket.inet_ntop(family, rdata)
            if text not in found:
                found.append(text)
    if not found and any(rtype == qtype for _o, rtype, _r, _a in rrs):
        raise Unclear("addresses for another name")
    return found


def _read_name(data: bytes, at: int) -> tuple[str, int]:
    """(the name at ``at``, lower case, no trailing dot; the offset after it); Unclear when unreadable."""
    try:
        return name_text(data, at)
    except BadName as exc:
        raise Unclear(str(exc)) from None
