#!/bin/sh
# unpack-debs.sh DEST PACKAGE[=VERSION]...
#
# Fetches Debian packages with `apt-get download` and unpacks them with
# `dpkg-deb -x` under DEST/root, without installing them. For the test
# servers whose packages cannot be installed beside Dovecot: cyrus-imapd,
# cyrus-pop3d and courier-imap declare `Conflicts: imap-server`, which
# dovecot-imapd provides, so installing one removes the other. Unpacked, their
# programs run from DEST/root with the libraries the machine has (or that are
# unpacked beside them). Nothing is started, no maintainer script runs.
#
# A package already unpacked (DEST/stamps/PACKAGE), at VERSION when one is
# given, is left alone; prints nothing then. Needs no root, but `apt-get update` (run
# when a download finds no package list) does.
set -eu

[ "$#" -ge 2 ] || { echo "usage: unpack-debs.sh DEST PACKAGE[=VERSION]..." >&2; exit 2; }
dest=$1
shift
mkdir -p "$dest/root" "$dest/stamps" "$dest/debs"

download() { # PACKAGE[=VERSION], in $dest/debs
	(cd "$dest/debs" && apt-get download -q "$1" 2>&1) | grep -v '^W: Download is performed unsandboxed' || true
}

for spec in "$@"; do
	pkg=${spec%%=*}
	want=""
	[ "$pkg" = "$spec" ] || want=${spec#*=}
	have=$(cat "$dest/stamps/$pkg" 2>/dev/null || true)
	if [ -n "$have" ] && { [ -z "$want" ] || [ "$have" = "$want" ]; }; then
		continue
	fi
	rm -f "$dest/debs/${pkg}"_*.deb
	download "$spec" >"$dest/debs/$pkg.log"
	if ! ls "$dest/debs/${pkg}"_*.deb >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
		# a fresh machine may have no package lists yet
		apt-get update -q >/dev/null 2>&1 || true
		download "$spec" >"$dest/debs/$pkg.log"
	fi
	deb=$(ls "$dest/debs/${pkg}"_*.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$deb" ]; then
		cat "$dest/debs/$pkg.log" >&2
		echo "unpack-debs: could not download $spec" >&2
		exit 1
	fi
	dpkg-deb -x "$deb" "$dest/root"
	dpkg-deb -f "$deb" Version >"$dest/stamps/$pkg"
	echo "unpacked: $pkg $(cat "$dest/stamps/$pkg")"
done
