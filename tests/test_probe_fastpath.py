"""The probe's fast path (diagnose.net.verified_session) against the lab's real Postfix and Dovecot and
against hostile fakes: a healthy port is judged without asyncio or cryptography; anything else gets the
same verdict, in the same words, as the full dialogue and knowledge.certs give it."""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from diagnose.app.probe import Request, render, run
from diagnose.app.probe_full import probe
from tests.test_probe_faults import _hostile_refusal, _silent, _stalls_after_starttls, fake_server

# what the healthy path does without besides the heavy packages: each costs a few ms of start-up
SLOW_STDLIB = ("argparse", "gettext", "locale", "dataclasses", "inspect", "typing", "pathlib", "datetime", "ipaddress",
               "asyncio", "socket", "ssl", "selectors", "re", "enum", "functools", "collections")
# the console script's entry point in a fresh interpreter, then the heavy packages and SLOW_STDLIB modules it loaded
IMPORTS = textwrap.dedent("""
    import sys
    from diagnose.app.entry import main
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
    heavy = ("asyncio", "cryptography", "dns", "typer", "rich", "textual", "pydantic", "checks", "reports")
    print("loaded:" + ",".join(sorted({m.split(".")[0] for m in sys.modules} & set(heavy))), file=sys.stderr)
    print("slow:" + ",".join(sorted(set(sys.modules) & set(%r))), file=sys.stderr)
""") % (SLOW_STDLIB,)


