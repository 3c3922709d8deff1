"""Fast start-up, proven by what a fresh interpreter imports (timings live in bench/, not here)."""

import json
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import sys
    from diagnose.app.entry import main  # the console script's entry point
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
    heavy = ("textual", "rich", "cryptography", "pydantic", "dns", "typer", "click", "dkim", "publicsuffixlist",
             "asyncio", "checks", "reports", "idna")
    loaded = sorted({m.split(".")[0] for m in sys.modules} & set(heavy))
    # modules of the check plugins (their empty packages are imported by find_spec, which is fine)
    # (and the index of their metadata, checks.index, which is no plugin)
    plugins = sorted(m for m, mod in list(sys.modules.items())
                     if m.startswith("checks.") and not hasattr(mod, "__path__") and m != "checks.index")
    print("modules:" + ",".join(sorted(sys.modules)), file=sys.stderr)
    print("plugins:" + ",".join(plugins), file=sys.stderr)
    print("loaded:" + ",".join(loaded), file=sys.stderr)
""")


def imported_by(*argv, typer_cli=False):
    """(the run, the heavy packages it loaded) of the console script's entry point (or the Typer CLI's main)."""
    code = PROBE.replace("diagnose.app.entry import main", "diagnose.app.cli import main") if typer_cli else PROBE
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, proc.stderr.strip().splitlines()[-1].removeprefix("loaded:").split(",")


def modules_imported(proc) -> set[str]:
    line = next(x for x in proc.stderr.splitlines() if x.startswith("modules:"))
    return set(line.removeprefix("modules:").split(","))


def plugins_imported(proc) -> list[str]:
    line = next(x for x in proc.stderr.splitlines() if x.startswith("plugins:"))
    return [m for m in line.removeprefix("plugins:").split(",") if m]


def test_help_imports_no_heavy_module():
    # Given a fresh interpreter, When `maildoctor --help` runs
    proc, loaded = imported_by("--help")
    # Then it printed the help (probe listed) with Typer and the report names only: no textual, rich,
    # cryptography, pydantic, dnspython, dkimpy, asyncio, nor any check plugin
    assert "Usage:" in proc.stdout and "batch" in proc.stdout and "probe" in proc.stdout, proc.stdout
    assert set(loaded) <= {"typer", "click", "reports"}, f"--help imported {loaded}"
    assert plugins_imported(proc) == []
    # (naming the formats needs no report model)
    assert "diagnose.engine.report" not in modules_imported(proc)


def test_checks_listing_imports_no_plugin_module():
    proc, loaded = imported_by("checks")
    # the listing comes from the entry points and the plugins' source, not from importing them
    assert plugins_imported(proc) == [], plugins_imported(proc)
    assert set(loaded) <= {"typer", "click", "reports", "checks"}, f"checks imported {loaded}"


def test_probe_of_an_address_imports_neither_typer_nor_dnspython_nor_any_report_or_plugin():
    # Given an address (no name to resolve) where nothing listens: the probe runs its whole path
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, loaded = imported_by("probe", f"127.0.0.1:{port}", "--protocol", "smtp", "--timeout", "2")
    assert proc.stdout.startswith("MAILDOCTOR CRITICAL"), proc.stdout
    # Then only what the probe uses: asyncio for the session, cryptography for the certificate
    assert set(loaded) <= {"asyncio", "cryptography"}, f"probe imported {loaded}"
    assert plugins_imported(proc) == []


def test_probe_help_is_argparse_and_exits_ok():
    proc, loaded = imported_by("probe", "--help")
    assert "HOST[:PORT]" in proc.stdout and "--warning" in proc.stdout and "--critical" in proc.stdout, proc.stdout
    assert "typer" not in loaded, loaded


def test_checks_listing_needs_neither_textual_nor_pydantic_and_matches_the_loaded_plugins():
    proc, loaded = imported_by("checks")
    assert "textual" not in loaded and "pydantic" not in loaded and "rich" not in loaded, loaded
    # the listing read from the plugins' source is the one the loaded classes give
    from diagnose.engine.registry import discover

    found = discover()
    width = max(len(c.id) for c in found.checks)
    expected = [f"{c.id:<{width}}  {c.side.value:<8}  {c.title}" for c in found.checks]
    assert proc.stdout.splitlines() == expected


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _check_run_to_its_first_question(*only: str):
    """`check` with --check ONLY... against a resolver port where nothing listens: the plan is made and its
    checks imported, then the run stops at the resolver's preflight (exit 3), nothing sent anywhere else."""
    argv = ["check", "example.com", "--nameserver", f"127.0.0.1:{_closed_port()}", "--timeout", "0.5",
            "--format", "json"]
    for check in only:
        argv += ["--check", check]
    proc, loaded = imported_by(*argv)
    assert "no DNS resolver answered" in proc.stderr, proc.stderr
    return proc


