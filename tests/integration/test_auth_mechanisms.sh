#!/usr/bin/env bash
# Every SASL mechanism the real Dovecot offers, each logging in and (for
# SCRAM-SHA-256 and auto) taking a mail the whole way; auth: auto takes the
# strongest; AUTHENTICATE lines and the password never reach the log, even
# at debug; a mechanism the server does not offer is a clear refusal.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
password=$(cat "$M2T_IMAP_PASSWORD_FILE")

with_auth() { # FILE AUTH [SECURITY]: a config using that login
	CFG_SECURITY=${3:-tls} make_config "$1"
	sed -i "s/^    timeout: 10s/    timeout: 10s\n    auth: $2/" "$1"
}

for mech in plain login cram-md5 scram-sha-1 scram-sha-256; do
	with_auth "$TEST_TMP/$mech.yaml" "$mech"
	rc=0
	"$M2T_BIN" -v -c "$TEST_TMP/$mech.yaml" test-connection support \
		>"$TEST_TMP/$mech.out" 2>"$TEST_TMP/$mech.log" || rc=$?
	check_eq "$mech: logs in" "$rc" 0
	want=$(printf '%s' "$mech" | tr 'a-z' 'A-Z')
	[ "$mech" = login ] && want="LOGIN command"
	check "$mech: the login used is shown" grep -q "login: *$want as support" "$TEST_TMP/$mech.out"
	check "$mech: password never logged or printed" \
		bash -c '! grep -qF "$1" "$2" "$3"' _ "$password" "$TEST_TMP/$mech.out" "$TEST_TMP/$mech.log"
done

# auth: auto takes the strongest offered (SCRAM-SHA-256), and SASL lines stay hidden
make_config "$TEST_TMP/auto.yaml"
deliver "$MAIL/plain.eml"
"$M2T_BIN" -c "$TEST_TMP/auto.yaml" migrate >/dev/null
rc=0
"$M2T_BIN" -v -c "$TEST_TMP/auto.yaml" run support-inbox >"$TEST_TMP/auto.out" 2>"$TEST_TMP/auto.log" || rc=$?
check_eq "auto: the run exits 0" "$rc" 0
check_eq "auto: one ticket" "$(psql_q 'select count(*) from tickets')" 1
check "auto: picked SCRAM-SHA-256" grep -q "event=imap.connect .*login=SCRAM-SHA-256" "$TEST_TMP/auto.log"
check "auto: the command is traced without its arguments" \
	grep -q 'line="A[0-9]* AUTHENTICATE SCRAM-SHA-256 \*\*\*"' "$TEST_TMP/auto.log"
check "auto: every line sent during the login is hidden" \
	bash -c '! grep "event=imap.send" "$1" | grep -v "\*\*\*" | grep -q AUTHENTICATE' _ "$TEST_TMP/auto.log"
check "auto: challenges are not traced" \
	bash -c '! grep "event=imap.recv tag=+" "$1" | grep -vq "text=\"\*\*\*\""' _ "$TEST_TMP/auto.log"
check "auto: the password never logged" bash -c '! grep -qF "$1" "$2"' _ "$password" "$TEST_TMP/auto.log"

# SCRAM-SHA-1 the whole way over required STARTTLS
with_auth "$TEST_TMP/scram1.yaml" scram-sha-1 starttls
sed "s/^Message-ID: <printer-3-0001@/Message-ID: <scram1@/" "$MAIL/plain.eml" >"$TEST_TMP/scram1.eml"
deliver "$TEST_TMP/scram1.eml"
rc=0
"$M2T_BIN" -c "$TEST_TMP/scram1.yaml" run support-inbox >/dev/null 2>"$TEST_TMP/scram1.log" || rc=$?
check_eq "scram-sha-1 over starttls: the run exits 0" "$rc" 0
check_eq "scram-sha-1 over starttls: a second ticket" "$(psql_q 'select count(*) from tickets')" 2

# plaintext connection: auto still picks SCRAM (the password is never sent)
with_auth "$TEST_TMP/none.yaml" auto none
rc=0
"$M2T_BIN" -c "$TEST_TMP/none.yaml" test-connection support >"$TEST_TMP/none.out" 2>&1 || rc=$?
check_eq "security none: logs in" "$rc" 0
check "security none: with SCRAM-SHA-256" grep -q "login: *SCRAM-SHA-256" "$TEST_TMP/none.out"
check "security none: says the session is not encrypted" grep -q "NOT encrypted" "$TEST_TMP/none.out"

# wrong password with SCRAM: refused, nothing about the password in the message
printf 'wrong-%s\n' "$RANDOM$RANDOM" >"$TEST_TMP/badpw"
chmod 600 "$TEST_TMP/badpw"
with_auth "$TEST_TMP/bad.yaml" scram-sha-256
sed -i "s|password_file: .*|password_file: \"$TEST_TMP/badpw\"|" "$TEST_TMP/bad.yaml"
rc=0
"$M2T_BIN" -c "$TEST_TMP/bad.yaml" test-connection support >"$TEST_TMP/bad.out" 2>&1 || rc=$?
check_eq "scram, wrong password: EX_UNAVAILABLE" "$rc" 69
check "scram, wrong password: says the login failed" grep -q "AUTHENTICATE SCRAM-SHA-256" "$TEST_TMP/bad.out"
check "scram, wrong password: not shown" bash -c '! grep -qF "$1" "$2"' _ "$(cat "$TEST_TMP/badpw")" "$TEST_TMP/bad.out"

# a mechanism this Dovecot does not offer (Debian's build has no NTLM; NTLM
# itself logs in to Cyrus in test_cyrus_ntlm.sh);
# XOAUTH2 and OAUTHBEARER are offered, for the oauth2 passdb (test_oauth.sh)
for mech in ntlm; do
	with_auth "$TEST_TMP/$mech.yaml" "$mech"
	rc=0
	"$M2T_BIN" -c "$TEST_TMP/$mech.yaml" test-connection support >"$TEST_TMP/$mech.out" 2>&1 || rc=$?
	check_eq "$mech not offered: EX_UNAVAILABLE" "$rc" 69
	want=$(printf '%s' "$mech" | tr 'a-z' 'A-Z')
	check "$mech not offered: says so and lists the offer" \
		grep -q "does not offer AUTH=$want (auth: $mech); it offers: .*SCRAM-SHA-256" "$TEST_TMP/$mech.out"
done
check_eq "no mail left behind" "$(count_inbox)" 0
