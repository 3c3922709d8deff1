#!/bin/sh
# Install the servers the maildoctor test lab runs (Debian 12, as root), and
# the headless browser the browser tests drive (tests/browser: Debian's
# chromium + chromium-driver; poppler-utils' pdfinfo/pdftoppm read its PDFs).
#
# Idempotent and noninteractive: when every package is installed already it
# returns at once without touching apt. The packages' own system-wide daemons
# are NOT started (a temporary policy-rc.d forbids it during the install); the
# lab starts its own private instances, see tests/lab/README.md.
set -eu

PACKAGES="knot knot-dnsutils unbound postfix dovecot-core dovecot-imapd
dovecot-pop3d dovecot-lmtpd iptables swaks iproute2 openssl
chromium chromium-driver poppler-utils"

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: must run as root (it calls apt-get)" >&2
    exit 1
fi

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install.sh: all lab packages already installed"
    exit 0
fi
echo "install.sh: installing:$missing"

export DEBIAN_FRONTEND=noninteractive

POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
cleanup() {
    if [ "$OWN_POLICY" -eq 1 ]; then
        rm -f "$POLICY"
    fi
}
trap cleanup EXIT INT TERM HUP

# Forbid package scripts from starting daemons bound to every address.
# An existing policy-rc.d (not ours) is left alone.
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# maildoctor lab install: do not start services\nexit 101\n' > "$POLICY"
    chmod 0755 "$POLICY"
    OWN_POLICY=1
fi

echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    $missing

# In case a package started its system-wide daemon anyway (policy-rc.d not
# honoured), stop and disable the ones this script installed: they would bind
# wildcard addresses (dovecot: *:143 ...) and clash with the lab's listeners.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for p in $missing; do
        case "$p" in
            knot|unbound|postfix) svc=$p ;;
            dovecot-core) svc=dovecot ;;
            *) continue ;;
        esac
        systemctl stop "$svc" >/dev/null 2>&1 || true
        systemctl disable "$svc" >/dev/null 2>&1 || true
    done
fi

echo "install.sh: done"
