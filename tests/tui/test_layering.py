"""The engine, the CLI module, the reports and every check work without textual: it is imported
only when the TUI starts (harlequin's layering test, adapted)."""

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent("""
    import importlib, pkgutil, sys
    import diagnose.engine.runner, diagnose.app.cli, diagnose.app.session, diagnose.engine.registry
    import checks, reports
    for mod in pkgutil.iter_modules(checks.__path__):
        importlib.import_module(f"checks.{mod.name}")
    found = diagnose.engine.registry.discover()
    assert found.checks, "no checks discovered"
    for fmt in reports.RENDERERS:
        reports.renderer(fmt)
    try:  # a whole `check` run up to validation (bad target: no network)
        diagnose.app.cli.main(["check", "--nameserver", "127.0.0.1", "not a domain!"])
    except SystemExit:
        pass
    print("loaded:" + ",".join(sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))))
""")


def test_engine_checks_and_cli_never_import_textual():
    # Given a fresh interpreter, When the engine, the CLI, every check and every renderer load
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    # Then textual is not among the loaded modules
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "loaded:", f"textual was imported: {proc.stdout}"


def test_the_tui_package_does_import_textual():
    # The probe above would pass vacuously if the TUI did not use textual at all.
    proc = subprocess.run([sys.executable, "-c", "import sys, diagnose.tui.app; print('textual' in sys.modules)"],
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "True", proc.stderr
