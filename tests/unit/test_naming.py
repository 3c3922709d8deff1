"""One naming style (schema 2): ids ``family.aspect``, codes start with their check's family; the
names from before stay accepted through diagnose.engine.aliases."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from diagnose.app.config import load_profile, merge
from diagnose.app.message import catalogue_checks
from diagnose.app.session import CheckRequest, make_plan
from diagnose.engine import aliases
from diagnose.engine.catalogue import catalogue, explain
from diagnose.engine.registry import UnknownCheck, discover, select
from diagnose.engine.report import SCHEMA_VERSION
from diagnose.engine.saved import load_report
from tests.reports.test_expect_catalogue import emitted

INSTALLED = discover().checks
ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
V1 = Path(__file__).parents[1] / "reports" / "data" / "report_v1.json"
CERTS = Path(__file__).parents[2] / "diagnose" / "knowledge" / "certs.py"


def code_rule(check: str | type) -> re.Pattern[str]:
    """The codes a check may emit: its family's words, or those of its declared ``code_family``."""
    check_id = check if isinstance(check, str) else check.id
    families = [check_id.split(".", 1)[0]] + ([] if isinstance(check, str) else [getattr(check, "code_family", "")])
    heads = "|".join(re.escape(f) for f in families if f)
    return re.compile(rf"^(?:{heads})\.[a-z0-9_]+(?:\.[a-z0-9_]+)*$")


def codes_of(check) -> set[str]:
    """Every code the check names: its texts, and its literal finding(...) calls (f-strings resolved)."""
    found = set(check.texts)
    for pattern in emitted(check):
        code = pattern.replace("{self.id}", check.id)
        if "{" in code:  # the greeting base: f"{p}.refused", f"{self.prefix}.greeting"
            code = re.sub(r"\{(?:p|self\.prefix)\}", getattr(check, "prefix", "?"), code)
        assert "{" not in code, f"{check.id}: cannot tell which code {pattern!r} is; teach this test"
        found.add(code)
    return found


@pytest.mark.parametrize("check", INSTALLED, ids=lambda c: c.id)
def test_every_id_is_family_dot_aspect(check):
    assert ID.match(check.id), check.id


@pytest.mark.parametrize("check", INSTALLED, ids=lambda c: c.id)
def test_every_code_starts_with_its_checks_family(check):
    rule = code_rule(check)
    codes = codes_of(check) | {f"{check.id}.{s}" for s in aliases.RUNNER_SUFFIXES}
    wrong = sorted(c for c in codes if not rule.match(c))
    assert not wrong, f"{check.id}: codes must read {check.id.split('.')[0]}.<words>: {wrong}"


def test_codes_are_unique_across_checks():
    owner: dict[str, str] = {}
    for check in INSTALLED:
        for code in check.texts:
            assert owner.setdefault(code, check.id) == check.id, f"{code}: both {owner[code]} and {check.id}"


def test_certificate_verdict_codes_are_the_certificate_checks():
    # tls.certificate passes the codes of diagnose.knowledge.certs through: they follow its rule too
    (cert,) = [c for c in INSTALLED if c.id == "tls.certificate"]
    verdicts = set(re.findall(r'CertIssue\(\s*"([^"]+)"', CERTS.read_text()))
    assert verdicts and verdicts <= set(cert.texts), verdicts - set(cert.texts)


# --- the aliases -------------------------------------------------------------------------------

def test_alias_table_points_at_installed_names():
    ids = {c.id for c in INSTALLED}
    assert set(aliases.CHECK_IDS.values()) <= ids
    assert not set(aliases.CHECK_IDS) & ids  # an old id is never a current one
    known = catalogue(catalogue_checks())  # `maildoctor explain`'s catalogue: the checks and `message`'s codes
    missing = {new for new in aliases.CODES.values() if new not in known}
    assert not missing, missing
    assert not set(aliases.CODES) & set(known)


