"""What the receiver saw: the hops (Received), the verdicts (Authentication-Results) and the DKIM
signatures of a delivered message's header. Pure functions on header text, tested on samples.

Received is free-form in practice (RFC 5321 §4.4 gives a skeleton; every MTA adds comments), so
the parser takes what it recognises and keeps the raw line: TLS shows as the ``with`` protocol
ESMTPS/ESMTPSA (RFC 3848) or as a comment naming the TLS version (Postfix ``(using TLSv1.3 ...)``,
Exim ``(TLS1.3)``, Microsoft ``version=TLS1_2``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32

from diagnose.knowledge.sanitize import clean

MAX_HEADERS = 100  # Received lines looked at (a mail loop adds hundreds)


@dataclass(frozen=True)
class Hop:
    from_host: str  # as the receiving server saw the sender (name and/or [address])
    by: str
    protocol: str  # the "with" word upper case: ESMTPSA, LMTP, SMTP... ("" unknown)
    tls: str  # "TLSv1.3" / "TLS" when the hop was encrypted, "local" for local delivery, "" when not / unknown
    date: str
    raw: str

    @property
    def encrypted(self) -> bool | None:
        """True, False, or None for a local hop (LMTP, local pickup) where TLS does not apply."""
        if self.tls == "local":
            return None
        return bool(self.tls)


@dataclass(frozen=True)
class AuthVerdict:
    method: str  # spf, dkim, dmarc, arc, ...
    result: str  # pass, fail, softfail, none, neutral, temperror, permerror, policy
    properties: dict[str, str] = field(default_factory=dict)  # header.d=..., smtp.mailfrom=...
    authserv: str = ""


@dataclass(frozen=True)
class Signature:
    domain: str  # d=
    selector: str  # s=
    algorithm: str  # a=


def duration_words(seconds: float) -> str:
    """A hop's delay (or skew) for people: "42 s", "7 min", "3.5 h" (the sign is the caller's)."""
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def parse_header_block(raw: bytes):
    """An email.message.Message of the header block (never raises on odd input)."""
    return BytesHeaderParser(policy=compat32).parsebytes(raw[:256 * 1024])


def _unfold(value: str) -> str:
    return clean(re.sub(r"\s+", " ", str(value)).strip(), limit=1000, keep_newlines=False)


_TLS_COMMENT = re.compile(r"(TLS\s?v?1[._ ]?[0-3]|TLS1_[0-3]|SSLv3|using\s+TLS\S*|\bTLS\b)", re.I)


def parse_received(value: str) -> Hop:
    text = _unfold(value)
    body, _, date = text.rpartition(";")
    if not body:
        body, date = text, ""
    bare = _strip_comments(body)  # "(using TLSv1.3 with cipher ...)" must not be read as the "with" clause
    from_host = _word_after(bare, "from")
    comment = re.match(r"\s*from\s+\S+\s+\(([^()]*)\)", body, re.I)
    if comment:
        from_host = f"{from_host} ({comment.group(1).strip()})"
    by = _word_after(bare, "by")
    protocol = _word_after(bare, "with").upper()
    tls = ""
    version = re.search(r"TLS\s?v?(1[._ ]?[0-3])|TLS1_([0-3])", body, re.I)
    if protocol == "LMTP" or protocol.startswith("LOCAL") or re.search(r"\bfrom userid\b", body, re.I):
        tls = "local"  # handed over inside the server (LMTP to the mailbox store, local pickup)
    elif version:
        digits = (version.group(1) or f"1{version.group(2)}").replace("_", ".").replace(" ", "")
        tls = f"TLSv{digits[0]}.{digits[-1]}" if len(digits) >= 2 else "TLS"
    elif protocol.endswith("S") or protocol.endswith("SA") or _TLS_COMMENT.search(body):
        tls = "TLS"
    return Hop(from_host, by, protocol, tls, date.strip(), text)


def _strip_comments(text: str) -> str:
    for _ in range(5):  # nested comments, a few levels deep
        text, n = re.subn(r"\([^()]*\)", " ", text)
        if not n:
            break
    return text


def _word_after(text: str, keyword: str) -> str:
    m = re.search(rf"(?:^|\s){keyword}\s+(\S+)", text, re.I)
    return m.group(1).strip("();") if m else ""


def hops(msg) -> list[Hop]:
    """Received headers oldest first (each server prepends its own, so the header order is reversed)."""
    values = (msg.get_all("Received") or [])[:MAX_HEADERS]
    return [parse_received(v) for v in reversed(values)]


_METHOD = re.compile(r"^\s*([A-Za-z0-9-]+)\s*=\s*([A-Za-z0-9-]+)(.*)$", re.S)


def parse_auth_results(value: str) -> list[AuthVerdict]:
    """RFC 8601 Authentication-Results: ``authserv-id; method=result prop=value ...; ...``."""
    text = re.sub(r"\([^()]*\)", " ", _unfold(value))  # comments
    parts = [p.strip() for p in text.split(";")]
    if not parts:
        return []
    authserv = parts[0].split()[0] if parts[0].split() else ""
    out = []
    for part in parts[1:]:
        m = _METHOD.match(part)
        if not m or m.group(1).lower() == "none":
            continue
        props = dict(re.findall(r"([A-Za-z0-9-]+\.[A-Za-z0-9_.-]+)=(\S+)", m.group(3)))
        out.append(AuthVerdict(m.group(1).lower(), m.group(2).lower(), props, authserv))
    return out


def auth_results(msg) -> list[AuthVerdict]:
    """All verdicts of the topmost Authentication-Results headers (the receiver's own come first)."""
    values = (msg.get_all("Authentication-Results") or [])[:10]
    return [v for value in values for v in parse_auth_results(value)]


def tag_list(value: str) -> dict[str, str]:
    """A DKIM-style ``tag=value; ...`` list (RFC 6376 §3.2), whitespace removed, tags lower case; the values
    are not sanitized (callers clean what they keep)."""
    return {k.strip().lower(): v.strip() for k, _, v in
            (t.partition("=") for t in re.sub(r"\s+", "", str(value)).split(";")) if k.strip()}


def signatures(msg) -> list[Signature]:
    out = []
    for value in (msg.get_all("DKIM-Signature") or [])[:10]:
        tags = tag_list(value)
        out.append(Signature(clean(tags.get("d", ""), limit=255), clean(tags.get("s", ""), limit=255),
                             clean(tags.get("a", ""), limit=40)))
    return out


_IP_LITERAL = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]{2,45})\]")


