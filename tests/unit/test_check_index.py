"""The index of the built-in checks' metadata (checks/index.py) and the registry's lazy loading."""

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from checks.index import INDEX
from diagnose.engine import entrypoints
from diagnose.engine.registry import GROUP, available, describe, discover, index_entry, load, select

ROOT = Path(__file__).resolve().parents[2]


def test_the_index_says_what_the_classes_say():
    # Given every built-in check registered in pyproject.toml
    builtin = [ep for ep in entrypoints.entry_points(GROUP) if ep.module.startswith("checks.")]
    assert len(builtin) >= 30, builtin
    # Then each has an index entry equal to its class's attributes (else: run scripts/check_index.py)
    assert sorted(INDEX) == sorted(ep.value for ep in builtin), "run .venv/bin/python scripts/check_index.py"
    for ep in builtin:
        assert INDEX[ep.value] == index_entry(ep.load()), f"{ep.value}: run .venv/bin/python scripts/check_index.py"


def test_the_script_finds_the_index_up_to_date():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_index.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_our_entry_point_reader_agrees_with_importlib_metadata():
    for group in (GROUP, "maildoctor.check_index", "maildoctor.providers", "console_scripts"):
        ours = sorted((ep.name, ep.value) for ep in entrypoints.entry_points(group))
        theirs = sorted((ep.name, ep.value) for ep in metadata.entry_points(group=group))
        assert ours == theirs, group


def test_entry_points_txt_is_read_as_importlib_metadata_reads_it():
    text = "# comment\n[other]\nx = a:b\n\n[maildoctor.checks]\n  acme.bimi =  acme.checks : Bimi  \nbad line\n"
    assert [(ep.name, ep.value) for ep in entrypoints.parse(text, GROUP)] == [("acme.bimi", "acme.checks : Bimi")]
    assert entrypoints.parse(text, GROUP)[0].attr == "Bimi"


def test_available_imports_no_indexed_check_and_load_imports_the_picked_ones():
    # Given the installed checks, known from the index
    found = available()
    assert not found.problems, found.problems
    assert all(spec.cls is None for spec in found.checks if spec.entry.value in INDEX)
    # When one is picked and loaded
    picked = select(found.checks, ["spf.record"])
    loaded = load(picked)
    # Then its class comes back, with the metadata the spec had
    assert [c.id for c in loaded.checks] == ["spf.record"] and not loaded.problems
    assert index_entry(loaded.checks[0]) == INDEX[picked[0].entry.value]


class _Index:
    """A fake `maildoctor.check_index` entry point."""

    name, value = "fake", "fake.index:INDEX"

    def __init__(self, data):
        self.data = data

    def load(self):
        if isinstance(self.data, Exception):
            raise self.data
        return self.data


def _eps(*pairs):
    return lambda: [metadata.EntryPoint(name=n, value=v, group=GROUP) for n, v in pairs]


def test_an_index_entry_that_disagrees_with_its_class_is_reported_when_loaded():
    # Given an index that gives dns.exists's class another id
    value = "checks.dns_exists:DomainExists"
    index = _Index({value: {**INDEX[value], "id": "dns.renamed"}})
    found = available(_eps(("dns.exists", value)), lambda: [index])
    assert [s.id for s in found.checks] == ["dns.renamed"]
    # When it is loaded, Then the plugin is reported and left out, not run under a wrong name
    loaded = load(found.checks)
    assert loaded.checks == [] and "its index says 'dns.renamed'" in loaded.problems[0], loaded.problems


def test_a_broken_index_is_reported_and_its_checks_are_imported_instead():
    value = "checks.dns_exists:DomainExists"
    found = available(_eps(("dns.exists", value)), lambda: [_Index(ImportError("gone"))])
    assert "check index 'fake'" in found.problems[0] and "gone" in found.problems[0]
    assert [s.id for s in found.checks] == ["dns.exists"] and found.checks[0].cls is not None
    # an entry without a valid side is not trusted either: the class is imported
    found = available(_eps(("dns.exists", value)), lambda: [_Index({value: {**INDEX[value], "side": "up"}})])
    assert found.checks[0].cls is not None and found.checks[0].side == "both"


def test_a_plugin_without_index_entry_is_imported_and_listed_as_before():
    # Given a third-party check (here one of the unit tests' classes) that no index lists
    eps = _eps(("x.produce", "tests.unit.test_registry:Producer"), ("dns.exists", "checks.dns_exists:DomainExists"))
    found = available(eps)
    by_id = {s.id: s for s in found.checks}
    # Then it is imported at once (its class known), the indexed one is not
    assert by_id["x.produce"].cls is not None and by_id["x.produce"].provides == ("fact.a",)
    assert [c.id for c in discover(eps).checks] == ["dns.exists", "x.produce"]
    infos, problems = describe(eps)
    assert [(i.id, i.side) for i in infos] == [("dns.exists", "both"), ("x.produce", "both")] and not problems