def probe_imports(*argv: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    proc, loaded, _slow = probe_imports_all(*argv)
    return proc, loaded


def probe_imports_all(*argv: str) -> tuple[subprocess.CompletedProcess, set[str], set[str]]:
    """(the run, the heavy packages it loaded, the SLOW_STDLIB modules it loaded)."""
    proc = subprocess.run([sys.executable, "-c", IMPORTS, "probe", *argv], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    loaded = set(lines[-2].removeprefix("loaded:").split(",")) - {""}
    return proc, loaded, set(lines[-1].removeprefix("slow:").split(",")) - {""}


def words(output: str) -> list[str]:
    """The plugin output without the performance data (times differ from run to run)."""
    return [line.split(" | ")[0] for line in output.splitlines()]


def request(host: str, address: str, port: int, *, timeout: float = 5.0, ca_file: Path | None = None,
            protocol: str = "smtp", implicit: bool = False) -> Request:
    return Request(host=host, address=address, port=port, protocol=protocol, implicit_tls=implicit,
                   timeout=timeout, warn_days=14, crit_days=7, ca_file=ca_file)


@pytest.mark.lab
@pytest.mark.parametrize("host, port", [("mx1", 25), ("smtp", 465), ("imap", 143), ("imap", 995)])
def test_a_healthy_port_is_ok_without_asyncio_or_cryptography(lab, host, port):
    # Given a healthy lab port, its address and the name it serves
    proc, loaded, slow = probe_imports_all(f"{lab.host(host)}:{port}", "--sni", lab.hostname(host), "--ca-file",
                                           str(lab.ca_file))
    # Then OK, judged on the fast path: neither asyncio nor cryptography (nor anything heavy) was imported
    assert proc.returncode == 0 and proc.stdout.startswith("MAILDOCTOR OK - "), proc.stdout + proc.stderr
    assert "certificate valid" in proc.stdout and "cert_days=" in proc.stdout, proc.stdout
    assert loaded == set(), loaded
    # nor argparse, dataclasses, typing, pathlib, datetime, ipaddress: the plain arguments are read without argparse
    assert slow == set(), slow


@pytest.mark.lab
def test_a_healthy_port_by_name_is_resolved_without_dnspython(lab):
    # Given the healthy MX by name and the lab resolver
    proc, loaded, slow = probe_imports_all(f"{lab.hostname('mx1')}:25", "--nameserver", lab.resolver, "--ca-file",
                                           str(lab.ca_file))
    # Then OK at the MX's address, the name looked up by diagnose.net.quickdns: no dnspython, no asyncio
    assert proc.stdout.startswith(f"MAILDOCTOR OK - smtp {lab.hostname('mx1')}:25 ({lab.host('mx1')}): "), proc.stdout
    assert loaded == set() and slow == set(), (loaded, slow)
    # and a name that does not exist still gets dnspython's words (the quick look-up leaves it)
    proc, loaded, _slow = probe_imports_all(f"nosuch.{lab.domain('healthy')}:25", "--nameserver", lab.resolver)
    assert proc.stdout.startswith("MAILDOCTOR CRITICAL") and "does not exist (NXDOMAIN)" in proc.stdout, proc.stdout
    assert "dns" in loaded, loaded


@pytest.mark.lab
def test_a_refused_port_is_critical_on_the_fast_path_in_the_full_paths_words(lab):
    # Given a host where nothing listens on 25, by name
    proc, loaded, _slow = probe_imports_all(f"{lab.hostname('refused')}:25", "--nameserver", lab.resolver)
    # Then CRITICAL, said by the fast path itself: no asyncio, no cryptography
    assert proc.stdout.startswith("MAILDOCTOR CRITICAL - ") and "connection refused" in proc.stdout, proc.stdout
    assert loaded == set(), loaded
    # in the words of the full path
    req = request(lab.hostname("refused"), lab.host("refused"), 25)
    fast, full = render(run(req)), render(asyncio.run(probe(req)))
    assert words(fast) == words(full), (fast, full)


@pytest.mark.lab
@pytest.mark.parametrize("host, port, protocol, implicit", [("mx1", 25, "smtp", False), ("imap", 993, "imap", True),
                                                            ("imap", 110, "pop3", False)])
def test_the_fast_ok_says_what_the_full_judgement_says(lab, host, port, protocol, implicit):
    req = request(lab.hostname(host), lab.host(host), port, ca_file=lab.ca_file, protocol=protocol, implicit=implicit)
    fast, full = render(run(req)), render(asyncio.run(probe(req)))
    assert words(fast) == words(full), (fast, full)
    # the same performance data: time=, greeting=, then cert_days= with the same days and thresholds
    fast_perf, full_perf = fast.splitlines()[0].split(" | ")[1].split(), full.splitlines()[0].split(" | ")[1].split()
    assert [p.split("=")[0] for p in fast_perf] == [p.split("=")[0] for p in full_perf] == ["time", "greeting",
                                                                                           "cert_days"]
    assert fast_perf[-1] == full_perf[-1], (fast, full)


@pytest.mark.lab
@pytest.mark.parametrize("scenario, code", [("certexpired", "tls.cert_expired"),
                                            ("certexpiring", "tls.cert_expiring"),
                                            ("certwrongname", "tls.cert_name_mismatch"),
                                            ("certselfsigned", "tls.cert_self_signed"),
                                            ("certnochain", "tls.cert_chain_incomplete")])
def test_a_bad_certificate_leaves_the_fast_path_for_knowledge_certs_in_the_same_words(lab, scenario, code):
    # Given a certificate OpenSSL does not accept (or one inside the warning days)
    req = request(lab.hostname(scenario), lab.host(scenario), 25, ca_file=lab.ca_file)
    # When probed (fast path first) and by the full path alone
    fast, full = render(run(req)), render(asyncio.run(probe(req)))
    # Then the same verdict in the same words, knowledge.certs's code among them
    assert words(fast) == words(full), (fast, full)
    assert f": {code}: " in fast, fast
    # and the console script loaded cryptography for it (the judgement with its explanation)
    proc, loaded = probe_imports(f"{lab.host(scenario)}:25", "--sni", lab.hostname(scenario), "--ca-file",
                                 str(lab.ca_file))
    assert proc.stdout.startswith(("MAILDOCTOR CRITICAL", "MAILDOCTOR WARNING")) and code in proc.stdout, proc.stdout
    assert "cryptography" in loaded, loaded


def _garbage(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    time.sleep(0.5)


def _no_starttls(conn: socket.socket) -> None:
    conn.sendall(b"220 fake ESMTP\r\n")
    conn.recv(1024)
    conn.sendall(b"250-fake\r\n250 PIPELINING\r\n")
    conn.recv(1024)
    conn.sendall(b"221 bye\r\n")


def _resets_after_ehlo(conn: socket.socket) -> None:
    conn.sendall(b"220 fake ESMTP\r\n")
    conn.recv(1024)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a RST


@pytest.mark.parametrize("behaviour", [_silent, _stalls_after_starttls, _hostile_refusal, _garbage, _no_starttls,
                                       _resets_after_ehlo],
                         ids=lambda f: f.__name__.strip("_"))
def test_a_hostile_server_gets_the_same_verdict_on_the_fast_path_and_within_the_timeout(behaviour):
    # Given a fake server and a name to verify (the fast path applies)
    with fake_server(behaviour) as port:
        req = request("fake.test", "127.0.0.1", port, timeout=1.5)
        start = time.monotonic()
        fast = render(run(req))
        took = time.monotonic() - start
        full = render(asyncio.run(probe(req)))
    # Then the words of the full path, and no wait twice: within --timeout (plus slack for a loaded machine)
    assert fast.startswith("MAILDOCTOR CRITICAL - smtp fake.test:"), fast
    if behaviour is _stalls_after_starttls:
        # the full path's phase limit and its whole --timeout nearly coincide there: either may speak first
        assert "STARTTLS handshake failed" in fast.splitlines()[0], fast
        assert "handshake" in full.splitlines()[0] or "timed out" in full.splitlines()[0], full
    else:
        assert words(fast) == words(full), (fast, full)
    assert took < 1.5 + 1.0, took  # a second wait would take 1.35 s more


@pytest.mark.lab
def test_a_python_without_the_tls_names_the_fast_path_uses_gets_the_full_path(lab, monkeypatch):
    # Given a Python whose _ssl lacks what diagnose.net.rawtls uses (a future CPython, say)
    from diagnose.net import rawtls

    monkeypatch.setattr(rawtls, "AVAILABLE", False)
    req = request(lab.hostname("mx1"), lab.host("mx1"), 25, ca_file=lab.ca_file)
    # Then the fast session steps aside without connecting, and the probe is judged on the full path, OK
    from diagnose.net.verified_session import verified_session

    q = verified_session(host=req.host, address=req.address, port=25, protocol="smtp", implicit_tls=False,
                         timeout=5, deadline=time.monotonic() + 5, warn_days=14, ca_file=str(lab.ca_file))
    assert not q.ok and not q.connected and "lacks" in q.why_not, q.why_not
    fast, full = render(run(req)), render(asyncio.run(probe(req)))
    assert fast.startswith("MAILDOCTOR OK - ") and words(fast) == words(full), (fast, full)
