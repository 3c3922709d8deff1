"""The `maildoctor` console script. `probe` is dispatched here, before the Typer CLI is imported:
monitoring runs it hundreds of times a minute, and Typer with the command definitions costs more
start-up than the probe's own work (diagnose.app.probe). So is `check` when its argv is one that
diagnose.app.checkargs reads exactly as Typer would (diagnose.app.checkcmd runs it; not with --tui).
Every other command, and any `check` argv it is not sure of, goes to diagnose.app.cli."""

from __future__ import annotations

import gc
import os
import sys

# The cycle collector's default (a gen-0 pass every 700 allocations) spent 12-15% of a batch's CPU
# walking dnspython's short-lived message objects; cycles are rare here, so collect far less often.
GC_THRESHOLDS = (20_000, 20, 20)


def main(argv: list[str] | None = None) -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["probe"]:
        from diagnose.app.probe import main as probe

        code = probe(args[1:])
        if argv is None:  # the console script: its output is written, its sockets closed (4-9 ms of teardown)
            exit_now(code)
        sys.exit(code)
    if argv is not None or not quick_exit_is_safe(args):  # called in process (tests): a normal return
        run(args, argv)
        return
    if args[0] in NO_CYCLE_COLLECTOR:
        gc.disable()
    try:
        run(args, argv)
    except SystemExit as exc:
        exit_now(exc.code)
    exit_now(0)


def run(args: list[str], argv: list[str] | None) -> None:
    """Run the command (it ends in sys.exit): `check` without Typer when diagnose.app.checkargs is sure of its
    argv (Typer and the command built from its signature cost ~50 ms CPU), else the Typer CLI (help, errors)."""
    if args[:1] == ["check"]:
        from diagnose.app.checkcmd import main as check

        check(args[1:])  # returns when Typer must read the argv
    from diagnose.app.cli import main as cli

    cli(argv)


# Commands that end with nothing left to do: their output is written and closed, no thread, child
# process or terminal state is left behind (the TUI, serve and batch's workers are not in the list).
QUICK_EXIT = frozenset({"check", "report", "explain", "checks", "message", "settings"})


# One bounded run each (a diagnosis, a saved report): the reference cycles they leave are few and the
# process ends with them, so the cycle collector only costs time (~30-40 ms of a full diagnosis's CPU,
# for +0.4 MB of peak memory). `message` reads inputs of up to 50 MB and keeps the collector.
NO_CYCLE_COLLECTOR = frozenset({"check", "report", "explain", "checks", "settings"})


def quick_exit_is_safe(args: list[str]) -> bool:
    return bool(args) and args[0] in QUICK_EXIT and "--tui" not in args


def exit_now(code: object) -> None:
    """Exit as ``sys.exit(code)`` would, without tearing the interpreter down: freeing every module
    and object of a diagnosis (dnspython, cryptography, asyncio, ~500 modules) costs more CPU than a
    healthy diagnosis of a domain on a fast network. The standard streams are flushed first."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): printed, status 1
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) or a closed stream: nothing more to say
            pass
    os._exit(status & 0xFF)
