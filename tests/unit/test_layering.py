"""The architecture stays as drawn: every import in the packages points down the layers.

Layers, lowest first (README "Develop"): engine -> knowledge -> net -> checks; reports sit on the
engine and knowledge; the front doors (app) and the TUI on top. Imports inside functions count
too: a lazy import is still a dependency. Only ``diagnose.app.cli`` may start the TUI and the web server, lazily.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# layer -> the layers (own included) its modules may import
ALLOWED = {
    "diagnose.engine": {"diagnose.engine"},
    "diagnose.knowledge": {"diagnose.engine", "diagnose.knowledge"},
    "diagnose.net": {"diagnose.engine", "diagnose.knowledge", "diagnose.net"},
    "checks": {"diagnose.engine", "diagnose.knowledge", "diagnose.net", "checks"},
    "reports": {"diagnose.engine", "diagnose.knowledge", "reports"},
    "diagnose.app": {"diagnose.engine", "diagnose.knowledge", "diagnose.net", "reports", "diagnose.app"},
    "diagnose.tui": {"diagnose.engine", "diagnose.knowledge", "reports", "diagnose.app", "diagnose.tui"},
    "diagnose.web": {"diagnose.engine", "diagnose.knowledge", "diagnose.net", "reports", "diagnose.app", "diagnose.web"},
}
# third-party front-end libraries each layer must never load
FORBIDDEN_LIBS = {
    "diagnose.engine": {"rich", "typer", "textual"},
    "diagnose.knowledge": {"rich", "typer", "textual"},
    "diagnose.net": {"rich", "typer", "textual"},
    "checks": {"rich", "typer", "textual"},
    "reports": {"typer", "textual"},
    "diagnose.app": {"textual", "starlette", "uvicorn"},
    "diagnose.tui": {"starlette", "uvicorn"},
    "diagnose.web": {"textual", "typer", "rich"},
}
# the upward imports the design allows: `maildoctor tui` / `check --tui` starts the TUI, `maildoctor serve`
# the web server (both lazily, in the command's function)
EXCEPTIONS = {("diagnose.app.cli", "diagnose.tui.launch"), ("diagnose.app.cli", "diagnose.web.server")}
# the engine's report knows nothing of how checks are found (reports carry side and hop themselves)
EXTRA_FORBIDDEN = {"reports": {"diagnose.engine.registry"}}


def layer_of(module: str) -> str | None:
    for layer in sorted(ALLOWED, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def modules() -> list[tuple[str, Path]]:
    found = []
    for top in ("diagnose", "checks", "reports"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found.append((name, path))
    return found


def imports_of(path: Path, module: str) -> list[tuple[str, int]]:
    """Absolute names of every module imported anywhere in the file (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((name, node.lineno))
            # `from pkg import module` imports that module too
            out += [(f"{name}.{alias.name}", node.lineno) for alias in node.names]
    return out


def violations() -> list[str]:
    known = {name for name, _ in modules()}
    problems = []
    for module, path in modules():
        layer = layer_of(module)
        if layer is None:
            continue  # the root package diagnose/__init__.py: version and the lazy API only
        for name, line in imports_of(path, module):
            top = name.split(".")[0]
            where = f"{path.relative_to(ROOT)}:{line}"
            if top in FORBIDDEN_LIBS.get(layer, ()):
                problems.append(f"{where}: {layer} must not import {top}")
            if top not in ("diagnose", "checks", "reports") or name == "diagnose":
                continue
            if name not in known and name.rpartition(".")[0] in known:
                name = name.rpartition(".")[0]  # `from x.y import SomeName`
            target = layer_of(name)
            if target is None or (module, name) in EXCEPTIONS:
                continue
            if target not in ALLOWED[layer] or name in EXTRA_FORBIDDEN.get(layer, ()):
                problems.append(f"{where}: {module} ({layer}) imports {name} ({target})")
    return problems


def test_every_import_points_down_the_layers():
    assert violations() == []


def test_the_layer_table_covers_every_module():
    unplaced = [m for m, _ in modules() if layer_of(m) is None and m != "diagnose"]
    assert unplaced == []


@pytest.mark.parametrize("source, expected", [
    ("from diagnose.app.session import make_plan\n", "diagnose.engine.runner (diagnose.engine) imports diagnose.app"),
    ("import rich\n", "diagnose.engine must not import rich"),
])
def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch, source, expected):
    # The walk above must not pass vacuously: plant an upward import in a copy of the engine.
    fake = tmp_path / "diagnose" / "engine"
    fake.mkdir(parents=True)
    (tmp_path / "diagnose" / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "runner.py").write_text(source)
    (tmp_path / "checks").mkdir()
    (tmp_path / "reports").mkdir()
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert any(expected in p for p in violations()), violations()
