#!/usr/bin/env bash
# The benchmark in one command (root, Debian 12, after the README's set-up):
#   bash bench/run.sh [--quick] [--net 127.A] [--sizes 100,1000,10000] [--only done|SECTION,...]
# Installs what is missing (lab servers, peer tools), starts its own lab, measures, writes
# bench/RESULTS.md, stops the lab. `--only done`: just issue 21's goals, phases and start-up
# budgets (a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "bench: run as root (the lab binds ports 25 and 53)" >&2; exit 2; fi
bash tests/lab/install.sh >/dev/null
bash bench/install.sh >/dev/null
# bytecode as an installed package has it: with PYTHONDONTWRITEBYTECODE set (or a read-only tree)
# every start would compile maildoctor's sources again and the start-up figures would measure that
.venv/bin/python -m compileall -q diagnose checks reports >/dev/null
exec .venv/bin/python bench/bench.py "$@"
