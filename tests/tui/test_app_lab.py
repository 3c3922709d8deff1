"""The TUI driven with Textual's pilot against the real lab (Knot, Unbound, Postfix, Dovecot):
keys pressed, tree and details asserted, at 80x24."""

import asyncio
import time

import pytest

from diagnose.app.session import make_plan
from diagnose.engine.model import Finding, Status
from diagnose.tui.app import create_app
from diagnose.tui.screens.export import ExportScreen
from diagnose.tui.screens.help import HelpScreen
from diagnose.tui.screens.target import TargetScreen
from diagnose.tui.state import SideGroup
from diagnose.tui.widgets.details import DetailsPane
from diagnose.tui.widgets.results import ResultsTree
from tests.tui.helpers import FOUNDATION, finished, lab_request, screen_text, wait_until

pytestmark = pytest.mark.lab


def app_for(lab, scenario, **kw):
    request = lab_request(lab, scenario, **kw)
    return create_app(request, make_plan(request))


def shown_findings(app) -> list[Finding]:
    return [p for p in app.query_one(ResultsTree).payloads.values() if isinstance(p, Finding)]


def test_broken_domain_live_tree_details_and_keys(lab, tmp_path):
    async def scenario():
        app = app_for(lab, "refused", checks=FOUNDATION)
        async with app.run_test(size=(80, 24)) as pilot:
            # When the diagnosis of a domain whose only MX refuses port 25 finishes
            await wait_until(pilot, lambda: finished(app))
            text = screen_text(app)
            # Then the header has the verdict, the flow marks the MX hop, and the failure is selected
            assert "Verdict ✘ FAIL" in text and lab.resolver in text, text
            assert "✘ FAIL  MX" in text and "✔ PASS  DNS" in text, text
            tree = app.query_one(ResultsTree)
            selected = tree.payload()
            assert isinstance(selected, Finding) and selected.code == "tcp.refused", text
            assert "How to fix" in text and "refused" in text, text
            assert app.focused is tree

            # tab: the details pane takes the keys and scrolls; shift+tab goes back to the tree
            await pilot.press("tab")
            details = app.query_one(DetailsPane)
            assert app.focused is details
            await pilot.press("pagedown")
            await pilot.pause(0.1)
            assert details.scroll_y > 0
            await pilot.press("shift+tab")
            assert app.focused is tree

            # f: only problems, and back
            await pilot.press("f")
            await pilot.pause(0.1)
            assert {f.code for f in shown_findings(app)} == {"tcp.refused"}
            assert "problems only" in screen_text(app)
            await pilot.press("f")
            await pilot.pause(0.1)
            assert {"dns.exists", "mx.records", "tcp.refused"} <= {f.code for f in shown_findings(app)}

            # arrows move the cursor and the details follow
            await pilot.press("home")
            await pilot.pause(0.1)
            first = tree.cursor_key
            await pilot.press("down", "down")
            await pilot.pause(0.1)
            assert tree.cursor_key != first
            assert isinstance(tree.payload(), Finding) and tree.payload().code == "dns.exists"
            assert "exists" in screen_text(app)

            # c: copy the finding as Markdown
            tree.select_key(tree.first_problem())
            await pilot.press("c")
            assert "tcp.refused" in app.clipboard and "**How to fix:**" in app.clipboard, app.clipboard

            # ?: help, escape closes it
            await pilot.press("question_mark")
            await pilot.pause(0.1)
            assert isinstance(app.screen, HelpScreen)
            assert "only problems" in screen_text(app)
            await pilot.press("escape")
            await pilot.pause(0.1)
            assert not isinstance(app.screen, HelpScreen)

            # e: export asks for format and path (default: HTML in the current directory)
            await pilot.press("e")
            await pilot.pause(0.2)
            assert isinstance(app.screen, ExportScreen)
            path_input = app.screen.query_one("#export-path")
            assert path_input.value.endswith(f"maildoctor-{lab.domain('refused')}.html"), path_input.value
            path_input.value = str(tmp_path / "out.html")
            await pilot.press("enter")
            await pilot.pause(0.2)
            html = (tmp_path / "out.html").read_text()
            assert "<html" in html.lower() and "tcp.refused" in html

            # t: rerun the selected check (with the checks it needs); the failure comes back
            run_before = app.state.run
            await pilot.press("t")
            await wait_until(pilot, lambda: app.state.run > run_before and finished(app))
            assert app.state.in_run == ("mx.records", "tcp.connect")
            assert "tcp.refused" in {f.code for f in app.state.report.findings}
            assert "dns.exists" in {f.code for f in app.state.report.findings}  # kept from the first run

            # r: rerun everything
            run_before = app.state.run
            await pilot.press("r")
            await wait_until(pilot, lambda: app.state.run > run_before and finished(app))
            assert set(app.state.in_run) == set(FOUNDATION)

            # q: quit with the verdict's exit code (fail = 2)
            await pilot.press("q")
            await pilot.pause(0.2)
        assert app.return_value == 2

    asyncio.run(scenario())


