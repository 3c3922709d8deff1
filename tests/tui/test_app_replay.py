"""The app on constructed event streams (no lab): hostile server text, a resolver that is gone."""

import asyncio

from diagnose.app.session import CheckRequest, Fatal, make_plan
from diagnose.engine.credentials import CredentialRequest
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.report import Report
from diagnose.engine.runner import CheckFinished, CheckStarted, DiagnosisFinished, FindingEmitted
from diagnose.tui.app import create_app
from diagnose.tui.widgets.results import ResultsTree
from tests.tui.helpers import FOUNDATION, finished, replay, replay_plan, screen_text, wait_until

HOSTILE = "[bold red]pwned[/] \x1b[2J\x1b]0;title\x07 [link=http://x]y[/link]"


def hostile_events():
    f = Finding(check="tcp.connect", code="tcp.refused", subject="mx.example.test [192.0.2.1]:25",
                status=Status.FAIL, summary=f"banner: {HOSTILE}", explanation="x", remedy="y",
                evidence={"transcript": [f"S: 220 {HOSTILE}", "C: QUIT"], "port": 25}, side=Side.INCOMING,
                host="mx.example.test")
    report = Report(target={"domain": "example.test"}, started_at="", duration_s=0.1, resolver={}, findings=[f])
    return [CheckStarted("tcp.connect", ""), FindingEmitted(f), CheckFinished("tcp.connect", Status.FAIL, 0.1),
            DiagnosisFinished(report)]


def test_server_text_is_shown_literally_never_as_markup_or_escapes():
    async def scenario():
        request = CheckRequest(target="example.test", nameservers=["192.0.2.54"])
        app = create_app(request, replay_plan("example.test"), source=replay(hostile_events()))
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: finished(app))
            text = screen_text(app)
            assert "[bold red]pwned[/]" in text, text  # literal, not styled away
            assert "\x1b" not in text and "S: 220" in text  # the transcript is in the details
            assert isinstance(app.query_one(ResultsTree).payload(), Finding)

    asyncio.run(scenario())


def test_a_resolver_that_does_not_answer_is_one_clear_line_not_a_crash():
    async def gone(plan, checks):
        raise Fatal("no DNS resolver answered (192.0.2.54:53) within 1 s")
        yield  # pragma: no cover - makes this an async generator

    async def scenario():
        request = CheckRequest(target="example.test", nameservers=["192.0.2.54"])
        app = create_app(request, replay_plan("example.test"), source=gone)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: app.state is not None and app.state.error is not None)
            assert "no diagnosis: no DNS resolver" in screen_text(app)  # the header, cut at 80 columns
            details = str(app.query_one("#details-body").content)
            assert "No diagnosis" in details and "no DNS resolver answered (192.0.2.54:53) within 1 s" in details
            await pilot.press("q")
        assert app.return_value == 3

    asyncio.run(scenario())


def test_a_profiles_expectations_are_judged_after_the_run_as_check_does():
    mx = Finding(check="mx.records", code="mx.records", subject="example.test", status=Status.PASS,
                 summary="1 MX record: 10 mx.example.test", side=Side.INCOMING,
                 evidence={"mx": [{"preference": 10, "exchange": "mx.example.test"}]})
    report = Report(target={"domain": "example.test"}, started_at="", duration_s=0.1, resolver={}, findings=[mx])
    events = [CheckStarted("mx.records", ""), FindingEmitted(mx), CheckFinished("mx.records", Status.PASS, 0.1),
              DiagnosisFinished(report)]

    async def scenario():
        request = CheckRequest(target="example.test", nameservers=["192.0.2.54"], expect={"mx": ["mx9.example.test"]},
                               profile="prod", timeout=1.0, only=list(FOUNDATION))
        app = create_app(request, make_plan(request), source=replay(events))  # the plan carries the expectations
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: finished(app))
            judged = [f for f in app.state.report.findings if f.check == "expect"]
            assert judged and judged[0].status is not Status.PASS, judged
            assert app.state.report.worst is judged[0].status
            await pilot.press("q")

    asyncio.run(scenario())


def test_require_bulk_sender_is_judged_after_the_run_as_check_does():
    spf = Finding(check="spf.record", code="spf.missing", subject="example.test", status=Status.WARN,
                  summary="example.test has no SPF record", side=Side.OUTGOING)
    report = Report(target={"domain": "example.test"}, started_at="", duration_s=0.1, resolver={}, findings=[spf])
    events = [CheckStarted("spf.record", ""), FindingEmitted(spf), CheckFinished("spf.record", Status.WARN, 0.1),
              DiagnosisFinished(report)]

    async def scenario():
        request = CheckRequest(target="example.test", nameservers=["192.0.2.54"], require=["bulk-sender"],
                               timeout=1.0, only=["spf"])
        app = create_app(request, make_plan(request), source=replay(events))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: finished(app))
            judged = {f.code: f.status for f in app.state.report.findings if f.check == "bulk_sender.rules"}
            # the SPF rule is broken (a fail), the rules nothing judged are errors, all shown as one more check
            assert judged["bulk_sender.spf_broken"] is Status.FAIL and judged["bulk_sender.dkim_unknown"] is Status.ERROR
            assert "bulk_sender.rules" in app.state.checks
            await pilot.press("q")

    asyncio.run(scenario())


