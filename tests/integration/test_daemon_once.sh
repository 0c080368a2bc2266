#!/usr/bin/env bash
# `daemon --once` runs what is due (a job never run, a slot passed since the
# last run, a backoff that is over) and exits with the worst failure's code;
# `--once --all` runs every job. A failing job backs off exponentially
# (capped, jittered), logged with the reason, while the other jobs go on.
# `status` and `status --json` show schedule, next and last run, holder and
# failures in a row.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
create_folder Second
printf 'wrong-password-%s\n' "$RANDOM" >"$TEST_TMP/badpw"
chmod 600 "$TEST_TMP/badpw"
conf=$TEST_TMP/m2t.yaml
cat >"$conf" <<EOF
database:
  url_env: DATABASE_URL
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
  badlogin:
    protocol: imap
    host: 127.0.0.1
    port: $M2T_IMAPS_PORT
    security: tls
    tls: { verify: true, ca_file: "$M2T_CA_FILE" }
    username: $M2T_IMAP_USER
    password_file: "$TEST_TMP/badpw"
    timeout: 10s
jobs:
  yearly:
    account: support
    mailbox: INBOX
    schedule: "0 0 1 1 *"
  broken:
    account: badlogin
    mailbox: INBOX
    schedule: "@every 1s"
  often:
    account: support
    mailbox: Second
    schedule: "@every 1s"
    timezone: Europe/Berlin
EOF
"$M2T_BIN" -c "$conf" migrate >/dev/null
runs() { psql_q "select count(*) from job_runs"; }

deliver "$MAIL/plain.eml" "$MAIL/html_attachment.eml"
rc=0
"$M2T_BIN" -c "$conf" daemon --once 2>"$TEST_TMP/once1.log" || rc=$?
check_eq "--once: the worst failure (login refused) is the exit code" "$rc" 69
check_eq "--once runs a job that never ran, whatever its schedule" "$(count_inbox)" 0
check_eq "the mails are tickets" "$(psql_q "select count(*) from tickets")" 2
check_eq "each job ran once" "$(psql_q "select string_agg(job || ':' || status, ' ' order by job) from job_runs")" \
	"broken:failed often:ok yearly:ok"
check "the failure is logged with its backoff and reason" \
	grep -q 'event=job.retry job=broken in=[0-9.]*m\?s failures=1 class=source reason=".*' "$TEST_TMP/once1.log"
check "the password is not in the log" test "$(grep -c -F "$(cat "$TEST_TMP/badpw")" "$TEST_TMP/once1.log")" = 0

out=$("$M2T_BIN" -c "$conf" status)
check "status: the schedule in words and its zone" grep -q '^  schedule     0 0 1 1 \* (.*), UTC$' <<<"$out"
check "status: the next run of a yearly job" grep -q "^  next run     $(( $(date -u +%Y) + 1 ))-01-01T00:00:00+00:00$" <<<"$out"
check "status: the last run with its counts" grep -q '^               fetched 2, tickets 2, appended 0, ignored 0, badmail 0, already done 0$' <<<"$out"
check "status: the last run's daemon" grep -q "^  last run     #[0-9]* ok, started .* on .* pid [0-9]*$" <<<"$out"
check "status: the failing job's error and class" grep -q '^  last error   (source) ' <<<"$out"
check "status: failures in a row" grep -q '^  failures     1 in a row$' <<<"$out"
check "status: a retry after a failure" grep -q '^  next run     .* (retry after a failure)$\|^  next run     now (due: retry)$' <<<"$out"
check "status: nobody holds a job" test "$(grep -c '^  held by      nobody$' <<<"$out")" = 3
check "status: the zone of a job" grep -q '^  schedule     @every 1s (every 1s), Europe/Berlin$' <<<"$out"

