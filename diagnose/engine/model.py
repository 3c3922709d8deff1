"""The finding model: statuses, sides and the findings every check emits."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, is_dataclass
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
    # a skip that means "could not test" (nothing it needs was there: no credentials, no such domain,
    # a fact that did not come), as opposed to a skip that is the check's answer ("DANE not in use");
    # a check the user asked for whose findings are all untested is an error (diagnose.engine.required)
    untested: bool = False

    def __post_init__(self) -> None:
        if self.status is Status.SKIP and not self.summary:
            raise ValueError("a skip finding must say why in its summary")
        if self.status in _NEEDS_REASON and not self.reason:
            object.__setattr__(self, "reason", self.summary)  # no separate reason given: the summary is it
        if self.status is Status.SKIP and self.code.endswith(".skipped"):
            object.__setattr__(self, "untested", True)  # the plugin convention: <check>.skipped could not test
        elif self.untested and self.status is not Status.SKIP:
            object.__setattr__(self, "untested", False)  # only a skip can be "could not test"

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["evidence"] = _copied(self.evidence)
        data["status"] = self.status.value
        data["side"] = self.side.value
        data["duration_s"] = round(self.duration_s, 4)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """The finding of ``to_dict``; reports written before ``reason`` or ``untested`` existed load too."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["status"] = Status(known["status"])
        if "untested" not in known:  # before the flag, a "could not test" skip said so in its summary's words
            known["untested"] = known["status"] is Status.SKIP and str(known.get("summary", "")).startswith(
                ("not tested", "not sent", "not run"))
        known["side"] = Side(known.get("side", "both"))
        return cls(**known)


def _copied(value: Any) -> Any:
    """A copy of JSON-like evidence, as ``dataclasses.asdict`` makes it but without deep-copying every
    string and number (a third of the time of rendering a full report)."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    if isinstance(value, tuple):
        return type(value)(*map(_copied, value)) if hasattr(value, "_fields") else tuple(map(_copied, value))
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def count_by_status(findings: list[Finding]) -> dict[str, int]:
    counts = {s.value: 0 for s in Status}
    for f in findings:
        counts[f.status.value] += 1
    return counts
