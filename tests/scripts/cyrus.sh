#!/usr/bin/env bash
# A private Cyrus IMAP 3.6 server (Debian's, see unpack-debs.sh) for the
# tests of what Dovecot cannot show: NTLM logins, checked by Cyrus SASL's
# NTLM plugin (libsasl2-modules) — an implementation independent of the GNU
# SASL client mail2ticket uses — and SCRAM/CRAM-MD5 checked by Cyrus SASL
# rather than Dovecot. IMAP (plain port with STARTTLS, and implicit TLS) and
# POP3 (STLS, and implicit TLS) on 127.0.0.1, the user "support" with the
# password of servers.sh in a sasldb, the certificate of servers.sh.
#
#   cyrus.sh start DIR          DIR: an empty directory; needs the env of
#                               servers.sh (M2T_TLS_DIR, M2T_IMAP_USER,
#                               M2T_IMAP_PASSWORD_FILE) and root (the master
#                               process runs its services as the cyrus user);
#                               writes DIR/env: M2T_CYRUS_IMAP_PORT
#                               M2T_CYRUS_IMAPS_PORT M2T_CYRUS_POP3_PORT
#                               M2T_CYRUS_POP3S_PORT
#   cyrus.sh deliver DIR FILE...  into the user's INBOX, through Cyrus's LMTP
#   cyrus.sh stop DIR
#   cyrus.sh available          exit 0 when everything needed is here
#
# Up in about a fifth of a second; INBOX is created at the first login or
# delivery. Cyrus logs to syslog only.
set -eu
set -o pipefail
# shellcheck source=tests/scripts/proc_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/proc_lib.sh"

M2T_ROOT=${M2T_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
CYRUS_BIN=/usr/lib/cyrus/bin
UNPACKED=$M2T_ROOT/build/debs/root/usr/lib/cyrus/bin
WAIT_SECONDS=20

available() {
	[ "$(id -u)" -eq 0 ] && [ -x "$CYRUS_BIN/master" ] && [ -x "$UNPACKED/imapd" ] &&
		[ -x "$UNPACKED/pop3d" ] && command -v saslpasswd2 >/dev/null 2>&1 &&
		getent passwd cyrus >/dev/null
}

write_config() {
	local user pw
	user=${M2T_IMAP_USER:?cyrus.sh: the env of servers.sh is needed}
	pw=$(cat "${M2T_IMAP_PASSWORD_FILE:?}")
	mkdir -p "$DIR/conf" "$DIR/spool" "$DIR/sock"
	cp "$M2T_TLS_DIR/server.pem" "$M2T_TLS_DIR/server.key" "$DIR/"
	cat >"$DIR/imapd.conf" <<-EOF
		configdirectory: $DIR/conf
		partition-default: $DIR/spool
		servername: localhost
		defaultdomain: localhost
		admins: cyrusadmin
		sasl_pwcheck_method: auxprop
		sasl_auxprop_plugin: sasldb
		sasl_sasldb_path: $DIR/sasldb2
		sasl_mech_list: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 NTLM
		allowplaintext: no
		unixhierarchysep: yes
		altnamespace: yes
		autocreate_quota: 0
		autocreate_post: yes
		tls_server_cert: $DIR/server.pem
		tls_server_key: $DIR/server.key
		tls_versions: tls1_2 tls1_3
		lmtpsocket: $DIR/sock/lmtp
		idlesocket: $DIR/sock/idle
		notifysocket: $DIR/sock/notify
		syslog_prefix: m2t-cyrus
	EOF
	cat >"$DIR/cyrus.conf" <<-EOF
		START {
		  recover cmd="$CYRUS_BIN/ctl_cyrusdb -C $DIR/imapd.conf -r"
		}
		SERVICES {
		  imap cmd="$UNPACKED/imapd -C $DIR/imapd.conf" listen="127.0.0.1:$IMAP_PORT" prefork=0
		  imaps cmd="$UNPACKED/imapd -s -C $DIR/imapd.conf" listen="127.0.0.1:$IMAPS_PORT" prefork=0
		  pop3 cmd="$UNPACKED/pop3d -C $DIR/imapd.conf" listen="127.0.0.1:$POP3_PORT" prefork=0
		  pop3s cmd="$UNPACKED/pop3d -s -C $DIR/imapd.conf" listen="127.0.0.1:$POP3S_PORT" prefork=0
		  lmtpunix cmd="$CYRUS_BIN/lmtpd -C $DIR/imapd.conf" listen="$DIR/sock/lmtp" prefork=0
		}
		EVENTS {
		}
	EOF
	rm -f "$DIR/sasldb2"
	printf '%s' "$pw" | saslpasswd2 -p -c -f "$DIR/sasldb2" -u localhost "$user"
	chown -R cyrus:mail "$DIR"
	chmod 600 "$DIR/server.key" "$DIR/sasldb2"
}

master_pid() {
	local pid
	pid=$(cat "$DIR/master.pid" 2>/dev/null || true)
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = master ] && alive "$pid" ||
		return 1
	printf '%s\n' "$pid"
}

