"""The one report model every renderer works from, and its JSON form (a public contract)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from diagnose import __version__
from diagnose.engine import aliases
from diagnose.engine.diagnosis import Diagnosis, diagnose, fixed_order
from diagnose.engine.model import Finding, Status, count_by_status

SCHEMA_VERSION = 2  # 2: ids family.aspect, codes start with the family (diagnose.engine.aliases)

# Bidirectional controls (marks, embeddings, overrides, isolates): raw in a file, a terminal or an
# editor they reorder what is shown (a target name read backwards). JSON output carries them as
# \uXXXX escapes: the decoded value is unchanged, the text on screen cannot be reordered.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in BIDI_CONTROLS}
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def escape_bidi(json_text: str) -> str:
    """JSON text with every bidirectional control written as a \\uXXXX escape (valid JSON: such a
    character can only occur inside a string). Searched first: str.translate looks up every
    character of a report (~10 ms for a full diagnosis), and almost every report has none."""
    return json_text.translate(_BIDI_ESCAPES) if _BIDI.search(json_text) else json_text


@dataclass(repr=False)  # __repr__ below
class Report:
    """Everything a run found, with what was asked and how it ran: the input of every renderer."""

    target: dict[str, Any]
    started_at: str  # ISO 8601, UTC
    duration_s: float
    resolver: dict[str, Any]
    findings: list[Finding]
    tool: dict[str, str] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)  # what ran: id, title, side, services
    meta: dict[str, Any] = field(default_factory=dict)  # where and how it ran
    interrupted: bool = False

    @classmethod
    def of_run(cls, target: Any, checks: Sequence[Any], resolver: dict[str, Any], findings: list[Finding], *,
               started_at: datetime, duration_s: float, meta: dict[str, Any] | None = None,
               interrupted: bool = False) -> Report:
        """The one report factory: the report of a run of ``checks`` (Check classes) on ``target``
        (a diagnose.engine.target.Target), finished or interrupted."""
        return cls(
            target={"input": target.raw, "domain": target.domain, "domain_unicode": target.domain_unicode,
                    "address": target.address},
            started_at=started_at.isoformat(timespec="seconds"), duration_s=duration_s, resolver=resolver,
            findings=findings, tool={"name": "maildoctor", "version": __version__},
            checks=[{"id": c.id, "title": c.title, "side": c.side.value, "services": list(c.services)}
                    for c in checks],
            meta=meta or {}, interrupted=interrupted,
        )

    def __post_init__(self) -> None:
        self.findings = fixed_order(self.findings)  # the same findings read the same every run

    def __repr__(self) -> str:
        # short: asyncio.run's exit formats the repr of its finished task, result included (~1 ms
        # for the ~60 KB dataclass repr of a full diagnosis, every run)
        return (f"<Report {self.target.get('domain') or self.target.get('input') or ''!r}: "
                f"{len(self.findings)} findings, started {self.started_at or '?'}>")

    def add(self, findings: list[Finding]) -> None:
        """Add findings judged after the run (profile expectations), keeping the fixed order."""
        self.findings = fixed_order([*self.findings, *findings])
        self.__dict__.pop("diagnosis", None)

    @cached_property
    def diagnosis(self) -> Diagnosis:
        """Root causes, consequences, groups and the headline (computed once; findings in fixed order)."""
        domain = self.target.get("domain_unicode") or self.target.get("domain") or ""
        return diagnose(self.findings, str(domain), interrupted=self.interrupted)  # already in fixed order

    @property
    def services(self) -> dict[str, tuple[str, ...]]:
        """check id -> the services it declared (an older saved report may not say)."""
        return {c["id"]: tuple(c.get("services", ())) for c in self.checks if "id" in c}

    @property
    def worst(self) -> Status:
        return Status.worst([f.status for f in self.findings])

    @property
    def verdict(self) -> Status:
        """The outcome to show a person: the worst problem; else pass when something was tested and
        passed (skipped optional tests do not hide that the rest works); skip when nothing was tested
        (a pass that only repeats the user's input, like the servers given with --smtp-host, tests nothing)."""
        from diagnose.engine.required import substantive

        worst = self.worst
        if worst in (Status.PASS, Status.SKIP):
            return Status.PASS if any(f.status is Status.PASS and substantive(f) for f in self.findings) \
                else Status.SKIP
        return worst

    @property
    def counts(self) -> dict[str, int]:
        return count_by_status(self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": self.tool,
            "target": self.target,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "resolver": self.resolver,
            "meta": self.meta,
            "interrupted": self.interrupted,
            "verdict": self.verdict.value,
            "counts": self.counts,
            "checks": self.checks,
            "diagnosis": self.diagnosis.to_dict(),
            "findings": [self._finding_dict(fid, f) for fid, f in zip(self.diagnosis.ids, self.diagnosis.findings,
                                                                          strict=True)],
        }

    def _finding_dict(self, fid: str, finding: Finding) -> dict[str, Any]:
        return {"id": fid, **finding.to_dict(), "caused_by": self.diagnosis.caused_by.get(fid)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """Read a saved JSON report back; raise ValueError when it is not one of ours."""
        if not isinstance(data, dict) or "schema_version" not in data or "findings" not in data:
            raise ValueError("this is not a maildoctor JSON report (no schema_version/findings)")
        if data["schema_version"] > SCHEMA_VERSION:
            raise ValueError(f"report schema {data['schema_version']} is newer than this maildoctor understands")
        try:
            findings = [Finding.from_dict(f) for f in data["findings"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the report's findings are malformed: {exc}") from None
        checks = data.get("checks", [])
        if data["schema_version"] < 2:  # ids and codes renamed in schema 2: read them under the new names
            findings = [replace(f, check=aliases.check_id(f.check), code=aliases.code(f.code)) for f in findings]
            checks = [{**c, "id": aliases.check_id(c["id"])} if isinstance(c, dict) and isinstance(c.get("id"), str)
                      else c for c in checks]
        else:  # codes renamed within schema 2 (message.bounce_<reason> -> bounce.<reason>)
            findings = [replace(f, code=aliases.code(f.code)) for f in findings]
        return cls(
            target=data.get("target", {}), started_at=data.get("started_at", ""),
            duration_s=float(data.get("duration_s", 0)), resolver=data.get("resolver", {}),
            findings=findings, tool=data.get("tool", {}), checks=checks,
            meta=data.get("meta", {}), interrupted=bool(data.get("interrupted", False)),
        )
