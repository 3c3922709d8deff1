"""The mail test lab works: DNS through the lab resolver, SMTP, TLS, IMAP, faults."""

from __future__ import annotations

import imaplib
import socket
import ssl
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.reversename
import pytest

pytestmark = pytest.mark.lab

TIMEOUT = 2.0


def query(lab, name: str, rtype: str) -> dns.message.Message:
    q = dns.message.make_query(name, rtype)
    return dns.query.udp(q, lab.resolver, timeout=TIMEOUT)


def resolver(lab) -> dns.resolver.Resolver:
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [lab.resolver]
    r.lifetime = TIMEOUT
    return r


def read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n") and len(data) < 4096:
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def read_reply(f) -> list[bytes]:
    """One (possibly multiline) SMTP reply from a file object."""
    lines = []
    for _ in range(100):
        line = f.readline()
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            break
    return lines


def test_healthy_mx(lab):
    answer = resolver(lab).resolve(lab.domain("healthy"), "MX")
    got = sorted((r.preference, r.exchange.to_text()) for r in answer)
    assert got == [(10, lab.hostname("mx1") + "."), (20, lab.hostname("mx2") + ".")]
    a = resolver(lab).resolve(lab.hostname("mx1"), "A")
    assert [r.address for r in a] == [lab.host("mx1")]
    assert lab.scenarios["healthy"]["mx"][0]["addresses"] == [lab.host("mx1")]


def test_nullmx(lab):
    answer = resolver(lab).resolve(lab.domain("nullmx"), "MX")
    assert [(r.preference, r.exchange.to_text()) for r in answer] == [(0, ".")]


def test_ptr_of_mx1(lab):
    name = dns.reversename.from_address(lab.host("mx1"))
    answer = resolver(lab).resolve(name, "PTR")
    assert [r.target.to_text() for r in answer] == [lab.hostname("mx1") + "."]


def test_negative_answers(lab):
    assert query(lab, lab.domain("nxdomain"), "MX").rcode() == dns.rcode.NXDOMAIN
    nodata = query(lab, lab.domain("nodata"), "MX")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    dangling = lab.scenarios["dangling"]["mx"][0]["exchange"]
    assert query(lab, dangling, "A").rcode() == dns.rcode.NXDOMAIN
    # the resolver never leaves the lab
    assert query(lab, "example.com", "A").rcode() == dns.rcode.REFUSED


def test_cname_and_implicit(lab):
    cname = resolver(lab).resolve(lab.scenarios["cnamemx"]["mx"][0]["exchange"], "A")
    assert [r.address for r in cname] == [lab.host("mx1")]
    assert query(lab, lab.domain("implicit"), "MX").answer == []
    apex = resolver(lab).resolve(lab.domain("implicit"), "A")
    assert [r.address for r in apex] == [lab.host("implicit")]


def test_banner_on_mx1(lab):
    with socket.create_connection((lab.host("mx1"), 25), timeout=TIMEOUT) as s:
        s.settimeout(TIMEOUT)
        banner = read_line(s)
        assert banner.startswith(b"220 " + lab.hostname("mx1").encode())
        s.sendall(b"QUIT\r\n")
        assert read_line(s).startswith(b"221")


def test_starttls_on_submission(lab):
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    with socket.create_connection((lab.host("mx1"), 587), timeout=TIMEOUT) as raw:
        raw.settimeout(TIMEOUT)
        f = raw.makefile("rb")
        assert read_reply(f)[0].startswith(b"220")
        raw.sendall(b"EHLO client.example\r\n")
        ehlo = b"".join(read_reply(f))
        assert b"STARTTLS" in ehlo
        assert b"AUTH" not in ehlo  # smtpd_tls_auth_only
        raw.sendall(b"STARTTLS\r\n")
        assert read_reply(f)[0].startswith(b"220")
        with ctx.wrap_socket(raw, server_hostname=lab.hostname("mx1")) as tls:
            cert = tls.getpeercert()
            assert ("DNS", lab.hostname("mx1")) in cert["subjectAltName"]
            tls.sendall(b"EHLO client.example\r\n")
            tf = tls.makefile("rb")
            assert b"AUTH" in b"".join(read_reply(tf))
            tls.sendall(b"QUIT\r\n")
            read_reply(tf)


class LabIMAP4_SSL(imaplib.IMAP4_SSL):
    """IMAPS to a lab address, checking the certificate against the host name
    (lab names resolve only through the lab resolver, not the system's)."""

    def __init__(self, addr: str, name: str, **kw):
        self._addr = addr
        super().__init__(name, 993, **kw)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self._addr, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def test_imaps_login(lab):
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    imap = LabIMAP4_SSL(lab.host("imap"), lab.hostname("imap"), ssl_context=ctx, timeout=TIMEOUT)
    try:
        assert imap.sock.getpeercert()["subjectAltName"] == (("DNS", lab.hostname("imap")),)
        typ, _ = imap.login(lab.user, lab.password)
        assert typ == "OK"
        typ, _ = imap.select("INBOX")
        assert typ == "OK"
    finally:
        imap.logout()


def test_imap_refuses_plaintext_login(lab):
    imap = imaplib.IMAP4(lab.host("imap"), 143, timeout=TIMEOUT)
    try:
        assert "LOGINDISABLED" in imap.capabilities
        assert "STARTTLS" in imap.capabilities
    finally:
        imap.shutdown()


def test_refused_and_filtered(lab):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((lab.host("refused"), 25), timeout=TIMEOUT).close()
    if not lab.firewall_available:
        pytest.fail(f"iptables unavailable: {lab.state['firewall'].get('error')}")
    t0 = time.monotonic()
    with pytest.raises((socket.timeout, TimeoutError)):
        socket.create_connection((lab.host("filtered"), 25), timeout=1.0).close()
    assert time.monotonic() - t0 >= 0.9
