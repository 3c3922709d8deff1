"""`maildoctor check`'s argv read without Typer: start-up time.

Importing Typer (with its vendored Click) and building the `check` command from its signature costs
~50 ms CPU, a sixth of a whole healthy diagnosis, and a normal run uses nothing of Typer but the parsing.
``parse`` reads the argv the way Click's parser does (long options with ``=`` or a separate value,
short options and their bundles ``-qv``, ``-n1.2.3.4``, repeated options, ``--``, one TARGET) into the
keyword arguments Typer would hand `check`, converted by diagnose.app.fastopts as Typer converts them.

It reads only what it is sure of. Anything else gives None and Typer runs as always, so help, usage
errors and their words stay Typer's: ``-h``/``--help``, an unknown option, a missing or invalid value,
a second positional argument, shell completion.

The options come from diagnose.app.checkoptions, written from the Typer command by
scripts/check_options.py; tests/unit/test_check_args.py fails when the two differ.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple


class Param(NamedTuple):
    """One parameter of `check` as Click parses it."""

    name: str  # the keyword argument of the command
    kind: str  # "argument", "flag" or "option" (takes a value)
    opts: tuple[str, ...] = ()  # option strings; for a flag, those that set it True
    off_opts: tuple[str, ...] = ()  # a flag's option strings that set it False
    type: type = str  # the type of one value (fastopts.plain_type)
    multiple: bool = False  # repeatable: a list of values
    default: Any = None  # before conversion, as declared
    required: bool = False
    low: Any = None  # the declared range (None: no bound)
    high: Any = None


COMPLETION_ENV = "_MAILDOCTOR_COMPLETE"  # Click's shell completion: _{PROG_NAME}_COMPLETE


class _Decline(Exception):
    """The argv is not certainly one this reader understands: Typer reads it."""


def parse(args: list[str]) -> dict[str, Any] | None:
    """The keyword arguments of `check` for ``args`` (the argv after ``check``), or None to let Typer read
    them (help, usage errors, anything not certain)."""
    if os.environ.get(COMPLETION_ENV):
        return None
    from diagnose.app.checkoptions import PARAMS

    try:
        return _parse(args, PARAMS)
    except _Decline:
        return None


def _is_short(opt: str) -> bool:
    """Click's split of option strings: one prefix character and one name character is a short option."""
    first = opt[:1]
    if first.isalnum():
        return False
    prefix = opt[:2] if opt[1:2] == first else first
    return len(prefix) == 1 and len(opt) - len(prefix) == 1


def _parse(args: list[str], params: tuple[Param, ...]) -> dict[str, Any]:
    longs: dict[str, tuple[Param, bool]] = {}  # option string -> (parameter, the flag's value)
    shorts: dict[str, tuple[Param, bool]] = {}
    for param in params:
        for opts, on in ((param.opts, True), (param.off_opts, False)):
            for opt in opts:
                (shorts if _is_short(opt) else longs)[opt] = (param, on)
    if any(opt[:1] != "-" for opt in (*longs, *shorts)):
        raise _Decline  # another prefix character ("+x", "/x"): Click would treat such words differently
    given: dict[str, Any] = {}
    positional: list[str] = []
    rest = list(args)
    while rest:  # click.parser._OptionParser._process_args_for_options
        arg = rest.pop(0)
        if arg == "--":
            break
        if arg[:1] == "-" and len(arg) > 1:
            _option(arg, rest, longs, shorts, given)
        else:
            positional.append(arg)
    positional += rest  # after "--" every word is an argument
    arguments = [p for p in params if p.kind == "argument"]
    if len(positional) > len(arguments) or any(p.multiple for p in arguments):
        raise _Decline  # an unexpected extra argument: Typer's error
    for param, value in zip(arguments, positional, strict=False):
        given[param.name] = value
    return {param.name: _value(param, given.get(param.name)) for param in params}


def _option(arg: str, rest: list[str], longs: dict, shorts: dict, given: dict[str, Any]) -> None:
    """One word that starts with "-": click.parser._OptionParser._process_opts."""
    name, eq, explicit = arg.partition("=")
    if name in longs:
        param, on = longs[name]
        if param.kind == "flag":
            if eq:
                raise _Decline  # "--quiet=x": the option takes no value
            _store(param, on, given)
            return
        if eq:
            rest.insert(0, explicit)
        _store(param, _take(rest), given)
        return
    if arg[:2] == "--":
        raise _Decline  # an unknown long option (or --help)
    for i, ch in enumerate(arg[1:], start=2):  # short options, bundled: -qv, -n1.2.3.4, -qn 1.2.3.4
        if "-" + ch not in shorts:
            raise _Decline  # an unknown short option (or -h)
        param, on = shorts["-" + ch]
        if param.kind == "flag":
            _store(param, on, given)
            continue
        if i < len(arg):  # the rest of the word is the value
            rest.insert(0, arg[i:])
        _store(param, _take(rest), given)
        return


def _take(rest: list[str]) -> str:
    if not rest:
        raise _Decline  # the option requires an argument
    return rest.pop(0)


def _store(param: Param, value: Any, given: dict[str, Any]) -> None:
    if param.multiple:
        given.setdefault(param.name, []).append(value)
    else:
        given[param.name] = value  # given twice: the last one, as Click


def _value(param: Param, value: Any) -> Any:
    """The value Typer hands the command (typer.core._TyperParameter.process_value, fastopts.coerce)."""
    from diagnose.app.fastopts import coerce

    if value is None:
        value = param.default
    if param.kind == "flag" and isinstance(value, bool):
        return value
    if value is None:
        if param.required:
            raise _Decline  # a missing parameter: Typer's error
        return () if param.multiple else None
    try:
        if param.multiple:
            if isinstance(value, str) or not value and param.required:
                raise _Decline
            return coerce(list(value), list[param.type], param.low, param.high)  # type: ignore[name-defined]
        return coerce(value, param.type, param.low, param.high)
    except ValueError:
        raise _Decline from None  # an invalid value or out of range: Typer's error
