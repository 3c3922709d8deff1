"""Entry points of one group, read from the installed distributions without importlib.metadata.

``importlib.metadata`` costs ~25 ms of start-up (it imports email, zipfile, csv, importlib.resources)
before it reads a single file; maildoctor asks for two groups on every `check`. This reader does what
``importlib.metadata.entry_points(group=...)`` does for the common case, in ~1 ms: every ``*.dist-info``
and ``*.egg-info`` directory on ``sys.path``, the first distribution of a name winning (as there), its
``entry_points.txt`` read with the same rules (``[group]`` sections, ``name = value`` lines, ``#``
comments). A ``sys.path`` entry that is a file (a zip archive) is handed to importlib.metadata itself.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from typing import Any, Protocol

_SUFFIXES = (".dist-info", ".egg-info")


class EntryPointLike(Protocol):
    """An entry point: this module's, or importlib.metadata's (tests hand those in)."""

    name: str
    value: str

    def load(self) -> Any: ...


class EntryPoint:
    """One entry point: ``name = value`` in ``group``; ``load()`` imports what ``value`` names."""

    __slots__ = ("name", "value", "group")

    def __init__(self, name: str, value: str, group: str) -> None:
        self.name, self.value, self.group = name, value, group

    def __repr__(self) -> str:
        return f"EntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EntryPoint) and (self.name, self.value, self.group) == (
            other.name, other.value, other.group)

    def __hash__(self) -> int:
        return hash((self.name, self.value, self.group))

    @property
    def module(self) -> str:
        return self.value.partition(":")[0].strip()

    @property
    def attr(self) -> str:
        return self.value.partition(":")[2].partition("[")[0].strip()

    def load(self) -> Any:
        """``module:attr.attr`` imported (ValueError for a value that names neither)."""
        import importlib

        if not self.module or not all(part.isidentifier() for part in self.module.split(".")):
            raise ValueError(f"bad entry point value {self.value!r}")
        obj = importlib.import_module(self.module)
        for part in filter(None, self.attr.split(".")):
            obj = getattr(obj, part)
        return obj


def entry_points(group: str) -> list[EntryPoint]:
    """The entry points of ``group`` of every distribution on ``sys.path``, in path order."""
    files = _entry_point_files(tuple(sys.path))
    if files is None:  # a zip archive on the path: importlib.metadata reads those
        return _from_importlib(group)
    return [ep for text in files for ep in parse(text, group)]


@functools.lru_cache(maxsize=1)
def _entry_point_files(path: tuple[str, ...]) -> tuple[str, ...] | None:
    """The ``entry_points.txt`` of every distribution on ``path``, in path order, the first distribution of
    a name winning; None when an entry is a file (a zip archive). Read once per process and ``sys.path``:
    a `check` asks for three groups (the checks, their index, the providers), ~2 ms of directory listing
    and reading each time."""
    found: list[str] = []
    seen: set[str] = set()
    for entry in path:
        root = entry or "."
        if os.path.isfile(root):
            return None
        try:
            names = os.listdir(root)
        except OSError:  # a missing directory, a path hook's placeholder
            continue
        # .dist-info before .egg-info in each directory, as importlib.metadata searches them
        dists = sorted((_SUFFIXES.index(ext.lower()), child, stem) for child in names
                       for stem, ext in [os.path.splitext(child)] if ext.lower() in _SUFFIXES)
        for _kind, child, stem in dists:
            dist = _normalize(stem.partition("-")[0])
            if dist in seen:
                continue
            seen.add(dist)
            try:
                with open(os.path.join(root, child, "entry_points.txt"), encoding="utf-8") as fh:
                    found.append(fh.read())
            except OSError:  # no entry points, or an .egg-info file
                continue
    return tuple(found)


def parse(text: str, group: str) -> list[EntryPoint]:
    """The ``group`` entry points of one ``entry_points.txt`` (importlib.metadata's reading rules)."""
    out, section = [], None
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group and "=" in line:
            name, value = map(str.strip, line.split("=", 1))
            out.append(EntryPoint(name, value, group))
    return out


def _normalize(name: str) -> str:
    """A distribution's name as importlib.metadata compares them (``Foo.Bar-baz`` -> ``foo_bar_baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _from_importlib(group: str) -> list[EntryPoint]:
    from importlib import metadata

    return [EntryPoint(ep.name, ep.value, group) for ep in metadata.entry_points(group=group)]
