"""`maildoctor probe`: what HOST[:PORT] and the options become, and the one-line errors (no network)."""

from __future__ import annotations

import pytest

from diagnose.app.probe import UsageError, Verdict, make_request, parser, render, split_target
from diagnose.engine.exitcodes import ExitCode


def request(*argv: str):
    return make_request(parser().parse_args(list(argv)))


@pytest.mark.parametrize("text, expected", [
    ("mx.example.com", ("mx.example.com", None)), ("mx.example.com:587", ("mx.example.com", 587)),
    ("192.0.2.7:993", ("192.0.2.7", 993)), ("[2001:db8::7]:465", ("2001:db8::7", 465)),
    ("2001:db8::7", ("2001:db8::7", None)), ("[2001:db8::7]", ("2001:db8::7", None)),
])
def test_targets_split_into_host_and_port(text, expected):
    assert split_target(text) == expected


@pytest.mark.parametrize("text", ["mx.example.com:0", "mx.example.com:70000", "mx.example.com:x", "[2001:db8::7"])
def test_bad_ports_and_brackets_are_usage_errors(text):
    with pytest.raises(UsageError):
        split_target(text)


def test_the_port_gives_protocol_and_tls_and_options_override_them():
    assert (request("mx.example.com").protocol, request("mx.example.com").port) == ("smtp", 25)
    imaps = request("imap.example.com:993")
    assert (imaps.protocol, imaps.implicit_tls) == ("imap", True)
    pop = request("pop.example.com:110")
    assert (pop.protocol, pop.implicit_tls) == ("pop3", False)
    other = request("mail.example.com:2525", "--protocol", "smtp", "--tls", "implicit")
    assert (other.protocol, other.implicit_tls, other.port) == ("smtp", True, 2525)


def test_an_address_with_sni_connects_there_and_judges_the_name():
    r = request("192.0.2.7:25", "--sni", "MX.Example.COM.")
    assert (r.address, r.host) == ("192.0.2.7", "mx.example.com")
    named = request("mx.example.com", "--address", "192.0.2.8")
    assert (named.address, named.host) == ("192.0.2.8", "mx.example.com")
    assert request("mx.example.com").address == ""  # resolved when the probe runs


@pytest.mark.parametrize("argv, words", [
    (["mail.example.com:2525"], "--protocol"),
    (["mx.example.com", "--timeout", "0"], "--timeout"),
    (["mx.example.com", "-w", "3", "-c", "7"], "--critical (7 days) must not be more than --warning"),
    (["mx.example.com", "--sni", "x.example.com"], "--sni is for an IP address"),
    (["mx.example.com", "--address", "nowhere"], "bad --address"),
    (["not a host!"], "bad host"),
    (["mx.example.com", "--ca-file", "/nonexistent.pem"], "no such file"),
])
def test_bad_arguments_say_which(argv, words):
    with pytest.raises(UsageError, match=words.replace("(", r"\(").replace(")", r"\)")):
        request(*argv)


def test_a_failure_outranks_an_unknown_and_the_status_line_keeps_perfdata_apart():
    v = Verdict(summary=["smtp mx.example.com:25"])
    v.add(ExitCode.UNKNOWN, "something could not be checked")
    v.add(ExitCode.FAIL, "certificate is for a|b")
    v.add(ExitCode.WARN, "later")
    v.perf.append("time=0.010s;;;0")
    assert v.code is ExitCode.FAIL
    first, *details = render(v).splitlines()
    assert first.startswith("MAILDOCTOR CRITICAL - smtp mx.example.com:25: ") and first.count("|") == 1, first
    assert details[1] == "CRITICAL: certificate is for a/b", details
