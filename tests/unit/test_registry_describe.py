"""`maildoctor checks` lists plugins from their source without importing them (fast start-up),
and falls back to loading a plugin whose metadata is not written out literally."""

import sys
import textwrap
from importlib import metadata

import pytest

from diagnose.engine.registry import CheckInfo, describe

LITERAL = textwrap.dedent('''
    from diagnose.engine.model import Side
    from diagnose.engine.plugin import Check

    class Fast(Check):
        id = "fake.fast"
        title = "Read without importing"
        side = Side.OUTGOING

    raise RuntimeError("this module must not be imported for a listing")
''')
COMPUTED = textwrap.dedent('''
    from diagnose.engine.model import Side
    from diagnose.engine.plugin import Check

    class Computed(Check):
        title = "Id made at import time"
        side = Side.INCOMING
        id = "fake." + "computed"
''')


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    (tmp_path / "mdfake_literal.py").write_text(LITERAL)
    (tmp_path / "mdfake_computed.py").write_text(COMPUTED)
    (tmp_path / "mdfake_broken.py").write_text("class Broken(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield [metadata.EntryPoint(name=n, value=v, group="maildoctor.checks") for n, v in (
        ("fake.fast", "mdfake_literal:Fast"), ("fake.computed", "mdfake_computed:Computed"),
        ("fake.broken", "mdfake_broken:Broken"))]
    for name in ("mdfake_literal", "mdfake_computed", "mdfake_broken"):
        sys.modules.pop(name, None)


def test_literal_metadata_is_read_without_import_and_others_are_loaded(plugins):
    infos, problems = describe(lambda: plugins)
    assert CheckInfo("fake.fast", "Read without importing", "outgoing") in infos
    assert "mdfake_literal" not in sys.modules, "a literal plugin is listed without importing it"
    assert CheckInfo("fake.computed", "Id made at import time", "incoming") in infos
    assert len(problems) == 1 and "fake.broken" in problems[0] and "failed to load" in problems[0]
