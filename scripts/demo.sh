#!/usr/bin/env bash
# Set up (if needed), start the bundled local mail lab on loopback, and diagnose a healthy and a
# broken lab domain, so you see a real diagnosis with no internet. The lab is stopped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
labdir=$(mktemp -d /tmp/maildoctor-lab.XXXXXX)
trap '.venv/bin/python -m tests.lab stop --dir "$labdir" >/dev/null 2>&1 || true; rm -rf "$labdir"' EXIT
.venv/bin/python -m tests.lab start --dir "$labdir" >/dev/null
resolver=$(.venv/bin/python -c "import sys; from tests.lab import Lab; print(Lab.load(sys.argv[1]).resolver)" "$labdir")
domain() { .venv/bin/python -c "import sys; from tests.lab import Lab; print(Lab.load(sys.argv[1]).domain(sys.argv[2]))" "$labdir" "$1"; }
ca=$(.venv/bin/python -c "import sys; from tests.lab import Lab; print(Lab.load(sys.argv[1]).ca_file)" "$labdir")
for scenario in healthy mixed; do
    d=$(domain "$scenario")
    echo
    echo "\$ maildoctor check $d --nameserver $resolver --ca-file <lab CA> --timeout 2"
    .venv/bin/maildoctor check "$d" --nameserver "$resolver" --ca-file "$ca" --timeout 2 || echo "(exit code $?)"
done
