#!/usr/bin/env bash
# The benchmark in one command (root, Debian 12, after the README's set-up):
#   bash bench/run.sh [--quick] [--net 127.A] [--sizes 100,1000,10000]
# Installs what is missing (lab servers, peer tools), starts its own lab, measures, writes
# bench/RESULTS.md, stops the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "bench: run as root (the lab binds ports 25 and 53)" >&2; exit 2; fi
bash tests/lab/install.sh >/dev/null
bash bench/install.sh >/dev/null
exec .venv/bin/python bench/bench.py "$@"
