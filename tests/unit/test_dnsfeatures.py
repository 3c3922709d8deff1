"""diagnose.net.dnsfeatures: dnspython loaded without importlib.metadata, with the same idna answer.

Each test runs in a fresh interpreter: what is imported, and in which order, is the point."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _python(code: str) -> str:
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_every_check_loads_without_importlib_metadata() -> None:
    out = _python("""
        import sys
        from diagnose.engine.registry import available, load
        import diagnose.app.plan, diagnose.net.resolver
        load(available().checks)
        print(type(sys.modules["importlib.metadata"]).__name__, "zipfile" in sys.modules, "dns.name" in sys.modules)
    """)
    assert out == "_Deferred False True"


def test_dnspython_gets_the_answer_importlib_metadata_gives() -> None:
    out = _python("""
        import sys
        import diagnose.net.dnswire
        import dns._features as features
        forced = features.have("idna")
        asked = all(features._version_check(req) for req in features._requirements["idna"])
        import importlib.metadata
        real = type(sys.modules["importlib.metadata"]).__name__
        print(forced, asked, real, importlib.metadata.version("dnspython") != "", "zipfile" in sys.modules)
    """)
    forced, asked, real, version_ok, zipfile = out.split()
    assert forced == asked  # the same verdict as dnspython's own check, which used the real module
    assert (real, version_ok, zipfile) == ("module", "True", "True")  # and the real module took over


def test_a_reference_taken_early_works_once_loaded() -> None:
    out = _python("""
        import diagnose.net.dnswire
        from importlib import metadata
        eps = metadata.entry_points(group="maildoctor.checks")
        print(len(list(eps)) > 20, metadata.version("dnspython") == __import__("dns.version").version.version)
    """)
    assert out == "True True"


@pytest.mark.parametrize("first", ["import importlib.metadata", "import dns.name"])
def test_too_late_changes_nothing(first: str) -> None:
    out = _python(f"""
        import sys
        {first}
        import diagnose.net.dnsfeatures
        import importlib.metadata
        print(type(sys.modules["importlib.metadata"]).__name__)
    """)
    assert out == "module"
