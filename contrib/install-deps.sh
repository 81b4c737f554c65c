#!/bin/sh
# install-deps.sh - install what Sluice needs to build, test and run on Debian 12 (as root)
#
# Idempotent: packages already installed are left alone, and the package
# lists are refreshed only when something is missing. Postfix is preseeded
# to "No configuration" so that installing it starts nothing and writes no
# main.cf; Sluice's tests and quick start run their own Postfix instances.
#
# --bench also installs the tools the benchmarks compare with (OpenDKIM,
# rspamd, postfwd, policyd-rate-limit, sisimai); their services are
# stopped again, the benchmarks start their own instances on loopback.
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config
 libmilter-dev libopendkim-dev libopendmarc-dev libspf2-dev libhiredis-dev
 libssl-dev libevent-dev libconfuse-dev libpsl-dev libidn2-dev publicsuffix
 libgmime-3.0-dev libxml2-dev zlib1g-dev libzip-dev libjansson-dev libcmocka-dev
 redis-server redis-tools postfix libsasl2-modules sasl2-bin miltertest
 opendkim-tools python3 python3-dkim python3-authres python3-nacl python3-pytest python3-pytest-xdist python3-cryptography libmail-dkim-perl
 swaks curl openssl clang libclang-rt-14-dev dnsmasq-base bind9-dnsutils
 libxml2-utils libmail-dmarc-perl dmarc-cat
 libsystemd-dev systemd debhelper lintian m4 util-linux"

BENCH="opendkim rspamd postfwd policyd-rate-limit libsisimai-perl"
[ "${1:-}" = --bench ] && PACKAGES="$PACKAGES $BENCH"

if [ "$(id -u)" != 0 ]; then
	echo "install-deps.sh: run as root (apt-get install)" >&2
	exit 1
fi
# test_sendmail.py runs Debian's Sendmail unpacked, not installed (it would
# take over port 25 and /usr/sbin/sendmail): its .debs are fetched here, as
# tests reach no resolver or network (tests/integration/resolver_guard.py).
SENDMAIL_DEBS=/var/cache/sluice-tests/sendmail
if ! ls "$SENDMAIL_DEBS"/sendmail-bin_*.deb >/dev/null 2>&1; then
	mkdir -p "$SENDMAIL_DEBS" && chmod 777 "$SENDMAIL_DEBS"	# apt's _apt user writes there
	(cd "$SENDMAIL_DEBS" && apt-get download sendmail-bin sendmail-base sendmail-cf libwrap0 liblockfile1 >/dev/null) ||
		{ apt-get update -qq && (cd "$SENDMAIL_DEBS" && apt-get download sendmail-bin sendmail-base sendmail-cf libwrap0 liblockfile1 >/dev/null); }
fi
missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps.sh: all packages present"
	exit 0
fi
echo "install-deps.sh: installing:$missing"
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# A package may start its service on install: stop those, keep them off.
for svc in opendkim rspamd postfwd policyd-rate-limit; do
	case " $missing " in *" $svc "*) service "$svc" stop >/dev/null 2>&1 || true ;; esac
done
echo "install-deps.sh: done"
