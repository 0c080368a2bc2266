#!/usr/bin/env bash
# keep_on_server on IMAP against the real Dovecot: done mail stays in the
# mailbox, is marked \Seen after COMMIT with one UID STORE per range (badmail
# left unread), and is never fetched again; the same mail under a new UID (a
# copy, the same file delivered again, every mail after a UIDVALIDITY change)
# is not ticketed, gets a row for its new UID and is not fetched at the run
# after; fetch: unseen lists only what is not marked yet; a mail a person
# marked unread again is marked once more, never fetched; test-job and
# mark_seen: false change nothing (EXAMINE); a moving job after a
# UIDVALIDITY change moves the old mail where its first plan said, without
# a ticket. A mailbox where \Seen cannot be stored is tested against the
# scripted server (tests/unit/test_imap_keep.c).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox

run_job() { # CONFIG [ENV...] -> rc, out; the debug log in $TEST_TMP/run.log
	local cfg=$1
	shift
	rc=0
	out=$(env "$@" "$M2T_BIN" -v -c "$cfg" run support-inbox 2>"$TEST_TMP/run.log") || rc=$?
}

# UIDs go on from where earlier tests left the mailbox: mail is named by its
# position in INBOX (1 = the lowest UID) while nothing leaves it.
uid_at() {
	dove -f tab fetch -u "$M2T_IMAP_USER" 'uid' mailbox INBOX all | tail -n +2 | sort -n |
		sed -n "$1p"
}
# positions of the INBOX mail flagged \Seen, as Dovecot has them: "1,2"
seen_uids() {
	dove -f tab fetch -u "$M2T_IMAP_USER" 'uid flags' mailbox INBOX all | tail -n +2 |
		sort -n | awk -F '\t' '$2 ~ /\\Seen/ { print NR }' | paste -sd, -
}
# "listed=N fetched=N" of the run's job.done line
listed_fetched() {
	grep -o 'event=job.done .*' "$TEST_TMP/run.log" | grep -o 'listed=[0-9]* fetched=[0-9]*'
}
stores() { grep -c 'line="A[0-9]* UID STORE' "$TEST_TMP/run.log" || true; }
new_uidvalidity() {
	dove mailbox update -u "$M2T_IMAP_USER" --uid-validity "$1" INBOX
}

cat >"$TEST_TMP/rules.yaml" <<'YAML'
statements:
  - name: orders go elsewhere
    if: { subject: { contains: "Order 4711" } }
    then: [ { reject: "orders go to the shop" } ]
YAML
make_config "$TEST_TMP/keep.yaml" "    keep_on_server: true
    rules: rules.yaml"
"$M2T_BIN" -c "$TEST_TMP/keep.yaml" migrate >/dev/null

out=$("$M2T_BIN" -c "$TEST_TMP/keep.yaml" test-connection support 2>&1) && rc=0 || rc=$?
check_eq "test-connection: exits 0" "$rc" 0
check "test-connection: says the mail stays and is marked" \
	grep -q "keep_on_server: mail stays in the mailbox, marked \\\\Seen after each run" <<<"$out"
check "test-connection: no archive or badmail folder shown" bash -c '! grep -q "archive \|badmail " <<<"$1"' _ "$out"

# --- run twice: tickets once, marked \Seen, nothing fetched the second time ------
deliver "$MAIL/plain.eml" "$MAIL/html_attachment.eml" "$MAIL/reply_to.eml"
U1=$(uid_at 1) U2=$(uid_at 2) U3=$(uid_at 3)
run_job "$TEST_TMP/keep.yaml"
check_eq "keep: run exits 0" "$rc" 0 || tail -n 20 "$TEST_TMP/run.log"
check "keep: two tickets and the order rejected" \
	grep -q "fetched 3, tickets 2, appended 0, ignored 0, badmail 1, already done 0" <<<"$out"
check "keep: the mailbox is SELECTed, not EXAMINEd" grep -q 'line="A[0-9]* SELECT \\"INBOX\\""' "$TEST_TMP/run.log"
check_eq "keep: one UID STORE for both" "$(stores)" 1
check "keep: ... in a range, silent" grep -q "UID STORE $U1:$U2 +FLAGS.SILENT (\\\\\\\\Seen)" "$TEST_TMP/run.log"
check "keep: STORE only after COMMIT" \
	bash -c 'awk "/event=message.stored/ { s = NR } /UID STORE/ && !t { t = NR } END { exit !(s && t > s) }" "$1"' _ "$TEST_TMP/run.log"
check_eq "keep: the two done mails are \\Seen, the badmail is not" "$(seen_uids)" "1,2"
check_eq "keep: all three still in INBOX" "$(imap_count)" 3
check_eq "keep: no archive folder made" "$(imap_count Processed)" 0
check_eq "keep: three rows" "$(psql_q "select count(*) from processed_messages where uid in ($U1, $U2, $U3)")" 3

