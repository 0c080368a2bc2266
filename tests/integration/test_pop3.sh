#!/usr/bin/env bash
# POP3 against the real Dovecot: the whole way over implicit TLS (995-style),
# STLS and plaintext, logins (auth: auto, AUTH LOGIN, APOP, USER/PASS; every
# SASL mechanism is in test_pop3_logins.sh);
# identity by UIDL; DELE only after COMMIT; badmail left on the server and
# remembered with its reason; keep_on_server; a kill between COMMIT and
# DELE, and between DELE and QUIT, neither losing nor duplicating a mail.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
password=$(cat "$M2T_IMAP_PASSWORD_FILE")

run_job() { # CONFIG [ENV...] -> rc, out; log in $TEST_TMP/run.log
	local cfg=$1
	shift
	rc=0
	out=$(env "$@" "$M2T_BIN" -v -c "$cfg" run support-inbox 2>"$TEST_TMP/run.log") || rc=$?
}

new_mail() { # a fresh Message-ID each time
	sed "s/^Message-ID: <printer-3-0001@/Message-ID: <printer-$1@/" "$MAIL/plain.eml" > "$TEST_TMP/$1.eml"
	echo "$TEST_TMP/$1.eml"
}

CFG_PROTOCOL=pop3 make_config "$TEST_TMP/pop3s.yaml"
"$M2T_BIN" -c "$TEST_TMP/pop3s.yaml" migrate >/dev/null

# --- the whole way over implicit TLS ------------------------------------------
deliver "$MAIL/plain.eml" "$MAIL/html_attachment.eml" "$MAIL/reply_to.eml"
run_job "$TEST_TMP/pop3s.yaml"
check_eq "pop3s: run exits 0" "$rc" 0 || tail -n 20 "$TEST_TMP/run.log"
check "pop3s: three tickets" grep -q "fetched 3, tickets 3, appended 0, ignored 0, badmail 0, already done 0" <<<"$out"
check "pop3s: implicit TLS and AUTH SCRAM-SHA-256" grep -q 'event=pop3.connect.*tls=yes.*login="AUTH SCRAM-SHA-256"' "$TEST_TMP/run.log"
check "pop3s: DELE only after COMMIT" \
	bash -c 'awk "/event=message.stored/ { s = NR } /line=\"DELE / && !d { d = NR } END { exit !(s && d > s) }" "$1"' _ "$TEST_TMP/run.log"
check_eq "pop3s: the maildrop is empty (QUIT applied the DELEs)" "$(count_inbox)" 0
check_eq "pop3s: identity is the UIDL, no IMAP UID" \
	"$(psql_q "select count(*) from processed_messages where source_key ~ '^[0-9a-f]{16}\$' and uid is null and uidvalidity is null and mailbox = 'INBOX'")" 3
check_eq "pop3s: subject decoded" \
	"$(psql_q "select t.subject from tickets t join articles a on a.ticket_id = t.id where a.message_id = 'invoice-77@example.net'")" \
	"Rechnung falsch – bitte prüfen"
check_eq "pop3s: job run recorded" "$(psql_q "select status || ' ' || tickets || ' ' || mailbox from job_runs")" "ok 3 INBOX"

# the same bytes again (a new UIDL): recognised by Message-ID + sha256
deliver "$MAIL/plain.eml"
run_job "$TEST_TMP/pop3s.yaml"
check "pop3s: a copy is already done" grep -q "tickets 0, .*already done 1" <<<"$out"
check_eq "pop3s: still three tickets" "$(psql_q 'select count(*) from tickets')" 3
check_eq "pop3s: the copy is deleted too" "$(count_inbox)" 0

