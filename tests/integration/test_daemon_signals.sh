#!/usr/bin/env bash
# The daemon against the real servers: it runs its jobs by their schedules,
# serves /metrics and /healthz, keeps running the old configuration when a
# reload (SIGHUP) finds errors and applies a good one, disables a job after
# a fatal error until the next reload (other jobs go on), and on SIGTERM
# finishes the message in hand, moves what was committed, frees its leases
# and exits 0.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
GEN=$M2T_ROOT/build/rel/tools/gen_mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
conf=$TEST_TMP/m2t.yaml
port=$(free_port)
base=$TEST_TMP/base.yaml
make_config "$base" "    batch_size: 20"
sed -i 's|schedule: "\*/5 \* \* \* \*"|schedule: "@every 1s"|' "$base"
{ echo "metrics_listen: 127.0.0.1:$port"; cat "$base"; } >"$conf"
"$M2T_BIN" -c "$conf" migrate >/dev/null
log=$TEST_TMP/daemon.log

processed() { psql_q "select count(*) from processed_messages where mailbox = '${1:-INBOX}'"; }
processed_is() { [ "$(processed "${2:-INBOX}")" = "$1" ]; }
log_has() { grep -q -- "$1" "$log"; }
metrics() { curl -s --max-time 5 "http://127.0.0.1:$port/metrics"; }

"$M2T_BIN" -c "$conf" daemon --workers 2 2>"$log" &
dpid=$!
on_exit kill -KILL "$dpid"

check "the daemon starts" wait_until 20 log_has "event=daemon.start"
check_eq "healthz says ok" "$(curl -s --max-time 5 "http://127.0.0.1:$port/healthz")" "ok"
check_eq "an unknown path is 404" \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/nope")" 404

deliver "$MAIL/plain.eml" "$MAIL/html_attachment.eml" "$MAIL/reply_to.eml"
check "three mails processed by schedule" wait_until 30 processed_is 3
inbox_empty() { [ "$(count_inbox)" = 0 ]; }
check "and moved out of the INBOX" wait_until 10 inbox_empty
check "metrics count the tickets" wait_until 10 \
	sh -c "curl -s --max-time 5 http://127.0.0.1:$port/metrics | grep -qx 'mail2ticket_messages_total{job=\"support-inbox\",outcome=\"ticket\"} 3'"
m=$(metrics)
check "metrics count ok runs" grep -Eq '^mail2ticket_runs_total\{job="support-inbox",status="ok"\} [1-9]' <<<"$m"
check "metrics show the last success" grep -Eq '^mail2ticket_last_success_timestamp_seconds\{job="support-inbox"\} 1[0-9]{9}$' <<<"$m"
check "metrics have the run duration histogram" grep -q '^mail2ticket_run_duration_seconds_bucket{job="support-inbox",le="+Inf"}' <<<"$m"
check "metrics name this daemon" grep -q "^mail2ticket_daemon_info{daemon_id=\"[0-9a-f]\{16\}\"" <<<"$m"

# A reload with an error keeps the running configuration.
cp "$conf" "$TEST_TMP/good.yaml"
sed -i 's/batch_size: 20/batch_size: lots/' "$conf"
bad_line=$(grep -n 'batch_size: lots' "$conf" | cut -d: -f1)
kill -HUP "$dpid"
check "a broken reload is logged with its position" \
	wait_until 10 log_has "event=config.reload_failed error=\"$conf:$bad_line:17: jobs.support-inbox.batch_size"
check "the daemon keeps running" kill -0 "$dpid"
deliver "$MAIL/plain.eml"
sed 's/Message-ID: <printer-3-0001@example.org>/Message-ID: <printer-3-0009@example.org>/' \
	"$MAIL/plain.eml" >"$TEST_TMP/plain9.eml"
deliver "$TEST_TMP/plain9.eml"
# the copy of plain.eml is done by content, and recorded under its own UID too
check "with the old configuration" wait_until 30 processed_is 5

# A good reload applies: a new job for another folder.
create_folder Second
cp "$TEST_TMP/good.yaml" "$conf"
cat >>"$conf" <<'EOF'
  second:
    account: support
    mailbox: Second
    schedule: "@every 1s"
EOF
kill -HUP "$dpid"
check "a good reload is applied" wait_until 10 log_has "event=config.reloaded jobs=2"
check "the added job is announced" log_has "event=job.added job=second"
sed 's/^Message-ID: <.*>/Message-ID: <second-folder-1@example.org>/' "$MAIL/reply_to.eml" \
	>"$TEST_TMP/second.eml"
deliver_to Second "$TEST_TMP/second.eml"
check "the added job runs" wait_until 30 processed_is 1 Second

# A fatal error (the schema broken under the daemon) disables the job until
# a reload; the other job goes on.
psql_q "alter table mailbox_state rename to mailbox_state_away" >/dev/null
sed 's/Message-ID: <printer-3-0001@example.org>/Message-ID: <printer-3-0010@example.org>/' \
	"$MAIL/plain.eml" >"$TEST_TMP/plain10.eml"
