#!/usr/bin/env bash
# Failures that must leave every mail where it is, to be retried: database
# down, IMAP server unreachable, login refused, certificate not trusted.
# Each ends the run with the sysexits.h code that says how far it reaches.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
good_url=$DATABASE_URL
reset_mailbox
conf=$TEST_TMP/m2t.yaml
make_config "$conf"
deliver "$MAIL/plain.eml" "$MAIL/reply_to.eml"
"$M2T_BIN" -c "$conf" migrate >/dev/null


# nothing listens on port 1 of the loopback (privileged, never a mail or database port)
closed_port=1

run_job() { # CONFIG -> sets rc, out, err
	rc=0
	out=$("$M2T_BIN" -c "$1" run support-inbox 2>"$TEST_TMP/err") || rc=$?
	err=$(cat "$TEST_TMP/err")
}

DATABASE_URL="postgresql://postgres@127.0.0.1:$closed_port/none?connect_timeout=3"
run_job "$conf"
check_eq "database down: EX_TEMPFAIL" "$rc" 75
check "database down: says so" grep -qi "database" <<<"$err"
DATABASE_URL=$good_url
check_eq "database down: mail untouched" "$(count_inbox)" 2

CFG_PORT=$closed_port make_config "$TEST_TMP/closed.yaml"
run_job "$TEST_TMP/closed.yaml"
check_eq "IMAP unreachable: EX_TEMPFAIL" "$rc" 75
check_eq "IMAP unreachable: run recorded as failed" \
	"$(psql_q "select count(*) from job_runs where status = 'failed' and error <> ''")" 1
check_eq "IMAP unreachable: mail untouched" "$(count_inbox)" 2

make_config "$TEST_TMP/badpw.yaml"
printf 'wrong-password-%s\n' "$RANDOM" > "$TEST_TMP/badpw"
chmod 600 "$TEST_TMP/badpw"
sed -i "s|password_file: .*|password_file: \"$TEST_TMP/badpw\"|" "$TEST_TMP/badpw.yaml"
run_job "$TEST_TMP/badpw.yaml"
check_eq "login refused: EX_UNAVAILABLE" "$rc" 69
check "login refused: the password is not in the output" \
	bash -c '! grep -qF "$1" <<<"$2"' _ "$(cat "$TEST_TMP/badpw")" "$err$out"
check_eq "login refused: mail untouched" "$(count_inbox)" 2

make_config "$TEST_TMP/otherca.yaml"
sed -i "s|ca_file: \"[^\"]*\"|ca_file: \"$M2T_OTHER_CA_FILE\"|" "$TEST_TMP/otherca.yaml"
run_job "$TEST_TMP/otherca.yaml"
check "untrusted certificate: the run fails" test "$rc" -ne 0
check "untrusted certificate: names the reason" grep -qi "certificate" <<<"$err"
check_eq "untrusted certificate: mail untouched" "$(count_inbox)" 2

# host name check: the certificate is for localhost/127.0.0.1, not this name
make_config "$TEST_TMP/name.yaml"
sed -i "s|tls: { verify: true,|tls: { verify: true, server_name: imap.example.net,|" "$TEST_TMP/name.yaml"
run_job "$TEST_TMP/name.yaml"
check "wrong host name: the run fails" test "$rc" -ne 0
check_eq "wrong host name: mail untouched" "$(count_inbox)" 2

# a broken configuration names file:line:column and exits EX_CONFIG
sed 's/^    host: /    hots: /' "$conf" > "$TEST_TMP/broken.yaml"
line=$(grep -n '^    hots: ' "$TEST_TMP/broken.yaml" | cut -d: -f1)
rc=0
err=$("$M2T_BIN" -c "$TEST_TMP/broken.yaml" check-config 2>&1) || rc=$?
check_eq "broken config: EX_CONFIG" "$rc" 78
check "broken config: file:line:column and key" grep -q "broken.yaml:$line:5: accounts.support: unknown key \"hots\"" <<<"$err"
rc=0
"$M2T_BIN" -c "$conf" check-config >/dev/null 2>&1 || rc=$?
check_eq "good config: check-config exits 0" "$rc" 0
rc=0
"$M2T_BIN" -c "$conf" run no-such-job >/dev/null 2>&1 || rc=$?
check_eq "unknown job: EX_USAGE" "$rc" 64

# after all that, a good run still processes both mails exactly once
run_job "$conf"
check_eq "a good run afterwards exits 0" "$rc" 0
check_eq "two tickets" "$(psql_q 'select count(*) from tickets')" 2
check_eq "the INBOX is empty" "$(count_inbox)" 0