# --- badmail stays on the server, remembered ------------------------------------
CFG_PROTOCOL=pop3 make_config "$TEST_TMP/small.yaml"
sed -i 's/max_message_size: 25MB/max_message_size: 2KB/' "$TEST_TMP/small.yaml"
{
	printf 'From: Big <big@example.org>\r\nSubject: too big\r\nMessage-ID: <big-pop3@example.org>\r\n\r\n'
	for i in $(seq 1 100); do printf '%s\r\n' "0123456789012345678901234567890123456789012345678901234567890123456789"; done
} > "$TEST_TMP/big.eml"
deliver "$TEST_TMP/big.eml" "$(new_mail small)"
run_job "$TEST_TMP/small.yaml"
check_eq "badmail: run exits 0" "$rc" 0
check "badmail: the big one is badmail, the small one a ticket" grep -q "fetched 1, tickets 1, .*badmail 1, already done 0" <<<"$out"
check_eq "badmail: left on the server" "$(count_inbox)" 1
check "badmail: reason kept" grep -q "exceeds max_message_size 2 KB" \
	<<<"$(psql_q "select reason from processed_messages where outcome = 'badmail' and source_key is not null")"
run_job "$TEST_TMP/small.yaml"
check "badmail: the next run leaves it alone, silently" grep -q "fetched 0, tickets 0, appended 0, ignored 0, badmail 0, already done 0" <<<"$out"
check_eq "badmail: still one record" "$(psql_q "select count(*) from processed_messages where outcome = 'badmail'")" 1
check_eq "badmail: still on the server" "$(count_inbox)" 1
check "badmail: no RETR of it again" bash -c '! grep -q "line=\"RETR" "$1"' _ "$TEST_TMP/run.log"
reset_mailbox

# --- STLS, plaintext with APOP, USER/PASS, AUTH LOGIN ---------------------------
one_run() { # NAME CONFIG LOGIN: one new mail, one ticket, deleted
	local name=$1 cfg=$2 login=$3 before
	before=$(psql_q 'select count(*) from tickets')
	deliver "$(new_mail "$name")"
	run_job "$cfg"
	check_eq "$name: run exits 0" "$rc" 0 || tail -n 20 "$TEST_TMP/run.log"
	check_eq "$name: one more ticket" "$(psql_q 'select count(*) from tickets')" $((before + 1))
	check "$name: logged in with $login" grep -q "event=pop3.connect.*login=\"$login\"" "$TEST_TMP/run.log"
	check "$name: password never logged" bash -c '! grep -qF "$1" "$2"' _ "$password" "$TEST_TMP/run.log"
	check_eq "$name: deleted" "$(count_inbox)" 0
}
CFG_PROTOCOL=pop3 CFG_SECURITY=starttls make_config "$TEST_TMP/stls.yaml"
one_run stls "$TEST_TMP/stls.yaml" "AUTH SCRAM-SHA-256"
check "stls: the session was upgraded" grep -q 'line="STLS"' "$TEST_TMP/run.log"
CFG_PROTOCOL=pop3 CFG_SECURITY=none make_config "$TEST_TMP/apop.yaml"
sed -i 's/^    timeout: 10s/    auth: apop\n    timeout: 10s/' "$TEST_TMP/apop.yaml"
one_run apop "$TEST_TMP/apop.yaml" "APOP"
check "apop: the digest is not in the log either" bash -c '! grep -q "line=\"APOP [^*]" "$1"' _ "$TEST_TMP/run.log"
CFG_PROTOCOL=pop3 make_config "$TEST_TMP/user.yaml"
sed -i 's/^    timeout: 10s/    auth: user\n    timeout: 10s/' "$TEST_TMP/user.yaml"
one_run user "$TEST_TMP/user.yaml" "USER/PASS"
check "user: PASS traced without its argument" grep -q 'line="PASS \*\*\*"' "$TEST_TMP/run.log"
CFG_PROTOCOL=pop3 make_config "$TEST_TMP/login.yaml"
sed -i 's/^    timeout: 10s/    auth: login\n    timeout: 10s/' "$TEST_TMP/login.yaml"
one_run login "$TEST_TMP/login.yaml" "AUTH LOGIN"

