#!/usr/bin/env bash
# A second, small Dovecot instance beside the one of servers.sh, for the tests
# of `security: starttls-optional`: it has `ssl = no`, so it never offers
# STARTTLS (IMAP) or STLS (POP3), which is what a client sees from a server
# without TLS, or behind a man in the middle who strips the capability.
# Dovecot cannot hide STARTTLS on one listener only (imap_capability and the
# ssl setting apply per local address, not per port), hence an instance of its
# own. It shares the first instance's users, passwords and mail (the same
# Maildirs), so mail delivered for one is seen by the other.
#
#   dovecot-notls.sh start DIR   DIR: the directory of `servers.sh start DIR`;
#                                writes DIR/notls/env (a shell file to source):
#                                M2T_NOTLS_IMAP_PORT M2T_NOTLS_POP3_PORT
#                                M2T_NOTLS_LOG (its log: logins, and
#                                "no auth attempts" for a client that sent none)
#   dovecot-notls.sh stop DIR    safe to repeat; servers.sh stop calls it too
#
# Started only by the tests that need it (lib.sh: start_notls_dovecot); it is
# up in about a quarter of a second.
set -eu
set -o pipefail
# shellcheck source=tests/scripts/proc_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/proc_lib.sh"

WAIT_SECONDS=20

# the first instance's value of a setting, so both run alike
main_setting() { # NAME [FILTER]
	doveconf -c "$MAIN_CONF" ${2:+-f "$2"} -h "$1" 2>/dev/null
}

write_config() {
	local chroot_line=""
	[ "$(id -u)" -eq 0 ] || chroot_line="chroot ="
	mkdir -p "$N/state"
	cat >"$N/dovecot.conf" <<-EOF
		# mail2ticket test instance without TLS (tests/scripts/dovecot-notls.sh)
		instance_name = m2t-notls-${SOCK_DIR##*.}
		base_dir = $SOCK_DIR/nt
		state_dir = $N/state
		protocols = imap pop3
		listen = 127.0.0.1
		shutdown_clients = yes
		log_path = $N/dovecot.log
		info_log_path = $N/dovecot.log
		login_log_format_elements = user=<%u> method=%m rip=%r lip=%l %c

		default_login_user = $(main_setting default_login_user)
		default_internal_user = $(main_setting default_internal_user)
		default_internal_group = $(main_setting default_internal_group)
		first_valid_uid = $(main_setting first_valid_uid)
		first_valid_gid = $(main_setting first_valid_gid)

		# no TLS at all: neither STARTTLS nor STLS is offered
		ssl = no
		disable_plaintext_auth = no
		auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256 apop xoauth2 oauthbearer
		auth_failure_delay = 0

		passdb {
		  driver = passwd-file
		  args = scheme=PLAIN username_format=%u $DIR/dovecot/users
		}
		userdb {
		  driver = static
		  args = $(main_setting userdb/0/args)
		}
		mail_location = $(main_setting mail_location)
		mail_fsync = optimized
		namespace inbox {
		  inbox = yes
		  separator = /
		}

		service imap-login {
		  $chroot_line
		  inet_listener imap {
		    address = 127.0.0.1
		    port = $IMAP_PORT
		  }
		  inet_listener imaps {
		    port = 0
		  }
		}
		service pop3-login {
		  $chroot_line
		  inet_listener pop3 {
		    address = 127.0.0.1
		    port = $POP3_PORT
		  }
		  inet_listener pop3s {
		    port = 0
		  }
		}
		service anvil {
		  $chroot_line
		  unix_listener anvil-auth-penalty {
		    mode = 0
		  }
		}
		protocol pop3 {
		  pop3_uidl_format = $(main_setting pop3_uidl_format protocol=pop3)
		}
	EOF
}

notls_pid() {
	local pid
	pid=$(cat "$SOCK_DIR/nt/master.pid" 2>/dev/null || true)
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dovecot ] && alive "$pid" ||
		return 1
	printf '%s\n' "$pid"
}

# Both listeners greet: "* OK" and "+OK".
greets() {
	local g
	for p in "$IMAP_PORT" "$POP3_PORT"; do
		# shellcheck disable=SC2016  # $1 belongs to the inner shell
		g=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && head -c 3 <&3' _ "$p" \
			2>/dev/null || true)
		case "$g" in
		"* O" | "+OK") ;;
		*) return 1 ;;
		esac
	done
}

cmd_start() {
	local attempt=0 i
	[ -f "$DIR/state" ] || die "$DIR: servers.sh has not started servers there"
	# shellcheck disable=SC1091
	. "$DIR/state"
	MAIN_CONF=$DIR/dovecot/dovecot.conf
	N=$DIR/notls
	! notls_pid >/dev/null || die "already running"
	mkdir -p "$N"
	while :; do
		attempt=$((attempt + 1))
		read -r IMAP_PORT POP3_PORT <<<"$(bash "$(dirname "$0")/servers.sh" ports 2)"
		write_config
		doveconf -c "$N/dovecot.conf" -n >/dev/null 2>"$N/doveconf.err" ||
			{ cat "$N/doveconf.err" >&2; die "configuration rejected"; }
		dovecot -c "$N/dovecot.conf" >>"$N/dovecot.out" 2>&1 </dev/null || true
		for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
			greets && break
			notls_pid >/dev/null || break
			sleep 0.05
		done
		if greets; then
			break
		fi
		cmd_stop
		[ "$attempt" -lt 3 ] || {
			tail -n 20 "$N/dovecot.out" "$N/dovecot.log" >&2 2>/dev/null || true
			die "Dovecot (without TLS) did not start"
		}
	done
	cat >"$N/env" <<-EOF
		export M2T_NOTLS_IMAP_PORT=$IMAP_PORT
		export M2T_NOTLS_POP3_PORT=$POP3_PORT
		export M2T_NOTLS_LOG='$N/dovecot.log'
	EOF
}

cmd_stop() {
	local pid
	if [ -z "${SOCK_DIR:-}" ]; then
		[ -f "$DIR/state" ] || return 0
		# shellcheck disable=SC1091
		. "$DIR/state"
	fi
	pid=$(notls_pid) || return 0
	stop_pid "$pid" "$WAIT_SECONDS"
}

[ "$#" -eq 2 ] || die "usage: dovecot-notls.sh start|stop DIR"
DIR=${2%/}
case "$1" in
start) cmd_start ;;
stop) cmd_stop ;;
*) die "usage: dovecot-notls.sh start|stop DIR" ;;
esac
