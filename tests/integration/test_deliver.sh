#!/usr/bin/env bash
# `mail2ticket deliver JOB < message`, as Postfix or Exim would run it: the
# exit codes an MTA acts on (0 recorded, 65 recorded as badmail, 75 retry:
# database unreachable or stopped, broken configuration), a redelivery and
# two concurrent deliveries of the same mail making one ticket.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
good_url=$DATABASE_URL
conf=$TEST_TMP/m2t.yaml
# any job will do: deliver never connects to the job's server
make_config "$conf" "    limits: { max_header_bytes: 4KB }"
sed -i 's/max_message_size: 25MB/max_message_size: 8KB/' "$conf"
"$M2T_BIN" -c "$conf" migrate >/dev/null

deliver_mail() { # FILE [ARGS...] -> rc, err
	local file=$1
	shift
	rc=0
	"$M2T_BIN" -c "$conf" "$@" deliver support-inbox <"$file" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
	err=$(cat "$TEST_TMP/err")
}

deliver_mail "$MAIL/plain.eml"
check_eq "a mail: exit 0" "$rc" 0 || printf '%s\n' "$err" | tail -n 5
check_eq "a mail: one ticket" "$(psql_q 'select count(*) from tickets')" 1
check_eq "recorded as piped: mailbox stdin, no UID, no key" \
	"$(psql_q "select count(*) from processed_messages where mailbox = 'stdin' and uid is null and source_key is null and sha256 is not null and message_id = 'printer-3-0001@example.org'")" 1
check_eq "the run is on record" "$(psql_q "select status || ' ' || mailbox || ' ' || tickets from job_runs")" "ok stdin 1"

deliver_mail "$MAIL/plain.eml"
check_eq "the MTA delivers it again: exit 0" "$rc" 0
check_eq "still one ticket" "$(psql_q 'select count(*) from tickets')" 1
check "the second was already done" grep -q "already_done=1" <<<"$err"

# two deliveries of a new mail at once (an MTA retrying while the first runs)
sed 's/^Message-ID: <.*>/Message-ID: <twice@example.org>/' "$MAIL/reply_to.eml" > "$TEST_TMP/twice.eml"
rc1=0 rc2=0
"$M2T_BIN" -c "$conf" deliver support-inbox <"$TEST_TMP/twice.eml" >/dev/null 2>&1 & p1=$!
"$M2T_BIN" -c "$conf" deliver support-inbox <"$TEST_TMP/twice.eml" >/dev/null 2>&1 & p2=$!
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
check_eq "concurrent: both exit 0" "$rc1 $rc2" "0 0"
check_eq "concurrent: one ticket" \
	"$(psql_q "select count(*) from articles where message_id = 'twice@example.org'")" 1

# badmail: recorded, exit 65, the reason kept
: >"$TEST_TMP/empty.eml"
deliver_mail "$TEST_TMP/empty.eml"
check_eq "empty input: EX_DATAERR" "$rc" 65
check "empty input: says badmail" grep -q "recorded as badmail" <<<"$err"
{
	printf 'From: H <h@example.org>\r\nSubject: header bomb\r\nMessage-ID: <hdr@example.org>\r\n'
	for i in $(seq 1 100); do printf 'X-Filler-%d: %s\r\n' "$i" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; done
	printf '\r\nbody\r\n'
} >"$TEST_TMP/bighdr.eml"
deliver_mail "$TEST_TMP/bighdr.eml"
check_eq "over the header limit: EX_DATAERR" "$rc" 65
check "over the header limit: reason kept" grep -qi "header" \
	<<<"$(psql_q "select reason from processed_messages where message_id is null and outcome = 'badmail' and size > 1000")"
{
	printf 'From: Big <big@example.org>\r\nSubject: too big\r\nMessage-ID: <big-stdin@example.org>\r\n\r\n'
	for i in $(seq 1 300); do printf '%s\r\n' "0123456789012345678901234567890123456789012345678901234567890123456789"; done
} >"$TEST_TMP/big.eml"
size=$(stat -c %s "$TEST_TMP/big.eml")
sha=$(sha256sum "$TEST_TMP/big.eml" | cut -d' ' -f1)
deliver_mail "$TEST_TMP/big.eml"
check_eq "over max_message_size: EX_DATAERR" "$rc" 65
check_eq "over max_message_size: recorded with its size and sha256" \
	"$(psql_q "select count(*) from processed_messages where outcome = 'badmail' and size = $size and sha256 = '$sha' and reason like '%exceeds max_message_size 8 KB%'")" 1
deliver_mail "$TEST_TMP/big.eml"
check_eq "over max_message_size again: EX_DATAERR" "$rc" 65
check_eq "over max_message_size again: one record" \
	"$(psql_q "select count(*) from processed_messages where sha256 = '$sha'")" 1
check_eq "no ticket for any badmail" "$(psql_q 'select count(*) from tickets')" 2

# 75: the database unreachable, or stopped
records=$(psql_q 'select count(*) from processed_messages')
sed 's/^Message-ID: <.*>/Message-ID: <later@example.org>/' "$MAIL/plain.eml" > "$TEST_TMP/later.eml"
DATABASE_URL="postgresql://postgres@127.0.0.1:1/none?connect_timeout=3"
deliver_mail "$TEST_TMP/later.eml"
DATABASE_URL=$good_url
check_eq "database unreachable: EX_TEMPFAIL" "$rc" 75
check "database unreachable: says so" grep -q "database" <<<"$err"
if [ -n "${M2T_SERVERS_DIR:-}" ]; then
	on_exit bash "$M2T_SCRIPTS/servers.sh" pg-start "$M2T_SERVERS_DIR"
	bash "$M2T_SCRIPTS/servers.sh" pg-stop "$M2T_SERVERS_DIR" fast
	deliver_mail "$TEST_TMP/later.eml"
	bash "$M2T_SCRIPTS/servers.sh" pg-start "$M2T_SERVERS_DIR"
	check_eq "database stopped: EX_TEMPFAIL" "$rc" 75
else
	skip "database stopped: EX_TEMPFAIL" "no servers directory"
fi
check_eq "nothing recorded meanwhile" "$(psql_q 'select count(*) from processed_messages')" "$records"
deliver_mail "$TEST_TMP/later.eml"
check_eq "the MTA's retry succeeds" "$rc" 0
check_eq "and makes the ticket" "$(psql_q "select count(*) from articles where message_id = 'later@example.org'")" 1

# 75, never a bounce, for everything that is ours to fix
rc=0
"$M2T_BIN" -c "$conf" deliver no-such-job <"$MAIL/plain.eml" >/dev/null 2>&1 || rc=$?
check_eq "unknown job: EX_TEMPFAIL" "$rc" 75
sed 's/^    host: /    hots: /' "$conf" >"$TEST_TMP/broken.yaml"
rc=0
"$M2T_BIN" -c "$TEST_TMP/broken.yaml" deliver support-inbox <"$MAIL/plain.eml" >/dev/null 2>&1 || rc=$?
check_eq "broken configuration: EX_TEMPFAIL" "$rc" 75
rc=0
"$M2T_BIN" -c "$conf" deliver </dev/null >/dev/null 2>&1 || rc=$?
check_eq "no job named: EX_TEMPFAIL" "$rc" 75
