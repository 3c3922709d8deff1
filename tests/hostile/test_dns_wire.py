"""The resolver's lean DNS path (diagnose.net.dnswire, diagnose.net.dnstransport) against the fake
DNS (tests/hostile/fakedns.py) when it misbehaves: forged replies (another id, another question,
another source address, garbage) are ignored and the real answer is taken; silence ends in TIMEOUT
within the lookup's budget; truncation goes to TCP; error rcodes are classified.

The fake server runs in a thread of this process on a high port of 127.A.200.x (no root needed);
``Dns`` asks it as the CLI does, one ``asyncio.run`` per question.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from diagnose.net.resolver import Dns, DnsResult, Nameserver, Outcome, txt_strings
from tests.hostile.conftest import addr
from tests.hostile.fakedns import FORGED, Zone, serve_dns

PORT = 53530
T = 1.0  # --timeout: each try at most T, a lookup at most 2 x T
ZONE = "wire.test"
OK = "192.0.2.10"
FORGERIES = ("wrongid", "otherquestion", "garbage", "spoofed")


def name(case: str) -> str:
    return f"{case}.{ZONE}"


def _records() -> list:
    r = [[name(case), "A", OK] for case in (*FORGERIES, "garbageonly", "silent", "plain", "truncated", "refused",
                                            "servfail")]
    r += [[name("many"), "MX", f"{i} mx{i}.{ZONE}."] for i in range(200)]
    r += [[name("chain"), "CNAME", f"c1.{ZONE}."]]
    r += [[f"c{i}.{ZONE}", "CNAME", f"c{i + 1}.{ZONE}."] for i in range(1, 12)]
    r += [[f"c12.{ZONE}", "A", OK]]
    r += [[name("loop"), "CNAME", f"loop2.{ZONE}."], [f"loop2.{ZONE}", "CNAME", f"{name('loop')}."]]
    r += [[name("split"), "TXT", [b"v=spf1 ".hex(), b"ip4:192.0.2.1 ".hex(), b"-all".hex()]]]
    r += [[ZONE, "TXT", ["00"]]]  # the zone exists: a name under it without records is NODATA, others NXDOMAIN
    return r


FAULTS = {**{name(case): case for case in (*FORGERIES, "garbageonly", "refused", "servfail")},
          name("silent"): "timeout", name("truncated"): "truncate"}


class FakeDns:
    """The fake DNS served from a thread with its own event loop."""

    def __init__(self, zone: Zone, address: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.address = address
        ready, failed = threading.Event(), []

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                closers = self.loop.run_until_complete(serve_dns(zone, address, PORT))
            except OSError as exc:
                failed.append(exc)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()
            for c in closers:
                c.close()
            self.loop.run_until_complete(asyncio.sleep(0.05))  # the sockets close on the loop's next turns
            self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)
        if failed:
            pytest.skip(f"cannot serve the fake DNS on {address}:{PORT}: {failed[0]}")

    @property
    def nameserver(self) -> Nameserver:
        return Nameserver(self.address, PORT)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def fake():
    server = FakeDns(Zone(_records(), FAULTS, spoof_from=addr(61)), addr(60))
    yield server
    server.stop()


def ask(nameservers: list[Nameserver], qname: str, rdtype: str = "A") -> DnsResult:
    return asyncio.run(Dns(nameservers, timeout=T).query(qname, rdtype))


def test_a_plain_answer(fake):
    r = ask([fake.nameserver], name("plain"))
    assert r.outcome is Outcome.ANSWER and r.records == (OK,) and r.ttl == 300, r
    assert r.canonical_name == name("plain") and not r.is_alias and not r.authenticated, r


@pytest.mark.parametrize("case", FORGERIES)
def test_a_forged_reply_before_the_real_one_is_ignored(fake, case):
    # Given a server that sends a forged reply (another id, another question, garbage, or from another
    # address) to the query's port just before the real answer
    r = ask([fake.nameserver], name(case))
    # Then the real answer is taken, at once, and the forged one never
    assert r.outcome is Outcome.ANSWER and r.records == (OK,), r
    assert FORGED not in r.records and r.elapsed_s < T, r


def test_only_garbage_is_no_answer_and_ends_within_the_lookup_budget(fake):
    r = ask([fake.nameserver], name("garbageonly"))
    assert r.outcome is Outcome.TIMEOUT, r
    assert 2 * T - 0.2 <= r.elapsed_s <= 2 * T + 1, r


def test_silence_is_a_timeout_bounded_by_the_timeout(fake):
    r = ask([fake.nameserver], name("silent"))
    assert r.outcome is Outcome.TIMEOUT and r.detail == "", r
    assert 2 * T - 0.2 <= r.elapsed_s <= 2 * T + 1, r


def test_a_silent_first_server_hands_over_to_the_next(fake):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind((addr(63), PORT))  # bound, never read: every query to it is lost
        r = ask([Nameserver(addr(63), PORT), fake.nameserver], name("plain"))
    assert r.outcome is Outcome.ANSWER and r.records == (OK,), r
    assert T - 0.1 <= r.elapsed_s < 2 * T, r  # one try of the silent server, then the answer


def test_a_truncated_answer_is_asked_again_over_tcp(fake):
    r = ask([fake.nameserver], name("truncated"))
    assert r.outcome is Outcome.ANSWER and r.records == (OK,), r


def test_an_answer_too_big_for_udp_comes_over_tcp_whole(fake):
    r = ask([fake.nameserver], name("many"), "MX")
    assert r.outcome is Outcome.ANSWER and len(r.records) == 200 and len(r.rdata) == 200, r
    assert sorted(rd.preference for rd in r.rdata) == list(range(200))


@pytest.mark.parametrize(("case", "detail"), [("refused", "REFUSED"), ("servfail", "")])
def test_error_rcodes_are_servfail_with_the_reason(fake, case, detail):
    r = ask([fake.nameserver], name(case))
    assert r.outcome is Outcome.SERVFAIL and r.detail == detail, r
    assert "REFUSED" in r.describe() if detail else r.describe().endswith("(SERVFAIL)"), r


def test_nxdomain_and_nodata(fake):
    assert ask([fake.nameserver], name("nothing")).outcome is Outcome.NXDOMAIN
    r = ask([fake.nameserver], name("plain"), "MX")
    assert r.outcome is Outcome.NODATA and r.canonical_name == name("plain"), r


def test_a_cname_chain_of_twelve_links(fake):
    r = ask([fake.nameserver], name("chain"))
    assert r.outcome is Outcome.ANSWER and r.records == (OK,), r
    assert r.canonical_name == f"c12.{ZONE}" and r.is_alias, r


def test_a_cname_loop_is_no_answer(fake):
    r = ask([fake.nameserver], name("loop"))
    assert r.outcome is Outcome.SERVFAIL, r  # dnspython's rule: a chain longer than 16 links is unusable


def test_txt_strings_are_kept_apart_and_joined_by_txt_strings(fake):
    r = ask([fake.nameserver], name("split"), "TXT")
    assert r.outcome is Outcome.ANSWER and r.rdata[0].strings == (b"v=spf1 ", b"ip4:192.0.2.1 ", b"-all"), r
    assert txt_strings(r) == ["v=spf1 ip4:192.0.2.1 -all"]


def test_a_resolver_that_rejects_edns_is_asked_without_it():
    server = FakeDns(Zone([[name("plain"), "A", OK]], {".": "formerr_edns"}), addr(62))
    try:
        r = ask([server.nameserver], name("plain"))
    finally:
        server.stop()
    assert r.outcome is Outcome.ANSWER and r.records == (OK,), r


@pytest.mark.parametrize("written", ["::1", "0:0:0:0:0:0:0:1"])
def test_an_ipv6_resolver_however_its_address_is_written(written):
    # the reply's source is reported as ::1 whatever form the user gave: it must still be matched
    server = FakeDns(Zone([[name("plain"), "A", OK]]), "::1")
    try:
        r = ask([Nameserver(written, PORT)], name("plain"))
    finally:
        server.stop()
    assert r.outcome is Outcome.ANSWER and r.records == (OK,), r
