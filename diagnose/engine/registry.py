"""Find check plugins through the ``maildoctor.checks`` entry-point group (ours included).

A plugin package may also register an index of its checks' metadata in the ``maildoctor.check_index``
group (ours: checks.index): the checks it lists are known by id, title, side, services and the facts
they need and provide without importing their modules, and only the ones a run selects are imported
(``available`` -> ``select`` -> ``load``). A check without an index entry is imported when found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from diagnose.engine import entrypoints
from diagnose.engine.entrypoints import EntryPointLike

if TYPE_CHECKING:  # importing the plugin base pulls in asyncio: `maildoctor checks` avoids it
    from diagnose.engine.plugin import Check

GROUP = "maildoctor.checks"
INDEX_GROUP = "maildoctor.check_index"


EntryPoints = Callable[[], Iterable[EntryPointLike]]


class UnknownCheck(ValueError):
    """The user named a check that is not installed."""


class CheckSpec:
    """A check known by its metadata, its module not imported yet (``load`` imports it once)."""

    __slots__ = ("id", "title", "side", "services", "needs", "provides", "wants", "implied_by", "optional",
                 "entry", "cls")

    def __init__(self, entry: EntryPointLike | None, meta: Mapping[str, Any], cls: type[Check] | None = None) -> None:
        self.entry, self.cls = entry, cls
        self.id: str = meta["id"]
        self.title: str = meta["title"]
        self.side: str = meta["side"]  # a diagnose.engine.model.Side value
        self.services: tuple[str, ...] = tuple(meta.get("services", ()))
        self.needs: tuple[str, ...] = tuple(meta.get("needs", ()))
        self.provides: tuple[str, ...] = tuple(meta.get("provides", ()))
        self.wants: tuple[str, ...] = tuple(meta.get("wants", ()))
        self.implied_by: str = meta.get("implied_by", "")
        self.optional: bool = bool(meta.get("optional", False))

    @classmethod
    def of(cls, check: type[Check], entry: EntryPointLike | None = None) -> CheckSpec:
        """The spec of a loaded class."""
        return cls(entry, index_entry(check), check)

    def __repr__(self) -> str:
        return f"CheckSpec({self.id!r}, loaded={self.cls is not None})"

    def load(self) -> type[Check]:
        """The check's class, imported now if need be; raises PluginError naming the plugin."""
        if self.cls is None:
            ep = self.entry
            assert ep is not None
            cls = _load(ep)
            if cls.id != self.id:
                raise PluginError(f"check plugin {ep.name!r} ({ep.value}): its class has id {cls.id!r}, "
                                  f"its index says {self.id!r}")
            self.cls = cls
        return self.cls


class PluginError(Exception):
    """A plugin could not be loaded; the message names it, for stderr."""


def index_entry(check: type[Check]) -> dict[str, Any]:
    """What an index holds about ``check``: the class attributes select(), the runner's set-up and `checks`
    read (scripts/check_index.py writes ours from the classes)."""
    return {"id": check.id, "title": check.title, "side": check.side.value, "services": tuple(check.services),
            "needs": tuple(check.needs), "provides": tuple(check.provides), "wants": tuple(check.wants),
            "implied_by": check.implied_by, "optional": bool(check.optional)}


