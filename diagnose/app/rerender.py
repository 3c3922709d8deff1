"""`maildoctor report FILE.json`: turn a saved JSON report into any format."""

from __future__ import annotations

import sys
from pathlib import Path

from diagnose.engine.exitcodes import ExitCode, exit_code_for
from diagnose.engine.saved import NotAReport, load_report


def rerender(
    path: Path, fmt: str, output: Path | None, *, anonymize: bool = False, fail_on: str | None = None
) -> ExitCode:
    from diagnose.app.session import write_atomically
    from reports import renderer

    try:
        report = load_report(path)
    except NotAReport as exc:
        print(f"maildoctor: error: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    meta = dict(report.meta or {})
    if anonymize:
        meta.pop("host", None)
        meta.pop("public_address", None)
        meta["anonymized"] = True
    if fail_on:
        meta["fail_on"] = fail_on
    report.meta = meta
    text = renderer(fmt)(report)
    if output is not None:
        write_atomically(output, text)
    else:
        sys.stdout.write(text)
    return exit_code_for(report.worst, meta.get("fail_on"))
