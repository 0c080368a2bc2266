#!/usr/bin/env bash
# make bench-isolation: one daemon polls 100 accounts (each its own account
# entry and folder on a local Dovecot, IMAPS, "@every 10s"), of which 0, 1
# and 10 are deliberately stalled: their server (tests/tools/stall_server,
# one per stalled account) accepts and never answers, with a 30 s timeout
# and a retry right after each failure, so that they hold workers nearly
# all the time. For the healthy accounts it prints the time from due (the
# schedule slot) to done (the run's row finished) over the measured rounds
# — median, p95, max — and the daemon's CPU. Every slot fires for all
# accounts at once, so the figure includes the queue of that burst (100
# runs, --workers at a time): compare the phases, not the absolute values.
#   BENCH_ACCOUNTS=N    accounts (default 100)
#   BENCH_STALLED="0 1 10"  stalled accounts per phase
#   BENCH_SECONDS=S     measured window per phase (default 30)
#   BENCH_WORKERS=N     --workers (default 4)
#   BENCH_COMPARE=1     one more phase with the most stalled accounts and the
#                       pool kept from growing (M2T_WORKER_GRACE=1h): the
#                       fixed pool of earlier versions
set -euo pipefail
cd "$(dirname "$0")/../.."
accounts=${BENCH_ACCOUNTS:-100}
phases=${BENCH_STALLED:-0 1 10}
secs=${BENCH_SECONDS:-30}
workers=${BENCH_WORKERS:-4}
every=10
dir=$(mktemp -d "${TMPDIR:-/tmp}/m2t-bench-iso.XXXXXX")
chmod 755 "$dir"
dpid=
spids=()
stop_stalls() {
	local p
	for p in "${spids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${spids[@]}"; do wait "$p" 2>/dev/null || true; done
	spids=()
}
stop_daemon() {
	if [ -n "$dpid" ]; then
		kill -TERM "$dpid" 2>/dev/null || true
		wait "$dpid" 2>/dev/null || true
	fi
	dpid=
}
cleanup() {
	stop_stalls
	stop_daemon
	bash tests/scripts/servers.sh stop "$dir" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

bash tests/scripts/servers.sh start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env"
export DATABASE_URL="$M2T_PG_URL" M2T_BENCH_NOPASS=nothing
# every account logs in as the same user: lift Dovecot's 10 connections per user and address
printf 'protocol imap {\n  mail_max_userip_connections = 1000\n}\n' >>"$M2T_DOVECOT_CONF"
doveadm -c "$M2T_DOVECOT_CONF" reload
for i in $(seq -w 1 "$accounts"); do
	mkdir -p "$M2T_MAILDIR/.a$i/cur" "$M2T_MAILDIR/.a$i/new" "$M2T_MAILDIR/.a$i/tmp"
done
chown -R "$M2T_MAIL_UID:$M2T_MAIL_GID" "$M2T_MAILDIR"

# config STALLED: accounts a001.. ; the first STALLED of them point at their own stalled server
config() {
	local nst=$1 i k=0
	printf 'database:\n  url_env: DATABASE_URL\nlog_level: warn\n'
	printf 'metrics_listen: 127.0.0.1:%s\naccounts:\n' "$mport"
	for i in $(seq -w 1 "$accounts"); do
		if [ "$k" -lt "$nst" ]; then
			printf '  a%s:\n    protocol: imap\n    host: 127.0.0.1\n    port: %s\n' "$i" "${ports[$k]}"
			printf '    security: none\n    username: nobody\n    password_env: M2T_BENCH_NOPASS\n'
			printf '    timeout: 30s\n'
		else
			printf '  a%s:\n    protocol: imap\n    host: 127.0.0.1\n    port: %s\n' "$i" "$M2T_IMAPS_PORT"
			printf '    security: tls\n    tls: { verify: true, ca_file: "%s" }\n' "$M2T_CA_FILE"
			printf '    username: %s\n    password_file: "%s"\n    timeout: 30s\n' \
				"$M2T_IMAP_USER" "$M2T_IMAP_PASSWORD_FILE"
		fi
		k=$((k + 1))
	done
	printf 'jobs:\n'
	for i in $(seq -w 1 "$accounts"); do
		printf '  a%s:\n    account: a%s\n    mailbox: a%s\n    schedule: "@every %ss"\n' \
			"$i" "$i" "$i" "$every"
	done
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
metric() {
	curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" | awk -v n="mail2ticket_$1" '$1 == n { print $2 }'
}
now_s() { date +%s; }

# phase NAME STALLED [ENV...]
phase() {
	local name=$1 nst=$2 k t0 t1 c0 c1 first healthy grown
	mport=$(bash tests/scripts/servers.sh ports 1)
	shift 2
	ports=()
	[ "$nst" -eq 0 ] || read -r -a ports <<<"$(bash tests/scripts/servers.sh ports "$nst")"
	for ((k = 0; k < nst; k++)); do
		build/rel/tools/stall_server --port "${ports[k]}" --seconds 600 &
		spids+=($!)
	done
	config "$nst" >"$dir/bench.yaml"
	./mail2ticket -c "$dir/bench.yaml" migrate >/dev/null 2>"$dir/migrate.log" ||
		{ cat "$dir/migrate.log"; exit 1; }
	healthy=$(seq -w 1 "$accounts" | tail -n +"$((nst + 1))" | sed 's/^/a/' | paste -sd, -)
	env M2T_RETRY_MIN=1s M2T_RETRY_MAX=2s "$@" \
		./mail2ticket -c "$dir/bench.yaml" daemon --workers "$workers" 2>"$dir/daemon.log" &
	dpid=$!
	# the first round takes what was due before the start; measure the slots after it
	first=$(( ($(now_s) / every + 2) * every ))
	while [ "$(now_s)" -lt "$first" ]; do sleep 0.2; done
	t0=$first
	c0=$(cpu_ticks "$dpid")
	sleep "$secs"
	t1=$((t0 + secs))
	c1=$(cpu_ticks "$dpid")
	grown=$(metric workers_started_total)
	# runs of the last slots in the window end a little after it
	sleep 5
	stop_stalls
	stop_daemon
	psql "$M2T_PG_URL" -tAX -F ' ' -c "
		with r as (
			select extract(epoch from finished_at - slot) as s, status
			from job_runs
			where job = any(string_to_array('$healthy', ','))
			  and slot >= to_timestamp($t0) and slot < to_timestamp($t1))
		select count(*) filter (where status = 'ok'),
		       count(*) filter (where status <> 'ok'),
		       coalesce(percentile_cont(0.5) within group (order by s), 0),
		       coalesce(percentile_cont(0.95) within group (order by s), 0),
		       coalesce(max(s), 0)
		from r" >"$dir/res"
	read -r ok bad med p95 max <"$dir/res"
	awk -v name="$name" -v ok="$ok" -v bad="$bad" -v med="$med" -v p95="$p95" -v max="$max" \
	    -v t="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v s="$secs" -v c="$(nproc)" \
	    -v want="$(( (accounts - nst) * secs / every ))" -v grown="${grown:-?}" 'BEGIN {
		if (ok > 0)
			times = sprintf("due->done median %5.2f s  p95 %5.2f s  max %5.2f s", med, p95, max)
		else
			times = "due->done: no run of a slot in the window"
		printf "%-26s runs %4d of %4d ok (%d not ok)  %s  daemon CPU %.2f s = %.1f%% of %d cores  extra workers started %s\n",
			name, ok, want, bad, times, t / hz, 100 * t / hz / s / c, c, grown }'
}

echo "$accounts accounts, \"@every ${every}s\", $workers workers, ${secs} s measured per phase"
for n in $phases; do
	phase "$n stalled" "$n"
done
if [ "${BENCH_COMPARE:-0}" = 1 ]; then
	last=${phases##* }
	phase "$last stalled, fixed pool" "$last" M2T_WORKER_GRACE=1h
fi
