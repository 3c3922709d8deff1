"""The system's resolvers (address strings in dnspython) work like --nameserver ones.

Before, Dns() without --nameserver crashed: dnspython keeps /etc/resolv.conf's servers as
strings, and the code read ``.address`` off them (a `type: ignore` hid it; mypy found it)."""

import asyncio

import dns.message
import dns.nameserver
import dns.resolver
import pytest

from diagnose.net.dnswire import MAX_CHAIN
from diagnose.net.resolver import Dns, Nameserver, ResolverUnreachable, system_nameservers


def as_if_from_resolv_conf(*addresses: str) -> Dns:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = list(addresses)  # what dnspython makes of /etc/resolv.conf
    return Dns(system_nameservers(resolver), timeout=1.0)


def test_system_resolvers_are_described_with_their_port():
    assert as_if_from_resolv_conf("127.0.0.254", "::1").nameservers == ["127.0.0.254:53", "::1:53"]


def test_system_resolvers_given_as_objects_keep_their_port():
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.253", 5353)]
    assert system_nameservers(resolver) == [Nameserver("127.0.0.253", 5353)]


def test_an_unanswering_system_resolver_is_a_clear_error_not_a_crash():
    with pytest.raises(ResolverUnreachable, match="127.0.0.254:53"):
        asyncio.run(as_if_from_resolv_conf("127.0.0.254").preflight())


def test_a_closed_resolver_port_is_reported_as_refused():
    # Given a resolver address where nothing listens on the port (the kernel answers port unreachable)
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # When the preflight asks it, Then the error says so at once (dnspython's asyncio query, used before,
    # ignored the kernel's port-unreachable and said "no answer" after waiting out the timeout)
    with pytest.raises(ResolverUnreachable, match=f"127.0.0.1:{port}: connection refused"):
        asyncio.run(Dns([Nameserver("127.0.0.1", port)], timeout=5.0).preflight())


def test_the_cname_chain_limit_is_dnspythons():
    assert MAX_CHAIN == dns.message.MAX_CHAIN