run_job "$TEST_TMP/keep.yaml"
check_eq "keep again: run exits 0" "$rc" 0
check "keep again: nothing done" \
	grep -q "fetched 0, tickets 0, appended 0, ignored 0, badmail 0, already done 0" <<<"$out"
check_eq "keep again: three listed, no body fetched" "$(listed_fetched)" "listed=3 fetched=0"
check "keep again: no BODY.PEEK[] sent" bash -c '! grep -q "BODY.PEEK\[\]" "$1"' _ "$TEST_TMP/run.log"
check_eq "keep again: nothing stored" "$(stores)" 0
check_eq "keep again: still two tickets" "$(psql_q 'select count(*) from tickets')" 2

# --- the same mail under a new UID: a COPY, and the same file delivered again ------
dove copy -u "$M2T_IMAP_USER" INBOX mailbox INBOX uid "$U1"
deliver "$MAIL/plain.eml"
U4=$(uid_at 4) U5=$(uid_at 5)
run_job "$TEST_TMP/keep.yaml"
check_eq "copies: run exits 0" "$rc" 0
check "copies: recognised, no ticket" \
	grep -q "fetched 2, tickets 0, appended 0, ignored 0, badmail 0, already done 2" <<<"$out"
check_eq "copies: a row for each new UID, naming the first" \
	"$(psql_q "select count(*) from processed_messages where uid in ($U4, $U5) and sha256 is null
		and outcome = 'ticket' and reason = 'same message as processed message ' ||
		(select id from processed_messages where uid = $U1)")" 2
check_eq "copies: marked \\Seen too" "$(seen_uids)" "1,2,4,5"
check_eq "copies: still two tickets" "$(psql_q 'select count(*) from tickets')" 2
run_job "$TEST_TMP/keep.yaml"
check_eq "copies: the run after fetches nothing" "$(listed_fetched)" "listed=5 fetched=0"

# --- UIDVALIDITY changed: every UID is new; no ticket, a row per new UID -------------
new_uidvalidity 4242
run_job "$TEST_TMP/keep.yaml"
check_eq "uidvalidity: run exits 0" "$rc" 0 || tail -n 20 "$TEST_TMP/run.log"
check "uidvalidity: the change is logged" grep -q 'event=job.uidvalidity_changed .*now=4242' "$TEST_TMP/run.log"
check "uidvalidity: fetched once, found done by content" \
	grep -q "fetched 5, tickets 0, appended 0, ignored 0, badmail 0, already done 5" <<<"$out"
check_eq "uidvalidity: a row for each new UID" \
	"$(psql_q "select count(*) from processed_messages where uidvalidity = 4242 and sha256 is null
		and reason like 'same message as processed message %'")" 5
check_eq "uidvalidity: the badmail is remembered as badmail" \
	"$(psql_q "select outcome from processed_messages where uidvalidity = 4242 and uid = $U3")" badmail
check_eq "uidvalidity: still two tickets" "$(psql_q 'select count(*) from tickets')" 2
check_eq "uidvalidity: the badmail still unread" "$(seen_uids)" "1,2,4,5"
run_job "$TEST_TMP/keep.yaml"
check_eq "uidvalidity: the run after fetches nothing" "$(listed_fetched)" "listed=5 fetched=0"

# --- fetch: unseen: only what is not marked yet is listed -------------------------
make_config "$TEST_TMP/unseen.yaml" "    keep_on_server: true
    fetch: unseen
    rules: rules.yaml"
run_job "$TEST_TMP/unseen.yaml"
check_eq "unseen: only the unread badmail is listed, not fetched" "$(listed_fetched)" "listed=1 fetched=0"
sed "s/^Message-ID: <printer-3-0001@/Message-ID: <printer-keep-6@/" "$MAIL/plain.eml" >"$TEST_TMP/6.eml"
deliver "$TEST_TMP/6.eml"
run_job "$TEST_TMP/unseen.yaml"
check "unseen: the new mail is a ticket" grep -q "fetched 1, tickets 1, " <<<"$out"
check_eq "unseen: listed with the badmail" "$(listed_fetched)" "listed=2 fetched=1"
check "unseen: found by UID SEARCH UNSEEN" grep -q 'UID SEARCH UNSEEN' "$TEST_TMP/run.log"
check_eq "unseen: and marked" "$(seen_uids)" "1,2,4,5,6"
run_job "$TEST_TMP/unseen.yaml"
check_eq "unseen: marked mail is not listed again" "$(listed_fetched)" "listed=1 fetched=0"
# a person marks a done mail unread: marked again, not fetched, not ticketed
dove flags remove -u "$M2T_IMAP_USER" '\Seen' mailbox INBOX uid "$U2"
run_job "$TEST_TMP/unseen.yaml"
check "unread again: only marked" \
	grep -q "fetched 0, tickets 0, appended 0, ignored 0, badmail 0, already done 1" <<<"$out"
