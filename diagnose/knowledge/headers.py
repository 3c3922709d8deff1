"""What the receiver saw: the hops (Received), the verdicts (Authentication-Results) and the DKIM
signatures of a delivered message's header. Pure functions on header text, tested on samples.

Received is free-form in practice (RFC 5321 §4.4 gives a skeleton; every MTA adds comments), so
the parser takes what it recognises and keeps the raw line: TLS shows as the ``with`` protocol
ESMTPS/ESMTPSA (RFC 3848) or as a comment naming the TLS version (Postfix ``(using TLSv1.3 ...)``,
Exim ``(TLS1.3)``, Microsoft ``version=TLS1_2``).
"""

from __future__ import annotations

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


def signatures(msg) -> list[Signature]:
    out = []
    for value in (msg.get_all("DKIM-Signature") or [])[:10]:
        tags = dict((k.strip().lower(), v.strip()) for k, _, v in
                    (t.partition("=") for t in re.sub(r"\s+", "", str(value)).split(";")) if k.strip())
        out.append(Signature(clean(tags.get("d", ""), limit=255), clean(tags.get("s", ""), limit=255),
                             clean(tags.get("a", ""), limit=40)))
    return out