json=$("$M2T_BIN" -c "$conf" status --json)
check "status --json: one object with the jobs" grep -q '^{"jobs":\[{"name":"yearly","account":"support","mailbox":"INBOX","schedule":"0 0 1 1 \*",' <<<"$json"
check "status --json: the failing job" grep -q '"name":"broken",.*"stopped_by_fatal_error":false,"failures":1,.*"last_run":{"id":[0-9]*,"status":"failed",.*"error_class":"source","daemon":{"host":' <<<"$json"
check "status --json: counts of the last run" grep -q '"fetched":2,"tickets":2,"appended":0,"ignored":0,"badmail":0,"already_done":0,"bytes":[0-9]*,"error":null,"error_class":null' <<<"$json"
check "status --json: times with offsets" grep -q '"last_success":"[0-9-]*T[0-9:]*+00:00"' <<<"$json"

# Nothing is due now but the every-second job (its next second has come):
# the yearly job ran, the failing one waits for its backoff.
sleep 1.1
before=$(runs)
rc=0
"$M2T_BIN" -c "$conf" daemon --once 2>"$TEST_TMP/once2.log" || rc=$?
check_eq "--once with nothing due exits 0" "$rc" 0
check "--once names what is not due" grep -q 'event=job.not_due job=yearly next=' "$TEST_TMP/once2.log"
check "--once leaves a backoff alone" grep -q 'event=job.not_due job=broken' "$TEST_TMP/once2.log"
check_eq "--once runs only the job whose slot came (every second)" "$(( $(runs) - before ))" 1

# --all runs every job.
rc=0
"$M2T_BIN" -c "$conf" daemon --once --all 2>"$TEST_TMP/once3.log" || rc=$?
check_eq "--once --all runs every job" "$(( $(runs) - before ))" 4
check_eq "--once --all: login refused again" "$rc" 69
check_eq "two failures in a row" "$(psql_q "select failures from job_leases where job = 'broken'")" 2

# The daemon retries with growing, capped delays, and the other jobs go on.
export M2T_RETRY_MIN=1s M2T_RETRY_MAX=4s
psql_q "update job_leases set retry_at = now() where job = 'broken'" >/dev/null
"$M2T_BIN" -c "$conf" daemon 2>"$TEST_TMP/daemon.log" &
dpid=$!
on_exit kill -KILL "$dpid"
retries_at_least() { [ "$(grep -c 'event=job.retry job=broken' "$TEST_TMP/daemon.log")" -ge "$1" ]; }
folder_empty() { [ "$(count_folder "$1")" = 0 ]; }
check "the failing job is retried" wait_until 40 retries_at_least 4
sed 's/^Message-ID: <.*>/Message-ID: <often-1@example.org>/' "$MAIL/reply_to.eml" >"$TEST_TMP/often.eml"
deliver_to Second "$TEST_TMP/often.eml"
check "another job goes on meanwhile" wait_until 20 folder_empty Second
check "... and the failing one still retries" wait_until 30 retries_at_least 5
kill -TERM "$dpid"
wait "$dpid" || true
delays=$(grep -o 'event=job.retry job=broken in=[0-9.]*m\?s failures=[0-9]*' "$TEST_TMP/daemon.log" |
	sed 's/.*in=\([0-9.]*\)\(m\?s\) failures=\([0-9]*\)/\3 \1 \2/' |
	awk '{ ms = ($3 == "ms") ? $2 : $2 * 1000; print $1, ms }')
# failure n waits within [d/2, d] for d = min(4 s, 1 s * 2^(n-1))
bad=$(awk '{ d = 1000 * 2 ^ ($1 - 1); if (d > 4000) d = 4000; if ($2 < d / 2 || $2 > d) print }' <<<"$delays")
check_eq "every backoff is within its doubling, capped at 4 s" "$bad" ""
check "the failures in a row keep counting" test "$(awk 'END { print $1 }' <<<"$delays")" -ge 7
check "the cap is reached" grep -q ' [2-4][0-9][0-9][0-9]$' <<<"$delays"
