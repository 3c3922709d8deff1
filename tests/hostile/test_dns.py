"""DNS faults, served by the fake authoritative DNS (tests/hostile/fakedns.py) as maildoctor's resolver.

Each case is a name under hostile.test; a polite SMTP server stands behind the addresses so the
DNS fault is the only fault. Every run must end within its timeouts with findings (or, when no
resolver answers at all, with one error line), never a traceback, never a pass for what DNS broke.
"""

from __future__ import annotations

import socket

import pytest

from tests.hostile.conftest import DNS_INDEX, Kit, addr, assert_clean, domain, needs_root, run_cli

T = 1.0
LIMIT = 6 * T + 2  # seconds of diagnosis: a dialogue has ~6 bounded phases; DNS is quick
POLITE = 40  # address index of the polite SMTP server every name points at


def _records() -> list:
    ok = addr(POLITE)
    r = []

    def mx(case: str, *targets: str) -> None:
        r.extend([domain(case), "MX", f"{10 + i} {t}."] for i, t in enumerate(targets))

    for case in ("dnstimeout", "servfail", "truncated", "mxtimeout"):
        mx(case, f"mx.{domain(case)}")
        r.append([f"mx.{domain(case)}", "A", ok])
    # an MX pointing at the domain itself (no address), and an MX target whose A lookup loops
    mx("mxloop", domain("mxloop"))
    mx("mxcnameloop", f"a.{domain('mxcnameloop')}")
    r += [[f"a.{domain('mxcnameloop')}", "CNAME", f"b.{domain('mxcnameloop')}."],
          [f"b.{domain('mxcnameloop')}", "CNAME", f"a.{domain('mxcnameloop')}."]]
    # a CNAME chain of 12 links to the MX host's address
    mx("chain", f"c0.{domain('chain')}")
    r += [[f"c{i}.{domain('chain')}", "CNAME", f"c{i + 1}.{domain('chain')}."] for i in range(12)]
    r.append([f"c12.{domain('chain')}", "A", ok])
    # the domain itself is a CNAME loop
    r += [[domain("cnameloop"), "CNAME", f"other.{domain('cnameloop')}."],
          [f"other.{domain('cnameloop')}", "CNAME", f"{domain('cnameloop')}."]]
    # 200 MX records, all with an address (the answer needs TCP: it is far bigger than 1232 bytes)
    mx("many", *(f"mx{i}.{domain('many')}" for i in range(200)))
    r += [[f"mx{i}.{domain('many')}", "A", ok] for i in range(200)]
    # TXT: an SPF record split into many strings, big enough to be truncated over UDP
    spf = "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(1, 40)) + " mx -all"
    mx("split", f"mx.{domain('split')}")
    r += [[f"mx.{domain('split')}", "A", ok],
          [domain("split"), "TXT", [spf[i:i + 7].encode().hex() for i in range(0, len(spf), 7)]],
          [domain("split"), "TXT", [("x" * 255).encode().hex()] * 8]]
    # non-ASCII (and escape) bytes inside SPF, DMARC, MTA-STS and TLS-RPT records
    bad = b"\xff\xfe\xc3\x28 \x1b[31m<script>\x00"
    mx("nonascii", f"mx.{domain('nonascii')}")
    r += [[f"mx.{domain('nonascii')}", "A", ok],
          [domain("nonascii"), "TXT", [(b"v=spf1 ip4:192.0.2.1 " + bad + b" -all").hex()]],
          [f"_dmarc.{domain('nonascii')}", "TXT", [(b"v=DMARC1; p=reject; rua=mailto:" + bad).hex()]],
          [f"_mta-sts.{domain('nonascii')}", "TXT", [(b"v=STSv1; id=" + bad).hex()]],
          [f"_smtp._tls.{domain('nonascii')}", "TXT", [(b"v=TLSRPTv1; rua=mailto:" + bad).hex()]]]
    return r


FAULTS = {
    domain("dnstimeout"): "timeout",
    domain("servfail"): "servfail",
    domain("truncated"): "truncate",
    f"mx.{domain('mxtimeout')}": "timeout",
}


@pytest.fixture(scope="module")
def kit():
    k = Kit({"dns": {"address": addr(DNS_INDEX), "records": _records(), "faults": FAULTS},
             "servers": [{"address": addr(POLITE), "ports": [25], "behaviour": "polite"}]})
    yield k
    k.stop()


