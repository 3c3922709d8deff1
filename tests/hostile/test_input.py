"""Bad input on the command line, in config files and report files: one clear error line (exit 3),
never a traceback. Valid but unusual targets (IDN, punycode, quoted local parts) are diagnosed."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.hostile.conftest import DNS_INDEX, Kit, addr, assert_clean, run_cli

T = 1.0
NS = ["--nameserver", addr(DNS_INDEX)]
IDN_ASCII = "xn--bcher-kva.hostile.test"  # bücher.hostile.test
LONG_LABELS = ".".join(["a" * 63] * 5) + ".test"


def error_run(args: list[str], *, contains: str = "") -> None:
    """The CLI refuses with exactly one line on stderr, exit 3, quickly (no network needed)."""
    run = run_cli(args, limit=5)  # + STARTUP: refusing bad input needs no network
    assert_clean(run, error_line=True)
    if contains:
        assert contains.lower() in run.stderr.lower(), run


def error_runs(cases: list[tuple[list[str], str]]) -> None:
    """``error_run`` for many cases at once (each is a process start-up of ~1-2 s); all failures reported."""
    def one(case):
        try:
            error_run(case[0], contains=case[1])
        except (AssertionError, pytest.fail.Exception) as exc:
            return f"{case[0]}: {exc}"
        return None
    with ThreadPoolExecutor(max_workers=3) as pool:
        failures = [f for f in pool.map(one, cases) if f]
    assert not failures, "\n\n".join(failures)


BAD_TARGETS = [
    "", " ", "\t \n", "a" * 301, f"user@{'b' * 300}.test", "example..test", "-bad-.test", "exa mple.test",
    "foo@", "@example.test", "a@b@", "user@[192.0.2.1]", "[192.0.2.1]", "192.0.2.1", "localhost",
    "xn--zz.test", "user..dots@example.test", "\x1b[31mred.test", "ex\u202eample.test", LONG_LABELS,
    "bücher..test", "😀.test", "a" * 64 + "@example.test",
]


def test_bad_targets():
    error_runs([(["check", target, *NS, "--timeout", str(T)], "") for target in BAD_TARGETS])


BAD_OPTIONS = [
    (["--check", "no.such.check"], "no.such"),
    (["--skip", "definitely-not-a-check"], "definitely"),
    (["--timeout", "0"], "timeout"),
    (["--timeout", "-5"], "timeout"),
    (["--timeout", "nan"], "timeout"),
    (["--timeout", "inf"], "timeout"),
    (["--timeout", "abc"], "timeout"),
    (["--format", "pdf"], "format"),
    (["--nameserver", "not-an-ip"], "nameserver"),
    (["--nameserver", "127.0.0.1:99999"], "port"),
    (["--nameserver", "[::1"], "nameserver"),
    (["--dkim-selector", "bad selector!"], "selector"),
    (["--dnsbl", "not a zone"], "dnsbl"),
    (["--no-such-option"], "no-such-option"),
]


def test_bad_options():
    error_runs([(["check", "example.test"] + ([] if args[0] == "--nameserver" else NS) + args, contains)
                for args, contains in BAD_OPTIONS])


def test_unknown_command():
    error_run(["frobnicate"], contains="frobnicate")


BAD_CONFIGS = [
    b"[profiles.default\ntarget = 'x'",  # syntax error
    b"[profiles.default]\ntimeout = 'three'\n",  # wrong type
    b"[profiles.default]\nnameservers = 5\n",
    b"[profiles.default]\nchecks = [1, 2]\n",
    b"[profiles.default]\nunknown_key = true\n",
    b"[profiles.default]\nfail_on = 'sometimes'\n",
    b"\xff\xfe\x00binary garbage\x1b[31m",
    b"profiles = 3\n",
]


def test_bad_config_files(tmp_path):
    cases = []
    for i, content in enumerate(BAD_CONFIGS):
        path = tmp_path / f"maildoctor{i}.toml"
        path.write_bytes(content)
        cases.append((["check", "example.test", *NS, "--config", str(path)], ""))
    error_runs(cases)


def test_missing_config_file_and_unknown_profile(tmp_path):
    error_run(["check", "example.test", *NS, "--config", str(tmp_path / "absent.toml")])
    path = tmp_path / "maildoctor.toml"
    path.write_text("[profiles.default]\ntimeout = 2\n")
    error_run(["check", "example.test", *NS, "--config", str(path), "--profile", "nope"], contains="nope")


def test_unreadable_or_wrong_ca_file(tmp_path):
    (tmp_path / "directory.pem").mkdir()
    (tmp_path / "empty.pem").write_bytes(b"")
    (tmp_path / "binary.pem").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "text.pem").write_text("just some text\n")
    (tmp_path / "bad.pem").write_text("-----BEGIN CERTIFICATE-----\n!!!notbase64!!!\n-----END CERTIFICATE-----\n")
    names = ["missing.pem", "directory.pem", "empty.pem", "binary.pem", "text.pem", "bad.pem"]
    error_runs([(["check", "example.test", *NS, "--ca-file", str(tmp_path / n)], "ca-file") for n in names])


BAD_REPORTS = [
    b"",
    b"not json at all",
    b"[]",
    b"{}",
    b"null",
    b"42",
    b'{"schema_version": 999, "findings": []}',
    b'{"schema_version": 1, "findings": [{"nonsense": true}]}',
    b'{"schema_version": 1, "findings": "nope"}',
    b'{"schema_version": "one", "findings": []}',
    b'{"schema_version": 1, "findings": [{"check": "x", "code": "x", "subject": "s", "status": "bogus", "summary": "s"}]}',
    b"\xff\xfe\x00\x01binary",
    b'{"schema_version": 1, "findings": [], "duration_s": "slow"}',
]


def test_report_file_that_is_not_a_maildoctor_report(tmp_path):
    cases = []
    for i, content in enumerate(BAD_REPORTS):
        path = tmp_path / f"r{i}.json"
        path.write_bytes(content)
        cases += [(["report", str(path), "--format", fmt], "") for fmt in (("text", "html") if i < 3 else ("text",))]
    error_runs(cases)


def test_report_file_missing_or_a_directory(tmp_path):
    error_run(["report", str(tmp_path / "absent.json")])
    error_run(["report", str(tmp_path)])


def test_output_into_a_missing_directory(tmp_path):
    error_run(["report", "--format", "text", "--output", str(tmp_path / "no" / "such" / "dir.txt"),
               str(_minimal_report(tmp_path))])


def _minimal_report(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps({"schema_version": 1, "findings": []}))
    return path


# --- valid but unusual targets: diagnosed like any other ------------------------------------

@pytest.fixture(scope="module")
def kit():
    records = [[IDN_ASCII, "MX", f"10 mx.{IDN_ASCII}."], [f"mx.{IDN_ASCII}", "A", addr(45)]]
    k = Kit({"dns": {"address": addr(DNS_INDEX), "records": records},
             "servers": [{"address": addr(45), "ports": [25], "behaviour": "polite"}]})
    yield k
    k.stop()


@pytest.mark.parametrize("target", [
    "bücher.hostile.test", IDN_ASCII, "BÜCHER.Hostile.Test.", '"john doe"@bücher.hostile.test',
    f"info@{IDN_ASCII}", "  bücher.hostile.test  ",
])
def test_idn_punycode_and_quoted_local_parts_are_diagnosed(kit, target):
    run = run_cli(["check", target, *NS, "--timeout", str(T)], limit=6 * T + 2, json_report=True)
    assert_clean(run)
    assert run.report["target"]["domain"] == IDN_ASCII, run
    assert run.report["target"]["domain_unicode"] == "bücher.hostile.test", run
    assert run.codes("mx.records").get("mx.records") == "pass", run
