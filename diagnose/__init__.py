"""maildoctor: find out why email is not working, and say so in plain words."""

__version__ = "0.1.0"

_API = ("run", "render", "load", "exit_code", "DiagnosisError")


def __getattr__(name: str):
    """The Python API (diagnose.app.api), imported on first use: ``from diagnose import run, render``."""
    if name in _API:
        from diagnose.app import api

        return getattr(api, name)
    raise AttributeError(f"module 'diagnose' has no attribute {name!r}")
