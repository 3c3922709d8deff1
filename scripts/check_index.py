"""Write checks/index.py, the metadata of the built-in checks, from their classes.

    .venv/bin/python scripts/check_index.py          # rewrite checks/index.py
    .venv/bin/python scripts/check_index.py --check  # exit 1 when it is out of date

The registry (diagnose.engine.registry) reads the index so that a run imports only the checks it
selects; tests/unit/test_check_index.py fails when a class and its entry differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT / "checks" / "index.py"

HEAD = '''"""The built-in checks' metadata, so that a run imports only the checks it selects (registered in the
``maildoctor.check_index`` entry-point group; see diagnose.engine.registry). Written by
scripts/check_index.py from the classes; tests/unit/test_check_index.py keeps the two equal.
Entry-point value -> the class attributes the registry reads before importing it."""

from typing import Any

INDEX: dict[str, dict[str, Any]] = {
'''


def render() -> str:
    sys.path.insert(0, str(ROOT))
    from diagnose.engine import entrypoints
    from diagnose.engine.registry import GROUP, index_entry

    lines = [HEAD]
    for ep in sorted(entrypoints.entry_points(GROUP), key=lambda e: e.name):
        if not ep.module.startswith("checks."):
            continue  # a third-party plugin installed here
        entry = index_entry(ep.load())
        lines.append(f"    {ep.value!r}: {{\n")
        lines += [f"        {key!r}: {value!r},\n" for key, value in entry.items()]
        lines.append("    },\n")
    lines.append("}\n")
    return "".join(lines)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from scripts.generated import write_or_check

    return write_or_check(INDEX, render, "check_index.py", (__doc__ or "").splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
