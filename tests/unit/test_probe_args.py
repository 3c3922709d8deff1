"""`maildoctor probe`: what HOST[:PORT] and the options become, the one-line errors, and the quick reader of plain
arguments against argparse (no network)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnose.app import probe
from diagnose.app.probe import Verdict, render
from diagnose.app.probe_args import OPTIONS, UsageError, canonical_ip, make_request, parser, quick_args, split_target
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
    assert v.code == ExitCode.FAIL
    first, *details = render(v).splitlines()
    assert first.startswith("MAILDOCTOR CRITICAL - smtp mx.example.com:25: ") and first.count("|") == 1, first
    assert details[1] == "CRITICAL: certificate is for a/b", details


def test_the_probes_plain_states_are_maildoctors_exit_codes():
    # the probe's fast path has plain ints for ExitCode (no enum import): the same numbers
    assert (probe.OK, probe.WARNING, probe.CRITICAL, probe.UNKNOWN, probe.INTERRUPTED) == (
        ExitCode.OK, ExitCode.WARN, ExitCode.FAIL, ExitCode.UNKNOWN, ExitCode.INTERRUPTED)
    assert probe.STATES[ExitCode.FAIL] == "CRITICAL"  # a full-path verdict holds ExitCode members


# the quick reader (no argparse on a monitoring job's plain arguments) against argparse itself
_FLAGS = [flag for flags, _ in OPTIONS for flag in flags] + ["--time", "--ca", "-h", "--help", "--", "-t5", "-x"]
_VALUES = ["mx.example.com", "192.0.2.7:25", "smtp", "imap", "starttls", "implicit", "nope", "5", "0.5", "-5", "1e3",
           "x", "", "-", "a=b", "--sni", "[2001:db8::7]:993", "١٢", " 7", "inf"]


def _argparse(argv: list[str]) -> dict | None:
    try:
        return vars(parser().parse_args(argv))
    except SystemExit:
        return None


@settings(max_examples=1000, deadline=None)
@given(argv=st.lists(st.one_of(
    st.sampled_from(_VALUES),
    st.tuples(st.sampled_from(_FLAGS), st.sampled_from(_VALUES + _FLAGS)).map(lambda fv: [fv[0], fv[1]]),
    st.tuples(st.sampled_from(_FLAGS), st.sampled_from(_VALUES)).map(lambda fv: [f"{fv[0]}={fv[1]}"]),
), max_size=6).map(lambda parts: [p for part in parts for p in ([part] if isinstance(part, str) else part)]))
def test_the_quick_reader_gives_what_argparse_gives_or_leaves_it_to_argparse(argv):
    # Given any arguments, When both read them (argparse's usage errors go to the captured stderr)
    quick = quick_args(argv)
    full = _argparse(argv)
    # Then where the quick reader answers, argparse accepts the same and gives the same values
    if quick is not None:
        assert full is not None and vars(quick) == full, (argv, vars(quick), full)


@pytest.mark.parametrize("argv", [
    ["192.0.2.7:25", "--sni", "mx.example.com", "--ca-file", "/etc/ssl/ca.pem"],
    ["mx.example.com:993", "-n", "192.0.2.53", "--nameserver=192.0.2.54:5353", "-t", "3", "-w", "21", "-c", "7"],
    ["mail.example.com:2525", "--address", "192.0.2.7", "--protocol", "smtp", "--tls", "starttls", "--ehlo", "me"],
])
def test_a_monitoring_jobs_plain_arguments_are_read_without_argparse(argv):
    # the usual command lines take the quick reader (the fast start), with argparse's values
    quick = quick_args(argv)
    assert quick is not None and vars(quick) == _argparse(argv), argv


@pytest.mark.parametrize("argv", [["--help"], ["mx.example.com", "--time", "3"], ["mx.example.com", "-t5"],
                                  ["mx.example.com", "-w", "x"], ["mx.example.com", "--tls", "sometimes"],
                                  ["a.example.com", "b.example.com"], [], ["mx.example.com", "--sni"],
                                  ["mx.example.com", "--address", "--sni"], ["mx.example.com", "--ehlo", "-5"],
                                  ["mx.example.com", "--", "--sni"]])
def test_anything_else_is_left_to_argparse(argv):
    assert quick_args(argv) is None, argv


@pytest.mark.parametrize("text, expected", [
    ("2001:DB8:0:0:0:0:0:7", "2001:db8::7"), ("::ffff:192.0.2.7", "::ffff:192.0.2.7"), ("fe80::1%eth0", "fe80::1%eth0"),
    ("192.0.2.7", "192.0.2.7"), ("192.0.2.07", None), ("192.0.2", None), ("1.2.3.4%eth0", None), ("fe80::1%", None),
    ("mx.example.com", None), ("١.٢.٣.٤", None), ("1.2.3.4\0", None),
])
def test_ip_addresses_are_recognised_and_written_canonically(text, expected):
    assert canonical_ip(text) == expected
