"""diagnose.net.quickdns, the probe's quick A/AAAA look-up: the clear answer read from real DNS messages
(made by dnspython, an independent encoder), everything else left to dnspython (no network)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from diagnose.net.quickdns import AAAA, A, Unclear, first_address, query, records


def answer(qname: str, qtype: str, *rrsets: tuple[str, str, list[str]], rcode: int = dns.rcode.NOERROR,
           flags: int = 0, question: str | None = None) -> bytes:
    q = dns.message.make_query(question or qname, qtype)
    r = dns.message.make_response(q)
    r.set_rcode(rcode)
    r.flags |= flags
    for owner, rdtype, values in rrsets:
        r.answer.append(dns.rrset.from_text_list(owner + ".", 300, "IN", rdtype, values))
    return r.to_wire()


def test_a_plain_answer_gives_its_addresses_in_order():
    wire = answer("mx.example.com", "A", ("mx.example.com", "A", ["192.0.2.7", "192.0.2.8", "192.0.2.9"]))
    # in the order on the wire (dnspython shuffles an rrset as it writes it), as dnspython reads it back
    on_wire = [r.to_text() for r in dns.message.from_wire(wire).answer[0]]
    assert records(wire, "mx.example.com", A) == on_wire and sorted(on_wire) == ["192.0.2.7", "192.0.2.8", "192.0.2.9"]


def test_the_cname_chain_is_followed_through_compressed_names():
    wire = answer("mail.example.com", "AAAA", ("mail.example.com", "CNAME", ["mx.example.net."]),
                  ("mx.example.net", "CNAME", ["host.example.org."]),
                  ("host.example.org", "AAAA", ["2001:db8::7"]))
    assert records(wire, "Mail.Example.COM", AAAA) == ["2001:db8::7"]


def test_no_data_is_an_empty_list():
    assert records(answer("mx.example.com", "AAAA"), "mx.example.com", AAAA) == []


@pytest.mark.parametrize("wire", [
    answer("mx.example.com", "A", rcode=dns.rcode.NXDOMAIN),
    answer("mx.example.com", "A", rcode=dns.rcode.SERVFAIL),
    answer("mx.example.com", "A", ("mx.example.com", "A", ["192.0.2.7"]), flags=dns.flags.TC),
    answer("mx.example.com", "A", ("mx.example.com", "A", ["192.0.2.7"]), question="other.example.com"),
    answer("mx.example.com", "A", ("other.example.com", "A", ["192.0.2.7"])),
    dns.message.make_query("mx.example.com", "A").to_wire(),  # a query, not an answer
], ids=["nxdomain", "servfail", "truncated", "another question", "another owner", "not an answer"])
def test_anything_but_the_clear_case_is_left_to_dnspython(wire):
    with pytest.raises(Unclear):
        records(wire, "mx.example.com", A)


def test_a_compression_loop_is_refused():
    # the question's name is a pointer to itself
    wire = query("mx.example.com", A, 7)
    looped = bytearray(wire[:12]) + b"\xc0\x0c" + wire[-4:]
    looped[2] |= 0x80  # QR
    with pytest.raises(Unclear):
        records(bytes(looped), "mx.example.com", A)


@contextmanager
def udp_server(reply: Callable[[bytes], list[bytes]]) -> Iterator[tuple[str, int]]:
    """A one-socket DNS server on 127.0.0.1 that answers each datagram with ``reply(datagram)``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            for out in reply(data):
                sock.sendto(out, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def _respond(data: bytes, a: list[str], aaaa: list[str]) -> list[bytes]:
    q = dns.message.from_wire(data)
    r = dns.message.make_response(q)
    values = a if q.question[0].rdtype == dns.rdatatype.A else aaaa
    if values:
        r.answer.append(dns.rrset.from_text_list(q.question[0].name, 60, "IN", q.question[0].rdtype, values))
    return [r.to_wire()]


def test_ipv4_first_then_ipv6_then_nothing_over_a_real_socket():
    with udp_server(lambda d: _respond(d, ["192.0.2.7"], ["2001:db8::7"])) as server:
        assert first_address("mx.example.com", server, 2.0) == "192.0.2.7"
    with udp_server(lambda d: _respond(d, [], ["2001:db8::7"])) as server:
        assert first_address("mx.example.com", server, 2.0) == "2001:db8::7"
    with udp_server(lambda d: _respond(d, [], [])) as server:
        assert first_address("mx.example.com", server, 2.0) is None


def test_a_stray_or_forged_reply_is_ignored_and_silence_ends_within_the_timeout():
    import time

    # Given a server that first sends an answer with another id, then the real one
    def forged_then_real(data: bytes) -> list[bytes]:
        real = _respond(data, ["192.0.2.7"], [])[0]
        forged = bytes([(real[0] + 1) % 256]) + real[1:]
        return [forged.replace(socket.inet_aton("192.0.2.7"), socket.inet_aton("203.0.113.9")), real]

    with udp_server(forged_then_real) as server:
        assert first_address("mx.example.com", server, 2.0) == "192.0.2.7"
    # and a silent one: None, within the timeout
    with udp_server(lambda d: []) as server:
        start = time.monotonic()
        assert first_address("mx.example.com", server, 0.3) is None
        assert time.monotonic() - start < 0.3 + 1.0
