"""Trust: never a pass for what was not tested, never a secret leaked or a command injected.

Runs in a private network namespace (firewall rules for the "filtered" case; the addresses are the
namespace's own loopback), with the hostile kit's servers:

- a login the user asked for that could not run (filtered port, silent server, fake STARTTLS,
  untrusted certificate, stalled TLS handshake) is an error (exit 3), never "PASS mail looks healthy";
- CR/LF in a user name, password, --ehlo or --to is refused with one error line before any connection;
- a server that echoes our LOGIN/PASS command does not get the password (in any encoding) into a report;
- an MX whose IPv6 address refuses while IPv4 works is a warning, not a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from diagnose.engine.report import Report
from reports import renderer
from tests.hostile.conftest import DNS_INDEX, Kit, addr, assert_clean, domain, needs_root, run_cli

T = 1.0
LIMIT = 14.0  # seconds of diagnosis: probe + login session, each a few bounded phases

# case -> (address index, behaviour on its ports, ports)
LOGIN_CASES = {
    "t-filtered": (150, None, ()),  # nothing listens; iptables drops 465/587 (a filtered port)
    "t-silent": (151, "silent", (465, 587, 143, 993)),
    "t-fakestarttls": (152, "starttls_plaintext", (587,)),
    "t-untrusted": (153, "absurd_cert", (465, 587)),
    "t-stalltls": (154, "tls_stall", (587,)),
}
RECORDER = ("t-rec", 160)
V6FALLBACK = ("t-v6fb", 161)


def sh(ns: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True)


@pytest.fixture(scope="module")
def world():
    needs_root()
    missing = [tool for tool in ("ip", "iptables") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"these tests need {', '.join(missing)} (iproute2, iptables)")
    ns = f"mdtrust{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"the kernel refused a network namespace (ip netns add: {made.stderr.strip()})")
    kit = None
    try:
        sh(ns, "ip", "link", "set", "lo", "up").check_returncode()
        for port in ("465", "587"):
            sh(ns, "iptables", "-A", "INPUT", "-d", addr(LOGIN_CASES["t-filtered"][0]), "-p", "tcp", "--dport", port,
               "-j", "DROP").check_returncode()
        records, servers = [], []
        for case, (index, behaviour, ports) in LOGIN_CASES.items():
            d = domain(case)
            records += [[d, "MX", f"10 smtp.{d}."], [f"smtp.{d}", "A", addr(index)], [f"imap.{d}", "A", addr(index)]]
            if behaviour:
                args = {"kind": "negative_serial", "host": f"smtp.{d}"} if behaviour == "absurd_cert" else {}
                servers.append({"address": addr(index), "ports": list(ports), "behaviour": behaviour, "args": args})
        case, index = RECORDER
        d = domain(case)
        records += [[d, "MX", f"10 mx.{d}."], *[[f"{s}.{d}", "A", addr(index)] for s in ("mx", "smtp", "imap", "pop")]]
        servers.append({"address": addr(index), "ports": [25, 587, 143, 110], "behaviour": "recorder"})
        case, index = V6FALLBACK
        d = domain(case)
        records += [[d, "MX", f"10 mx.{d}."], [f"mx.{d}", "A", addr(index)], [f"mx.{d}", "AAAA", "::1"]]
        servers.append({"address": addr(index), "ports": [25], "behaviour": "polite"})  # nothing on [::1]:25
        kit = Kit({"dns": {"address": addr(DNS_INDEX), "records": records}, "servers": servers}, netns=ns)
        yield ns, kit
    finally:
        if kit is not None:
            kit.stop()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def cli(world, case: str, *args: str, env: dict | None = None, json_report: bool = True):
    ns, _kit = world
    run = run_cli(["check", domain(case), "--nameserver", addr(DNS_INDEX), "--timeout", str(T), *args],
                  limit=LIMIT, netns=ns, json_report=json_report, env=env)
    assert_clean(run)
    return run


def assert_not_a_pass(run) -> None:
    """Exit 3, an error verdict in every format: JSON, text, Nagios, JUnit."""
    assert run.code == 3, run
    report = Report.from_dict(run.report)
    assert report.verdict.value == "error", run
    assert "looks healthy" not in run.stdout and "PASS" not in run.stdout.splitlines()[-1], run
    assert not renderer("nagios")(report).startswith("MAILDOCTOR OK"), run
    root = ET.fromstring(renderer("junit")(report))
    assert int(root.get("errors", "0")) + int(root.get("failures", "0")) > 0, run


LOGIN = ["--user", "bob@example.org", "--password-env", "MD_TRUST_PW"]
PW = {"MD_TRUST_PW": "Tr-ust-pw-1"}


@pytest.mark.parametrize("case", list(LOGIN_CASES))
def test_a_login_asked_for_that_could_not_run_is_an_error(world, case):
    # Given only the login check, against a server where it cannot run
    run = cli(world, case, "--check", "login.smtp", "--smtp-host", f"smtp.{domain(case)}", *LOGIN, env=PW)
    # Then it is no pass: the login says why it was not tested, and that is an error (exit 3)
    assert run.codes("login.smtp").get("login.smtp.not_tested") == "error", run
    assert_not_a_pass(run)


def test_the_login_family_asked_for_that_could_not_run_is_an_error(world):
    case = "t-silent"
    run = cli(world, case, "--check", "login", "--smtp-host", f"smtp.{domain(case)}",
              "--imap-host", f"imap.{domain(case)}", *LOGIN, env=PW)
    assert "error" in run.statuses("login.smtp") and "error" in run.statuses("login.imap"), run
    assert_not_a_pass(run)


def test_a_round_trip_asked_for_that_could_not_run_is_an_error(world):
    case = "t-untrusted"
    run = cli(world, case, "--roundtrip", "--check", "roundtrip", "--smtp-host", f"smtp.{domain(case)}",
              "--imap-host", f"imap.{domain(case)}", *LOGIN, env=PW)
    assert run.codes("roundtrip.delivery").get("roundtrip.delivery.not_tested") == "error", run
    assert_not_a_pass(run)


INJECTIONS = {
    "user": (["--check", "login.pop3", "--pop-host", "pop.{d}", "--user", "bob\r\nDELE 1", "--password-env",
              "MD_TRUST_PW", "--allow-plaintext-auth"], PW),
    "user-lf": (["--check", "login.smtp", "--smtp-host", "smtp.{d}", "--user", "bob\nRSET", "--password-env",
                 "MD_TRUST_PW", "--allow-plaintext-auth"], PW),
    "password": (["--check", "login.pop3", "--pop-host", "pop.{d}", "--user", "bob", "--password-env", "MD_TRUST_PW",
                  "--allow-plaintext-auth"], {"MD_TRUST_PW": "x\r\nDELE 1"}),
    "imap-password": (["--check", "login.imap", "--imap-host", "imap.{d}", "--user", "bob", "--password-env",
                       "MD_TRUST_PW", "--allow-plaintext-auth"], {"MD_TRUST_PW": "x\nm9 DELETE INBOX"}),
    "ehlo": (["--check", "smtp.greeting", "--ehlo", "mx.example.org\r\nRSET"], {}),
    "to": (["--roundtrip", "--check", "roundtrip", "--smtp-host", "smtp.{d}", "--imap-host", "imap.{d}", "--user",
            "bob", "--password-env", "MD_TRUST_PW", "--allow-plaintext-auth", "--to", "a@example.org\r\nRCPT TO:<x@y.z>"],
           PW),
}


@pytest.mark.parametrize("name", list(INJECTIONS))
def test_cr_lf_in_a_value_for_a_protocol_line_is_refused_before_any_connection(world, name):
    _ns, kit = world
    case, index = RECORDER
    args, env = INJECTIONS[name]
    before = len(kit.lines)
    run = cli(world, case, *[a.replace("{d}", domain(case)) for a in args], env=env, json_report=False)
    assert_clean(run, error_line=True)
    assert "CR" in run.stderr or "LF" in run.stderr, run
    assert "DELE" not in run.stderr and "x\r\n" not in run.stderr, run  # the value (maybe a password) is not shown
    assert not [line for line in kit.lines[before:] if line.startswith(("accepted", "got"))], kit.lines[before:]


SECRET = 'S3cr"et\\pw-9'  # a quote and a backslash: IMAP LOGIN sends it escaped, "S3cr\"et\\pw-9"


@pytest.mark.parametrize("check_id,host", [("login.imap", "imap"), ("login.pop3", "pop"), ("login.smtp", "smtp")])
def test_a_server_echoing_the_login_command_gets_no_form_of_the_password_into_a_report(world, check_id, host):
    _ns, kit = world
    case, _index = RECORDER
    before = len(kit.lines)
    run = cli(world, case, "--check", check_id, f"--{host}-host", f"{host}.{domain(case)}", "--user", "bob",
              "--password-env", "MD_TRUST_PW", "--allow-plaintext-auth", env={"MD_TRUST_PW": SECRET})
    got = b"".join(bytes.fromhex(line.split()[2]) for line in kit.lines[before:] if line.startswith("got "))
    assert b"LOGIN" in got or b"PASS" in got or b"AUTH" in got, got  # the server did get (and echo) it
    escaped = SECRET.replace("\\", "\\\\").replace('"', '\\"')
    forms = [SECRET, escaped, escaped.replace("\\", "\\\\")]  # raw, IMAP-quoted, and the quoted form in JSON
    report = Report.from_dict(run.report)
    outputs = {fmt: renderer(fmt)(report) for fmt in ("text", "markdown", "html", "junit", "nagios", "json")}
    outputs |= {"stdout": run.stdout, "stderr": run.stderr}
    for where, text in outputs.items():
        for form in forms:
            assert form not in text, f"the password ({form!r}) leaked into {where}"
        for form in ("S3cr", "pw-9"):
            assert form not in text, f"a part of the password leaked into {where}"


def test_an_ipv6_address_that_refuses_while_ipv4_works_is_a_warning(world):
    case, _index = V6FALLBACK
    run = cli(world, case, "--check", "tcp", "--check", "smtp")
    v6 = [f for f in run.report["findings"] if "[::1]" in f["subject"] and f["check"] == "tcp.connect"]
    assert v6 and all(f["status"] == "warn" for f in v6), run
    assert "fall back" in v6[0]["summary"], run
    assert run.code == 1 and run.report["verdict"] == "warn", run