check "unread again: one STORE of that UID" grep -q "UID STORE $U2 +FLAGS.SILENT" "$TEST_TMP/run.log"
check_eq "unread again: \\Seen again" "$(seen_uids)" "1,2,4,5,6"

# --- a test run and mark_seen: false change nothing ---------------------------------
sed "s/^Message-ID: <printer-3-0001@/Message-ID: <printer-keep-7@/" "$MAIL/plain.eml" >"$TEST_TMP/7.eml"
deliver "$TEST_TMP/7.eml"
state() {
	dove -f tab mailbox status -u "$M2T_IMAP_USER" 'messages uidnext uidvalidity unseen' '*' | sort
	dove -f tab fetch -u "$M2T_IMAP_USER" 'mailbox uid flags' all | sort
}
state >"$TEST_TMP/state.before"
rc=0
"$M2T_BIN" -v -c "$TEST_TMP/keep.yaml" test-job support-inbox >/dev/null 2>"$TEST_TMP/tj.log" || rc=$?
check_eq "test-job: exits 0" "$rc" 0
check "test-job: EXAMINE" grep -q 'line="A[0-9]* EXAMINE \\"INBOX\\""' "$TEST_TMP/tj.log"
check "test-job: no STORE" bash -c '! grep -q "UID STORE" "$1"' _ "$TEST_TMP/tj.log"
state >"$TEST_TMP/state.after"
check "test-job: UIDs, flags and counts unchanged" diff "$TEST_TMP/state.before" "$TEST_TMP/state.after"

make_config "$TEST_TMP/nomark.yaml" "    keep_on_server: true
    mark_seen: false"
run_job "$TEST_TMP/nomark.yaml"
check_eq "mark_seen false: run exits 0" "$rc" 0
check "mark_seen false: the new mail is a ticket" grep -q "fetched 1, tickets 1, " <<<"$out"
check "mark_seen false: EXAMINE" grep -q 'line="A[0-9]* EXAMINE \\"INBOX\\""' "$TEST_TMP/run.log"
check "mark_seen false: no STORE" bash -c '! grep -q "UID STORE" "$1"' _ "$TEST_TMP/run.log"
check_eq "mark_seen false: left unread" "$(seen_uids)" "1,2,4,5,6"

# --- a moving job after a UIDVALIDITY change: moved, not ticketed -------------------
new_uidvalidity 4343
make_config "$TEST_TMP/move.yaml" "    rules: rules.yaml"
tickets=$(psql_q 'select count(*) from tickets')
run_job "$TEST_TMP/move.yaml"
check_eq "move: run exits 0" "$rc" 0 || tail -n 20 "$TEST_TMP/run.log"
check "move: every mail found done by content" \
	grep -q "fetched 7, tickets 0, appended 0, ignored 0, badmail 0, already done 7" <<<"$out"
check_eq "move: no ticket" "$(psql_q 'select count(*) from tickets')" "$tickets"
check_eq "move: INBOX empty" "$(imap_count)" 0
check_eq "move: the done mail archived" "$(imap_count Processed)" 6
check_eq "move: the rejected one in badmail, as its first plan said" "$(imap_count Badmail)" 1

# --- ... and to the folder of the first one's move_to -------------------------------
DATABASE_URL=$(new_db)
reset_mailbox
cat >"$TEST_TMP/news.yaml" <<'YAML'
statements:
  - name: newsletters
    if: { subject: { starts_with: Newsletter } }
    then: [ { ignore: newsletter }, { move_to: Lists/News }, stop ]
YAML
make_config "$TEST_TMP/news-job.yaml" "    rules: news.yaml"
"$M2T_BIN" -c "$TEST_TMP/news-job.yaml" migrate >/dev/null
sed -e "s/^Message-ID: <printer-3-0001@/Message-ID: <news-keep-1@/" \
	-e "s/^Subject: .*/Subject: Newsletter 1/" "$MAIL/plain.eml" >"$TEST_TMP/news.eml"
deliver "$TEST_TMP/news.eml" "$MAIL/plain.eml"
run_job "$TEST_TMP/news-job.yaml" M2T_FAULT=after-commit
check_eq "move_to: killed after COMMIT" "$rc" 137
check_eq "move_to: both still in INBOX" "$(imap_count)" 2
new_uidvalidity 4444
run_job "$TEST_TMP/news-job.yaml"
check_eq "move_to: run exits 0" "$rc" 0 || tail -n 20 "$TEST_TMP/run.log"
check "move_to: both found done by content" \
	grep -q "fetched 2, tickets 0, appended 0, ignored 0, badmail 0, already done 2" <<<"$out"
check_eq "move_to: the newsletter in its rule's folder" "$(imap_count Lists/News)" 1
check_eq "move_to: the other one archived" "$(imap_count Processed)" 1
check_eq "move_to: one ticket" "$(psql_q 'select count(*) from tickets')" 1
