#!/usr/bin/env bash
# The daemon prunes old job runs that did nothing (database.job_runs_retention):
# an old empty run goes; a run a processed message points at, the newest run
# of a job and a recent run stay. The pass runs from the lease keeper, here
# every second (M2T_RUNS_PRUNE_EVERY) instead of every hour.
. "$(dirname "$0")/lib.sh"

export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
conf=$TEST_TMP/m2t.yaml
make_config "$conf"
sed -i 's|  url_env: DATABASE_URL|  url_env: DATABASE_URL\n  job_runs_retention: 10d|' "$conf"
"$M2T_BIN" -c "$conf" migrate >/dev/null
log=$TEST_TMP/daemon.log

run_row() {  # job days-ago fetched tag
	psql_q "insert into job_runs (job, account, mailbox, started_at, finished_at, status, fetched, error)
		values ('$1', 'support', 'INBOX', now() - interval '$2 days', now() - interval '$2 days',
			'ok', $3, '$4')" >/dev/null
}
run_row support-inbox 40 0 old-empty
run_row support-inbox 39 0 old-referenced
run_row support-inbox 5 0 recent
run_row other-job 40 0 newest-of-its-job
psql_q "insert into processed_messages (account, mailbox, uidvalidity, uid, outcome, job_run_id)
	select 'support', 'INBOX', 1, 1, 'ignored', id from job_runs where error = 'old-referenced'" >/dev/null
left() { psql_q "select count(*) from job_runs where error = '$1'"; }
log_has() { grep -q -- "$1" "$log"; }

M2T_RUNS_PRUNE_EVERY=1s M2T_LEASE_TTL=3s "$M2T_BIN" -c "$conf" daemon --workers 1 2>"$log" &
dpid=$!
on_exit kill -KILL "$dpid"

check "the daemon prunes one run" wait_until 30 log_has "event=job_runs.pruned count=1 older_than_s=864000"
check_eq "the old empty run is gone" "$(left old-empty)" 0
check_eq "a run a processed message points at stays" "$(left old-referenced)" 1
check_eq "a run younger than the retention stays" "$(left recent)" 1
check_eq "the newest run of a job stays" "$(left newest-of-its-job)" 1
kill -TERM "$dpid"
rc=0
wait "$dpid" || rc=$?
check_eq "the daemon stops cleanly" "$rc" 0
