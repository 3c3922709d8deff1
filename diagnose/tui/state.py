"""What the TUI shows, kept from the runner's events alone (no textual here: unit-testable).

Statuses come from the checks (findings) and the runner (CheckFinished); this module only groups
them for display and takes the worst of a group, as every report format does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check
from diagnose.engine.report import Report
from reports.hops import MAILBOX, MX, SUBMISSION, hop_of, port_of

PROBLEMS = frozenset({Status.WARN, Status.ERROR, Status.FAIL})
SIDE_ORDER = (Side.BOTH, Side.OUTGOING, Side.INCOMING)
SIDE_TITLES = {Side.BOTH: "Domain", Side.OUTGOING: "Outgoing mail", Side.INCOMING: "Incoming mail"}
HOP_SIDES = {SUBMISSION: Side.OUTGOING, MX: Side.INCOMING, MAILBOX: Side.INCOMING}


def group_status(statuses: list[Status]) -> Status:
    """The mark of a group (a hop, a host, a side): its worst problem; else pass if anything
    passed, so a skipped optional test (no DANE, say) does not hide that the rest works."""
    problems = [s for s in statuses if s in PROBLEMS]
    if problems:
        return Status.worst(problems)
    return Status.PASS if Status.PASS in statuses or not statuses else Status.SKIP


@dataclass(frozen=True)
class FormCredentials:
    """Typed into the app's start form; held in memory only: never written, logged or shown (repr
    hides the password). The app hands the password to make_plan as the answer to the credential
    prompt, so it reaches the login checks as a diagnose.engine.credentials.Secret like a typed one."""

    user: str = ""
    password: str = field(default="", repr=False)  # the password, or the access token (kind "oauth2")
    kind: str = "password"  # "password" or "oauth2" (diagnose.engine.credentials PASSWORD / OAUTH2)


@dataclass(frozen=True)
class TargetEntry:
    target: str
    credentials: FormCredentials


@dataclass
class CheckRun:
    """One check of the plan and what its latest run produced."""

    id: str
    title: str
    side: Side
    services: tuple[str, ...]
    started: float | None = None  # time.monotonic() of its CheckStarted
    status: Status | None = None  # the runner's CheckFinished status; None until it finished
    duration_s: float | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.started is not None and self.status is None


@dataclass
class CheckGroup:
    key: str
    check: CheckRun
    findings: list[Finding]

    @property
    def status(self) -> Status:
        return group_status([f.status for f in self.findings])


@dataclass
class HostGroup:
    key: str
    label: str
    checks: list[CheckGroup]

    @property
    def status(self) -> Status:
        return group_status([c.status for c in self.checks])


@dataclass
class SideGroup:
    key: str
    side: Side
    title: str
    hosts: list[HostGroup]
    running: list[CheckRun]

    @property
    def status(self) -> Status:
        return group_status([h.status for h in self.hosts])


class DiagnosisState:
    """The plan's checks, their findings and the run in progress."""

    def __init__(self, checks: list[type[Check]], domain: str) -> None:
        self.domain = domain
        self.checks: dict[str, CheckRun] = {
            c.id: CheckRun(c.id, c.title, c.side, tuple(c.services)) for c in checks}
        self.services = {c.id: tuple(c.services) for c in checks}
        self.run = 0
        self.in_run: tuple[str, ...] = ()
        self.run_started: float | None = None
        self.running = False
        self.report: Report | None = None
        self.error: str | None = None

    # -- events ------------------------------------------------------------------------------
    def begin(self, run: int, check_ids: tuple[str, ...], now: float) -> None:
        self.run, self.in_run, self.run_started, self.running, self.error = run, check_ids, now, True, None
        for check in self.checks.values():  # left running by a run this one cancelled: stopped now
            if check.running and check.id not in check_ids:
                check.started = None
        for cid in check_ids:
            old = self.checks[cid]
            self.checks[cid] = CheckRun(old.id, old.title, old.side, old.services)

    def check_began(self, check: str, now: float) -> None:
        if check in self.checks:
            self.checks[check].started = now

    def add_finding(self, finding: Finding) -> None:
        if finding.check in self.checks:
            self.checks[finding.check].findings.append(finding)

    def check_ended(self, check: str, status: Status, duration_s: float) -> None:
        if check in self.checks:
            self.checks[check].status, self.checks[check].duration_s = status, duration_s

    def judged(self, findings: list[Finding], check_id: str, title: str) -> None:
        """Findings judged after the run (a profile's expectations) shown as one more check."""
        self.checks.pop(check_id, None)
        if findings:
            self.checks[check_id] = CheckRun(check_id, title, Side.BOTH, (), 0.0, Status.worst(
                [f.status for f in findings]), 0.0, list(findings))

    def ended(self, report: Report) -> None:
        self.running = False
        # A rerun of some checks reports only those: the whole picture is every check's latest run.
        self.report = dataclasses.replace(report, findings=self.findings, checks=[
            {"id": c.id, "title": c.title, "side": c.side.value} for c in self.checks.values()])

    def failed(self, reason: str) -> None:
        self.running, self.error = False, reason

    # -- views -------------------------------------------------------------------------------
    @property
    def findings(self) -> list[Finding]:
        return [f for c in self.checks.values() for f in c.findings]

    @property
    def done(self) -> int:
        return sum(1 for cid in self.in_run if self.checks[cid].status is not None)

    def hop_status(self, hop: str) -> Status | str | None:
        """The hop's mark (group_status of its findings); "running" while a check of it runs; None: untested."""
        statuses = [f.status for f in self.findings if hop_of(f, self.services) == hop]
        if any(c.running and self._check_hop(c) == hop for c in self.checks.values()):
            return "running"
        return group_status(statuses) if statuses else None

    def _check_hop(self, check: CheckRun) -> str:
        # A check that has no finding yet is placed by its id and services, like its findings are.
        probe = Finding(check=check.id, code="", subject="", status=Status.PASS, summary="", side=check.side)
        return hop_of(probe, self.services)

    def groups(self, problems_only: bool = False) -> list[SideGroup]:
        """Side -> host and port -> check -> findings, in a stable order."""
        hosts: dict[Side, dict[str, HostGroup]] = {side: {} for side in SIDE_ORDER}
        for run in self.checks.values():
            for f in run.findings:
                if problems_only and f.status not in PROBLEMS:
                    continue
                side = self.side_of(f)
                key, label = self._host_key(f)
                host = hosts[side].setdefault(key, HostGroup(f"host|{side.value}|{key}", label, []))
                group = next((g for g in host.checks if g.check is run), None)
                if group is None:
                    group = CheckGroup(f"check|{side.value}|{key}|{run.id}", run, [])
                    host.checks.append(group)
                group.findings.append(f)
        result = []
        for side in SIDE_ORDER:
            running = [c for c in self.checks.values() if c.running and self._check_side(c) is side]
            if hosts[side] or running:
                ordered = sorted(hosts[side].values(), key=lambda h: (h.label != self.domain, h.label))
                for h in ordered:
                    for g in h.checks:
                        g.findings.sort(key=lambda f: (f.subject, f.code))
                result.append(SideGroup(f"side|{side.value}", side, SIDE_TITLES[side], ordered, running))
        return result

    def side_of(self, f: Finding) -> Side:
        """A finding of a check that serves both directions (TLS, greetings) goes under the side of
        its hop: submission -> outgoing, MX and mailbox -> incoming; DNS and the rest: domain."""
        if f.side is not Side.BOTH:
            return f.side
        return HOP_SIDES.get(hop_of(f, self.services), Side.BOTH)

    def _check_side(self, check: CheckRun) -> Side:
        return check.side if check.side is not Side.BOTH else HOP_SIDES.get(self._check_hop(check), Side.BOTH)

    def _host_key(self, f: Finding) -> tuple[str, str]:
        host = f.host or self.domain
        port = port_of(f)
        label = f"{host}:{port}" if port else host
        return label, label
