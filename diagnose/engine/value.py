"""``Value``: what a frozen dataclass gives (immutable, equal, hashable, a repr), without importing
``dataclasses``. For the few types on the probe's fast path (diagnose.app.probe): ``dataclasses``
imports ``inspect``, ~10 ms of a start-up that must fit in ~35 ms. Everything else uses dataclasses."""

from __future__ import annotations


class Value:
    """Subclasses name their fields in ``__slots__`` (in ``__init__``'s order) and set them with ``_init``."""

    __slots__: tuple[str, ...] = ()

    def _init(self, *values: object) -> None:
        for name, value in zip(type(self).__slots__, values, strict=True):
            object.__setattr__(self, name, value)

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in type(self).__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Value)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in type(self).__slots__)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[type[Value], tuple[object, ...]]:  # pickle and copy through __init__
        return type(self), self._fields()