def test_healthy_domain_all_checks(lab):
    async def scenario():
        app = app_for(lab, "healthy", timeout=2.0)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: finished(app), timeout=60)
            text = screen_text(app)
            # every installed check ran and the MX hop of a healthy domain passes
            assert len(app.state.in_run) == len(app.plan.checks) > 3
            assert app.state.hop_status("mx") in (Status.PASS, Status.WARN), text
            tcp = [f for f in app.state.findings if f.check == "tcp.connect"]
            assert len(tcp) == 2 and all(f.status is Status.PASS for f in tcp)
            sides = {p.title for p in app.query_one(ResultsTree).payloads.values() if isinstance(p, SideGroup)}
            assert {"Incoming mail", "Outgoing mail"} <= sides
            assert "FAIL  MX" not in text
            # a greeting finding's details carry the SMTP transcript (evidence)
            tree = app.query_one(ResultsTree)
            greeting = next(k for k, p in tree.payloads.items()
                            if isinstance(p, Finding) and p.check == "smtp.greeting" and p.status is Status.PASS)
            tree.select_key(greeting)
            await pilot.pause(0.1)
            details = str(app.query_one("#details-body").content)
            assert "transcript:" in details and "220" in details and "EHLO" in details, details
            # the tree is keyboard-navigable to the end and back
            await pilot.press("end")
            await pilot.pause(0.1)
            assert tree.cursor_line == tree.last_line
            await pilot.press("home")
            await pilot.pause(0.1)
            assert tree.cursor_line == 0
            await pilot.press("q")
        assert app.return_value in (0, 1)

    asyncio.run(scenario())


def test_target_screen_validates_and_keeps_the_password_in_memory_only(lab):
    secret = "s3cret-Passw0rd"

    async def scenario():
        request = lab_request(lab, "refused", checks=FOUNDATION)
        request.target = None
        app = create_app(request)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.1)
            assert isinstance(app.screen, TargetScreen)
            # a bad target: one clear line, still on the form
            await pilot.press(*"not a domain!")
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert isinstance(app.screen, TargetScreen)
            assert "bad target" in screen_text(app), screen_text(app)
            # a good one, with a user and a password
            app.screen.query_one("#target-input").value = lab.domain("refused")
            await pilot.press("tab", *"user", "tab", *secret)
            await pilot.pause(0.1)
            assert secret not in screen_text(app)  # masked while typed
            await pilot.press("enter")
            await wait_until(pilot, lambda: finished(app))
            assert not isinstance(app.screen, TargetScreen)
            # Then the typed login reaches the checks as credentials, the password only as a Secret
            creds = app.plan.options.credentials
            assert creds.outgoing.user == "user" and creds.incoming.user == "user"
            assert creds.outgoing.password.reveal() == secret
            assert secret not in repr(app.plan) and secret not in repr(creds)
            assert secret not in screen_text(app)
            assert app.plan.target.domain == lab.domain("refused")
            await pilot.press("q")

    asyncio.run(scenario())


def test_ui_stays_responsive_and_quit_stops_the_probes(lab):
    async def scenario():
        # Given a server that greets only after 15 s and a 2 s timeout per operation
        app = app_for(lab, "slowgreet", checks=("smtp.greeting",), timeout=2.0)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: app.state is not None and app.state.checks["smtp.greeting"].running)
            # When keys are pressed while the probe waits, Then they take effect at once
            start = time.monotonic()
            await pilot.press("f")
            await pilot.pause(0.05)
            assert app.problems_only and time.monotonic() - start < 1.0
            assert "RUN" in screen_text(app)
            # When quitting mid-run, Then the app ends quickly and the runner's tasks are gone
            start = time.monotonic()
            await pilot.press("q")
            await pilot.pause(0.1)
        assert time.monotonic() - start < 5  # cancelling is immediate; the margin is for a loaded CI machine
        assert app.return_value == 130
        leftovers = [t for t in asyncio.all_tasks() if "_run_check" in repr(t.get_coro())]
        assert leftovers == []

    asyncio.run(scenario())
