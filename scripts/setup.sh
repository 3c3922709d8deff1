#!/usr/bin/env bash
# Set up everything maildoctor and its lab need on a fresh Debian 12 machine (run as root):
# the lab's servers from Debian's packages, a virtualenv in .venv with maildoctor and its test tools.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/lab/install.sh

# The interpreter: $PYTHON when set; else Debian's own /usr/bin/python3 when it is 3.11 or newer, even where
# another python3 (pyenv, a build from source) comes first on PATH: Debian builds it with profile-guided
# and link-time optimisation and libpython linked in, and a full diagnosis runs ~25% faster on it than on
# a default build (pyenv's: 498 -> 381 ms for the healthy lab domain, 2026-12-03); else python3.
if [ -n "${PYTHON:-}" ]; then
    PY=$PYTHON
elif [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PY=/usr/bin/python3
else
    PY=python3
fi
if [ ! -x .venv/bin/python ]; then
    if ! "$PY" -m venv .venv 2>/dev/null; then
        apt-get install -y -qq python3-venv >/dev/null
        rm -rf .venv && "$PY" -m venv .venv
    fi
fi
stamp=.venv/.maildoctor-installed
# Editable installs into this venv in setuptools' compat mode: a plain path in a .pth file. The default
# mode, for this flat layout, installs a finder module (__editable___maildoctor_*_finder) that imports
# pathlib, fnmatch and importlib.util at every start of every command: ~15 ms, a quarter of `probe`'s
# start-up. Set in the venv's own pip.conf, so a later `.venv/bin/pip install -e .` keeps it (a venv
# made before this gets it, and one reinstall). Where setuptools has dropped compat mode (it calls it
# transitional), the install falls back to the default.
if [ ! -f .venv/pip.conf ]; then
    printf '[install]\nconfig-settings = editable_mode=compat\n' >.venv/pip.conf
    rm -f "$stamp"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # pip's chatter goes to a log; it is shown only when the install fails.
    log=.venv/pip-install.log
    if ! { .venv/bin/python -m pip install -q --upgrade pip && { .venv/bin/python -m pip install -q -e '.[test,web]' ||
            { printf '# setuptools refused compat mode: its default editable mode\n' >.venv/pip.conf &&
              .venv/bin/python -m pip install -q -e '.[test,web]'; }; }; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "setup.sh: installing maildoctor into .venv failed (log above)" >&2
        exit 1
    fi
    touch "$stamp"
fi