@dataclass(eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class Discovered:
    """The check classes loaded, and the plugins that failed to load."""

    checks: list[type[Check]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # plugins that failed to load, for stderr


@dataclass(eq=False)
class Available:
    """What the installed checks are (without importing them), and what failed to load."""

    checks: list[CheckSpec] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # plugins (or indexes) that failed to load, for stderr


def _load(ep: EntryPointLike) -> type[Check]:
    from diagnose.engine.plugin import Check

    try:
        cls = ep.load()
    except Exception as exc:  # noqa: BLE001 - any plugin bug must not stop the others
        raise PluginError(f"check plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Check) and getattr(cls, "id", None)):
        raise PluginError(f"check plugin {ep.name!r} ({ep.value}) is not a Check subclass with an id")
    return cls


def _group(group: str, given: EntryPoints | None) -> list[EntryPointLike]:
    eps: Iterable[EntryPointLike] = given() if given else entrypoints.entry_points(group)
    return sorted(eps, key=lambda e: e.name)


def indexes(given: EntryPoints | None = None) -> tuple[dict[str, Mapping[str, Any]], list[str]]:
    """(entry-point value -> index entry, problems) from every ``maildoctor.check_index`` entry point.
    An entry without id, title and a valid side is left out (its check is then imported when found)."""
    out: dict[str, Mapping[str, Any]] = {}
    problems: list[str] = []
    for ep in _group(INDEX_GROUP, given):
        try:
            data = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken index costs speed, never the checks
            problems.append(f"check index {ep.name!r} ({ep.value}) failed to load: {exc}")
            continue
        for value, meta in (data.items() if isinstance(data, Mapping) else ()):
            if (isinstance(meta, Mapping) and isinstance(meta.get("id"), str) and isinstance(meta.get("title"), str)
                    and meta.get("side") in ("incoming", "outgoing", "both")):
                out.setdefault(str(value), meta)
    return out, problems


def available(entry_points: EntryPoints | None = None, index: EntryPoints | None = None) -> Available:
    """Every installed check as a CheckSpec: from an index when one lists it (nothing imported), else by
    importing it. A broken plugin is reported, never fatal; an id taken twice keeps the first."""
    known, problems = indexes(index)
    found = Available(problems=problems)
    seen: set[str] = set()
    for ep in _group(GROUP, entry_points):
        meta = known.get(ep.value)
        try:
            spec = CheckSpec(ep, meta) if meta is not None else CheckSpec.of(_load(ep), ep)
        except PluginError as exc:
            found.problems.append(str(exc))
            continue
        if spec.id in seen:
            found.problems.append(f"check plugin {ep.name!r}: id {spec.id!r} is already taken, ignored")
            continue
        seen.add(spec.id)
        found.checks.append(spec)
    return found


def load(specs: Iterable[CheckSpec]) -> Discovered:
    """The classes of ``specs``, imported now; one that fails to load is reported and left out."""
    found = Discovered()
    for spec in specs:
        try:
            found.checks.append(spec.load())
        except PluginError as exc:
            found.problems.append(str(exc))
    return found


def discover(entry_points: EntryPoints | None = None, index: EntryPoints | None = None) -> Discovered:
    """Load every installed check plugin; a broken plugin is reported, never fatal."""
    listed = available(entry_points, index)
    found = load(listed.checks)
    found.problems[:0] = listed.problems
    return found


@dataclass(frozen=True)
class CheckInfo:
    """What `maildoctor checks` lists about a plugin."""

    id: str
    title: str
    side: str  # a diagnose.engine.model.Side value


def describe(
    entry_points: EntryPoints | None = None, index: EntryPoints | None = None,
) -> tuple[list[CheckInfo], list[str]]:
    """id, title and side of every installed check, for listing, without importing the plugins
    (harlequin lists its plugins the same way): from the plugin package's index, else read from the
    class statement in the plugin's source. A plugin whose class does not spell them out as literals
    is loaded as by discover(), and reported the same way when that fails. Returns (infos sorted by
    id, problems)."""
    eps = _group(GROUP, entry_points)
    known, problems = indexes(index)
    infos: list[CheckInfo] = []
    slow = []
    for ep in eps:
        meta = known.get(ep.value)
        info = CheckInfo(meta["id"], meta["title"], meta["side"]) if meta is not None else _literal_info(ep)
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
# (a pattern string, compiled by `re` on first use: only a plugin without an index entry is read this way)
_ATTRIBUTE = (r"""^[ \t]+(id|title|side)\s*(?::[^=\n]*)?=\s*(?:(["'])((?:(?!\2)[^\\\n])*)\2|Side\.([A-Z]+))"""
              r"""[ \t]*(?:#[^\n]*)?$""")


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


def _literal_info(ep: EntryPointLike) -> CheckInfo | None:
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
    for m in re.finditer(_ATTRIBUTE, body, re.M):
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


class Selectable(Protocol):
    """What select() reads of a check: a Check class or a CheckSpec."""

    @property
    def id(self) -> str: ...
    @property
    def needs(self) -> tuple[str, ...]: ...
    @property
    def provides(self) -> tuple[str, ...]: ...


C = TypeVar("C", bound=Selectable)


def select(checks: Sequence[C], only: list[str] | None = None, skip: list[str] | None = None) -> list[C]:
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
