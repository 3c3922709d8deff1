"""Verify the DKIM signatures of a delivered message with dkimpy, on keys fetched through maildoctor's DNS.

dkimpy looks keys up with a synchronous ``dnsfunc``; ours is asynchronous and must be the only
DNS path (the run's resolver, cache and --nameserver). So the caller fetches each
``<selector>._domainkey.<domain>`` TXT record first and dkimpy gets a lookup into that table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from diagnose.knowledge.dnsanswer import DnsResult
from diagnose.knowledge.headers import Signature, parse_header_block, signatures, tag_list
from diagnose.knowledge.sanitize import clean

_quiet = logging.getLogger("maildoctor.dkim")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


@dataclass(frozen=True)
class DkimResult:
    signature: Signature
    valid: bool
    reason: str  # why not, in dkimpy's words (sanitized), or ""

    @property
    def key_name(self) -> str:
        return key_name(self.signature)


def key_name(sig: Signature) -> str:
    return f"{sig.selector}._domainkey.{sig.domain}".lower()


def key_record(answer: DnsResult) -> bytes:
    """The key's TXT record as dkimpy reads it: the first record's character-strings joined."""
    return b"".join(b"".join(r.strings) for r in answer.rdata[:1])


def verify_all(raw: bytes, keys: dict[str, bytes | None]) -> list[DkimResult]:
    """Each DKIM-Signature of ``raw`` checked against ``keys`` (key name -> TXT data, None: no record)."""
    import dkim  # dkimpy only when a delivered message is checked (the round trip), not at start-up

    sigs = signatures(parse_header_block(raw))
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # IMAP/POP3 give CRLF; be sure

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        return keys.get(name.decode("ascii", "replace").rstrip(".").lower())

    out = []
    for idx, sig in enumerate(sigs):
        checker = dkim.DKIM(raw, logger=_quiet, minkey=1024)
        try:
            valid = bool(checker.verify(idx=idx, dnsfunc=lookup))
            reason = "" if valid else "the signature does not match the message (changed on the way) or the key"
        except Exception as exc:  # noqa: BLE001 - a hostile signature must not end the check
            valid, reason = False, clean(str(exc), limit=200, keep_newlines=False)
        if not valid and keys.get(key_name(sig)) is None:
            reason = f"no key published at {key_name(sig)}"
        out.append(DkimResult(sig, valid, reason))
    return out


@dataclass(frozen=True)
class ArcInstance:
    instance: int
    seal_domain: str
    seal_selector: str
    seal_valid: bool | None  # None: not checked (dkimpy stops at the first broken set)
    signature_domain: str
    signature_selector: str
    signature_valid: bool | None
    cv: str  # the chain validation this seal recorded: none (i=1), pass or fail


@dataclass(frozen=True)
class ArcResult:
    verdict: str  # "pass", "fail" or "none" (no ARC headers)
    reason: str  # dkimpy's words, sanitized ("" on pass)
    instances: tuple[ArcInstance, ...] = ()
    sets: int = 0  # ARC-Seal headers in the message


def arc_key_names(msg) -> list[str]:
    """Key names (selector._domainkey.domain) the ARC-Seal and ARC-Message-Signature headers use."""
    names: dict[str, None] = {}
    for header in ("ARC-Seal", "ARC-Message-Signature"):
        for value in (msg.get_all(header) or [])[:MAX_ARC_SETS]:
            tags = tag_list(str(value))
            domain, selector = clean(tags.get("d", ""), limit=255), clean(tags.get("s", ""), limit=255)
            if domain and selector:
                names[f"{selector}._domainkey.{domain}".lower()] = None
    return list(names)


MAX_ARC_SETS = 50  # RFC 8617 §4.2.1: a chain longer than 50 sets fails


def verify_arc(raw: bytes, keys: dict[str, bytes | None]) -> ArcResult:
    """The ARC chain of ``raw`` (RFC 8617) validated with dkimpy, on keys fetched beforehand."""
    import dkim  # dkimpy only when a message is checked, not at start-up

    msg = parse_header_block(raw)
    sets = len(msg.get_all("ARC-Seal") or [])
    if not sets and not msg.get_all("ARC-Message-Signature"):
        return ArcResult("none", "the message carries no ARC headers")
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        return keys.get(name.decode("ascii", "replace").rstrip(".").lower())

    try:
        cv, results, reason = dkim.arc_verify(raw, logger=_quiet, dnsfunc=lookup)
    except Exception as exc:  # noqa: BLE001 - hostile ARC headers must not end the analysis
        cv, results, reason = dkim.CV_Fail, [], str(exc)
    verdict = {dkim.CV_Pass: "pass", dkim.CV_None: "none"}.get(cv, "fail")
    if verdict == "none" and sets:
        verdict = "fail"  # dkimpy says "none" when a seal recorded cv=fail: the chain is broken all the same
    instances = tuple(ArcInstance(
        int(r.get("instance", 0)), _text(r.get("as-domain")), _text(r.get("as-selector")), r.get("as-valid"),
        _text(r.get("ams-domain")), _text(r.get("ams-selector")), r.get("ams-valid"), _text(r.get("cv")))
        for r in results[:MAX_ARC_SETS])
    return ArcResult(verdict, "" if verdict == "pass" else clean(str(reason), limit=200, keep_newlines=False),
                     instances, sets)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return clean(str(value or ""), limit=255, keep_newlines=False)
