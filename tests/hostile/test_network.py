"""Broken networks: IPv4-only and IPv6-only reachable hosts, packet loss, a slow link, latency, and a
filtered port on every MX at once.

Each test builds a private network namespace (``ip netns``) and runs the fake DNS, the servers
and maildoctor itself inside it, so its firewall rules and traffic shaping touch nothing else,
and only loopback addresses are used (127.x and ::1 of that namespace). The namespace, with its
rules and qdiscs, is deleted when the test ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.hostile.conftest import DNS_INDEX, Kit, addr, assert_clean, domain, needs_root, run_cli

T = 2.0


def sh(ns: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True)


@pytest.fixture
def netns():
    needs_root()
    missing = [tool for tool in ("ip", "tc", "iptables", "ip6tables") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"network namespace tests need {', '.join(missing)} (iproute2, iptables)")
    name = f"mdhostile{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"the kernel refused a network namespace (ip netns add: {made.stderr.strip()})")
    try:
        sh(name, "ip", "link", "set", "lo", "up").check_returncode()
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def dual(case: str, index: int) -> list:
    d = domain(case)
    return [[d, "MX", f"10 mx.{d}."], [f"mx.{d}", "A", addr(index)], [f"mx.{d}", "AAAA", "::1"]]


def diagnose(ns: str, case: str, *, limit: float, timeout: float = T):
    run = run_cli(["check", domain(case), "--nameserver", addr(DNS_INDEX), "--timeout", str(timeout)],
                  limit=limit, netns=ns, json_report=True)
    assert_clean(run)
    return run


def by_family(run, check: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"IPv4": set(), "IPv6": set()}
    for f in run.report["findings"]:
        if f["check"] == check and "[" in f["subject"]:
            out["IPv6" if "[::1]" in f["subject"] else "IPv4"].add(f["status"])
    return out


def test_reachable_over_ipv4_but_not_ipv6(netns):
    # Given a host with A and AAAA records whose IPv6 path ends in "no route"
    sh(netns, "ip6tables", "-A", "OUTPUT", "-d", "::1", "-p", "tcp", "--dport", "25", "-j", "REJECT",
       "--reject-with", "icmp6-no-route").check_returncode()
    kit = Kit({"dns": {"address": addr(DNS_INDEX), "records": dual("v4only", 60)},
               "servers": [{"address": addr(60), "ports": [25], "behaviour": "polite"}]}, netns=netns)
    try:
        run = diagnose(netns, "v4only", limit=4 * T + 5)
    finally:
        kit.stop()
    # Then IPv4 passes, IPv6 fails, each named as such: not one blended verdict
    tcp = by_family(run, "tcp.connect")
    assert tcp["IPv4"] == {"pass"} and tcp["IPv6"] and "pass" not in tcp["IPv6"], run
    greeting = by_family(run, "smtp.greeting")
    assert "pass" in greeting["IPv4"] and "pass" not in greeting["IPv6"], run


def test_reachable_over_ipv6_but_not_ipv4(netns):
    sh(netns, "iptables", "-A", "OUTPUT", "-d", addr(61), "-p", "tcp", "--dport", "25", "-j", "REJECT",
       "--reject-with", "icmp-net-unreachable").check_returncode()
    kit = Kit({"dns": {"address": addr(DNS_INDEX), "records": dual("v6only", 61)},
               "servers": [{"address": "::1", "ports": [25], "behaviour": "polite"}]}, netns=netns)
    try:
        run = diagnose(netns, "v6only", limit=4 * T + 5)
    finally:
        kit.stop()
    tcp = by_family(run, "tcp.connect")
    assert tcp["IPv6"] == {"pass"} and tcp["IPv4"] and "pass" not in tcp["IPv4"], run
    greeting = by_family(run, "smtp.greeting")
    assert "pass" in greeting["IPv6"] and "pass" not in greeting["IPv4"], run


def test_filtered_port_on_every_mx_finishes_in_about_one_timeout(netns):
    # Given three MX hosts whose port 25 silently drops every packet
    d = domain("filtered")
    records = [[d, "MX", f"{10 * i} mx{i}.{d}."] for i in range(1, 4)]
    records += [[f"mx{i}.{d}", "A", addr(69 + i)] for i in range(1, 4)]
    for i in range(1, 4):
        sh(netns, "iptables", "-A", "INPUT", "-d", addr(69 + i), "-p", "tcp", "--dport", "25", "-j", "DROP"
           ).check_returncode()
    kit = Kit({"dns": {"address": addr(DNS_INDEX), "records": records}}, netns=netns)
    try:
        run = diagnose(netns, "filtered", limit=T + 6)
    finally:
        kit.stop()
    # Then every address is a timeout failure, and the diagnosis took about one timeout, not three
    assert run.codes("tcp.connect") == {"tcp.timeout": "fail"}, run
    assert "pass" not in run.statuses("smtp.greeting"), run
    assert run.report["duration_s"] < 1.5 * T + 1, f"diagnosis took {run.report['duration_s']} s\n{run}"


@pytest.mark.parametrize("loss", [0.3])
def test_packet_loss_on_the_path(netns, loss):
    # Given 30 % of the packets to the mail server and to the DNS server dropped at random
    for index in (62, DNS_INDEX):
        sh(netns, "iptables", "-A", "INPUT", "-d", addr(index), "-m", "statistic", "--mode", "random",
           "--probability", str(loss), "-j", "DROP").check_returncode()
    kit = Kit({"dns": {"address": addr(DNS_INDEX), "records": dual("lossy", 62)[:2]},
               "servers": [{"address": addr(62), "ports": [25], "behaviour": "polite"}]}, netns=netns)
    try:
        run = run_cli(["check", domain("lossy"), "--nameserver", addr(DNS_INDEX), "--timeout", str(T)],
                      limit=8 * T + 5, netns=netns, json_report=True)
    finally:
        kit.stop()
    # Then the run ends in time with findings, or (if the resolver's answers were all lost) one error line
    if run.code == 3 and not run.report:
        assert_clean(run, error_line=True)
    else:
        assert_clean(run)
        assert run.report["findings"], run


def test_slow_link(netns):
    # Given every packet in the namespace squeezed through a 32 kbit/s link (htb)
    kit = Kit({"dns": {"address": addr(DNS_INDEX), "records": dual("slowlink", 63)[:2]},
               "servers": [{"address": addr(63), "ports": [25], "behaviour": "polite"}]}, netns=netns)
    try:
        for argv in (("tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10"),
                     ("tc", "class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb", "rate", "32kbit",
                      "ceil", "32kbit", "burst", "400b", "cburst", "400b")):
            done = sh(netns, *argv)
            if done.returncode != 0:
                pytest.skip(f"the kernel refused the htb qdisc: {done.stderr.strip()}")
        run = diagnose(netns, "slowlink", limit=8 * T + 8)
    finally:
        kit.stop()
    assert run.report["findings"], run


def test_high_latency_with_netem(netns):
    kit = Kit({"dns": {"address": addr(DNS_INDEX), "records": dual("latency", 64)[:2]},
               "servers": [{"address": addr(64), "ports": [25], "behaviour": "polite"}]}, netns=netns)
    try:
        done = sh(netns, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "150ms")
        if done.returncode != 0:
            pytest.skip(f"the kernel refused netem ({done.stderr.strip()}); latency is covered by the delayed "
                        "server in test_servers.py (test_latency_*)")
        run = diagnose(netns, "latency", limit=8 * T + 8)
    finally:
        kit.stop()
    # 300 ms round trips are slow but under the 2 s timeout: the server must pass, not time out
    assert "pass" in run.statuses("smtp.greeting"), run
