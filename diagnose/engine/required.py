"""Checks the user asked for: one that could not test anything is an error, never a quiet skip.

A check is *asked for* when it was named with ``--check`` (an id, or a family prefix such as
``login``), or implied by an option (credentials imply the login checks, ``--roundtrip`` the round
trip; a check says which option with ``Check.implied_by``). Each request is a group of check ids:
the group is met when at least one of its checks produced a finding other than a "could not test"
skip (``Finding.untested``; a skip that is the check's answer, like "DANE not in use", counts as run). An unmet
group gets one ``error`` finding per check in it, naming what was asked and why nothing ran; the
verdict then cannot be PASS and the exit code is 3 (no diagnosis).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diagnose.engine.model import Finding, Side, Status

if TYPE_CHECKING:
    from diagnose.engine.plugin import Check

NOT_TESTED = "not_tested"  # finding code suffix: "<check id>.not_tested"


@dataclass(frozen=True)
class Requirement:
    """A group of checks the user asked for: met when any of them tested something."""

    checks: tuple[str, ...]  # check ids; met when any of them tested something
    asked: str  # how the user asked, for the message: "--check login.smtp", "--roundtrip"


def requirements_for(selected: Sequence[type[Check]], only: list[str], matches: Callable[[str, str], bool],
                     options: object) -> tuple[Requirement, ...]:
    """Pure: the groups of ``selected`` check classes the user asked for.

    ``only``: the --check patterns; ``matches(check_id, pattern)``: the registry's matching rule;
    ``options``: an Options-like object whose set attributes imply checks (``Check.implied_by``)."""
    groups: dict[tuple[str, ...], str] = {}
    for pattern in only:
        ids = tuple(c.id for c in selected if matches(c.id, pattern))
        if ids:
            groups.setdefault(ids, f"--check {pattern}")
    for option, flag in (("credentials", "credentials (--user/--password-env)"), ("roundtrip", "--roundtrip")):
        if getattr(options, option, None):
            ids = tuple(c.id for c in selected if getattr(c, "implied_by", "") == option)
            if ids:
                groups.setdefault(ids, flag)
    return tuple(Requirement(ids, asked) for ids, asked in groups.items())


def substantive(finding: Finding) -> bool:
    """Did this finding test something? A skip did not; neither did a pass that only repeats the
    user's own input (e.g. the servers given with --smtp-host: evidence ``from_input``)."""
    if finding.status is Status.SKIP:
        return False
    return not (finding.status is Status.PASS and (finding.evidence or {}).get("from_input"))


def not_run(finding: Finding) -> bool:
    """A skip that means "could not test" (``Finding.untested``: ``<check>.skipped`` and the skips a
    check marks so), as opposed to a skip that is the check's answer ("no TLSA records: DANE not in
    use", "port 110 not offered")."""
    return finding.status is Status.SKIP and finding.untested


def unmet(findings: list[Finding], requirements: tuple[Requirement, ...]) -> list[Finding]:
    """Pure: an error finding for each check of each requirement none of whose checks tested anything."""
    out: list[Finding] = []
    done: set[str] = set()
    for req in requirements:
        own = [f for f in findings if f.check in req.checks]
        if any(not not_run(f) for f in own):  # something of it ran (a pass, a problem, or a "not in use")
            continue
        for check in req.checks:
            if check in done:
                continue
            done.add(check)
            reasons = [f.reason for f in own if f.check == check]
            why = reasons[0] if reasons else "it produced no result"
            more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
            out.append(Finding(
                check=check, code=f"{check}.{NOT_TESTED}", subject=own[0].subject if own else check,
                status=Status.ERROR,
                summary=f"asked for ({req.asked}) but could not be tested: {why}{more}",
                explanation=(f"{check} was asked for ({req.asked}), but nothing of it could be tested, so "
                             "maildoctor cannot say whether it works. A test that could not run is reported as "
                             "an error, never as a pass."),
                remedy="See the skipped findings of this check for the reason (an unreachable server, a "
                       "certificate that does not verify, missing credentials) and run again once it is fixed.",
                side=own[0].side if own else Side.BOTH,
            ))
    return out
