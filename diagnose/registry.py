"""Find check plugins through the ``maildoctor.checks`` entry-point group (ours included)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from typing import Callable, Iterable

from .plugin import Check

GROUP = "maildoctor.checks"


class UnknownCheck(ValueError):
    """The user named a check that is not installed."""


@dataclass
class Discovered:
    checks: list[type[Check]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # plugins that failed to load, for stderr


def discover(entry_points: Callable[[], Iterable[metadata.EntryPoint]] | None = None) -> Discovered:
    """Load every installed check plugin; a broken plugin is reported, never fatal."""
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


def _matches(check_id: str, pattern: str) -> bool:
    return check_id == pattern or check_id.startswith(pattern.rstrip(".") + ".")


def select(checks: list[type[Check]], only: list[str] | None = None, skip: list[str] | None = None) -> list[type[Check]]:
    """Pick checks by id or id prefix (``mx`` selects ``mx.records``), adding the checks that
    produce the facts the picked ones need (unless skipped explicitly). Unknown names raise UnknownCheck listing the ids."""
    ids = [c.id for c in checks]
    for pattern in (only or []) + (skip or []):
        if not any(_matches(i, pattern) for i in ids):
            raise UnknownCheck(f"no check called {pattern!r}; installed checks: {', '.join(ids) or 'none'}")
    chosen = [c for c in checks if not only or any(_matches(c.id, p) for p in only)]
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
