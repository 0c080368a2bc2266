#!/usr/bin/env bash
# Isolation: more stalled accounts than --workers (servers that accept and
# never answer, with long timeouts) do not delay a healthy account. Asserted
# by order, not by time: the healthy job's mail is a ticket while every
# stalled run is still waiting on its server (its job_runs row still
# 'running', no retry logged). The same for push (schedule: idle): the
# healthy job idles and its new mail is a ticket while the stalled jobs are
# still connecting. An account's max_concurrent_runs holds its other jobs
# back; /metrics shows the stall; extra workers exit once idle.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
STALL=$M2T_ROOT/build/rel/tools/stall_server
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
conf=$TEST_TMP/m2t.yaml
log=$TEST_TMP/daemon.log
mport=$(free_port)

processed() { psql_q "select count(*) from processed_messages"; }
processed_is() { [ "$(processed)" = "$1" ]; }
running_rows() {
	psql_q "select count(*) from job_runs where job like '$1%' and status = 'running'"
}
running_is() { [ "$(running_rows "$1")" = "$2" ]; }
log_has() { grep -q -- "$1" "$log"; }
metric() { curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" | grep -x -- "$1"; }
stopped() { ! kill -0 "$dpid" 2>/dev/null; }

# config SCHEDULE STALL_PORT: the stalled accounts and their jobs first (they
# take the workers first), the healthy account's job last
config() {
	local sched=$1 sport=$2 a n=0
	cat <<YAML
database:
  url_env: DATABASE_URL
metrics_listen: 127.0.0.1:$mport
accounts:
  support:
    protocol: imap
    host: 127.0.0.1
    port: $M2T_IMAPS_PORT
    security: tls
    tls: { verify: true, ca_file: "$M2T_CA_FILE" }
    username: $M2T_IMAP_USER
    password_file: "$M2T_IMAP_PASSWORD_FILE"
    timeout: 10s
YAML
	for a in stalled-a stalled-b stalled-c crowd; do
		cat <<YAML
  $a:
    protocol: imap
    host: 127.0.0.1
    port: $sport
    security: none
    username: nobody
    password: nothing
    timeout: 20s
YAML
	done
	echo "    max_concurrent_runs: 1"
	echo "jobs:"
	for a in stalled-a stalled-b stalled-c crowd crowd crowd; do
		n=$((n + 1))
		printf '  %s-%s:\n    account: %s\n    mailbox: INBOX\n    schedule: %s\n' \
			"$a" "$n" "$a" "$sched"
	done
	cat <<YAML
  support-inbox:
    account: support
    mailbox: INBOX
    archive_folder: Processed
    badmail_folder: Badmail
    schedule: $sched
YAML
}

start_stall() {
	sport=$(free_port)
	"$STALL" --port "$sport" --seconds 300 &
	spid=$!
	on_exit kill -TERM "$spid"
	for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$sport") 2>/dev/null && break; sleep 0.1; done
}

# --- runs by time: 4 stalled runs, 2 workers ------------------------------------
start_stall
config '"* * * * *"' "$sport" >"$conf"
"$M2T_BIN" -c "$conf" migrate >/dev/null
deliver "$MAIL/plain.eml"
M2T_WORKER_LINGER=1s "$M2T_BIN" -c "$conf" daemon --workers 2 2>"$log" &
dpid=$!
on_exit kill -KILL "$dpid"

check "the daemon starts" wait_until 20 log_has "event=daemon.start"
check "the stalled runs are on record" wait_until 20 running_is stalled- 3
check "the healthy job's mail becomes a ticket" wait_until 15 processed_is 1
# the order is the point: every stalled run is still waiting on its server
check_eq "... while all three stalled runs still wait" "$(running_rows stalled-)" 3
check_eq "... and the crowd account's one run too" "$(running_rows crowd-)" 1
check "... and no stalled run has ended yet" bash -c "! grep -q 'event=job.retry job=stalled' '$log'"
check "the pool grew past the waiting workers (logged with their jobs)" \
	grep -Eq 'event=workers.grow .*waiting_jobs="[^"]*stalled-' "$log"
check "max_concurrent_runs: 1 holds the crowd's other jobs back" \
	wait_until 10 metric "mail2ticket_jobs_held_account_limit 2"
check "/metrics shows four workers waiting on servers" \
	wait_until 10 metric "mail2ticket_workers_waiting_network 4"
check "/metrics shows the workers started beyond --workers" \
	wait_until 10 metric "mail2ticket_workers_started_total 3"
check "/metrics shows --workers" metric "mail2ticket_workers_min 2"
check "/metrics shows the default --max-workers" metric "mail2ticket_workers_max 32"
check "the task wait histogram counts the runs" \
	bash -c "curl -s --max-time 5 http://127.0.0.1:$mport/metrics |
		grep -Eq '^mail2ticket_task_wait_seconds_count [5-9]'"

# the servers hang up: the stalled runs fail at once, the extra workers go
kill -TERM "$spid"
check "the stalled runs end when their server hangs up" wait_until 20 running_is stalled- 0
crowd_runs_2() { [ "$(psql_q "select count(*) from job_runs where job like 'crowd-%'")" -ge 2 ]; }
check "the crowd's next job runs only after its first ended" wait_until 20 crowd_runs_2
check "the extra workers exit when idle" wait_until 30 metric "mail2ticket_workers 2"
# a reload applies max_workers: at once; --workers on the command line wins over workers:
printf 'workers: 5\nmax_workers: 6\n' >>"$conf"
kill -HUP "$dpid"
check "a reload applies max_workers" wait_until 10 metric "mail2ticket_workers_max 6"
check "... and the command line's --workers stays" metric "mail2ticket_workers_min 2"
kill -TERM "$dpid"
check "SIGTERM: the daemon stops" wait_until 40 stopped
rc=0
wait "$dpid" || rc=$?
check_eq "and exits 0" "$rc" 0

# --- push: stalled IDLE connects, 1 worker ---------------------------------------
reset_mailbox
psql_q "truncate job_leases" >/dev/null
start_stall
config idle "$sport" >"$conf"
: >"$log"
deliver "$MAIL/html_attachment.eml"
"$M2T_BIN" -c "$conf" daemon --workers 1 2>"$log" &
dpid=$!
on_exit kill -KILL "$dpid"
check "push: the daemon starts" wait_until 20 log_has "event=daemon.start"
check "push: the healthy job idles" wait_until 15 log_has "event=job.idle job=support-inbox"
check "push: the mail there before is a ticket" wait_until 15 processed_is 2
deliver "$MAIL/reply_to.eml"
check "push: new mail is a ticket" wait_until 15 processed_is 3
check "push: ... while no stalled job got past connecting" \
	bash -c "! grep -Eq 'event=job\\.(retry|idle|idle_lost) job=(stalled|crowd)' '$log'"
check_eq "push: the crowd account connects one job at a time" \
	"$(psql_q "select count(*) from job_leases where job like 'crowd-%' and holder_id is not null")" 1
kill -TERM "$spid"
kill -TERM "$dpid"
check "push: SIGTERM: the daemon stops" wait_until 40 stopped
rc=0
wait "$dpid" || rc=$?
check_eq "push: and exits 0" "$rc" 0
