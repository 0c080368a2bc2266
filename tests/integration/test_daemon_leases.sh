#!/usr/bin/env bash
# Several daemons on one database: a daemon killed with SIGKILL in the middle
# of a run has its job taken over once its lease expires (the TTL is cut to
# 3 s here; 30 s by default), its run marked abandoned, nothing done twice;
# a daemon stalled (SIGSTOP) past its lease finds it taken over when it wakes
# and stops that run at the next message;
# and two daemons sharing twenty jobs (twenty folders, 2,000 mails) process
# every mail exactly once, both do work, and no job ever runs on both at once
# or runs the same schedule slot twice.
. "$(dirname "$0")/lib.sh"

GEN=$M2T_ROOT/build/rel/tools/gen_mail
if [ ! -x "$GEN" ]; then
	skip "daemon leases" "build/rel/tools/gen_mail missing (make tools)"
	exit 0
fi
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox

processed_over() { [ "$(psql_q "select count(*) from processed_messages")" -gt "$1" ]; }
inbox_empty() { [ "$(count_inbox)" = 0 ]; }

# --- takeover after kill -9 -------------------------------------------------------
conf=$TEST_TMP/m2t.yaml
make_config "$conf" "    batch_size: 10"
sed -i 's|schedule: "\*/5 \* \* \* \*"|schedule: "@every 1s"|' "$conf"
"$M2T_BIN" -c "$conf" migrate >/dev/null
"$GEN" "$M2T_MAILDIR" 1500 11 "$M2T_MAIL_UID" "$M2T_MAIL_GID" >/dev/null

export M2T_LEASE_TTL=3s
"$M2T_BIN" -c "$conf" daemon --workers 1 2>"$TEST_TMP/a.log" &
apid=$!
on_exit kill -KILL "$apid"
check "daemon A is working" wait_until 60 processed_over 20
kill -KILL "$apid"
wait "$apid" 2>/dev/null || true
killed_at=$(date +%s)
a_id=$(psql_q "select holder_id from job_leases where job = 'support-inbox'")
check "A died holding the lease" test -n "$a_id"
check_eq "A's run is left running" \
	"$(psql_q "select count(*) from job_runs where daemon_id = '$a_id' and status = 'running'")" 1

"$M2T_BIN" -c "$conf" daemon --workers 1 2>"$TEST_TMP/b.log" &
bpid=$!
on_exit kill -KILL "$bpid"
check "daemon B takes the job over and empties the INBOX" wait_until 120 inbox_empty
b_id=$(psql_q "select daemon_id from job_runs where daemon_id <> '$a_id' order by id limit 1")
took=$(psql_q "select min(m2t_epoch(started_at)) - $killed_at from job_runs where daemon_id = '$b_id'")
check "B took over within the TTL, not before" test "$took" -ge 1 -a "$took" -le 15
check_eq "A's run is marked abandoned by the takeover" \
	"$(psql_q "select status || '|' || (error like '%' || daemon_id || '%stopped renewing its lease%') from job_runs where daemon_id = '$a_id'")" \
	"abandoned|true"
check_eq "every mail processed exactly once" \
	"$(psql_q "select count(*) || ' ' || count(distinct uid) from processed_messages")" "1500 1500"
check_eq "one ticket per ticket outcome" \
	"$(psql_q "select (select count(*) from tickets) = (select count(*) from processed_messages where outcome = 'ticket')")" t
check_eq "every mail moved once" "$(( $(count_folder Processed) + $(count_folder Badmail) ))" 1500
kill -TERM "$bpid"
rc=0
wait "$bpid" || rc=$?
check_eq "B stops with exit 0" "$rc" 0

# --- a stalled daemon loses its lease and stops at the next message ----------------
DATABASE_URL=$(new_db)
reset_mailbox
"$M2T_BIN" -c "$conf" migrate >/dev/null
"$GEN" "$M2T_MAILDIR" 1500 12 "$M2T_MAIL_UID" "$M2T_MAIL_GID" >/dev/null
"$M2T_BIN" -c "$conf" daemon --workers 1 2>"$TEST_TMP/s.log" &
spid=$!
on_exit kill -KILL "$spid"
on_exit kill -CONT "$spid"
check "daemon S is working" wait_until 60 processed_over 20
kill -STOP "$spid"
s_id=$(psql_q "select holder_id from job_leases where job = 'support-inbox'")
"$M2T_BIN" -c "$conf" daemon --workers 1 2>"$TEST_TMP/t.log" &
tpid=$!
on_exit kill -KILL "$tpid"
held_by_other() { h=$(psql_q "select holder_id from job_leases where job = 'support-inbox'"); [ -n "$h" ] && [ "$h" != "$s_id" ]; }
check "T takes the lease of the stalled daemon" wait_until 30 held_by_other
kill -CONT "$spid"
s_lost() { grep -q 'event=lease.lost job=support-inbox reason="another daemon holds the lease now"' "$TEST_TMP/s.log"; }
check "S finds its lease lost at its next heartbeat" wait_until 20 s_lost
s_ended() { [ "$(psql_q "select count(*) from job_runs where daemon_id = '$s_id' and status = 'running'")" = 0 ]; }
check "S ends its run" wait_until 20 s_ended
check "S stopped it between two messages" grep -q 'event=job.stopping job=support-inbox' "$TEST_TMP/s.log"
# (its last MOVE may fail: T moved some of those mails first; that is not
# counted against the job)
# the run's row is finished by the worker, the line logged after it by
# the scheduler thread: wait for it rather than race it
check "S leaves the job to T without a backoff" \
	wait_until 20 grep -q 'event=job.taken_over job=support-inbox' "$TEST_TMP/s.log"
