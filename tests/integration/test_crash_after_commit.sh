#!/usr/bin/env bash
# A crash between COMMIT and the move on the server must not create a second
# ticket: the process is killed (SIGKILL, from a fault point compiled into
# the sanitizer build) right after the batch's COMMIT, with every mail still
# in the INBOX. The next run finds the processed records and only moves.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
conf=$TEST_TMP/m2t.yaml
make_config "$conf"
deliver "$MAIL/plain.eml" "$MAIL/html_attachment.eml" "$MAIL/reply_to.eml"
"$M2T_BIN" -c "$conf" migrate >/dev/null

rc=0
M2T_FAULT=after-commit "$M2T_BIN" -c "$conf" run support-inbox >/dev/null 2>"$TEST_TMP/crash.err" || rc=$?
check_eq "the run was killed after COMMIT" "$rc" 137
check "the kill came from the fault point" grep -q "fault: injected kill" "$TEST_TMP/crash.err"
check_eq "the tickets were committed" "$(psql_q 'select count(*) from tickets')" 3
check_eq "the mails are still in the INBOX" "$(count_inbox)" 3
check_eq "nothing was moved" "$(count_folder Processed)" 0

out=$("$M2T_BIN" -c "$conf" run support-inbox 2>"$TEST_TMP/run.err") && rc=0 || rc=$?
check_eq "the next run succeeds" "$rc" 0
check "it only disposes what was done" grep -q "fetched 0, tickets 0, appended 0, ignored 0, badmail 0, already done 3" <<<"$out"
check_eq "no second ticket" "$(psql_q 'select count(*) from tickets')" 3
check_eq "one processed record per mail" "$(psql_q 'select count(*) from processed_messages')" 3
check_eq "the INBOX is empty" "$(count_inbox)" 0
check_eq "all three are archived" "$(count_folder Processed)" 3

# A kill before COMMIT leaves nothing behind: the mail is simply done again.
deliver "$MAIL/plain.eml"
sed 's/Message-ID: <printer-3-0001@example.org>/Message-ID: <printer-3-0002@example.org>/' \
	"$MAIL/plain.eml" > "$TEST_TMP/plain2.eml"
deliver "$TEST_TMP/plain2.eml"
rc=0
M2T_FAULT=before-commit "$M2T_BIN" -c "$conf" run support-inbox >/dev/null 2>&1 || rc=$?
check_eq "a run killed before COMMIT" "$rc" 137
check_eq "left no ticket behind" "$(psql_q 'select count(*) from tickets')" 3
check_eq "and both mails in the INBOX" "$(count_inbox)" 2
out=$("$M2T_BIN" -c "$conf" run support-inbox 2>"$TEST_TMP/run.err") && rc=0 || rc=$?
check "the retry tickets the new mail once and recognises the copy" \
	grep -q "fetched 2, tickets 1, .*already done 1" <<<"$out"
check_eq "four tickets in all" "$(psql_q 'select count(*) from tickets')" 4
check_eq "the INBOX is empty again" "$(count_inbox)" 0
