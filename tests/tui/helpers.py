"""Shared by the TUI tests: drive the app, read what it shows, record and replay lab runs."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from diagnose.app.session import CheckRequest, Plan, make_plan, open_dns
from diagnose.engine.model import Finding
from diagnose.engine.registry import discover, select
from diagnose.engine.report import Report
from diagnose.engine.runner import CheckFinished, CheckStarted, DiagnosisFinished, Event, FindingEmitted, diagnose

FOUNDATION = ("dns.exists", "mx.records", "tcp.connect")


def screen_text(app) -> str:
    """The screen as plain text (what a user would read, colours stripped)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def wait_until(pilot, condition, timeout: float = 30.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting; screen:\n{screen_text(pilot.app)}")
        await pilot.pause(step)
    await pilot.pause(0.15)  # let the tree/header catch up (one tick)


def finished(app) -> bool:
    return app.state is not None and not app.state.running and app.state.report is not None


def lab_request(lab, scenario: str, *, checks: tuple[str, ...] = (), timeout: float = 1.0) -> CheckRequest:
    return CheckRequest(target=lab.domain(scenario), nameservers=[lab.resolver], timeout=timeout, only=list(checks),
                        ca_file=lab.ca_file)


# --- recorded runs for snapshots ------------------------------------------------------------------

async def record(lab, scenario: str, checks: tuple[str, ...] = FOUNDATION) -> list[Event]:
    plan = make_plan(lab_request(lab, scenario, checks=checks))
    dns = await open_dns(plan)
    return [event async for event in diagnose(plan.target, plan.checks, dns, plan.options, meta=plan.meta)]


class Normaliser:
    """Rewrites a lab's names, addresses and timings to fixed ones, so a snapshot taken on one lab
    (net 127.83, TLD test) equals the one taken on another (net 127.78, TLD example)."""

    TLD = "test"

    def __init__(self, lab) -> None:
        self.addresses = {}
        for host in lab.hosts.values():
            addr = host["addr"]
            self.addresses[addr] = "192.0.2." + addr.rsplit(".", 1)[1]
        self._addr = re.compile(
            r"(?<![\d.])("
            + "|".join(re.escape(a) for a in sorted(self.addresses, key=len, reverse=True))
            + r")(?![\d])"
        )
        self._tld = re.compile(r"\." + re.escape(lab.tld) + r"\b")

    def text(self, s: str) -> str:
        s = self._addr.sub(lambda m: self.addresses[m.group(1)], s)
        s = self._tld.sub("." + self.TLD, s)
        return re.sub(r"\b\d+(\.\d+)? ms\b", "0 ms", s)

    def value(self, v: Any, key: str = "") -> Any:
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and ("elapsed" in key or key.endswith("_ms")):
            return 0
        if isinstance(v, dict):
            return {k: self.value(x, k) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return type(v)(self.value(x) for x in v)
        return v

    def finding(self, f: Finding) -> Finding:
        return dataclasses.replace(
            f, subject=self.text(f.subject), summary=self.text(f.summary), explanation=self.text(f.explanation),
            remedy=self.text(f.remedy), evidence=self.value(f.evidence), duration_s=0.0, host=self.text(f.host))

    def events(self, events: list[Event], order: list[str]) -> list[Event]:
        """Normalised, in a fixed order: per check (plan order) start, findings by subject, end."""
        findings = [self.finding(e.finding) for e in events if isinstance(e, FindingEmitted)]
        finished = {e.check: e for e in events if isinstance(e, CheckFinished)}
        report = next(e.report for e in events if isinstance(e, DiagnosisFinished))
        out: list[Event] = []
        for cid in order:
            out.append(CheckStarted(cid, ""))
            out += [FindingEmitted(f) for f in sorted((f for f in findings if f.check == cid),
                                                       key=lambda f: (f.subject, f.code))]
            out.append(CheckFinished(cid, finished[cid].status, 0.5))
        report = dataclasses.replace(
            report, findings=[e.finding for e in out if isinstance(e, FindingEmitted)], duration_s=1.0,
            started_at="2026-01-01T00:00:00+00:00", target={"input": self.text(report.target["input"]),
                                                           "domain": self.text(report.target["domain"]),
                                                           "domain_unicode": self.text(report.target["domain_unicode"]),
                                                           "address": None},
            resolver={"nameservers": ["192.0.2.54:53"], "source": "command line", "timeout_s": 1.0}, meta={})
        out.append(DiagnosisFinished(report))
        return out


def replay_plan(domain: str, checks: tuple[str, ...] = FOUNDATION) -> Plan:
    return make_plan(CheckRequest(target=domain, nameservers=["192.0.2.54"], timeout=1.0, only=list(checks)))


def replay(events: list[Event]):
    """An event source for the app that plays recorded events (ignores the plan)."""

    async def source(plan: Plan, checks) -> AsyncIterator[Event]:
        for event in events:
            yield event

    return source


def plan_order(checks: tuple[str, ...] = FOUNDATION) -> list[str]:
    return [c.id for c in select(discover().checks, list(checks))]


def report_of(events: list[Event]) -> Report:
    return next(e.report for e in events if isinstance(e, DiagnosisFinished))