def hop_ip(hop: Hop) -> str:
    """The address the receiving server saw the sender connect from (the ``[address]`` after from)."""

    for m in _IP_LITERAL.finditer(hop.from_host):
        try:
            return str(ipaddress.ip_address(m.group(1)))
        except ValueError:
            continue
    return ""


def _internal(ip: str) -> bool:
    """An address mail only crosses inside one organisation: private ranges, link-local, and the
    machine's own 127.0.0.1/::1 (content filters re-injecting mail). Other 127/8 addresses count as
    external: test networks put whole mail systems on them."""

    addr = ipaddress.ip_address(ip)
    if addr.is_loopback:
        return ip in ("127.0.0.1", "::1")
    return addr.is_link_local or addr.is_unspecified or any(addr in net for net in _PRIVATE_NETS)


_PRIVATE_NETS = tuple(ipaddress.ip_network(n) for n in (  # RFC 1918, RFC 6598 (CGNAT), RFC 4193
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))


@dataclass(frozen=True)
class Entry:
    """Where the message entered the receiver's systems: the address SPF is evaluated for."""

    ip: str
    helo: str  # the name the client gave (EHLO), "" unknown
    source: str  # how it was found: received-spf, authentication-results, forefront, received
    hop: int  # 1-based index of the hop (oldest first), 0 when not from a Received header


_SENDER_IP = re.compile(r"(?:client-ip=|sender IP is |designates )([0-9A-Fa-f:.]{2,45})", re.I)


