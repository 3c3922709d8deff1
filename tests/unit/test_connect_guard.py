"""The connect guard of `maildoctor serve` (diagnose/net/guard.py): which addresses a shared server
refuses, that it acts at connect time on the address itself, and that it is the only way out."""

from __future__ import annotations

import ast
import asyncio
import socket
from pathlib import Path

import pytest

from diagnose.net.guard import AddressRefused, Policy, guarded, why_refused
from diagnose.net.httpget import https_get
from diagnose.net.tcp import ConnectOutcome, tcp_connect

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("address, words", [
    ("127.0.0.1", "loopback"), ("127.107.0.10", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("fd00::1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("fe80::1%eth0", "link-local"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("224.0.0.1", "multicast"), ("100.64.0.1", "public"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
    ("mx.example.com", "not an IP address"),  # a name would be resolved by the system: never
])
def test_private_and_special_addresses_are_refused(address, words):
    why = why_refused(address)
    assert why is not None and words in why, (address, why)


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "1.1.1.1"])
def test_public_addresses_are_allowed(address):
    assert why_refused(address) is None


def test_an_address_of_this_machine_is_its_own():
    from diagnose.net import guard

    assert guard._is_own(__import__("ipaddress").ip_address("127.0.0.1"))
    assert not guard._is_own(__import__("ipaddress").ip_address("192.0.2.77"))  # documentation: never assigned


def test_the_guard_refuses_at_connect_time_and_records_why():
    # Given a listening socket on loopback
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        async def both():
            free = await tcp_connect("127.0.0.1", port, timeout=2)
            with guarded(Policy()) as policy:
                # the runner's checks run as tasks: they inherit the guard of the run
                refused = await asyncio.create_task(tcp_connect("127.0.0.1", port, timeout=2))
            with guarded(Policy(allow_private=True)):
                allowed = await tcp_connect("127.0.0.1", port, timeout=2)
            return free, refused, allowed, policy

        free, refused, allowed, policy = asyncio.run(both())
    # Then without a guard (the CLI) and with --allow-private it connects; guarded it does not
    assert free.outcome is ConnectOutcome.CONNECTED and allowed.outcome is ConnectOutcome.CONNECTED
    assert refused.outcome is ConnectOutcome.ERROR, refused
    assert "not connected: 127.0.0.1 is a loopback address" in refused.detail
    assert policy.refused == {"127.0.0.1": "a loopback address"}


def test_an_https_fetch_refused_by_the_guard_is_not_allowed_not_unreachable():
    async def fetch():
        with guarded(Policy()):
            return await https_get("mta-sts.example.com", "/.well-known/mta-sts.txt", ["10.0.0.1"], ca_file=None,
                                   timeout=1)

    result = asyncio.run(fetch())
    assert result.outcome == "not_allowed" and "private address" in result.detail, result


def test_addressrefused_is_an_oserror_with_the_reason():
    exc = AddressRefused("10.0.0.1", "a private address")
    assert isinstance(exc, OSError) and "10.0.0.1 is a private address" in str(exc.strerror)


def test_no_code_opens_connections_around_the_guard():
    # Every TCP connection to a target goes through guard.open_connection; DNS to a domain's own name
    # servers (authoritative.py) asks guard.allowed first; only the resolver (the admin's) is exempt:
    # resolver.py, and dnstransport.py, which only resolver.py uses to reach it.
    offenders = []
    for top in ("diagnose", "checks"):
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute):
                    name = node.attr
                    owner = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
                    if name in ("open_connection", "create_connection", "sock_connect") and owner in (
                            "asyncio", "socket", "loop") and rel not in ("diagnose/net/guard.py",
                                                                         "diagnose/net/dnstransport.py"):
                        offenders.append(f"{rel}:{node.lineno} {owner}.{name}")
                if isinstance(node, ast.ImportFrom) and node.module == "diagnose.net.dnstransport" and (
                        rel != "diagnose/net/resolver.py"):
                    offenders.append(f"{rel}:{node.lineno} imports dnstransport (the resolver's own transport)")
                    if name in ("udp", "tcp", "udp_with_fallback", "https", "tls", "quic") and owner in (
                            "asyncquery", "query") and rel not in ("diagnose/net/authoritative.py",
                                                                   "diagnose/net/resolver.py"):
                        offenders.append(f"{rel}:{node.lineno} {owner}.{name}")
    assert offenders == []
    source = (ROOT / "diagnose/net/authoritative.py").read_text()
    assert "allowed(address)" in source
