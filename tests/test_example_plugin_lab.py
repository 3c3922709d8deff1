"""The example third-party plugin (examples/maildoctor-example-check), installed as a user would and
found through its entry point, against the lab.

It is installed with ``pip --target`` into a temporary directory and put on ``PYTHONPATH`` of the
maildoctor subprocesses only, so the shared environment (and every other test run) never sees it.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "maildoctor-example-check"
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
CHECK_ID = "example.mx_names"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    """The example, built and installed into a fresh directory (the source tree stays clean)."""
    base = tmp_path_factory.mktemp("example-plugin")
    source = shutil.copytree(EXAMPLE, base / "src", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = base / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                           str(source)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(target.glob("maildoctor_example_check-*.dist-info"))
    return target


def maildoctor(*args, plugin_path=None):
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PYTHONPATH", None)
    if plugin_path:
        env["PYTHONPATH"] = str(plugin_path)
    return subprocess.run([MAILDOCTOR, *args], capture_output=True, text=True, timeout=60, env=env)


def test_the_check_is_listed_only_where_the_plugin_is_on_the_path(plugin_path):
    listed = maildoctor("checks", plugin_path=plugin_path)
    assert listed.returncode == 0 and not listed.stderr, listed.stderr
    (line,) = [ln for ln in listed.stdout.splitlines() if ln.startswith(CHECK_ID + " ")]
    assert line.split()[1] == "incoming"
    assert "mx.records" in listed.stdout  # the built-in checks are still there
    assert CHECK_ID not in maildoctor("checks").stdout  # not leaked into the shared environment


@pytest.mark.parametrize("scenario, status, exit_code, subjects", [
    ("healthy", "pass", 0, {"MX 10 mx1.healthy.{tld}", "MX 20 mx2.healthy.{tld}"}),
    ("cnamemx", "warn", 1, {"MX 10 mail.cnamemx.{tld}"}),
    ("ipliteral", "fail", 2, {"MX 10 {mx1}"}),
    ("nullmx", "skip", 0, {"nullmx.{tld}"}),
])
def test_the_check_runs_through_its_entry_point(lab, plugin_path, scenario, status, exit_code, subjects):
    proc = maildoctor("check", lab.domain(scenario), "--nameserver", lab.resolver, "--timeout", "3",
                      "--format", "json", "--check", CHECK_ID, plugin_path=plugin_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    assert [c["id"] for c in report["checks"]] == [CHECK_ID]
    findings = report["findings"]
    tld = lab.domain("x").split(".", 1)[1]
    assert {f["subject"] for f in findings} == {s.format(tld=tld, mx1=lab.host("mx1")) for s in subjects}
    assert {(f["check"], f["status"]) for f in findings} == {(CHECK_ID, status)}
    assert report["verdict"] == status and proc.returncode == exit_code
    if status in ("warn", "fail"):  # a problem comes with its explanation and remedy, templates filled in
        (problem,) = findings
        assert problem["explanation"] and problem["remedy"] and "{" not in problem["remedy"]
        assert problem["code"] == f"{CHECK_ID}.{'cname' if status == 'warn' else 'ip_literal'}"


def test_a_provider_added_through_the_entry_point_is_recognised(lab, plugin_path):
    # Given the example's provider data (MX mx1/mx2.healthy.*), installed only on the plugin's path
    args = ("check", lab.domain("healthy"), "--nameserver", lab.resolver, "--timeout", "3", "--format", "json",
            "--check", "provider")
    with_plugin = json.loads(maildoctor(*args, plugin_path=plugin_path).stdout)
    without = json.loads(maildoctor(*args).stdout)
    found = {f["code"]: f for f in with_plugin["findings"]}
    # Then the healthy domain is its customer with the plugin, and nobody's without it
    assert "Example Lab Mail (MX)" in found["provider.found"]["summary"], found
    assert found["provider.records_ok"]["status"] == "pass"
    assert "provider.unknown" in {f["code"] for f in without["findings"]}
