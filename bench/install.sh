#!/usr/bin/env bash
# Install the peer tools the benchmark compares maildoctor with (root, Debian 12). Idempotent.
#   apt: testssl.sh, swaks, monitoring plugins (check_smtp, check_imap, check_ssl_cert), hyperfine, time
#   PyPI: checkdmarc, in its own venv bench/.venv-peers (kept out of maildoctor's venv)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pkgs=(testssl.sh swaks monitoring-plugins-basic monitoring-plugins-standard monitoring-plugins-contrib
      hyperfine time openssl knot-dnsutils)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    # keep package scripts from starting system-wide daemons (as tests/lab/install.sh does)
    policy=/usr/sbin/policy-rc.d
    created=0
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; created=1; fi
    trap '[ "$created" = 1 ] && rm -f "$policy"' EXIT
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
venv="$here/.venv-peers"
# checkdmarc runs on the interpreter maildoctor's .venv runs on (scripts/setup.sh picks it): the
# comparison is of the tools, not of two Python builds
py=$("$here/../.venv/bin/python" -c 'import sys; print(sys._base_executable)' 2>/dev/null || command -v python3)
if [ -x "$venv/bin/python" ] && [ "$("$venv/bin/python" -c 'import sys; print(sys._base_executable)')" != "$py" ]; then
    rm -rf "$venv"
fi
if [ ! -x "$venv/bin/checkdmarc" ]; then
    "$py" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check checkdmarc
fi
echo "peers installed: ${pkgs[*]} checkdmarc ($venv)"
