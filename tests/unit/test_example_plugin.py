"""The example plugin (examples/maildoctor-example-check) keeps to what the README promises a plugin
author: only the public plugin API, the naming rule, literal metadata, filled-in texts."""

import ast
import importlib
from pathlib import Path

import pytest

from diagnose.engine.model import Status
from diagnose.engine.registry import _literal_info
from tests.unit.test_naming import ID, code_rule, codes_of

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "maildoctor-example-check"
PUBLIC = {"diagnose.engine.plugin", "diagnose.engine.model"}


@pytest.fixture
def module(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    return importlib.import_module("maildoctor_example_check.mx_names")


def test_it_imports_only_the_public_plugin_api():
    source = EXAMPLE / "maildoctor_example_check" / "mx_names.py"
    imported = {n.module for n in ast.walk(ast.parse(source.read_text())) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(ast.parse(source.read_text())) if isinstance(n, ast.Import)
                 for a in n.names}
    assert {m for m in imported if m.split(".")[0] in ("diagnose", "checks", "reports")} == PUBLIC


def test_it_follows_the_naming_rule_and_lists_without_import(module):
    check = module.MxNames
    assert ID.match(check.id)
    assert codes_of(check) and all(code_rule(check.id).match(c) for c in codes_of(check))
    ep = type("EP", (), {"name": check.id, "value": "maildoctor_example_check.mx_names:MxNames"})()
    info = _literal_info(ep)  # what `maildoctor checks` reads from the class statement
    assert (info.id, info.title, info.side) == (check.id, check.title, check.side.value)


def test_problem_texts_are_filled_in(module):
    f = module.MxNames().finding("example.mx_names.ip_literal", Status.FAIL, "MX 10 192.0.2.1", "x",
                                 domain="example.org", target="192.0.2.1", address="192.0.2.1", preference=10)
    assert "192.0.2.1" in f.explanation and "mx.example.org. IN A 192.0.2.1" in f.remedy and "{" not in f.remedy