check_eq "S does not count a failure in the lease" \
	"$(psql_q "select failures from job_leases where job = 'support-inbox'")" 0
check "S lives on (it only lost one job)" kill -0 "$spid"
check "T empties the INBOX" wait_until 120 inbox_empty
check_eq "every mail processed exactly once" \
	"$(psql_q "select count(*) || ' ' || count(distinct uid) from processed_messages")" "1500 1500"
kill -TERM "$spid" "$tpid"
rc1=0 rc2=0
wait "$spid" || rc1=$?
wait "$tpid" || rc2=$?
check_eq "both stop with exit 0" "$rc1 $rc2" "0 0"
unset M2T_LEASE_TTL

# --- two daemons, twenty jobs, 2,000 mails ------------------------------------
DATABASE_URL=$(new_db)
reset_mailbox
conf=$TEST_TMP/many.yaml
make_config "$conf"
sed -i '/^jobs:/,$d' "$conf"
echo "jobs:" >>"$conf"
for i in $(seq -w 1 20); do
	create_folder "box$i"
	"$GEN" "$M2T_MAILDIR/.box$i" 100 "$((200 + 10#$i))" "$M2T_MAIL_UID" "$M2T_MAIL_GID" >/dev/null
	cat >>"$conf" <<-EOF
	  job$i:
	    account: support
	    mailbox: box$i
	    schedule: "@every 1s"
	    batch_size: 25
	EOF
done
"$M2T_BIN" -c "$conf" migrate >/dev/null
left() {
	local i n=0
	for i in $(seq -w 1 20); do
		n=$((n + $(count_folder "box$i")))
	done
	echo "$n"
}
all_empty() { [ "$(left)" = 0 ]; }
check_eq "2,000 mails in twenty folders" "$(left)" 2000

"$M2T_BIN" -c "$conf" daemon --workers 2 2>"$TEST_TMP/d1.log" &
d1=$!
on_exit kill -KILL "$d1"
"$M2T_BIN" -c "$conf" daemon --workers 2 2>"$TEST_TMP/d2.log" &
d2=$!
on_exit kill -KILL "$d2"
check "the two daemons empty the twenty folders" wait_until 300 all_empty
check_eq "every mail processed exactly once" \
	"$(psql_q "select count(*) || ' ' || count(distinct (mailbox, uid)) from processed_messages")" \
	"2000 2000"
check_eq "no ticket twice" \
	"$(psql_q "select (select count(*) from tickets) = (select count(*) from processed_messages where outcome = 'ticket')")" t
check_eq "both daemons did work" \
	"$(psql_q "select count(distinct daemon_id) from job_runs where fetched > 0")" 2
check_eq "no job ran on both at once" \
	"$(psql_q "select count(*) from job_runs a join job_runs b on a.job = b.job and a.id < b.id
		    and a.started_at < coalesce(b.finished_at, now()) and b.started_at < coalesce(a.finished_at, now())")" 0
check_eq "no schedule slot ran twice" \
	"$(psql_q "select count(*) from (select job, slot from job_runs where status = 'ok' group by job, slot having count(*) > 1) x")" 0
check_eq "every run is linked to its daemon" "$(psql_q "select count(*) from job_runs where daemon_id is null")" 0
check_eq "every processed mail is linked to a run" \
	"$(psql_q "select count(*) from processed_messages where job_run_id is null")" 0
kill -TERM "$d1" "$d2"
rc1=0 rc2=0
wait "$d1" || rc1=$?
wait "$d2" || rc2=$?
check_eq "both stop with exit 0" "$rc1 $rc2" "0 0"
check_eq "and leave no lease held" "$(psql_q "select count(*) from job_leases where holder_id is not null")" 0
