"""The command line of the scripts that write a generated source file (check_index.py, check_options.py):
rewrite it, or with ``--check`` only compare and exit 1 when it is out of date."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_or_check(target: Path, render: Callable[[], str], script: str, description: str) -> int:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when out of date")
    args = ap.parse_args()
    text = render()
    name = target.relative_to(ROOT)
    if args.check:
        same = target.exists() and target.read_text(encoding="utf-8") == text
        print(f"{name} is up to date" if same else f"{name} is out of date: run .venv/bin/python scripts/{script}")
        return 0 if same else 1
    target.write_text(text, encoding="utf-8")
    print(f"wrote {name}")
    return 0
