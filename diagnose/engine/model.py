"""The finding model: statuses, sides and the findings every check emits."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any


class Status(str, enum.Enum):
    """Outcome of one test. ``error`` means maildoctor could not run the test."""

    PASS = "pass"
    SKIP = "skip"
    WARN = "warn"
    ERROR = "error"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        """Badness order used for 'worst status' (pass < skip < warn < error < fail)."""
        return _RANK[self]

    @classmethod
    def worst(cls, statuses: Iterable[Status]) -> Status:
        return max(statuses, key=lambda s: s.rank, default=cls.PASS)


_RANK = {Status.PASS: 0, Status.SKIP: 1, Status.WARN: 2, Status.ERROR: 3, Status.FAIL: 4}
_NEEDS_REASON = (Status.SKIP, Status.ERROR)


class Side(str, enum.Enum):
    """Which half of mail a check is about."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"
    BOTH = "both"


@dataclass(frozen=True)
class Finding:
    """One result of one check about one subject (a domain, a host, an address and port)."""

    check: str
    code: str
    subject: str
    status: Status
    summary: str
    explanation: str = ""
    remedy: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    side: Side = Side.BOTH
    host: str = ""
    reason: str = ""  # skip and error findings: why the test was skipped or could not run

    def __post_init__(self) -> None:
        if self.status is Status.SKIP and not self.summary:
            raise ValueError("a skip finding must say why in its summary")
        if self.status in _NEEDS_REASON and not self.reason:
            object.__setattr__(self, "reason", self.summary)  # no separate reason given: the summary is it

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["side"] = self.side.value
        data["duration_s"] = round(self.duration_s, 4)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """The finding of ``to_dict``; reports written before ``reason`` existed load too."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["status"] = Status(known["status"])
        known["side"] = Side(known.get("side", "both"))
        return cls(**known)


def count_by_status(findings: list[Finding]) -> dict[str, int]:
    counts = {s.value: 0 for s in Status}
    for f in findings:
        counts[f.status.value] += 1
    return counts