def test_export_format_is_chosen_with_the_keyboard(tmp_path):
    import json

    from diagnose.tui.screens.export import ExportScreen

    async def scenario():
        request = CheckRequest(target="example.test", nameservers=["192.0.2.54"])
        app = create_app(request, replay_plan("example.test"), source=replay(hostile_events()))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: finished(app))
            await pilot.press("e")
            await pilot.pause(0.2)
            screen = app.screen
            assert isinstance(screen, ExportScreen)
            path = screen.query_one("#export-path")
            assert path.value.endswith("maildoctor-example.test.html")
            # shift+tab to the format list, open it, pick json (two up from html), enter
            await pilot.press("shift+tab", "enter")
            await pilot.pause(0.2)
            formats = screen.available
            await pilot.press(*["up"] * (formats.index("html") - formats.index("json")), "enter")
            await pilot.pause(0.2)
            assert screen.fmt == "json" and path.value.endswith("maildoctor-example.test.json"), path.value
            path.value = str(tmp_path / "r.json")
            path.focus()
            await pilot.press("enter")
            await pilot.pause(0.2)
        data = json.loads((tmp_path / "r.json").read_text())
        assert data["findings"][0]["code"] == "tcp.refused"

    asyncio.run(scenario())


def test_a_login_without_a_password_is_an_error_on_the_form_never_a_prompt():
    from diagnose.tui.screens.target import TargetScreen

    async def scenario():
        # Given --user without --password-env and no target on the command line
        request = CheckRequest(target=None, nameservers=["192.0.2.54"], login=CredentialRequest(user="me@example.test"))
        app = create_app(request, source=replay(hostile_events()))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.1)
            await pilot.press(*"example.test", "enter")
            await pilot.pause(0.2)
            # Then the form says what is missing (a getpass prompt would fight the app for the terminal)
            assert isinstance(app.screen, TargetScreen)
            assert "no password for me@example.test" in screen_text(app), screen_text(app)
            await pilot.press("escape")
        assert app.return_value == 3

    asyncio.run(scenario())


def test_rerun_keeps_the_selection_on_the_same_check_and_says_it_is_running():
    ok = Finding(check="dns.exists", code="dns.exists", subject="example.test", status=Status.PASS,
                 summary="example.test exists")
    refused = hostile_events()[1].finding
    report = Report(target={"domain": "example.test"}, started_at="", duration_s=0.1, resolver={},
                    findings=[ok, refused])
    gate = asyncio.Event()
    runs = []

    async def source(plan, checks):
        runs.append(1)
        if len(runs) == 2:  # the rerun: every check starts, then waits until the test has looked
            for c in ("dns.exists", "tcp.connect"):
                yield CheckStarted(c, "")
            await gate.wait()
        for event in (CheckStarted("dns.exists", ""), FindingEmitted(ok), CheckFinished("dns.exists", Status.PASS, 0.1),
                      CheckStarted("tcp.connect", ""), FindingEmitted(refused),
                      CheckFinished("tcp.connect", Status.FAIL, 0.1), DiagnosisFinished(report)):
            yield event

    async def scenario():
        request = CheckRequest(target="example.test", nameservers=["192.0.2.54"])
        app = create_app(request, replay_plan("example.test"), source=source)
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: finished(app))
            tree = app.query_one(ResultsTree)
            # Given the user selected the passing dns.exists finding (not the problem the app jumped to)
            key = next(k for k, p in tree.payloads.items() if isinstance(p, Finding) and p.check == "dns.exists")
            tree.select_key(key)
            await pilot.pause(0.2)
            # When r reruns everything
            await pilot.press("r")
            await wait_until(pilot, lambda: app.state.running and len(runs) == 2)
            # Then while it runs the cursor is on dns.exists (its running line) and the details say so
            assert getattr(tree.payload(), "id", None) == "dns.exists", tree.payload()
            assert "dns.exists is running" in str(app.query_one("#details-body").content)
            gate.set()
            await wait_until(pilot, lambda: finished(app))
            # and when it is done the cursor is back on the same finding
            assert tree.cursor_key == key and tree.payload().check == "dns.exists"
            await pilot.press("q")

    asyncio.run(scenario())


def test_the_start_form_takes_an_oauth_token_in_memory_only():
    from diagnose.tui.screens.target import TargetScreen

    token = "ya29.form-token_123"

    async def scenario():
        # Given no target on the command line: the start form, where the secret may be an OAuth token
        request = CheckRequest(target=None, nameservers=["192.0.2.54"])
        app = create_app(request, source=replay(hostile_events()))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.1)
            assert isinstance(app.screen, TargetScreen)
            assert "OAuth 2.0 access token" in screen_text(app)
            assert app.screen.query_one("#target-go").region.bottom <= 24  # the whole form fits in 80x24
            app.screen.query_one("#kind-oauth2").value = True  # the user picks "access token"
            await pilot.pause(0.1)
            assert "OAuth 2.0 access token (kept in memory" in screen_text(app)
            app.screen.query_one("#target-input").value = "me@example.test"
            app.screen.query_one("#password-input").value = token
            app.screen.query_one("#password-input").focus()
            await pilot.press("enter")
            await wait_until(pilot, lambda: finished(app))
            # Then the checks get it as an OAuth credential (a Secret), never shown
            creds = app.plan.options.credentials
            assert creds.outgoing.oauth2 and creds.incoming.password.reveal() == token
            assert creds.incoming.user == "me@example.test" and creds.incoming.source == "the start form"
            assert token not in repr(app.plan) and token not in screen_text(app)

    asyncio.run(scenario())
