"""`maildoctor probe HOST:PORT` against the lab's real Postfix and Dovecot: every healthy port, the
certificate scenarios, refused and filtered ports; the real console script, Nagios output and exit codes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

MAILDOCTOR = str(Path(sys.executable).parent / "maildoctor")
pytestmark = pytest.mark.lab


def probe(lab, target: str, *args: str, timeout: float = 5) -> subprocess.CompletedProcess:
    return subprocess.run([MAILDOCTOR, "probe", target, "--nameserver", lab.resolver, "--ca-file", str(lab.ca_file),
                           "--timeout", str(timeout), *args], capture_output=True, text=True, timeout=timeout + 30)


def first(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout.splitlines()[0] if proc.stdout else ""


def test_every_healthy_port_is_ok_with_its_protocol_and_tls(lab):
    # Given every mail port of the healthy domain (SMTP 25/587/465, IMAP 143/993, POP3 110/995)
    seen = set()
    for host in lab.scenarios["healthy"]["hosts"].values():
        for service, port in host["ports"].items():
            # When each is probed by name, resolved through the lab resolver
            proc = probe(lab, f"{host['fqdn']}:{port}")
            # Then OK (0), naming the protocol, the way TLS started and the certificate's days
            assert proc.returncode == 0, proc.stdout + proc.stderr
            line = first(proc)
            protocol = {"smt": "smtp", "sub": "smtp", "ima": "imap", "pop": "pop3"}[service[:3]]
            how = "implicit TLS" if port in (465, 993, 995) else "STARTTLS"
            assert line.startswith(f"MAILDOCTOR OK - {protocol} {host['fqdn']}:{port} ({host['addr']})"), line
            assert how in line and "certificate valid" in line and "cert_days=" in line, line
            seen.add(port)
    assert seen == {25, 587, 465, 143, 993, 110, 995}


def test_an_ip_address_with_sni_needs_no_dns_and_without_it_the_name_does_not_match(lab):
    addr, name = lab.host("mx1"), lab.hostname("mx1")
    # Given the MX's address and, once, the name it serves
    ok = subprocess.run([MAILDOCTOR, "probe", f"{addr}:25", "--sni", name, "--ca-file", str(lab.ca_file)],
                        capture_output=True, text=True, timeout=30)
    bare = subprocess.run([MAILDOCTOR, "probe", f"{addr}:25", "--ca-file", str(lab.ca_file)],
                          capture_output=True, text=True, timeout=30)
    # Then with the name: OK; without: CRITICAL, the certificate is not for the address
    assert ok.returncode == 0 and first(ok).startswith(f"MAILDOCTOR OK - smtp {name}:25 ({addr})"), ok.stdout
    assert bare.returncode == 2 and "tls.cert_name_mismatch" in bare.stdout, bare.stdout


@pytest.mark.parametrize("scenario, code", [("certexpired", "tls.cert_expired"),
                                            ("certwrongname", "tls.cert_name_mismatch"),
                                            ("certselfsigned", "tls.cert_self_signed"),
                                            ("certnochain", "tls.cert_chain_incomplete")])
def test_a_bad_certificate_is_critical_with_its_code(lab, scenario, code):
    proc = probe(lab, f"{lab.hostname(scenario)}:25")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert first(proc).startswith("MAILDOCTOR CRITICAL - "), proc.stdout
    assert f"CRITICAL: {code}:" in proc.stdout, proc.stdout


def test_expiry_days_follow_warning_and_critical(lab):
    # Given a certificate that expires in a few days (under the default 7: critical)
    host = f"{lab.hostname('certexpiring')}:25"
    default = probe(lab, host)
    days = int(default.stdout.split("cert_days=")[1].split(";")[0])
    assert 0 < days < 7, default.stdout
    # When the thresholds move below and around it
    warning = probe(lab, host, "--warning", str(days + 1), "--critical", str(days - 1))
    fine = probe(lab, host, "--warning", str(days - 1), "--critical", "0")
    # Then CRITICAL, WARNING, OK; the thresholds are in the performance data
    assert default.returncode == 2 and "tls.cert_expiring" in default.stdout, default.stdout
    assert warning.returncode == 1 and first(warning).startswith("MAILDOCTOR WARNING"), warning.stdout
    assert f"cert_days={days};{days + 1};{days - 1}" in warning.stdout, warning.stdout
    assert fine.returncode == 0, fine.stdout


def test_no_starttls_is_critical(lab):
    proc = probe(lab, f"{lab.hostname('nostarttls')}:25")
    assert proc.returncode == 2 and "no STARTTLS" in first(proc), proc.stdout


def test_refused_and_filtered_ports_are_critical_and_bounded_by_the_timeout(lab):
    refused = probe(lab, f"{lab.hostname('refused')}:25")
    assert refused.returncode == 2 and "connection refused" in first(refused), refused.stdout
    # Given a host whose packets are dropped, When probed with --timeout 1.5
    start = time.monotonic()
    filtered = probe(lab, f"{lab.hostname('filtered')}:25", timeout=1.5)
    took = time.monotonic() - start
    # Then CRITICAL (a timeout at the target is a failure), within the timeout plus start-up
    # (the connect phase's own timeout, or the whole probe's when DNS took part of it on a busy machine)
    assert filtered.returncode == 2 and ("timeout" in first(filtered) or "timed out" in first(filtered)), \
        filtered.stdout
    assert took < 1.5 + 10, took


def test_a_name_that_does_not_exist_is_critical_and_a_silent_resolver_unknown(lab):
    missing = probe(lab, f"nosuch.{lab.domain('healthy')}:25")
    assert missing.returncode == 2 and "NXDOMAIN" in first(missing), missing.stdout
    # a resolver address where nothing answers: maildoctor could not check -> UNKNOWN
    silent = subprocess.run([MAILDOCTOR, "probe", f"{lab.hostname('mx1')}:25", "--nameserver", lab.host("filtered"),
                             "--timeout", "2"], capture_output=True, text=True, timeout=40)
    assert silent.returncode == 3 and first(silent).startswith("MAILDOCTOR UNKNOWN"), silent.stdout