@pytest.mark.parametrize("only, skip, ran, not_ran", [
    (["spf"], [], {"spf.record"}, {"dmarc.record"}),
    (["dnssec", "autoconfig"], [], {"dnssec.chain", "autoconfig.settings"}, {"spf.record"}),
    (["delivery.path"], [], {"roundtrip.path"}, {"spf.record"}),
    (["delivery"], [], {"roundtrip.path"}, {"spf.record"}),
    ([], ["mta_sts", "delivery.path", "dkim"], {"spf.record", "tls_rpt.record"},
     {"mta_sts.policy", "roundtrip.path", "dkim.keys"}),
])
def test_old_ids_select_the_renamed_checks(only, skip, ran, not_ran):
    # the way `check`, batch and the TUI select: --check / --skip patterns through the plan
    plan = make_plan(CheckRequest(target="example.com", only=only, skip=skip), prompt=None)
    ids = {c.id for c in plan.checks}
    assert ran <= ids and not ids & not_ran, ids


def test_unknown_names_are_still_refused():
    with pytest.raises(UnknownCheck, match="no check called 'spff'"):
        select(INSTALLED, ["spff"])
    with pytest.raises(UnknownCheck, match="no check called 'delivery.paths'"):
        select(INSTALLED, [], ["delivery.paths"])


def test_a_profile_with_old_names(tmp_path):
    path = tmp_path / "maildoctor.toml"
    path.write_text('[profiles.old]\ntarget = "example.com"\nchecks = ["spf", "dmarc", "mta_sts"]\n'
                    'skip = ["dmarc"]\n')
    settings = merge(load_profile(path, "old"), {"only": [], "skip": []})
    chosen = {c.id for c in select(INSTALLED, settings["only"], settings["skip"])}
    assert {"spf.record", "mta_sts.policy"} <= chosen and "dmarc.record" not in chosen, chosen


def test_explain_an_old_code():
    text = explain("cert.expired")
    assert text.startswith("tls.cert_expired  (check tls.certificate:"), text
    assert "cert.expired is the name before JSON schema 2" in text and "How to fix" in text
    assert explain("spf.crashed").startswith("spf.record.crashed")
    assert explain("roundtrip.skipped").startswith("roundtrip.delivery.skipped")


def test_explain_an_old_code_on_the_command_line():
    proc = subprocess.run([MAILDOCTOR, "explain", "delivery.auth_failed"], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0 and proc.stdout.startswith("roundtrip.auth_failed  (check roundtrip.path:"), proc


def test_a_v1_report_reads_under_the_new_names():
    assert SCHEMA_VERSION == 2 and json.loads(V1.read_text())["schema_version"] == 1
    report = load_report(V1)
    pairs = {(f.check, f.code) for f in report.findings}
    assert {("spf.record", "spf.record"), ("dmarc.record", "dmarc.missing"), ("tls.certificate", "tls.cert_expiring"),
            ("tls.certificate", "tls.cert_self_signed"), ("roundtrip.delivery", "roundtrip.delivery.skipped"),
            ("roundtrip.path", "roundtrip.path.skipped"), ("mx.records", "mx.records")} <= pairs, pairs
    assert "dnssec.chain" in report.services and "delivery.path" not in report.services
    expiring = next(f for f in report.findings if f.code == "tls.cert_expiring")
    assert "--cert-warn-days" in expiring.remedy  # the saved texts are kept


@pytest.mark.parametrize("fmt", ["json", "text", "html", "junit", "markdown", "nagios"])
def test_report_renders_a_v1_file(fmt):
    proc = subprocess.run([MAILDOCTOR, "report", str(V1), "--format", fmt], capture_output=True, text=True,
                          timeout=60, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr  # the fixture's verdict: fail
    old = re.findall(r"(?<![\w.])(cert\.self_signed|delivery\.path|dnssec|mta_sts)\b(?![.\w])", proc.stdout)
    assert not old and ("tls.cert_self_signed" in proc.stdout or "tls.certificate" in proc.stdout), old
    if fmt == "json":
        data = json.loads(proc.stdout)
        assert data["schema_version"] == 2 and "tls.cert_self_signed" in {f["code"] for f in data["findings"]}
