"""The `maildoctor` console script. `probe` is dispatched here, before the Typer CLI is imported:
monitoring runs it hundreds of times a minute, and Typer with the command definitions costs more
start-up than the probe's own work (diagnose.app.probe). Every other command goes to diagnose.app.cli."""

from __future__ import annotations

import gc
import sys

# The cycle collector's default (a gen-0 pass every 700 allocations) spent 12-15% of a batch's CPU
# walking dnspython's short-lived message objects; cycles are rare here, so collect far less often.
GC_THRESHOLDS = (20_000, 20, 20)


def main(argv: list[str] | None = None) -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["probe"]:
        from diagnose.app.probe import main as probe

        sys.exit(probe(args[1:]))
    from diagnose.app.cli import main as cli

    cli(argv)
