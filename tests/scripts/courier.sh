#!/usr/bin/env bash
# A private Courier-IMAP 5.0 server (Debian's, see unpack-debs.sh) for the
# test of what Dovecot 2.3 and Cyrus 3.6 do not have: UTF8=ACCEPT (RFC 6855),
# folder names as UTF-8 on the wire. couriertcpd on 127.0.0.1 starts Courier's
# imapd for each connection in its pre-authenticated mode (`imapd MAILDIR`,
# greeting "* PREAUTH", as over an ssh tunnel): Courier's logins go through
# courier-authlib's daemon, whose socket path is built in, so no private
# instance of it can run; logins are tested against Dovecot and Cyrus.
#
#   courier.sh start DIR    DIR: an empty directory; writes DIR/env:
#                           M2T_COURIER_IMAP_PORT M2T_COURIER_MAILDIR
#                           (a Maildir++: deliver into its new/)
#   courier.sh stop DIR
#   courier.sh available    exit 0 when everything needed is here
#
# Up in well under a second.
set -eu
set -o pipefail
# shellcheck source=tests/scripts/proc_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/proc_lib.sh"

M2T_ROOT=${M2T_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
ROOT=$M2T_ROOT/build/debs/root
GAM_SERVER=$ROOT/usr/libexec/gam_server
WAIT_SECONDS=20
# the capabilities Courier's own configuration announces (/etc/courier/imapd)
CAPABILITY="IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE"

available() {
	[ -x "$ROOT/usr/bin/imapd" ] && [ -x "$ROOT/usr/sbin/couriertcpd" ] &&
		[ -e "$ROOT/usr/lib/libcourierauth.so.0" ] &&
		[ -e "$ROOT/usr/lib/x86_64-linux-gnu/libcourier-unicode.so.4" ] &&
		[ -e "$ROOT/usr/lib/x86_64-linux-gnu/libfam.so.0" ] && [ -x "$GAM_SERVER" ]
}

tcpd_pid() {
	local pid
	pid=$(cat "$DIR/couriertcpd.pid" 2>/dev/null || true)
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = couriertcpd ] && alive "$pid" ||
		return 1
	printf '%s\n' "$pid"
}

cmd_start() {
	local attempt=0 i port
	available || die "Courier-IMAP is not unpacked (make deps)"
	[ -d "$DIR" ] || die "$DIR: no such directory"
	! tcpd_pid >/dev/null || die "already running in $DIR"
	mkdir -p "$DIR/Maildir/cur" "$DIR/Maildir/new" "$DIR/Maildir/tmp"
	while :; do
		attempt=$((attempt + 1))
		port=$(bash "$(dirname "$0")/servers.sh" ports 1)
		# A clean environment, as Courier's start script gives it. imapd
		# asks Gamin (FAM) to watch the Maildir, and greets with an ALERT
		# before PREAUTH when it cannot: libgamin starts the unpacked
		# gam_server (GAMIN_DEBUG_SERVER), one of our own (GAM_CLIENT_ID).
		env -i PATH=/usr/bin:/bin \
			LD_LIBRARY_PATH="$ROOT/usr/lib:$ROOT/usr/lib/x86_64-linux-gnu" \
			GAMIN_DEBUG_SERVER="$GAM_SERVER" GAM_CLIENT_ID="m2t-courier-$port" \
			HOME="$DIR" IMAP_CAPABILITY="$CAPABILITY" IMAP_ENHANCEDIDLE=0 \
			IMAP_USELOCKS=1 IMAP_KEYWORDS=1 IMAP_IDLE_TIMEOUT=60 IMAP_TRASHFOLDERNAME=Trash \
			IMAP_EMPTYTRASH= TCPREMOTEIP=127.0.0.1 \
			setsid "$ROOT/usr/sbin/couriertcpd" -address=127.0.0.1 -maxprocs=20 -maxperip=20 \
			-nodnslookup -noidentlookup -pid="$DIR/couriertcpd.pid" -stderr="$DIR/imapd.err" \
			"$port" "$ROOT/usr/bin/imapd" "$DIR/Maildir" \
			>>"$DIR/couriertcpd.out" 2>&1 </dev/null &
		for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
			port_open "$port" && break
			sleep 0.05
		done
		port_open "$port" && break
		cmd_stop
		[ "$attempt" -lt 3 ] || {
			tail -n 20 "$DIR/couriertcpd.out" >&2 2>/dev/null || true
			die "couriertcpd did not start"
		}
	done
	printf '%s\n' "$port" >"$DIR/port"
	cat >"$DIR/env" <<-EOF
		export M2T_COURIER_IMAP_PORT=$port
		export M2T_COURIER_MAILDIR='$DIR/Maildir'
	EOF
}

# The gam_server this instance's imapd started: the unpacked program, with
# this instance's client id in its environment.
gam_pids() {
	local port p
	port=$(cat "$DIR/port" 2>/dev/null) || return 0
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$GAM_SERVER" ] || continue
		tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "GAM_CLIENT_ID=m2t-courier-$port" &&
			printf '%s\n' "${p#/proc/}"
	done
	return 0
}

cmd_stop() {
	local pid
	if pid=$(tcpd_pid); then
		stop_pid "$pid" "$WAIT_SECONDS"
	fi
	for pid in $(gam_pids); do
		stop_pid "$pid" "$WAIT_SECONDS"
	done
}

case "${1:-}" in
available) available; exit ;;
start | stop) [ "$#" -eq 2 ] || die "usage: courier.sh start|stop DIR" ;;
*) die "usage: courier.sh start|stop DIR | courier.sh available" ;;
esac
DIR=${2%/}
case "$1" in
start) cmd_start ;;
stop) cmd_stop ;;
esac
