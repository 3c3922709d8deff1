"""Option values without pydantic: start-up time.

Typer 0.29 coerces every option value through a pydantic TypeAdapter, and importing pydantic costs
more CPU than the rest of a `maildoctor check` start-up. The options maildoctor declares are plain
(str, int, float, Path, a str enum, an optional or a list of those), so they are converted here;
any other option, or a Typer whose internals differ, keeps Typer's own coercion (only slower).

This reaches into private Typer internals: ``typer._coercion.RuntimeParam`` (subclassed; its
``_coerce_value``, ``annotation`` and ``parameter_info``), ``typer._click.exceptions.BadParameter``,
and each parameter's ``type_descriptor`` and ``_runtime_param``. They are not a public API, so
pyproject.toml pins Typer to the series this is tested with (``typer>=0.29,<0.30``; tested with
0.29.2); raise the bound only after the CLI tests pass on the new version. Typer is imported only
by ``install``: ``coerce`` (the same conversion) also serves `check`'s argv read without Typer
(diagnose.app.checkargs).
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any


def _number(kind: type, word: str) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, kind) and not isinstance(value, bool):
            return value
        try:
            return kind(str(value).strip())
        except ValueError:
            raise ValueError(f"{str(value)[:40]!r} is not a valid {word}") from None
    return convert


def _choice(cls: type[enum.Enum]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(repr(m.value) for m in cls)
            raise ValueError(f"{str(value)[:40]!r} is not one of {names}.") from None
    return convert


def _leaf(annotation: Any) -> Callable[[Any], Any] | None:
    if annotation is str:
        return str
    if annotation is int:
        return _number(int, "integer")
    if annotation is float:
        return _number(float, "number")
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return lambda value: value if isinstance(value, annotation) else annotation(value)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum) and issubclass(annotation, str):
        return _choice(annotation)
    return None


def plain_type(annotation: Any) -> tuple[type, bool] | None:
    """(the type of one value, is a list) for a plain annotation (optional or not), else None."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        return plain_type(next(a for a in args if a is not type(None)))
    if origin is list and len(args) == 1:
        return (args[0], True) if _leaf(args[0]) else None
    return (annotation, False) if _leaf(annotation) else None


def converter(annotation: Any) -> tuple[Callable[[Any], Any], bool] | None:
    """(convert one value, is a list) for a plain annotation, else None."""
    plain = plain_type(annotation)
    return None if plain is None else (_leaf(plain[0]), plain[1])  # type: ignore[return-value]


def in_range(value: Any, low: Any, high: Any) -> Any:
    """``value``, or ValueError (in Typer's words) when it is outside [low, high] (None: no bound)."""
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = " and ".join(b for b in (f">= {low}" if low is not None else "",
                                          f"<= {high}" if high is not None else "") if b)
        raise ValueError(f"{value} is out of range: it must be {bounds}")
    return value


def coerce(value: Any, annotation: Any, low: Any = None, high: Any = None) -> Any:
    """One parsed value (a list of them for a list annotation) converted as Typer hands it to the command;
    ValueError when it is not valid. ``annotation`` must be plain (``converter`` gives not None)."""
    convert, many = converter(annotation)  # type: ignore[misc]
    if many:
        return [in_range(convert(v), low, high) for v in value]
    return in_range(convert(value), low, high)


@cache
def _plain_param() -> type | None:
    """Typer's RuntimeParam with ``coerce`` as its conversion (None with another Typer)."""
    try:  # Typer's internal coercion contract (typer._coercion, 0.29); absent: nothing is changed
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
    except ImportError:  # pragma: no cover - another Typer version
        return None

    class Plain(RuntimeParam):  # type: ignore[misc,valid-type]
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return coerce(value, self.annotation, self.parameter_info.min, self.parameter_info.max)
            except ValueError as exc:
                raise BadParameter(str(exc), ctx=ctx, param=param) from None

    return Plain


def is_plain(param: Any) -> bool:
    """Whether ``install`` gave this Typer parameter the pydantic-free conversion (``coerce``)."""
    plain = _plain_param()
    return plain is not None and isinstance(getattr(param, "_runtime_param", None), plain)


def install(params: list) -> None:
    """Give Typer parameters of plain types the pydantic-free coercion (before parsing)."""
    plain = _plain_param()
    if plain is None:
        return
    for param in params:
        desc = getattr(param, "type_descriptor", None)
        if desc is None or getattr(param, "_runtime_param", "absent") is not None or desc.file_annotation is not None:
            continue
        info = desc.parameter_info
        if any(getattr(info, name, None) is not None for name in ("parser", "click_type")) or any(
                getattr(info, name, False) for name in ("min_open", "max_open", "clamp")):
            continue
        if (info.min is not None or info.max is not None) and desc.annotation not in (int, float):
            continue
        if converter(desc.annotation) is not None:
            param._runtime_param = plain(parameter_info=info, annotation=desc.annotation)