deliver "$TEST_TMP/plain10.eml"
check "a fatal error disables the job" wait_until 20 log_has "event=job.disabled job=support-inbox class=fatal"
check "metrics show it disabled" wait_until 10 \
	sh -c "curl -s --max-time 5 http://127.0.0.1:$port/metrics | grep -qx 'mail2ticket_job_disabled{job=\"support-inbox\"} 1'"
st=$("$M2T_BIN" -c "$conf" status)
check "status says a fatal error stopped it" grep -q "next run     stopped by a fatal error" <<<"$st"
check "status --json too" grep -q '"name":"support-inbox",.*"stopped_by_fatal_error":true' \
	<<<"$("$M2T_BIN" -c "$conf" status --json)"
psql_q "alter table mailbox_state_away rename to mailbox_state" >/dev/null
sleep 2
check_eq "a disabled job stays disabled" "$(count_inbox)" 1
check_eq "while it failed once only" "$(grep -c 'event=job.failed job=support-inbox' "$log")" 1
# the reload also drops the job "second"
cp "$TEST_TMP/good.yaml" "$conf"
kill -HUP "$dpid"
check "a reload enables it again" wait_until 10 log_has "event=job.enabled job=support-inbox"
check "and it runs" wait_until 30 processed_is 6
check "a job removed by a reload is announced" log_has "event=job.removed job=second"
check "and gone from the metrics" sh -c "! curl -s --max-time 5 http://127.0.0.1:$port/metrics | grep -q 'job=\"second\"'"

# A reload that changes metrics_listen moves the endpoint at once.
port2=$(free_port)
sed -i "s/^metrics_listen: 127.0.0.1:$port\$/metrics_listen: 127.0.0.1:$port2/" "$conf"
kill -HUP "$dpid"
check "a new metrics_listen is taken at the reload" \
	wait_until 10 log_has "event=metrics.listen listen=\"127.0.0.1:$port2\""
check_eq "healthz answers on the new port" "$(curl -s --max-time 5 "http://127.0.0.1:$port2/healthz")" "ok"
check "and no more on the old one" sh -c "! curl -s --max-time 2 http://127.0.0.1:$port/healthz"
# the same port under another name: the old listener is closed first
sed -i "s/^metrics_listen: 127.0.0.1:$port2\$/metrics_listen: localhost:$port2/" "$conf"
kill -HUP "$dpid"
check "the same port under another name" \
	wait_until 10 log_has "event=metrics.listen listen=\"localhost:$port2\""
check_eq "still answers" "$(curl -s --max-time 5 "http://127.0.0.1:$port2/healthz")" "ok"
check "no listen failure logged" sh -c "! grep -q 'event=metrics.listen_failed' '$log'"
port=$port2

# SIGTERM in the middle of a large run: the message in hand is finished,
# what was committed is moved, the lease is freed, exit 0.
if [ ! -x "$GEN" ]; then
	skip "sigterm mid-run" "build/rel/tools/gen_mail missing (make tools)"
	exit 0
fi
"$GEN" "$M2T_MAILDIR" 3000 7 "$M2T_MAIL_UID" "$M2T_MAIL_GID"
processed_over() { [ "$(processed INBOX)" -gt "$1" ]; }
check "a large run starts" wait_until 60 processed_over 6
kill -TERM "$dpid"
rc=0
wait_until 60 sh -c "! kill -0 $dpid" || true
wait "$dpid" || rc=$?
check_eq "SIGTERM: exit 0" "$rc" 0
check "the daemon says it stopped" log_has "event=daemon.stopped"
check_eq "the run stopped between messages" \
	"$(psql_q "select status from job_runs where job = 'support-inbox' order by id desc limit 1")" stopped
done_inbox=$(processed INBOX)
left=$(count_inbox)
check "it stopped early" test "$done_inbox" -lt 3006
check_eq "every mail is either processed and moved, or untouched in the INBOX" \
	"$((done_inbox + left))" 3006
check_eq "nothing runs after exit" "$(psql_q "select count(*) from job_runs where status = 'running'")" 0
check_eq "the leases are free" "$(psql_q "select count(*) from job_leases where holder_id is not null")" 0
check_eq "the stopped job is due again at once" \
	"$(psql_q "select retry_at <= now() from job_leases where job = 'support-inbox'")" t

# The rest is done by a one-shot pass.
"$M2T_BIN" -c "$conf" daemon --once 2>"$TEST_TMP/once.log" && rc=0 || rc=$?
check_eq "daemon --once finishes the rest" "$rc" 0
check_eq "the INBOX is empty" "$(count_inbox)" 0
check_eq "every mail processed once" \
	"$(psql_q "select count(*) || ' ' || count(distinct uid) from processed_messages where mailbox = 'INBOX'")" \
	"3006 3006"
