#!/bin/sh
# Install the servers the maildoctor test lab runs (Debian 12, as root), and
# the headless browser the browser tests drive (tests/browser: Debian's
# chromium + chromium-driver; poppler-utils' pdfinfo/pdftoppm read its PDFs;
# fonts-dejavu-core: the fonts the pages are laid out in, the same on every machine).
#
# Idempotent and noninteractive: when every package is installed already it
# returns at once without touching apt. The packages' own system-wide daemons
# are NOT started (a temporary policy-rc.d forbids it during the install); the
# lab starts its own private instances, see tests/lab/README.md.
set -eu

PACKAGES="knot knot-dnsutils unbound postfix dovecot-core dovecot-imapd
dovecot-pop3d dovecot-lmtpd iptables swaks iproute2 openssl util-linux opendkim opendkim-tools
libidn12 libgnutls-dane0 libevent-2.1-7 libdb5.3
chromium chromium-driver poppler-utils fonts-dejavu-core"

# More MTAs for the bounce lab (tests/lab/bouncers.py). As Debian packages they
# conflict with postfix (each Provides and Conflicts mail-transport-agent), so
# they are fetched (apt-get download) and unpacked (dpkg-deb -x) under $EXTRA:
# never installed or configured, no maintainer script runs, no daemon starts.
# Their libraries are in PACKAGES above. name:packages, the packages
# comma-separated.
EXTRA=/opt/maildoctor-lab
EXTRA_MTAS="exim:exim4-base,exim4-daemon-light opensmtpd:opensmtpd"

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

extra_missing=""
for entry in $EXTRA_MTAS; do
    if [ ! -e "$EXTRA/${entry%%:*}/.unpacked" ]; then
        extra_missing="$extra_missing $entry"
    fi
done
# OpenSMTPD drops privileges to these users, Exim looks up its compiled-in user
# (their postinsts would create them)
users_missing=""
for u in opensmtpd opensmtpq Debian-exim; do
    id "$u" >/dev/null 2>&1 || users_missing="$users_missing $u"
done

if [ -z "$missing$extra_missing$users_missing" ]; then
    echo "install.sh: all lab packages already installed"
    exit 0
fi
echo "install.sh: installing:$missing$extra_missing$users_missing"

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
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        $missing
fi

for entry in $extra_missing; do
    name=${entry%%:*}
    debs=$(mktemp -d)
    chown _apt "$debs" 2>/dev/null || chmod 0777 "$debs"  # apt's sandbox user _apt writes the downloads
    # shellcheck disable=SC2046
    (cd "$debs" && apt-get download -q $(echo "${entry#*:}" | tr ',' ' '))
    rm -rf "${EXTRA:?}/$name"
    mkdir -p "$EXTRA/$name"
    for deb in "$debs"/*.deb; do
        dpkg-deb -x "$deb" "$EXTRA/$name"
    done
    rm -rf "$debs"
    touch "$EXTRA/$name/.unpacked"
done
mkdir -p /var/lib/opensmtpd/empty /var/spool/smtpd  # its chroot; the mount point of each instance's own queue
for u in $users_missing; do
    id -g "$u" >/dev/null 2>&1 || addgroup --system --allow-bad-names "$u"
    adduser --system --allow-bad-names --home /nonexistent --no-create-home --disabled-password \
        --ingroup "$u" "$u"
done

# In case a package started its system-wide daemon anyway (policy-rc.d not
# honoured), stop and disable the ones this script installed: they would bind
# wildcard addresses (dovecot: *:143 ...) and clash with the lab's listeners.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for p in $missing; do
        case "$p" in
            knot|unbound|postfix|opendkim) svc=$p ;;
            dovecot-core) svc=dovecot ;;
            *) continue ;;
        esac
        systemctl stop "$svc" >/dev/null 2>&1 || true
        systemctl disable "$svc" >/dev/null 2>&1 || true
    done
fi

echo "install.sh: done"
