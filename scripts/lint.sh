#!/usr/bin/env bash
# Static checks, as CI runs them: ruff (pyflakes, pycodestyle, isort, bugbear, pyupgrade), then mypy
# (strict on diagnose.engine, the defaults on the rest; configured in pyproject.toml).
# LINT_NO_SETUP=1 skips the set-up (the .venv exists; the pre-commit hooks and tests use it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${LINT_NO_SETUP:-}" = 1 ] || bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/mypy
