"""The classified answer to one DNS question: a value type that pure evaluators (SPF, DMARC) read,
made by diagnose.net.resolver."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Outcome(str, enum.Enum):
    ANSWER = "answer"
    NXDOMAIN = "nxdomain"  # the name does not exist
    NODATA = "nodata"  # the name exists, but has no record of this type
    SERVFAIL = "servfail"  # the resolver could not get an answer (broken delegation, DNSSEC)
    TIMEOUT = "timeout"  # no answer within the time limit


@dataclass(frozen=True)
class DnsResult:
    """The classified answer to one question."""

    name: str
    rdtype: str
    outcome: Outcome
    records: tuple[str, ...] = ()
    rdata: tuple = field(default=(), compare=False, repr=False)
    canonical_name: str = ""  # differs from name when the answer came through a CNAME
    ttl: int | None = None
    detail: str = ""
    elapsed_s: float = 0.0
    authenticated: bool = False  # the resolver set the AD bit: DNSSEC validated this answer

    @property
    def is_alias(self) -> bool:
        return bool(self.canonical_name) and self.canonical_name != self.name

    def describe(self) -> str:
        """A short human phrase for a non-answer, e.g. 'does not exist (NXDOMAIN)'."""
        return {
            Outcome.ANSWER: "answered",
            Outcome.NXDOMAIN: "does not exist (NXDOMAIN)",
            Outcome.NODATA: f"has no {self.rdtype} record",
            Outcome.SERVFAIL: f"could not be resolved (SERVFAIL{': ' + self.detail if self.detail else ''})",
            Outcome.TIMEOUT: "did not resolve in time (DNS timeout)",
        }[self.outcome]


def txt_strings(result: DnsResult) -> list[str]:
    """TXT records as text: the character-strings of each record joined without spaces (§3.3)."""
    out = []
    for rdata in result.rdata:
        strings = getattr(rdata, "strings", None)
        if strings is None:
            continue
        out.append("".join(s.decode("utf-8", "replace") if isinstance(s, bytes) else s for s in strings))
    return out
