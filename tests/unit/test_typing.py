"""mypy's settings in pyproject.toml: the engine is held to strict typing, the rest to the defaults.

A planted module with an unannotated function is checked under the project's configuration: in
``diagnose.engine`` mypy must refuse it, in ``diagnose.app`` accept it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLANTED = "def untyped(x):\n    return x\n"

pytestmark = pytest.mark.skipif(shutil.which("mypy", path=str(Path(sys.executable).parent)) is None,
                                reason="mypy is not installed (pip install -e '.[test]')")


def mypy_on_planted(tmp_path: Path, package: str) -> subprocess.CompletedProcess[str]:
    parts = package.split(".")
    for depth in range(1, len(parts) + 1):
        pkg = tmp_path.joinpath(*parts[:depth])
        pkg.mkdir(exist_ok=True)
        (pkg / "__init__.py").touch()
    (pkg / "planted.py").write_text(PLANTED)
    return subprocess.run(
        [str(Path(sys.executable).parent / "mypy"), "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / ".cache"), "--no-incremental", f"{package.replace('.', '/')}/planted.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )


def test_the_engine_is_strict(tmp_path):
    run = mypy_on_planted(tmp_path, "diagnose.engine")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "planted.py:1: error: Function is missing a type annotation  [no-untyped-def]" in run.stdout


def test_the_app_layer_is_not(tmp_path):
    run = mypy_on_planted(tmp_path, "diagnose.app")
    assert run.returncode == 0, run.stdout + run.stderr
