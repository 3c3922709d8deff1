"""`maildoctor tui` / `check --tui`: validate like `check`, run the app, return an exit code."""

from __future__ import annotations

import sys

from diagnose.app.plan import PlanError, Request, make_plan
from diagnose.engine.exitcodes import ExitCode


def run_tui(request: Request) -> ExitCode:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("maildoctor: error: the TUI needs a terminal; use `maildoctor check` in scripts", file=sys.stderr)
        return ExitCode.UNKNOWN
    plan = None
    if request.target:
        try:
            plan = make_plan(request)
        except PlanError as exc:
            print(f"maildoctor: error: {exc}", file=sys.stderr)
            return ExitCode.UNKNOWN
    from diagnose.tui.app import create_app

    code = create_app(request, plan).run()
    return ExitCode(code) if code is not None and code in ExitCode._value2member_map_ else ExitCode.UNKNOWN
