#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite; the suite starts and stops the real lab itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
