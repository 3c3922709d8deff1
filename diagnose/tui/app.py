"""The maildoctor TUI: watch the diagnosis live, drill into any finding, export the report.

The app only displays: the runner (diagnose.engine.runner.diagnose) does the work in a worker and its
events come back as messages (messages.py); statuses come from the checks and the runner.
"""

from __future__ import annotations

import asyncio
import time

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Tree

from diagnose.app.plan import Plan, PlanError, Request, plan_from_form
from diagnose.engine.exitcodes import ExitCode, exit_code_for
from diagnose.engine.model import Finding
from diagnose.engine.registry import select
from diagnose.tui.messages import (
    CheckBegan,
    CheckEnded,
    FindingArrived,
    RunBegan,
    RunEnded,
    RunFailed,
    TargetChosen,
    message_for,
)
from diagnose.tui.screens.export import ExportRequest, ExportScreen, write_report
from diagnose.tui.screens.help import HelpScreen
from diagnose.tui.screens.target import TargetScreen
from diagnose.tui.source import EventSource, live_events
from diagnose.tui.state import CheckGroup, CheckRun, DiagnosisState
from diagnose.tui.widgets.details import DetailsPane
from diagnose.tui.widgets.flow import FlowOverview
from diagnose.tui.widgets.header import StatusHeader
from diagnose.tui.widgets.results import ResultsTree

TICK_S = 0.1  # spinner and elapsed-time refresh


