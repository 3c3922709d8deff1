"""The system's resolvers (address strings in dnspython) work like --nameserver ones.

Before, Dns() without --nameserver crashed: dnspython keeps /etc/resolv.conf's servers as
strings, and the code read ``.address`` off them (a `type: ignore` hid it; mypy found it)."""

import asyncio

import pytest

from diagnose.net.resolver import Dns, Nameserver, ResolverUnreachable


def as_if_from_resolv_conf(*addresses: str) -> Dns:
    d = Dns([Nameserver("127.0.0.1", 53)], timeout=1.0)
    d._resolver.nameservers = list(addresses)  # what dnspython makes of /etc/resolv.conf
    return d


def test_system_resolvers_are_described_with_their_port():
    assert as_if_from_resolv_conf("127.0.0.254", "::1").nameservers == ["127.0.0.254:53", "::1:53"]


def test_an_unanswering_system_resolver_is_a_clear_error_not_a_crash():
    with pytest.raises(ResolverUnreachable, match="127.0.0.254:53"):
        asyncio.run(as_if_from_resolv_conf("127.0.0.254").preflight())
