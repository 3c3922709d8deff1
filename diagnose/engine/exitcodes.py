"""Exit codes: a public contract, monitoring-style (documented in the README)."""

from __future__ import annotations

import enum

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name)
if TYPE_CHECKING:
    from diagnose.engine.model import Status


class ExitCode(enum.IntEnum):
    OK = 0  # nothing worse than pass or skip
    WARN = 1  # the worst finding is a warning
    FAIL = 2  # at least one finding failed
    UNKNOWN = 3  # no diagnosis: bad arguments, bad target, no resolver, or a check could not run
    INTERRUPTED = 130  # Ctrl-C


class FailOn(str, enum.Enum):
    """``--fail-on``: the least bad status that gives a non-zero exit code.

    ``warn`` (the default) keeps the table above; ``fail`` lets warnings pass (exit 0), for CI jobs
    that should break only on real failures. Errors (3) and failures (2) are never hidden.
    """

    WARN = "warn"
    FAIL = "fail"


DEFAULT_FAIL_ON = FailOn.WARN


def exit_code_for(worst: Status, fail_on: FailOn | str | None = None) -> ExitCode:
    from diagnose.engine.model import Status  # here: the probe's fast path imports ExitCode, not the model

    policy = FailOn(fail_on) if fail_on else DEFAULT_FAIL_ON
    if worst is Status.WARN and policy is FailOn.FAIL:
        return ExitCode.OK
    return {
        Status.PASS: ExitCode.OK,
        Status.SKIP: ExitCode.OK,
        Status.WARN: ExitCode.WARN,
        Status.ERROR: ExitCode.UNKNOWN,
        Status.FAIL: ExitCode.FAIL,
    }[worst]


def counts_as_failure(status: Status, fail_on: FailOn | str | None = None) -> bool:
    """Is this status a test failure in CI reports (JUnit)? ``fail`` always; ``warn`` only when
    ``--fail-on warn`` was given explicitly (otherwise a warning is shown but the test passes)."""
    from diagnose.engine.model import Status

    if status is Status.WARN:
        return fail_on is not None and FailOn(fail_on) is FailOn.WARN
    return status is Status.FAIL