def test_check_with_one_selected_check_imports_that_plugin_alone():
    # Given a check that needs no other check's facts, When `check --check spf.record` runs up to the network
    proc = _check_run_to_its_first_question("spf.record")
    # Then the only plugin module imported is that check's own
    assert plugins_imported(proc) == ["checks.spf.check"], plugins_imported(proc)


def test_check_with_selected_checks_imports_no_other_plugin_module():
    # Given checks that need other checks' facts (the certificate needs the MX hosts)
    from diagnose.engine.registry import available, select

    found = available()
    modules = {spec.entry.module for spec in found.checks}
    for only in (["tls.certificate"], ["dkim.keys", "mx"], ["login.imap"]):
        picked = {spec.entry.module for spec in select(found.checks, only)}
        # When `check --check ...` runs up to the network
        proc = _check_run_to_its_first_question(*only)
        # Then every picked check's module was imported (the facts' producers too), and no other plugin's
        imported = set(plugins_imported(proc)) & modules
        assert imported == picked, (only, sorted(imported ^ picked))
        assert len(picked) < len(modules) / 2, (only, picked)


def test_a_check_run_imports_neither_dnspythons_resolver_nor_what_only_a_failure_needs():
    # Given every check selected, When `check` runs up to its first DNS question (the resolver's preflight,
    # which reports the closed port as refused)
    proc = _check_run_to_its_first_question()
    assert "connection refused" in proc.stderr, proc.stderr
    # Then dnspython's resolver and query modules were not imported (the lean path asks; dnspython reads
    # /etc/resolv.conf only without --nameserver), nor the direct questions to a domain's name servers
    # (only after a failed lookup), nor PKCS#7 (only for a downloaded .p7c)
    unneeded = {"dns.resolver", "dns.asyncresolver", "dns.message", "dns.query", "dns.asyncquery", "dns.nameserver",
                "diagnose.net.authoritative", "cryptography.hazmat.primitives.serialization.pkcs7"}
    assert modules_imported(proc) & unneeded == set(), sorted(modules_imported(proc) & unneeded)


@pytest.mark.lab
def test_a_healthy_check_imports_nothing_only_an_unusual_domain_or_option_needs(lab):
    # Given the lab's healthy domain, which publishes no Autodiscover place and asks for no round trip
    proc = subprocess.run([sys.executable, "-c", PROBE, "check", lab.domain("healthy"), "--nameserver", lab.resolver,
                           "--ca-file", str(lab.ca_file), "--timeout", "5", "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    # When the whole diagnosis has run and passed
    report = json.loads(proc.stdout)
    assert report["verdict"] == "pass", [f["code"] for f in report["findings"] if f["status"] != "pass"]
    autodiscover = [f for f in report["findings"] if f["check"] == "autodiscover.settings"]
    assert [f["code"] for f in autodiscover] == ["autodiscover.none"], autodiscover
    # Then neither the Autodiscover request/answer code, nor the SMTP reply explanations of a round trip, nor
    # the SPF macro code (its record has no "%"), nor `secrets` (DNS query ids come from os.urandom) were imported
    lazy = {"diagnose.knowledge.autodiscover", "diagnose.knowledge.smtpcodes", "diagnose.knowledge.spf.macros",
            "secrets"}
    assert modules_imported(proc) & lazy == set(), sorted(modules_imported(proc) & lazy)


def test_a_check_run_converts_its_options_without_pydantic():
    # Given every kind of option check takes (str, float, int with a minimum, Path, enum, list)
    argv = ("check", "not a domain!", "--nameserver", "127.0.0.1", "--timeout", "0.5", "--cert-warn-days", "3",
            "--ca-file", "/nonexistent.pem", "--format", "json", "--check", "dns", "--skip", "mx")
    # When it is read by the console script (without Typer: diagnose.app.checkargs) and by the Typer CLI
    for typer_cli in (False, True):
        proc, loaded = imported_by(*argv, typer_cli=typer_cli)
        # Then the run reached maildoctor's own validation (one error line) without importing pydantic
        assert "bad target" in proc.stderr, proc.stderr
        assert "pydantic" not in loaded, loaded
        assert ("typer" in loaded) == typer_cli, loaded


def test_bad_option_values_are_one_error_line_each():
    for argv, words in ((["check", "x.example", "--timeout", "abc"], "'abc' is not a valid number"),
                        (["check", "x.example", "--format", "nope"], "is not one of 'text'"),
                        (["check", "x.example", "--cert-warn-days", "-1"], "--cert-warn-days must be between 0 and 3650 days"),
                        (["batch", "-", "--concurrency", "x"], "'x' is not a valid integer")):
        proc, _ = imported_by(*argv)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("maildoctor: error:")]
        assert len(errors) == 1 and words in errors[0], proc.stderr
