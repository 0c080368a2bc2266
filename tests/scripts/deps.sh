#!/bin/sh
# Installs the Debian 12 packages needed to build, test, run the demo and the
# benchmark. Prints nothing when everything is already installed.
# As root it runs apt-get itself; otherwise it prints the command to run.
#
#   deps.sh chromium   installs only Debian's chromium, which one test
#                      (test_test_job.sh: the HTML report rendered headless)
#                      uses when it can; the test says SKIP without it
#
# Besides Dovecot, two more IMAP servers are used by tests, for what Dovecot
# 2.3 lacks: Cyrus IMAP (NTLM, through Cyrus SASL) and Courier-IMAP
# (UTF8=ACCEPT). Their server packages conflict with dovecot-imapd (all
# provide imap-server), so only cyrus-common (the Cyrus master process, LMTP,
# the libraries) and sasl2-bin (saslpasswd2) are installed, and cyrus-imapd,
# cyrus-pop3d and Courier's packages are unpacked into build/debs by
# unpack-debs.sh, never installed.
set -eu

PACKAGES="
build-essential
clang
pkg-config
libgmime-3.0-dev
libpcre2-dev
libpq-dev
libyaml-dev
libssl-dev
libgsasl-dev
libxml2-dev
libytnef0-dev
libcurl4-openssl-dev
libjansson-dev
libmicrohttpd-dev
postgresql
postgresql-client
dovecot-imapd
dovecot-pop3d
cyrus-common
sasl2-bin
dante-server
tinyproxy
curl
openssl
valgrind
time
procps
perl
ca-certificates
tzdata
"

if [ "${1:-}" = chromium ]; then
	PACKAGES=chromium
fi

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
missing=${missing# }

# The servers that cannot be installed beside Dovecot, unpacked (see above);
# cyrus-imapd at the version of the installed cyrus-common, whose libraries
# it uses.
unpack_servers() {
	local_root=$(cd "$(dirname "$0")/../.." && pwd)
	cyrus=$(dpkg-query -W -f '${Version}' cyrus-common 2>/dev/null || true)
	[ -n "$cyrus" ] || return 0
	sh "$(dirname "$0")/unpack-debs.sh" "$local_root/build/debs" \
		"cyrus-imapd=$cyrus" "cyrus-pop3d=$cyrus" courier-imap courier-base courier-authlib \
		libcourier-unicode4 libgamin0 gamin
}

if [ -z "$missing" ]; then
	unpack_servers
	exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages: $missing" >&2
	echo "install them as root with:" >&2
	echo "  $cmd" >&2
	exit 1
fi

echo "installing: $missing"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! apt-get update -q >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "deps: apt-get update failed" >&2
	exit 1
fi
# shellcheck disable=SC2086
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	$missing </dev/null >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	echo "deps: apt-get install failed: $cmd" >&2
	exit 1
fi
grep -E '^(E|W): ' "$log" >&2 || true
unpack_servers
