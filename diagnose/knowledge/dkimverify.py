"""Verify the DKIM signatures of a delivered message with dkimpy, on keys fetched through maildoctor's DNS.

dkimpy looks keys up with a synchronous ``dnsfunc``; ours is asynchronous and must be the only
DNS path (the run's resolver, cache and --nameserver). So the caller fetches each
``<selector>._domainkey.<domain>`` TXT record first and dkimpy gets a lookup into that table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from diagnose.knowledge.headers import Signature, parse_header_block, signatures
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
