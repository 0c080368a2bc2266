# Sourced by the scripts that start test servers (servers.sh, dovecot-notls.sh,
# cyrus.sh, courier.sh, proxy-servers.sh): the few process and port helpers
# they all need. bash only (/dev/tcp).

# die MESSAGE: the script's name and the message on stderr, exit 1.
die() {
	printf '%s: %s\n' "$(basename "$0")" "$*" >&2
	exit 1
}

# port_open PORT: something accepts connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# alive PID: the process exists and is not a zombie (a server whose parent
# is gone is reaped late, or never, in a container without an init).
alive() {
	local state
	[ -n "${1:-}" ] || return 1
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# stop_pid PID [SECONDS]: SIGTERM, up to SECONDS (default 20) for it to go,
# then SIGKILL.
stop_pid() {
	local pid=$1 i=0 limit=$((${2:-20} * 10))
	kill -TERM "$pid" 2>/dev/null || return 0
	while alive "$pid" && [ "$i" -lt "$limit" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
}
