#!/usr/bin/env bash
# make bench-idle: push latency — a mail delivered into a mailbox a daemon
# idles on (schedule: idle, IMAPS from a local Dovecot, a local
# PostgreSQL 15), one at a time, timed from the delivery until its
# processed_messages row exists (polled every 10 ms); prints median and max.
# Then the same with BENCH_STALLED more idle jobs whose server accepts and
# never answers, to show a stalled account does not delay the healthy one.
#   BENCH_MAILS=N      mails per phase (default 20)
#   BENCH_STALLED=N    stalled jobs in the second phase (default 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
mails=${BENCH_MAILS:-20}
stalled=${BENCH_STALLED:-20}
dir=$(mktemp -d "${TMPDIR:-/tmp}/m2t-bench-idle.XXXXXX")
chmod 755 "$dir"
dpid= spid=
stop_daemon() {
	if [ -n "$dpid" ]; then
		kill -TERM "$dpid" 2>/dev/null || true
		wait "$dpid" 2>/dev/null || true
	fi
	dpid=
}
cleanup() {
	stop_daemon
	[ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null
	bash tests/scripts/servers.sh stop "$dir" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

bash tests/scripts/servers.sh start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env"
export DATABASE_URL="$M2T_PG_URL"
stall_port=$(bash tests/scripts/servers.sh ports 1)
build/rel/tools/stall_server --port "$stall_port" --seconds 600 &
spid=$!

config() {
	cat <<YAML
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
    timeout: 30s
  stalled:
    protocol: imap
    host: 127.0.0.1
    port: $stall_port
    security: none
    username: nobody
    password_env: M2T_BENCH_NOPASS
    timeout: 5s
jobs:
  push:
    account: support
    mailbox: INBOX
    schedule: idle
YAML
	for i in $(seq 1 "$1"); do
		printf '  stalled%s:\n    account: stalled\n    mailbox: INBOX\n    schedule: idle\n' "$i"
	done
}
export M2T_BENCH_NOPASS=nothing
config 0 > "$dir/bench.yaml"
./mail2ticket -c "$dir/bench.yaml" migrate >/dev/null

count() { psql "$M2T_PG_URL" -tAX -c "select count(*) from processed_messages"; }
now_ms() { date +%s%3N; }

phase() {
	local name=$1 nstalled=$2 i n0 t0 t1 lat=()
	config "$nstalled" > "$dir/bench.yaml"
	./mail2ticket -c "$dir/bench.yaml" daemon --workers 4 2> "$dir/daemon.log" &
	dpid=$!
	for _ in $(seq 1 300); do
		grep -q 'event=job.idle job=push' "$dir/daemon.log" && break
		sleep 0.1
	done
	sleep 1
	for i in $(seq 1 "$mails"); do
		n0=$(count)
		sed "s/^Message-ID: .*/Message-ID: <bench-idle-$name-$i-$$@example.org>/" \
			tests/integration/mail/plain.eml > "$dir/m.eml"
		t0=$(now_ms)
		sh tests/scripts/maildir-deliver.sh "$M2T_MAILDIR" "$dir/m.eml"
		for _ in $(seq 1 1000); do
			[ "$(count)" -gt "$n0" ] && break
			sleep 0.01
		done
		t1=$(now_ms)
		lat+=($((t1 - t0)))
		sleep 0.2
	done
	stop_daemon
	printf '%s\n' "${lat[@]}" | sort -n | awk -v name="$name" '
		{ v[NR] = $1 } END {
			med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%-34s mails=%d median=%d ms max=%d ms\n", name, NR, med, v[NR] }'
}

echo "push (schedule: idle): delivery -> ticket row, one mail at a time"
phase "1 idle job" 0
phase "1 idle job + $stalled stalled jobs" "$stalled"
