"""Find check plugins through the ``maildoctor.checks`` entry-point group (ours included)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing the plugin base pulls in dnspython: `maildoctor checks` avoids it
    from diagnose.engine.plugin import Check

GROUP = "maildoctor.checks"


class UnknownCheck(ValueError):
    """The user named a check that is not installed."""


@dataclass
class Discovered:
    checks: list[type[Check]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # plugins that failed to load, for stderr


def discover(entry_points: Callable[[], Iterable[metadata.EntryPoint]] | None = None) -> Discovered:
    """Load every installed check plugin; a broken plugin is reported, never fatal."""
    from diagnose.engine.plugin import Check

    eps = entry_points() if entry_points else metadata.entry_points(group=GROUP)
    found = Discovered()
    seen: set[str] = set()
    for ep in sorted(eps, key=lambda e: e.name):
        try:
            cls = ep.load()
        except Exception as exc:  # noqa: BLE001 - any plugin bug must not stop the others
            found.problems.append(f"check plugin {ep.name!r} ({ep.value}) failed to load: {exc}")
            continue
        if not (isinstance(cls, type) and issubclass(cls, Check) and getattr(cls, "id", None)):
            found.problems.append(f"check plugin {ep.name!r} ({ep.value}) is not a Check subclass with an id")
            continue
        if cls.id in seen:
            found.problems.append(f"check plugin {ep.name!r}: id {cls.id!r} is already taken, ignored")
            continue
        seen.add(cls.id)
        found.checks.append(cls)
    return found


@dataclass(frozen=True)
class CheckInfo:
    """What `maildoctor checks` lists about a plugin."""

    id: str
    title: str
    side: str  # a diagnose.engine.model.Side value


def describe(
    entry_points: Callable[[], Iterable[metadata.EntryPoint]] | None = None,
) -> tuple[list[CheckInfo], list[str]]:
    """id, title and side of every installed check, for listing, without importing the plugins
    (harlequin lists its plugins the same way): read from the class statement in the plugin's
    source. A plugin whose class does not spell them out as literals is loaded as by discover(),
    and reported the same way when that fails. Returns (infos sorted by id, problems)."""
    eps = sorted(entry_points() if entry_points else metadata.entry_points(group=GROUP), key=lambda e: e.name)
    infos: list[CheckInfo] = []
    problems: list[str] = []
    slow = []
    for ep in eps:
        info = _literal_info(ep)
        if info is None:
            slow.append(ep)
        else:
            infos.append(info)
    if slow:
        found = discover(lambda: slow)
        infos += [CheckInfo(c.id, c.title, c.side.value) for c in found.checks]
        problems += found.problems
    unique: dict[str, CheckInfo] = {}
    for info in infos:
        if info.id in unique:
            problems.append(f"check plugin id {info.id!r} is already taken, ignored")
        else:
            unique[info.id] = info
    return sorted(unique.values(), key=lambda i: i.id), problems


# one class attribute on one line at the class body's level: `id = "x"`, `title: str = 'y'`, `side = Side.BOTH`
_ATTRIBUTE = re.compile(r"""^[ \t]+(id|title|side)\s*(?::[^=\n]*)?=\s*(?:(["'])((?:(?!\2)[^\\\n])*)\2|Side\.([A-Z]+))"""
                        r"""[ \t]*(?:#[^\n]*)?$""", re.M)


def _source_of(module: str) -> str | None:
    """The source of ``module``, found without running its parent packages: a package's __init__
    may import every module of the package (checks.dmarc does), which is what listing avoids. Only
    the top-level package is imported (to find where it lives, editable installs included)."""
    import importlib.abc
    import importlib.util
    from importlib.machinery import PathFinder

    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    name = top
    for part in rest:
        locations = spec.submodule_search_locations if spec else None
        if not locations:
            return None
        name = f"{name}.{part}"
        spec = PathFinder.find_spec(name, list(locations))
    loader = spec.loader if spec else None
    return loader.get_source(name) if spec and isinstance(loader, importlib.abc.InspectLoader) else None


def _literal_info(ep: metadata.EntryPoint) -> CheckInfo | None:
    """The class attributes id/title/side read from source; None when that is not possible.

    Read with a regular expression on the class statement's own lines, not by parsing the module
    (a whole module costs ~10x more, and even the class block ~5 ms with the texts it holds):
    a value that is not a plain one-line literal (escapes, concatenation, a name) gives None,
    and the plugin is then imported as by discover()."""
    module, _, attr = ep.value.partition(":")
    try:
        source = _source_of(module.strip())
    except (ImportError, ValueError, AttributeError, OSError):
        return None
    # the class statement: its header line and the indented or blank lines after it
    block = re.search(rf"^class {re.escape(attr.strip())}\b[^\n]*\n((?:[ \t]+[^\n]*\n|[ \t]*\n)*)",
                      (source or "") + "\n", re.M)
    if block is None:
        return None
    body = block.group(1)
    first = next((line for line in body.splitlines() if line.strip()), "")
    indent = first[: len(first) - len(first.lstrip())]
    values: dict[str, str] = {}
    for m in _ATTRIBUTE.finditer(body):
        if not m.group(0).startswith(indent) or m.group(0)[len(indent)] in " \t":
            continue  # a nested block's line, not the class body's
        name, text, side = m.group(1), m.group(3), m.group(4)
        values.setdefault(name, side.lower() if side else text)
    if not {"id", "title", "side"} <= values.keys() or values["side"] not in ("incoming", "outgoing", "both"):
        return None
    return CheckInfo(values["id"], values["title"], values["side"])


def _matches(check_id: str, pattern: str) -> bool:
    return check_id == pattern or check_id.startswith(pattern.rstrip(".") + ".")


def _renamed(ids: list[str], patterns: list[str] | None) -> list[str] | None:
    """Patterns with each old name that selects nothing replaced by the new ids it meant."""
    from diagnose.engine.aliases import ids_for

    if not patterns:
        return patterns
    out: list[str] = []
    for pattern in patterns:
        new = [] if any(_matches(i, pattern) for i in ids) else [i for i in ids_for(pattern) if i in ids]
        out += new or [pattern]
    return out


def matches(check_id: str, pattern: str) -> bool:
    """Does a --check/--skip ``pattern`` (an id, an id prefix, or a name from before the renames) name ``check_id``?"""
    from diagnose.engine.aliases import ids_for

    return _matches(check_id, pattern) or check_id in ids_for(pattern)


def select(
    checks: list[type[Check]], only: list[str] | None = None, skip: list[str] | None = None
) -> list[type[Check]]:
    """Pick checks by id or id prefix (``mx`` selects ``mx.records``), adding the checks that
    produce the facts the picked ones need (unless skipped explicitly). Unknown names raise UnknownCheck
    listing the ids. A name from before schema 2 (``spf``, ``delivery.path``) selects the renamed check."""
    ids = [c.id for c in checks]
    only, skip = _renamed(ids, only), _renamed(ids, skip)
    for pattern in (only or []) + (skip or []):
        if not any(_matches(i, pattern) for i in ids):
            raise UnknownCheck(f"no check called {pattern!r}; installed checks: {', '.join(ids) or 'none'}")
    # an optional check (Check.optional) runs only when --check names it
    chosen = [c for c in checks if (not only and not getattr(c, "optional", False))
              or any(_matches(c.id, p) for p in only or [])]
    chosen = [c for c in chosen if not any(_matches(c.id, p) for p in skip or [])]
    producers = {fact: c for c in checks for fact in c.provides}
    queue = list(chosen)
    while queue:  # bounded: each check is added at most once
        for fact in queue.pop().needs:
            producer = producers.get(fact)
            skipped = producer is not None and any(_matches(producer.id, p) for p in skip or [])
            if producer is not None and producer not in chosen and not skipped:
                chosen.append(producer)
                queue.append(producer)
    order = {c.id: n for n, c in enumerate(checks)}
    return sorted(chosen, key=lambda c: order[c.id])
