"""Exit codes: a public contract, monitoring-style (documented in the README)."""

from __future__ import annotations

import enum

from .model import Status


class ExitCode(enum.IntEnum):
    OK = 0  # nothing worse than pass or skip
    WARN = 1  # the worst finding is a warning
    FAIL = 2  # at least one finding failed
    UNKNOWN = 3  # no diagnosis: bad arguments, bad target, no resolver, or a check could not run
    INTERRUPTED = 130  # Ctrl-C


def exit_code_for(worst: Status) -> ExitCode:
    return {
        Status.PASS: ExitCode.OK,
        Status.SKIP: ExitCode.OK,
        Status.WARN: ExitCode.WARN,
        Status.ERROR: ExitCode.UNKNOWN,
        Status.FAIL: ExitCode.FAIL,
    }[worst]
