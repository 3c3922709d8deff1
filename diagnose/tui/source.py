"""Where the app's events come from: the runner, live (tests replay recorded events instead)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from diagnose.app.session import Plan, open_dns
from diagnose.engine.plugin import Check
from diagnose.engine.runner import Event, diagnose

# (plan, checks to run) -> the runner's events; tests replay recorded events through this.
EventSource = Callable[[Plan, list[type[Check]]], AsyncIterator[Event]]


async def live_events(plan: Plan, checks: list[type[Check]]) -> AsyncIterator[Event]:
    """The real thing: a fresh resolver (and DNS cache) per run, then the runner's stream."""
    dns = await open_dns(plan)
    async for event in diagnose(plan.target, checks, dns, plan.options, meta=plan.meta):
        yield event
