#!/usr/bin/env bash
# Real proxies from Debian on 127.0.0.1 for the tests, beside the mail
# servers of servers.sh (which calls this file):
#   dante-server (danted): SOCKS5 without authentication, and SOCKS5 with
#                          user/password (RFC 1929)
#   tinyproxy:             HTTP CONNECT with Basic credentials
#
#   proxy-servers.sh start DIR     writes DIR/proxy.env (sourced into DIR/env)
#   proxy-servers.sh stop DIR
#
# Each proxy runs in a private mount namespace (unshare -m) where
#   - /etc/hosts also maps $PROXIED_NAME to 127.0.0.1: only the proxies can
#     resolve that name, so a client that reaches a server by it proves the
#     proxy resolved it (SOCKS5 remote DNS, CONNECT by name);
#   - /etc/passwd and /etc/shadow also hold the proxy user, because danted
#     checks user/password logins against the system's password database.
# Nothing on the machine changes. Needs root (mount namespaces) and both
# packages; otherwise proxy.env says M2T_PROXIES=0 and the tests skip.
set -eu
set -o pipefail
# shellcheck source=tests/scripts/proc_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/proc_lib.sh"

PROXIED_NAME=imap.proxied.test
PROXY_USER=m2tproxy

# Runs a daemon in its own mount namespace with the test hosts and users.
in_namespace() {
	local p=$DIR/proxy
	unshare -m bash -c '
		mount --bind "$1/hosts" /etc/hosts &&
		mount --bind "$1/passwd" /etc/passwd &&
		mount --bind "$1/shadow" /etc/shadow &&
		shift && exec "$@"' _ "$p" "$@"
}

write_files() {
	local p=$DIR/proxy pw
	mkdir -p "$p"
	chmod 755 "$p"
	pw=$(openssl rand -hex 12)
	(
		umask 077
		printf '%s\n' "$pw" >"$p/password"
	)
	{ cat /etc/hosts; printf '127.0.0.1 %s\n' "$PROXIED_NAME"; } >"$p/hosts"
	{ cat /etc/passwd; printf '%s:x:64999:64999::/nonexistent:/usr/sbin/nologin\n' \
		"$PROXY_USER"; } >"$p/passwd"
	(
		umask 077
		cat /etc/shadow
		printf '%s:%s:19000:0:99999:7:::\n' "$PROXY_USER" "$(openssl passwd -6 "$pw")"
	) >"$p/shadow"
	chmod 644 "$p/hosts" "$p/passwd"
	local n method
	for n in open auth; do
		method=none
		[ "$n" = auth ] && method=username
		cat >"$p/danted-$n.conf" <<-EOF
			logoutput: $p/danted-$n.log
			internal: 127.0.0.1 port = $(eval echo "\$SOCKS_${n^^}_PORT")
			external: 127.0.0.1
			clientmethod: none
			socksmethod: $method
			user.privileged: root
			user.unprivileged: nobody
			client pass {
			  from: 127.0.0.1/32 to: 0.0.0.0/0
			}
			socks pass {
			  from: 127.0.0.1/32 to: 0.0.0.0/0
			  log: connect disconnect error
			}
		EOF
	done
	touch "$p/tinyproxy.log"
	chmod 666 "$p/tinyproxy.log"
	cat >"$p/tinyproxy.conf" <<-EOF
		User nobody
		Group nogroup
		Port $HTTP_PORT
		Listen 127.0.0.1
		Timeout 30
		LogFile "$p/tinyproxy.log"
		LogLevel Connect
		PidFile "$p/tinyproxy.pid"
		MaxClients 20
		Allow 127.0.0.1
		BasicAuth $PROXY_USER $pw
		DisableViaHeader Yes
	EOF
}

wait_port() {
	local i=0
	while [ "$i" -lt 100 ]; do
		port_open "$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

cmd_start() {
	local env=$DIR/proxy.env
	if [ "$(id -u)" -ne 0 ] || ! command -v danted >/dev/null 2>&1 ||
		! command -v tinyproxy >/dev/null 2>&1 || ! command -v unshare >/dev/null 2>&1; then
		printf 'export M2T_PROXIES=0\n' >"$env"
		return 0
	fi
	read -r SOCKS_OPEN_PORT SOCKS_AUTH_PORT HTTP_PORT <<<"$PORTS"
	write_files
	local p=$DIR/proxy
	in_namespace danted -D -f "$p/danted-open.conf" -p "$p/danted-open.pid" ||
		die "danted (no authentication) did not start: $(tail -n 5 "$p/danted-open.log" 2>/dev/null)"
	in_namespace danted -D -f "$p/danted-auth.conf" -p "$p/danted-auth.pid" ||
		die "danted (user/password) did not start: $(tail -n 5 "$p/danted-auth.log" 2>/dev/null)"
	in_namespace tinyproxy -c "$p/tinyproxy.conf" ||
		die "tinyproxy did not start: $(tail -n 5 "$p/tinyproxy.log" 2>/dev/null)"
	for port in "$SOCKS_OPEN_PORT" "$SOCKS_AUTH_PORT" "$HTTP_PORT"; do
		wait_port "$port" || die "no proxy listening on port $port"
	done
	cat >"$env" <<-EOF
		export M2T_PROXIES=1
		export M2T_PROXIED_NAME=$PROXIED_NAME
		export M2T_PROXY_USER=$PROXY_USER
		export M2T_PROXY_PASSWORD_FILE='$p/password'
		export M2T_SOCKS_PORT=$SOCKS_OPEN_PORT
		export M2T_SOCKS_AUTH_PORT=$SOCKS_AUTH_PORT
		export M2T_HTTP_PROXY_PORT=$HTTP_PORT
		export M2T_PROXY_LOG_DIR='$p'
	EOF
}

stop_pid_file() {
	local pid
	pid=$(head -n 1 "$1" 2>/dev/null || true)
	alive "$pid" || return 0
	case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
	danted | sockd | tinyproxy) ;;
	*) return 0 ;;
	esac
	stop_pid "$pid" 5
}

cmd_stop() {
	local f
	for f in "$DIR"/proxy/danted-open.pid "$DIR"/proxy/danted-auth.pid \
		"$DIR"/proxy/tinyproxy.pid; do
		[ -f "$f" ] && stop_pid_file "$f"
	done
	return 0
}

[ "$#" -ge 2 ] || die "usage: proxy-servers.sh start|stop DIR [PORTS]"
CMD=$1
DIR=${2%/}
PORTS=${3:-}
case "$CMD" in
start) cmd_start ;;
stop) cmd_stop ;;
*) die "usage: proxy-servers.sh start|stop DIR" ;;
esac