def check(case: str, *extra: str, nameserver: str | None = None, limit: float = LIMIT):
    run = run_cli(["check", domain(case), "--nameserver", nameserver or addr(DNS_INDEX), "--timeout", str(T),
                   *extra], limit=limit, json_report=True)
    assert_clean(run)
    return run


def test_dns_timeout_for_the_domain(kit):
    run = check("dnstimeout")
    assert run.statuses("dns.exists") and "pass" not in run.statuses("dns.exists"), run
    assert "pass" not in run.statuses("mx.records"), run


def test_dns_timeout_for_the_mx_host_only(kit):
    run = check("mxtimeout")
    assert run.codes("mx.records").get("mx.target_lookup_failed") == "fail", run
    assert "timeout" in str(run.report).lower() or "in time" in str(run.report), run


def test_servfail(kit):
    run = check("servfail")
    assert run.statuses("dns.exists") and "pass" not in run.statuses("dns.exists"), run
    assert "SERVFAIL" in run.stdout, run


def test_truncated_answers_are_retried_over_tcp(kit):
    run = check("truncated")
    assert run.codes("mx.records").get("mx.records") == "pass", run
    assert "pass" in run.statuses("smtp.greeting"), run  # the server behind the name was reached


def test_mx_pointing_at_its_own_domain(kit):
    run = check("mxloop")
    assert run.codes("mx.records").get("mx.target_noaddress") == "fail", run


def test_mx_target_in_a_cname_loop(kit):
    run = check("mxcnameloop")
    assert "pass" not in run.statuses("tcp.connect"), run
    assert run.codes("mx.records").get("mx.cname_loop") == "fail", run  # called a loop, not a failed lookup


def test_cname_chain_to_the_mx_host(kit):
    run = check("chain")
    assert run.codes("mx.records").get("mx.cname") == "warn", run


def test_the_domain_is_a_cname_loop(kit):
    run = check("cnameloop")
    assert "pass" not in run.statuses("mx.records"), run


def test_two_hundred_mx_records(kit):
    run = check("many", limit=LIMIT + 10)
    assert "200 MX records" in str(run.report), run
    assert len(run.stdout) < 2_000_000


def test_txt_split_into_many_strings(kit):
    run = check("split")
    spf = [f for f in run.report["findings"] if f["check"] == "spf.record"]
    assert spf and not any(f["code"] == "spf.missing" for f in spf), run  # the strings were joined and found


def test_non_ascii_bytes_in_txt_records(kit):
    run = check("nonascii", "--verbose")
    for check_id in ("spf.record", "dmarc.record"):
        assert "pass" not in run.statuses(check_id), f"{check_id} passed a record with garbage in it\n{run}"


def test_resolver_not_listening(kit):
    needs_root()
    run = run_cli(["check", domain("servfail"), "--nameserver", addr(99), "--timeout", str(T)], limit=T + 4)
    assert_clean(run, error_line=True)
    assert addr(99) in run.stderr


def test_resolver_that_never_answers():
    needs_root()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind((addr(98), 53))  # bound, never read: every query is lost
        run = run_cli(["check", domain("servfail"), "--nameserver", addr(98), "--timeout", str(T)], limit=T + 4)
    assert_clean(run, error_line=True)
    assert "no DNS resolver answered" in run.stderr


def test_resolver_that_rejects_edns_is_asked_again_without_it():
    # Given a resolver (or a middlebox in front of it) that answers FORMERR to every EDNS query
    records = [[domain("oldedns"), "MX", f"10 mx.{domain('oldedns')}."], [f"mx.{domain('oldedns')}", "A", addr(41)]]
    kit = Kit({"dns": {"address": addr(52), "records": records, "faults": {".": "formerr_edns"}},
               "servers": [{"address": addr(41), "ports": [25], "behaviour": "polite"}]})
    try:
        run = check("oldedns", nameserver=addr(52))
    finally:
        kit.stop()
    # Then the domain is judged on the plain answers, not blamed for the resolver's FORMERR
    assert run.codes("dns.exists").get("dns.exists") == "pass", run
    assert run.codes("mx.records").get("mx.records") == "pass", run
