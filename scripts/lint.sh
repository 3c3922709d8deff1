#!/usr/bin/env bash
# Static checks, as CI runs them: ruff (pyflakes, pycodestyle, isort, bugbear, pyupgrade).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
