#!/usr/bin/env bash
# make bench-daemon: what one daemon costs when it runs many jobs that find
# nothing to do — 1,000 jobs (one empty folder each) on a 1-minute schedule,
# IMAPS from a local Dovecot, a local PostgreSQL 15. After the first round,
# it samples the daemon's CPU time (/proc) over a window and prints it as a
# share of the machine's cores, with the runs done in the window.
#   BENCH_JOBS=N        jobs (default 1000)
#   BENCH_SECONDS=S     the measured window (default 120)
#   BENCH_WORKERS=N     worker threads (default 4)
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=${BENCH_JOBS:-1000}
secs=${BENCH_SECONDS:-120}
workers=${BENCH_WORKERS:-4}
dir=$(mktemp -d "${TMPDIR:-/tmp}/m2t-bench-daemon.XXXXXX")
chmod 755 "$dir"
dpid=
cleanup() {
	[ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	bash tests/scripts/servers.sh stop "$dir" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

bash tests/scripts/servers.sh start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env"
export DATABASE_URL="$M2T_PG_URL"

# Maildir++ folders made directly: Dovecot finds them by their directories.
cat > "$dir/bench.yaml" <<YAML
database:
  url_env: DATABASE_URL
log_level: warn
accounts:
  support:
    protocol: imap
    host: 127.0.0.1
    port: $M2T_IMAPS_PORT
    security: tls
    tls: { verify: true, ca_file: "$M2T_CA_FILE" }
    username: $M2T_IMAP_USER
    password_file: "$M2T_IMAP_PASSWORD_FILE"
    timeout: 60s
jobs:
YAML
for i in $(seq -w 1 "$jobs"); do
	mkdir -p "$M2T_MAILDIR/.j$i/cur" "$M2T_MAILDIR/.j$i/new" "$M2T_MAILDIR/.j$i/tmp"
	printf '  j%s:\n    account: support\n    mailbox: j%s\n    schedule: "* * * * *"\n' "$i" "$i" \
		>> "$dir/bench.yaml"
done
chown -R "$M2T_MAIL_UID:$M2T_MAIL_GID" "$M2T_MAILDIR"
./mail2ticket -c "$dir/bench.yaml" migrate >/dev/null

runs() { psql "$M2T_PG_URL" -tAX -c "select count(*) from job_runs where status = 'ok'"; }
failed() { psql "$M2T_PG_URL" -tAX -c "select count(*) from job_runs where status not in ('ok', 'running')"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# A server's CPU: its master with the children it has reaped, and the live ones.
tree_ticks() {
	local pid=$1 t c
	t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat")
	for c in $(ps -o pid= --ppid "$pid"); do
		t=$((t + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$c/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
# "PostgreSQL-ticks Dovecot-ticks"
servers_ticks() {
	# shellcheck disable=SC1091
	. "$dir/state"
	echo "$(tree_ticks "$(head -n 1 "$PG_DATA/postmaster.pid")") $(tree_ticks "$(cat "$SOCK_DIR/dc/master.pid")")"
}
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }

./mail2ticket -c "$dir/bench.yaml" daemon --workers "$workers" 2> "$dir/daemon.log" &
dpid=$!
echo "$jobs jobs, schedule \"* * * * *\", $workers workers; waiting for the first round ..."
for _ in $(seq 1 600); do
	[ "$(runs)" -ge "$jobs" ] && break
	sleep 1
done
first=$(runs)
[ "$first" -ge "$jobs" ] || { echo "first round incomplete: $first runs"; tail -n 20 "$dir/daemon.log"; exit 1; }
hz=$(getconf CLK_TCK)
cores=$(nproc)
t0=$(cpu_ticks "$dpid")
read -r pg0 dc0 < <(servers_ticks)
read -r mb0 mt0 < <(machine_busy)
r0=$(runs)
sleep "$secs"
t1=$(cpu_ticks "$dpid")
read -r pg1 dc1 < <(servers_ticks)
read -r mb1 mt1 < <(machine_busy)
r1=$(runs)
rss=$(awk '/^VmHWM/ { print $2 }' "/proc/$dpid/status")
awk -v t="$((t1 - t0))" -v hz="$hz" -v s="$secs" -v c="$cores" -v r="$((r1 - r0))" -v j="$jobs" \
    -v mb="$((mb1 - mb0))" -v mt="$((mt1 - mt0))" -v rss="$rss" -v f="$(failed)" \
    -v pg="$((pg1 - pg0))" -v dc="$((dc1 - dc0))" 'BEGIN {
	cpu = t / hz
	printf "window:       %d s, %d runs (expected about %d), %d failed\n", s, r, j * s / 60, f
	printf "daemon CPU:   %.2f s = %.2f%% of %d cores (%.2f%% of one core), %.2f ms per run\n", cpu, 100 * cpu / s / c, c, 100 * cpu / s, r ? 1000 * cpu / r : 0
	printf "PostgreSQL:   %.2f s = %.2f%% of %d cores, %.2f ms per run\n", pg / hz, 100 * pg / hz / s / c, c, r ? 1000 * pg / hz / r : 0
	printf "Dovecot:      %.2f s = %.2f%% of %d cores, %.2f ms per run (TLS, login, a process per session)\n", dc / hz, 100 * dc / hz / s / c, c, r ? 1000 * dc / hz / r : 0
	printf "machine CPU:  %.1f%% busy over the window (everything running on the machine)\n", mt ? 100 * mb / mt : 0
	printf "peak RSS:     %.1f MB (the daemon)\n", rss / 1024
}'