# --- keep_on_server: ticketed once, never deleted --------------------------------
CFG_PROTOCOL=pop3 make_config "$TEST_TMP/keep.yaml" "    keep_on_server: true"
deliver "$(new_mail keep1)" "$(new_mail keep2)"
run_job "$TEST_TMP/keep.yaml"
check "keep: two tickets" grep -q "fetched 2, tickets 2" <<<"$out"
check "keep: no DELE sent" bash -c '! grep -q "line=\"DELE" "$1"' _ "$TEST_TMP/run.log"
check_eq "keep: both still on the server" "$(count_inbox)" 2
run_job "$TEST_TMP/keep.yaml"
check "keep: the next run fetches nothing" grep -q "fetched 0, tickets 0, appended 0, ignored 0, badmail 0, already done 0" <<<"$out"
# a copy of a kept mail (new UIDL, same bytes): done by content once, then known by its UIDL
deliver "$TEST_TMP/keep1.eml"
run_job "$TEST_TMP/keep.yaml"
check "keep: a copy is already done" grep -q "fetched 1, tickets 0, .*already done 1" <<<"$out"
run_job "$TEST_TMP/keep.yaml"
check "keep: and not fetched again" grep -q "fetched 0, tickets 0, appended 0, ignored 0, badmail 0, already done 0" <<<"$out"
check_eq "keep: all three still on the server" "$(count_inbox)" 3
reset_mailbox

# --- a kill between COMMIT and DELE ------------------------------------------------
tickets=$(psql_q 'select count(*) from tickets')
deliver "$(new_mail crash1)" "$(new_mail crash2)"
run_job "$TEST_TMP/pop3s.yaml" M2T_FAULT=after-commit
check_eq "after-commit: killed" "$rc" 137
check_eq "after-commit: the tickets were committed" "$(psql_q 'select count(*) from tickets')" $((tickets + 2))
check_eq "after-commit: nothing deleted" "$(count_inbox)" 2
run_job "$TEST_TMP/pop3s.yaml"
check "after-commit: the next run only deletes" grep -q "fetched 0, tickets 0, appended 0, ignored 0, badmail 0, already done 2" <<<"$out"
check_eq "after-commit: no second ticket" "$(psql_q 'select count(*) from tickets')" $((tickets + 2))
check_eq "after-commit: deleted now" "$(count_inbox)" 0

# --- a kill after the DELEs, before QUIT: the server applies nothing ------------
deliver "$(new_mail quit1)"
run_job "$TEST_TMP/pop3s.yaml" M2T_FAULT=pop3-before-quit
check_eq "before-quit: killed" "$rc" 137
check "before-quit: the DELE had been sent" grep -q 'line="DELE 1"' "$TEST_TMP/run.log"
check_eq "before-quit: the mail is still there" "$(count_inbox)" 1
run_job "$TEST_TMP/pop3s.yaml"
check "before-quit: recognised as processed" grep -q "fetched 0, tickets 0, .*already done 1" <<<"$out"
check_eq "before-quit: deleted now" "$(count_inbox)" 0
check_eq "before-quit: one ticket for it" "$(psql_q "select count(*) from articles where message_id = 'printer-quit1@example.org'")" 1

# --- failures leave the mail alone -------------------------------------------------
deliver "$(new_mail fail1)"
CFG_PROTOCOL=pop3 make_config "$TEST_TMP/badpw.yaml"
printf 'wrong-%s\n' "$RANDOM" > "$TEST_TMP/badpw"
chmod 600 "$TEST_TMP/badpw"
sed -i "s|password_file: .*|password_file: \"$TEST_TMP/badpw\"|" "$TEST_TMP/badpw.yaml"
run_job "$TEST_TMP/badpw.yaml"
check_eq "login refused: EX_UNAVAILABLE" "$rc" 69
check "login refused: says so" grep -q "Authentication failed" "$TEST_TMP/run.log"
CFG_PROTOCOL=pop3 CFG_PORT=1 make_config "$TEST_TMP/closed.yaml"
run_job "$TEST_TMP/closed.yaml"
check_eq "unreachable: EX_TEMPFAIL" "$rc" 75
check_eq "failures: the mail is untouched" "$(count_inbox)" 1
run_job "$TEST_TMP/pop3s.yaml"
check_eq "afterwards a good run takes it" "$(count_inbox)" 0
