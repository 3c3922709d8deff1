"""Snapshots of the main screen after a finished diagnosis of a healthy and of a broken lab domain.

The diagnoses really run against the lab; their events are then rewritten to fixed names,
addresses and timings (helpers.Normaliser) and replayed into the app, so the pictures are the
same on a lab with another net or TLD and on a slow machine. Update with --snapshot-update.
"""

import asyncio

import pytest

from diagnose.app.session import CheckRequest
from diagnose.tui.app import create_app
from tests.tui.helpers import Normaliser, finished, plan_order, record, replay, replay_plan, screen_text, wait_until

pytestmark = pytest.mark.lab
SIZE = (80, 24)


@pytest.fixture(scope="module")
def recorded(lab):
    norm, order = Normaliser(lab), plan_order()
    return {scenario: norm.events(asyncio.run(record(lab, scenario)), order) for scenario in ("healthy", "refused")}


def replay_app(events, domain):
    request = CheckRequest(target=domain, nameservers=["192.0.2.54"], timeout=1.0)
    return create_app(request, replay_plan(domain), source=replay(events))


async def until_finished(pilot):
    # finished, and the footer has drawn its key bindings (it does so a moment after mounting)
    await wait_until(pilot, lambda: finished(pilot.app) and screen_text(pilot.app).splitlines()[-1].strip(),
                     timeout=10)


def test_healthy_domain(snap_compare, recorded):
    assert snap_compare(replay_app(recorded["healthy"], "healthy.test"), terminal_size=SIZE, run_before=until_finished)


def test_broken_domain(snap_compare, recorded):
    # the failure is selected at the end, so its explanation and remedy are on screen
    assert snap_compare(replay_app(recorded["refused"], "refused.test"), terminal_size=SIZE, run_before=until_finished)


def test_broken_domain_light_theme_problems_only(snap_compare, recorded):
    async def light(pilot):
        await until_finished(pilot)
        await pilot.press("d", "f")
        await pilot.pause(0.2)

    assert snap_compare(replay_app(recorded["refused"], "refused.test"), terminal_size=SIZE, run_before=light)
