#!/usr/bin/env bash
# Push (schedule: idle) in the daemon against the real Dovecot: mail
# delivered while the daemon idles becomes a ticket; IDLE is re-issued
# (short interval here); a server that drops the session is reconnected to
# and the job runs again; a stalled server on another job delays nothing;
# SIGHUP ends idling for a job that no longer idles; SIGTERM ends IDLE
# (DONE, LOGOUT) and gives the lease back. No timed assertions: every wait
# is a bounded loop.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
STALL=$M2T_ROOT/build/rel/tools/stall_server
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
conf=$TEST_TMP/m2t.yaml
stall_port=$(free_port)
make_config "$conf"
sed -i 's|schedule: "\*/5 \* \* \* \*"|schedule: idle|' "$conf"
sed -i 's|^# mail2ticket test configuration|log_level: debug|' "$conf"
# a second account whose server accepts and never answers
sed -i "/^jobs:/i\\
  stalled:\\
    protocol: imap\\
    host: 127.0.0.1\\
    port: $stall_port\\
    security: none\\
    username: nobody\\
    password: nothing\\
    timeout: 3s" "$conf"
cat >>"$conf" <<EOT
  stalled-job:
    account: stalled
    mailbox: INBOX
    schedule: idle
EOT
"$M2T_BIN" -c "$conf" migrate >/dev/null
"$STALL" --port "$stall_port" --seconds 300 &
spid=$!
on_exit kill -TERM "$spid"

log=$TEST_TMP/daemon.log
processed() { psql_q "select count(*) from processed_messages"; }
processed_is() { [ "$(processed)" = "$1" ]; }
log_count() { grep -c -- "$1" "$log" || true; }
log_has() { grep -q -- "$1" "$log"; }
log_at_least() { [ "$(log_count "$1")" -ge "$2" ]; }

# mail that came while nobody idled: the run at the start takes it
deliver "$MAIL/plain.eml"
M2T_IDLE_REISSUE=1s M2T_IDLE_ANSWER=2s M2T_IDLE_BACKOFF_MAX=2s \
	"$M2T_BIN" -c "$conf" daemon --workers 2 2>"$log" &
dpid=$!
on_exit kill -KILL "$dpid"

check "the daemon starts" wait_until 20 log_has "event=daemon.start"
check "the job idles" wait_until 20 log_has "event=job.idle job=support-inbox mode=idle"
check "the mail there before is taken by the run at the start" wait_until 20 processed_is 1
check_eq "the lease is this daemon's while it idles" \
	"$(psql_q "select holder_id is not null from job_leases where job = 'support-inbox'")" t

deliver "$MAIL/html_attachment.eml"
check "mail delivered during IDLE becomes a ticket" wait_until 20 processed_is 2
check "IDLE is re-issued (DONE, IDLE) at the interval" wait_until 20 \
	log_at_least "event=imap.idle_reissue" 2
check "the stalled server is found stalled, and retried" wait_until 30 \
	log_has "event=job.retry job=stalled-job"

# the server drops every session of the user: reconnect, run again
dove kick "$M2T_IMAP_USER" >/dev/null 2>&1 || true
check "a dropped session is noticed" wait_until 20 log_has "event=job.idle_lost job=support-inbox"
check "and the job idles again" wait_until 30 log_at_least "event=job.idle job=support-inbox mode=idle" 2
deliver "$MAIL/reply_to.eml"
check "mail after the reconnect becomes a ticket" wait_until 20 processed_is 3
check_eq "the stalled job never ran a message" \
	"$(psql_q "select count(*) from job_runs where job = 'stalled-job' and status = 'ok'")" 0

# SIGHUP: the job is no longer an idle job: its IDLE ends, its lease goes back
cp "$conf" "$TEST_TMP/idle.yaml"
sed -i '0,/schedule: idle/s|schedule: idle|schedule: "0 0 1 1 *"|' "$conf"
kill -HUP "$dpid"
check "a reload ends idling for a job that no longer idles" wait_until 20 \
	log_has "event=job.idle_end job=support-inbox reason=\"no longer an idle job\""
cp "$TEST_TMP/idle.yaml" "$conf"
kill -HUP "$dpid"
check "a reload makes it idle again" wait_until 30 \
	log_at_least "event=job.idle job=support-inbox mode=idle" 3

kill -TERM "$dpid"
rc=0
for _ in $(seq 1 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.2; done
wait "$dpid" || rc=$?
check_eq "SIGTERM during IDLE: the daemon exits 0" "$rc" 0
check "the IDLE ended cleanly" log_has "event=job.idle_end job=support-inbox reason=\"stopping\""
check "DONE and LOGOUT were sent" log_has "event=imap.idle_end"
check_eq "the lease went back" \
	"$(psql_q "select count(*) from job_leases where holder_id is not null")" 0
