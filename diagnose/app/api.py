"""The Python API: the same diagnosis as ``maildoctor check``, for scripts.

    from diagnose.app.api import run, render, load

    report = run("example.com", nameservers=["9.9.9.9"], timeout=3)    # a diagnose.engine.report.Report
    print(report.worst.value, report.counts)                           # "fail", {"pass": 12, ...}
    for finding in report.findings:                                    # diagnose.engine.model.Finding
        print(finding.status.value, finding.code, finding.subject, finding.summary)
    open("report.html", "w").write(render(report, "html"))            # any --format
    report = load("saved.json")                                        # a JSON report saved earlier
    exit_code(report, fail_on="fail")                                  # what the CLI would exit with

``run`` takes the CLI's options as keyword arguments (a profile of maildoctor.toml too) and goes
through the same plan (diagnose.app.plan.make_plan), runner and expectations as the command line;
what the CLI reports as one error line raises ``DiagnosisError`` with that line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from diagnose.app.config import ConfigError, merge, settings_for
from diagnose.app.plan import PlanError, Request
from diagnose.app.session import make_report
from diagnose.engine.exitcodes import ExitCode, exit_code_for
from diagnose.engine.report import Report
from diagnose.engine.saved import NotAReport, load_report
from reports import RENDERERS

FORMATS = tuple(RENDERERS)


class DiagnosisError(Exception):
    """No diagnosis could be made (bad target, bad options or config, no resolver answered)."""


def run(target: str | None = None, *, nameservers: Iterable[str] = (), timeout: float | None = None,
        checks: Iterable[str] = (), skip: Iterable[str] = (), ca_file: str | Path | None = None,
        fail_on: str | None = None, anonymize: bool = False, profile: str | None = None,
        config: str | Path | None = None, dkim_selectors: Iterable[str] = (), dnsbl: Iterable[str] = ()) -> Report:
    """Diagnose ``target`` (a domain or an email address) and return the report."""
    try:
        request = _request(target, nameservers=nameservers, timeout=timeout, checks=checks, skip=skip,
                           ca_file=ca_file, fail_on=fail_on, anonymize=anonymize, profile=profile, config=config,
                           dkim_selectors=dkim_selectors, dnsbl=dnsbl)
        return make_report(request)  # no progress observer: a script sees nothing until the report
    except (ConfigError, PlanError) as exc:
        raise DiagnosisError(str(exc)) from None


def _request(target: str | None, *, nameservers: Iterable[str], timeout: float | None, checks: Iterable[str],
             skip: Iterable[str], ca_file: str | Path | None, fail_on: str | None, anonymize: bool,
             profile: str | None, config: str | Path | None, dkim_selectors: Iterable[str],
             dnsbl: Iterable[str]) -> Request:
    """``run``'s keyword arguments (over the profile's settings) as the request make_plan validates."""
    given = dict(target=target, nameservers=list(nameservers), timeout=timeout, fmt="json", output=None,
                 ca_file=Path(ca_file) if ca_file else None, only=list(checks), skip=list(skip), fail_on=fail_on,
                 anonymize=anonymize)
    if config is None and profile is None:  # unlike the CLI, no implicit ./maildoctor.toml
        settings = merge(None, given)
        if not settings.get("target"):
            raise ConfigError("give a target (a domain or an email address), or a profile that sets one")
    else:
        settings = settings_for(Path(config) if config else None, profile, given)
    return Request(**settings, dkim_selectors=list(dkim_selectors), dnsbl=list(dnsbl),
                   argv=_equivalent_argv(settings, profile))


def _equivalent_argv(settings: dict, profile: str | None) -> list[str]:
    """The `maildoctor check` command line that does the same, for the report header."""
    argv = ["check", str(settings["target"])]
    for ns in settings.get("nameservers") or []:
        argv += ["--nameserver", str(ns)]
    timeout = settings["timeout"]
    argv += ["--timeout", f"{timeout:g}" if isinstance(timeout, (int, float)) else str(timeout)]
    argv += [arg for only in settings.get("only") or [] for arg in ("--check", only)]
    argv += [arg for skip in settings.get("skip") or [] for arg in ("--skip", skip)]
    if profile:
        argv += ["--profile", profile]
    if settings.get("fail_on"):
        argv += ["--fail-on", settings["fail_on"]]
    return argv


def render(report: Report, fmt: str = "text") -> str:
    """The report in one of FORMATS."""
    from reports import renderer

    if fmt not in RENDERERS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(RENDERERS)}")
    return renderer(fmt)(report)


def load(path: str | Path) -> Report:
    """A report saved with ``--format json`` (raises DiagnosisError when the file is not one)."""
    try:
        return load_report(Path(path))
    except NotAReport as exc:
        raise DiagnosisError(str(exc)) from None


def exit_code(report: Report, fail_on: str | None = None) -> ExitCode:
    """The exit code the CLI gives this report (0 ok, 1 warn, 2 fail, 3 unknown)."""
    return exit_code_for(report.worst, fail_on or (report.meta or {}).get("fail_on"))