cmd_start() {
	local attempt=0 i
	available || die "Cyrus is not available (root, cyrus-common, sasl2-bin, make deps)"
	[ -d "$DIR" ] || die "$DIR: no such directory"
	! master_pid >/dev/null || die "already running in $DIR"
	# the cyrus user must reach its directory
	chmod 755 "$DIR"
	while :; do
		attempt=$((attempt + 1))
		read -r IMAP_PORT IMAPS_PORT POP3_PORT POP3S_PORT \
			<<<"$(bash "$(dirname "$0")/servers.sh" ports 4)"
		write_config
		"$CYRUS_BIN/master" -C "$DIR/imapd.conf" -M "$DIR/cyrus.conf" -p "$DIR/master.pid" \
			-d -L "$DIR/master.log" >>"$DIR/master.out" 2>&1 </dev/null || true
		for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
			port_open "$IMAP_PORT" && port_open "$IMAPS_PORT" && port_open "$POP3_PORT" &&
				port_open "$POP3S_PORT" && [ -S "$DIR/sock/lmtp" ] && break
			sleep 0.05
		done
		if port_open "$IMAP_PORT" && port_open "$POP3S_PORT" && [ -S "$DIR/sock/lmtp" ]; then
			break
		fi
		cmd_stop
		[ "$attempt" -lt 3 ] || {
			tail -n 20 "$DIR/master.out" "$DIR/master.log" >&2 2>/dev/null || true
			die "Cyrus did not start"
		}
	done
	cat >"$DIR/env" <<-EOF
		export M2T_CYRUS_IMAP_PORT=$IMAP_PORT
		export M2T_CYRUS_IMAPS_PORT=$IMAPS_PORT
		export M2T_CYRUS_POP3_PORT=$POP3_PORT
		export M2T_CYRUS_POP3S_PORT=$POP3S_PORT
	EOF
}

cmd_deliver() {
	local f
	for f in "$@"; do
		# shellcheck disable=SC2016
		runuser -u cyrus -- "$CYRUS_BIN/deliver" -C "$DIR/imapd.conf" -a "$M2T_IMAP_USER" \
			"$M2T_IMAP_USER" <"$f" || die "delivering $f failed"
	done
}

cmd_stop() {
	local pid
	pid=$(master_pid) || return 0
	stop_pid "$pid" "$WAIT_SECONDS"
}

case "${1:-}" in
available) available; exit ;;
start | stop | deliver) [ "$#" -ge 2 ] || die "usage: cyrus.sh start|stop|deliver DIR [FILE...]" ;;
*) die "usage: cyrus.sh start|stop|deliver DIR [FILE...] | cyrus.sh available" ;;
esac
CMD=$1
DIR=${2%/}
shift 2
case "$CMD" in
start) cmd_start ;;
stop) cmd_stop ;;
deliver) cmd_deliver "$@" ;;
esac