def entry_point(msg, path: list[Hop], authserv: str = "") -> Entry | None:
    """The first external hop: the receiver's own record of the client address (Received-SPF,
    the comment of Microsoft's Authentication-Results, Forefront's CIP), else the hop received by the
    host that wrote Authentication-Results, else the newest hop from an address outside any
    private network."""

    def valid(text: str) -> str:
        try:
            return str(ipaddress.ip_address(text.strip().strip(".;")))
        except ValueError:
            return ""

    for header, source in (("Received-SPF", "received-spf"), ("Authentication-Results", "authentication-results")):
        for value in (msg.get_all(header) or [])[:1]:
            m = _SENDER_IP.search(str(value))
            if m and (ip := valid(m.group(1))):
                return Entry(ip, _helo_for(path, ip), source, _hop_of(path, ip))
    forefront = str(msg.get("X-Forefront-Antispam-Report", "") or "")
    m = re.search(r"(?:^|;)\s*CIP:([0-9A-Fa-f:.]{2,45})", forefront)
    if m and (ip := valid(m.group(1))):
        return Entry(ip, _helo_for(path, ip), "forefront", _hop_of(path, ip))
    numbered = list(enumerate(path, 1))
    if authserv:
        for n, hop in reversed(numbered):
            if hop.by.lower() == authserv.lower() and (ip := hop_ip(hop)) and not _internal(ip):
                return Entry(ip, _helo(hop), "received", n)
    for n, hop in reversed(numbered):
        if hop.tls == "local":
            continue
        ip = hop_ip(hop)
        if ip and not _internal(ip):
            return Entry(ip, _helo(hop), "received", n)
    return None


def _helo(hop: Hop) -> str:
    name = hop.from_host.split(" ", 1)[0].strip("[]")
    return "" if _IP_LITERAL.fullmatch(f"[{name}]") else name.lower()


def _hop_of(path: list[Hop], ip: str) -> int:
    return next((n for n, hop in reversed(list(enumerate(path, 1))) if hop_ip(hop) == ip), 0)


def _helo_for(path: list[Hop], ip: str) -> str:
    n = _hop_of(path, ip)
    return _helo(path[n - 1]) if n else ""


_NAMED_HEADERS = ("From", "To", "Cc", "Bcc", "Reply-To", "Sender", "Return-Path", "Delivered-To", "Envelope-To",
                  "X-Original-To", "Resent-From", "Resent-To", "Disposition-Notification-To", "Message-ID",
                  "In-Reply-To", "References", "List-Unsubscribe", "X-Failed-Recipients", "Original-Recipient",
                  "Final-Recipient", "Reporting-MTA", "Remote-MTA", "Received-From-MTA", "Arrival-Date")


def identifying_names(msg) -> list[str]:
    """The addresses, host names and IP addresses in a message's header that say who sent, received or
    relayed it (for --anonymize): the address headers, every Received hop, the receivers'
    authserv-ids, the DKIM and ARC signing domains, Microsoft's H:/PTR:/CIP: fields."""
    names: list[str] = []
    for header in _NAMED_HEADERS:
        for value in (msg.get_all(header) or [])[:50]:
            text = str(value)
            names += re.findall(r"[^\s<>@\"'(),;:]{1,64}@[A-Za-z0-9.-]{1,253}", text)
            names += re.findall(r"(?:dns|smtp|rfc822);\s*([A-Za-z0-9.-]+\.[A-Za-z]{2,63})", text, re.I)
    for hop in hops(msg):
        names += [w for w in re.findall(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+", f"{hop.from_host} {hop.by}")
                  if not re.fullmatch(r"[\d.]+", w) or w.count(".") == 3]
        if ip := hop_ip(hop):
            names.append(ip)
    for verdict in auth_results(msg):
        names.append(verdict.authserv)
        names += [v.split("@")[-1] for k, v in verdict.properties.items() if k in ("smtp.mailfrom", "header.from",
                                                                                    "header.d", "header.i",
                                                                                    "smtp.helo")]
    for header in ("DKIM-Signature", "ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results"):
        for value in (msg.get_all(header) or [])[:20]:
            names += re.findall(r"\bd=([A-Za-z0-9.-]+)", str(value))
    forefront = str(msg.get("X-Forefront-Antispam-Report", "") or "")
    names += re.findall(r"(?:^|;)\s*(?:H|PTR|CIP):([A-Za-z0-9.:-]+)", forefront)
    return [clean(n, limit=255, keep_newlines=False) for n in names if n and "." in n or ":" in n]
