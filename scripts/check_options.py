"""Write diagnose/app/checkoptions.py, `check`'s parameters as Click parses them, from the Typer command.

    .venv/bin/python scripts/check_options.py          # rewrite diagnose/app/checkoptions.py
    .venv/bin/python scripts/check_options.py --check  # exit 1 when it is out of date

diagnose.app.checkargs reads `check`'s argv with that table so that a run does not import Typer;
tests/unit/test_check_args.py fails when the table and the command differ. A parameter that reader
cannot handle exactly as Typer does (an envvar, a callback, a prompt, a count, several values, a
conversion other than diagnose.app.fastopts') stops this script: teach checkargs first.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "diagnose" / "app" / "checkoptions.py"

HEAD = '''"""`check`'s parameters as Click parses them, for diagnose.app.checkargs (its argv read without Typer).
Written by scripts/check_options.py from the Typer command (diagnose.app.cli.check);
tests/unit/test_check_args.py keeps the two equal."""

'''


def live_command() -> Any:
    """The Click command Typer builds for `check`, as diagnose.app.cli.main builds it."""
    sys.path.insert(0, str(ROOT))
    import typer

    from diagnose.app import cli

    group = typer.main.get_command(cli._app_for(["check"]))
    command = group.commands["check"]  # type: ignore[attr-defined]
    for context in (group, command):
        if (context.context_settings or {}).get("auto_envvar_prefix"):
            raise SystemExit("check: options read from the environment (auto_envvar_prefix): not in checkargs")
    return command


def live_params() -> tuple:
    """diagnose.app.checkargs.Param for each parameter of the live `check` command."""
    from diagnose.app.checkargs import Param
    from diagnose.app.fastopts import install, is_plain, plain_type

    params = []
    for p in live_command().params:
        def refuse(why: str, p: Any = p) -> SystemExit:
            return SystemExit(f"check's {p.name}: {why}: diagnose.app.checkargs cannot read it as Typer does")

        desc = p.type_descriptor
        if p.envvar or p.callback or p.is_eager or p.nargs != 1 or not p.expose_value or callable(p.default) \
                or getattr(p, "deprecated", False):
            raise refuse("envvar, callback, eager, nargs, hidden value, callable default or deprecated")
        kind = p.param_type_name
        if kind == "option":
            if p.prompt is not None or p.count:
                raise refuse("a prompt or a count")
            kind = "flag" if p.is_flag else "option"
            if p.is_flag and not (p.is_bool_flag and desc.annotation is bool and isinstance(p.default, bool)):
                raise refuse("a flag that is not a plain bool")
        if kind != "flag":
            install([p])
            plain = plain_type(desc.annotation)
            if not is_plain(p) or plain is None or plain[1] != p.multiple:
                raise refuse(f"not converted by diagnose.app.fastopts ({desc.annotation})")
        params.append(Param(
            name=p.name, kind=kind, opts=tuple(p.opts) if kind != "argument" else (),
            off_opts=tuple(p.secondary_opts) if kind == "flag" else (),
            type=bool if kind == "flag" else plain[0], multiple=p.multiple, default=p.default, required=p.required,
            low=getattr(p, "min", None), high=getattr(p, "max", None)))
    return tuple(params)


def _source(value: Any, names: set[str]) -> str:
    """Python source for a declared default or a type (the names it needs are added to ``names``)."""
    if isinstance(value, type):
        if value.__module__ != "builtins":
            names.add(f"from {value.__module__} import {value.__qualname__}")
        return value.__qualname__
    if isinstance(value, enum.Enum):
        return f"{_source(type(value), names)}({value.value!r})"
    if isinstance(value, Path):
        return f"{_source(Path, names)}({str(value)!r})"
    if isinstance(value, (list, tuple)):
        items = ", ".join(_source(v, names) for v in value)
        return f"[{items}]" if isinstance(value, list) else f"({items}{',' if len(value) == 1 else ''})"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise SystemExit(f"check: a default {value!r} this script cannot write")


def render() -> str:
    from diagnose.app.checkargs import Param

    names = {"from diagnose.app.checkargs import Param"}
    rows = []
    defaults = Param(name="", kind="")
    for param in live_params():
        fields = [repr(param.name), repr(param.kind)]
        for field in Param._fields[2:]:
            value = getattr(param, field)
            if value != getattr(defaults, field) or type(value) is not type(getattr(defaults, field)):
                fields.append(f"{field}={_source(value, names)}")
        rows.append(f"    Param({', '.join(fields)}),\n")
    stdlib = sorted(n for n in names if n.split()[1] in sys.stdlib_module_names)
    ours = sorted(n for n in names if n not in stdlib)
    imports = "\n\n".join("\n".join(group) for group in (stdlib, ours) if group)
    return HEAD + imports + "\n\nPARAMS = (\n" + "".join(rows) + ")\n"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from scripts.generated import write_or_check

    return write_or_check(TABLE, render, "check_options.py", (__doc__ or "").splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