class MaildoctorApp(App[int]):
    CSS_PATH = "maildoctor.tcss"
    TITLE = "maildoctor"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("r", "rerun", "Rerun"),
        Binding("t", "rerun_check", "Rerun check"),
        Binding("f", "toggle_problems", "Problems"),
        Binding("e", "export", "Export"),
        Binding("c", "copy", "Copy"),
        Binding("d", "toggle_theme", "Theme"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, request: Request, plan: Plan | None = None, *,
                 source: EventSource | None = None) -> None:
        super().__init__()
        self.request = request
        self.plan = plan
        self.source = source or live_events
        self.state: DiagnosisState | None = None
        self.problems_only = False
        self.frame = 0
        self._run_no = 0
        self._dirty = False
        self._jump_to_problem = True
        self._shown: str | None = None
        self._follow: tuple[str, str | None] | None = None  # (check id, node key) kept selected through a rerun
        self._placed: str | None = None  # the node the app last put the cursor on while following

    # -- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        yield FlowOverview(id="flow")
        with Horizontal(id="main"):
            yield ResultsTree(id="results")
            yield DetailsPane(id="details")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ResultsTree).border_title = "Checks"
        self.query_one(DetailsPane).border_title = "Details"
        self.set_interval(TICK_S, self._tick)
        if self.plan is None:
            self.push_screen(TargetScreen())
        else:
            self._start(self.plan)

    def _start(self, plan: Plan) -> None:
        self.plan = plan
        self.state = DiagnosisState(plan.checks, plan.target.domain)
        self.sub_title = plan.target.display
        self.query_one(ResultsTree).focus()
        self.run_checks(None)

    # -- the worker ----------------------------------------------------------------------------
    @work(exclusive=True, group="diagnosis")
    async def run_checks(self, only: tuple[str, ...] | None) -> None:
        """Run all checks (or ``only`` these and what they depend on); exclusive: a rerun cancels
        the run before it, whose probes the runner then stops."""
        assert self.plan is not None
        self._run_no += 1
        run = self._run_no
        checks = self.plan.checks if only is None else select(self.plan.checks, list(only))
        self.post_message(RunBegan(run, tuple(c.id for c in checks)))
        try:
            async for event in self.source(self.plan, checks):
                self.post_message(message_for(run, event))
        except PlanError as exc:
            self.post_message(RunFailed(run, str(exc)))

    # -- messages from the worker (stale runs are ignored) ---------------------------------------
    def _current(self, run: int) -> DiagnosisState | None:
        """The state of the run ``run`` if it is still the current one."""
        return self.state if run == self._run_no else None

    def on_run_began(self, msg: RunBegan) -> None:
        if (state := self._current(msg.run)) is not None:
            state.begin(msg.run, msg.checks, time.monotonic())
            self._dirty = True

    def on_check_began(self, msg: CheckBegan) -> None:
        if (state := self._current(msg.run)) is not None:
            state.check_began(msg.check, time.monotonic())
            self._dirty = True

    def on_finding_arrived(self, msg: FindingArrived) -> None:
        if (state := self._current(msg.run)) is not None:
            state.add_finding(msg.finding)
            self._dirty = True

    def on_check_ended(self, msg: CheckEnded) -> None:
        if (state := self._current(msg.run)) is not None:
            state.check_ended(msg.check, msg.status, msg.duration_s)
            self._dirty = True

    def on_run_ended(self, msg: RunEnded) -> None:
        if (state := self._current(msg.run)) is not None:
            if self.plan is not None and self.plan.judges:  # expectations and --require rules, judged as `check` does
                from diagnose.engine.bulksender import BulkSender
                from diagnose.engine.expect import Expectations

                judged = self.plan.judge(state.findings)
                for kind in (Expectations, BulkSender):
                    state.judged([f for f in judged if f.check == kind.id], kind.id, kind.title)
            state.ended(msg.report)
            self._refresh_all()
            self._follow = self._placed = None
            tree = self.query_one(ResultsTree)
            problem = tree.first_problem()
            if self._jump_to_problem and problem and not isinstance(tree.payload(), Finding):
                tree.select_key(problem)
                self._show_details()
            self._jump_to_problem = False

    def on_run_failed(self, msg: RunFailed) -> None:
        if (state := self._current(msg.run)) is not None:
            state.failed(msg.reason)
            self._follow = self._placed = None
            self._refresh_all()
            self.notify(msg.reason, title="No diagnosis", severity="error", timeout=10)

    def on_target_chosen(self, msg: TargetChosen) -> None:
        screen = self.screen
        entry = msg.entry
        try:
            plan = plan_from_form(self.request, entry.target, entry.credentials.user, entry.credentials.password,
                                  kind=entry.credentials.kind)
        except PlanError as exc:
            if isinstance(screen, TargetScreen):
                screen.show_error(str(exc))
            return
        if isinstance(screen, TargetScreen):
            self.pop_screen()
        self._start(plan)

    # -- drawing -------------------------------------------------------------------------------
    def _tick(self) -> None:
        self.frame += 1
        if self._dirty:
            self._refresh_all()
        elif self.state is not None and self.state.running:
            self.query_one(ResultsTree).tick(self.frame)
            self._refresh_top()

    def _refresh_top(self) -> None:
        if self.state is None or self.plan is None:
            return
        resolver = ", ".join(str(ns) for ns in self.plan.nameservers) or "system resolvers"
        self.query_one(StatusHeader).show(self.state, target=self.plan.target.display, resolver=resolver,
                                          now=time.monotonic(), frame=self.frame)
        self.query_one(FlowOverview).show(self.state, self.frame)

    def _refresh_all(self) -> None:
        self._dirty = False
        if self.state is None:
            return
        tree = self.query_one(ResultsTree)
        if self._follow and self._placed is not None and tree.cursor_key != self._placed:
            self._follow = None  # the user moved on: stop holding the cursor
        empty = "No problems found so far." if self.problems_only else "Waiting for the first results…"
        tree.rebuild(self.state.groups(self.problems_only), empty_text=empty, frame=self.frame)
        if self._follow:
            self._keep_on_check(tree)
        tree.border_title = "Checks — problems only (f: all)" if self.problems_only else "Checks"
        self._refresh_top()
        self._show_details()

    def _keep_on_check(self, tree: ResultsTree) -> None:
        """Through a rerun the cursor stays on the check it was on: the same node when it is back,
        else the check's running line or any of its findings."""
        assert self._follow is not None
        check, key = self._follow
        candidates = [key, f"run|{check}"] + [k for k, p in tree.payloads.items() if _check_of(p) == check]
        target = next((k for k in candidates if k is not None and k in tree.payloads), None)
        if target is not None and target != tree.cursor_key:
            tree.select_key(target)
        self._placed = tree.cursor_key

    def _show_details(self) -> None:
        tree = self.query_one(ResultsTree)
        titles = {c.id: c.title for c in self.state.checks.values()} if self.state else {}
        key = tree.cursor_key
        report, error = (self.state.report, self.state.error) if self.state else (None, None)
        payload = tree.payload()
        if self._follow and self.state is not None and _check_of(payload) != self._follow[0]:
            payload = self.state.checks.get(self._follow[0], payload)  # not started yet: still "running"
        self.query_one(DetailsPane).show(payload, titles, report=report, error=error,
                                         scroll_home=key != self._shown)
        self._shown = key

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        self._show_details()

    # -- actions -------------------------------------------------------------------------------
    def action_rerun(self) -> None:
        if self.plan is not None:
            self._hold_selection()
            self.run_checks(None)

    def action_rerun_check(self) -> None:
        check = self._selected_check()
        if check is None:
            self.notify("Select a check (or one of its findings) first.", severity="warning")
        elif self.plan is not None:
            self._hold_selection()
            self.run_checks((check,))

    def _hold_selection(self) -> None:
        tree = self.query_one(ResultsTree)
        check = self._selected_check()
        self._follow = (check, tree.cursor_key) if check else None
        self._placed = None

    def _selected_check(self) -> str | None:
        return _check_of(self.query_one(ResultsTree).payload())

    def action_toggle_problems(self) -> None:
        self.problems_only = not self.problems_only
        self._refresh_all()

    def action_export(self) -> None:
        report = self.state.report if self.state else None
        if report is None or self.plan is None:
            self.notify("No finished report to export yet.", severity="warning")
            return
        out = self.plan.output
        self.push_screen(ExportScreen(self.plan.target.domain, out.fmt if out.path is not None else None, out.path),
                         self._export)

    def _export(self, choice: ExportRequest | None) -> None:
        if choice is None or self.state is None or self.state.report is None:
            return
        problem = write_report(self.state.report, choice)
        if problem:
            self.notify(problem, title="Export failed", severity="error")
        else:
            self.notify(f"{choice.fmt} report written to {choice.path}", title="Exported")

    def action_copy(self) -> None:
        payload = self.query_one(ResultsTree).payload()
        if not isinstance(payload, Finding):
            self.notify("Select a finding first.", severity="warning")
            return
        from reports.markdown import problem_section

        text = "\n".join(problem_section(1, payload)).rstrip() + "\n"
        self.copy_to_clipboard(text)
        self.notify(f"{payload.code} copied as Markdown.")

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        cancelled = self.workers.cancel_group(self, "diagnosis")
        try:  # let the runner cancel its probes and close their sockets before the loop ends
            async with asyncio.timeout(3):
                await self.workers.wait_for_complete(cancelled)
        except Exception:  # noqa: BLE001 - cancelled workers report themselves as errors here
            pass
        self.exit(self.exit_code(interrupted=bool(cancelled) and self.state is not None and self.state.running))

    def exit_code(self, *, interrupted: bool = False) -> int:
        if interrupted:
            return int(ExitCode.INTERRUPTED)
        if self.state is None or self.state.report is None:
            return int(ExitCode.UNKNOWN)
        fail_on = self.plan.fail_on if self.plan is not None else self.request.fail_on
        return int(exit_code_for(self.state.report.worst, fail_on))  # as `check` does


def _check_of(payload: object) -> str | None:
    """The check id a tree node is about (a finding, a check group, a running check), else None."""
    if isinstance(payload, Finding):
        return payload.check
    if isinstance(payload, CheckGroup):
        return payload.check.id
    if isinstance(payload, CheckRun):
        return payload.id
    return None


def create_app(request: Request, plan: Plan | None = None, *, source: EventSource | None = None) -> MaildoctorApp:
    """The one way to build the app, for the CLI and the tests. ``plan`` None: ask for a target."""
    return MaildoctorApp(request, plan, source=source)
