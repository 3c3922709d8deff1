"""Sending one DNS question to one server and waiting for its reply: UDP on a socket that many
queries share, TCP for an answer too big for UDP.

dnspython opens a new UDP socket per query; a batch asks thousands of questions a second, so here
one socket per address family carries up to ``SOCKET_QUERIES`` queries (then the next one opens,
so the source port still changes) and is closed as soon as nothing waits on it. A datagram is
handed to the query it answers only when it comes from the address and port the query went to,
carries its id and answers its question (RFC 5452 §9.1); anything else, and a reply that cannot be
read, is ignored and the query keeps waiting (what dnspython's resolver does, ``ignore_errors``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import struct

from diagnose.net.dnswire import Malformed, Question, Reply, matches, reply_id

SOCKET_QUERIES = 256  # queries sent from one UDP socket (one source port) before a fresh one is used
MAX_DATAGRAM = 65535


class _UdpSocket:
    """A non-blocking UDP socket that the event loop reads; replies go to the queries waiting on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, family: int) -> None:
        self.loop = loop
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.pending: dict[tuple[int, str, int], tuple[Question, asyncio.Future[Reply | None]]] = {}
        self.sent = 0
        loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # an ICMP error queued on the socket: the query's own timeout covers it
                return
            entry = self.pending.get((reply_id(data), addr[0], addr[1]))
            if entry is None or entry[1].done() or not matches(data, entry[0]):
                continue  # not a reply to a query of ours (another source, a stale or forged id)
            try:
                reply = Reply(data)
            except Malformed:
                continue
            entry[1].set_result(reply)

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()


class UdpClient:
    """UDP queries of one resolver configuration (diagnose.net.resolver.Dns)."""

    def __init__(self) -> None:
        self._sockets: dict[int, _UdpSocket] = {}

    async def ask(self, question: Question, address: str, port: int, *, edns: bool, timeout: float) -> Reply | None:
        """The reply of ``address``:``port``, or None when none came within ``timeout`` seconds.
        Raises OSError when the query cannot be sent."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        s = self._sockets.get(family)
        if s is None or s.loop is not loop or s.sent >= SOCKET_QUERIES:
            s = self._sockets[family] = _UdpSocket(loop, family)  # the old one closes when its last query ends
        qid = query_id()
        while (qid, address, port) in s.pending:
            qid = query_id()
        key = (qid, address, port)
        fut: asyncio.Future[Reply | None] = loop.create_future()
        s.pending[key] = (question, fut)
        s.sent += 1
        expire = loop.call_later(timeout, _expire, fut)
        try:
            wire = question.query(qid, edns=edns)
            try:
                s.sock.sendto(wire, (address, port))
            except BlockingIOError:  # the send buffer is full: wait for room
                await loop.sock_sendto(s.sock, wire, (address, port))
            return await fut
        finally:
            expire.cancel()
            del s.pending[key]
            if not s.pending:
                s.close()
                if self._sockets.get(family) is s:
                    del self._sockets[family]


def query_id() -> int:
    """A fresh 16-bit DNS message id from the system's CSPRNG (what ``secrets.randbits(16)`` returns,
    without importing secrets, hmac and random): an id a spoofer cannot predict (RFC 5452 §9.2)."""
    return int.from_bytes(os.urandom(2), "big")


def source_form(address: str) -> str:
    """``address`` as the kernel reports the source of a datagram from it (what replies are matched
    on): IPv4 dotted quad, IPv6 as inet_ntop writes it (``::ffff:127.0.0.1``, not ``::ffff:7f00:1``)."""
    if ":" not in address:
        return str(ipaddress.IPv4Address(address))
    host, sep, scope = address.partition("%")
    return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, host)) + sep + scope


def _expire(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


async def tcp_ask(question: Question, address: str, port: int, *, edns: bool, timeout: float) -> Reply:
    """The reply over TCP (RFC 7766: a two-byte length, then the message). Raises TimeoutError after
    ``timeout`` seconds, OSError or EOFError when the connection fails, Malformed for a reply that
    cannot be read or does not answer the question."""
    qid = query_id()
    wire = question.query(qid, edns=edns)
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(address, port)
        try:
            writer.write(struct.pack("!H", len(wire)) + wire)
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            data = await reader.readexactly(size)
        finally:
            writer.close()
    if reply_id(data) != qid or not matches(data, question):
        raise Malformed("the reply over TCP does not answer the question")
    return Reply(data)


class _Ping(asyncio.DatagramProtocol):
    """The first reply to one question on a connected UDP socket, or the error the kernel reports."""

    def __init__(self, question: Question, qid: int, done: asyncio.Future[None]) -> None:
        self.question, self.qid, self.done = question, qid, done

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if not self.done.done() and reply_id(data) == self.qid and matches(data, self.question):
            self.done.set_result(None)

    def error_received(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


async def ping(address: str, port: int, *, timeout: float) -> None:
    """Ask ``address``:``port`` one question (the root's NS) over UDP and return when it replies,
    whatever the reply says. The socket is connected, so a closed port is reported by the kernel
    (ConnectionRefusedError) rather than waited out; raises TimeoutError after ``timeout`` seconds,
    OSError when the question cannot be sent."""
    loop = asyncio.get_running_loop()
    question, qid = Question(".", "NS"), query_id()
    done: asyncio.Future[None] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(lambda: _Ping(question, qid, done), remote_addr=(address, port))
    try:
        transport.sendto(question.query(qid, edns=False))
        async with asyncio.timeout(timeout):
            await done
    finally:
        transport.close()
