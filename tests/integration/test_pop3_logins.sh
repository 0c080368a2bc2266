#!/usr/bin/env bash
# POP3 logins against the real Dovecot: every SASL mechanism it offers
# through AUTH (RFC 5034), APOP and USER/PASS, each taking a mail the whole
# way; auth: auto takes SCRAM-SHA-256, also without TLS; SCRAM-SHA-1 over
# required STLS; starttls-optional upgrades when STLS is offered; AUTH lines,
# SASL responses and the password never reach the log, even at debug; a
# wrong password and mechanisms Dovecot does not offer are clear refusals
# that touch no mail.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
password=$(cat "$M2T_IMAP_PASSWORD_FILE")
# what PLAIN and LOGIN would carry: the password's base64 must not be logged either
plain_b64=$(printf '\0%s\0%s' "$M2T_IMAP_USER" "$password" | base64 -w0)
pass_b64=$(printf '%s' "$password" | base64 -w0)

with_auth() { # FILE AUTH [SECURITY]: a POP3 config using that login
	CFG_PROTOCOL=pop3 CFG_SECURITY=${3:-tls} make_config "$1"
	sed -i "s/^    timeout: 10s/    timeout: 10s\n    auth: $2/" "$1"
}

new_mail() { # a fresh Message-ID each time
	sed "s/^Message-ID: <printer-3-0001@/Message-ID: <pop3-login-$1@/" "$MAIL/plain.eml" >"$TEST_TMP/$1.eml"
	echo "$TEST_TMP/$1.eml"
}

run_job() { # NAME CONFIG: sets rc; log in $TEST_TMP/NAME.log (debug)
	rc=0
	"$M2T_BIN" -v -c "$2" run support-inbox >"$TEST_TMP/$1.out" 2>"$TEST_TMP/$1.log" || rc=$?
}

no_secrets() { # NAME LOG
	check "$1: neither the password nor its base64 in the log" \
		bash -c '! grep -qF -e "$1" -e "$2" -e "$3" "$4"' _ "$password" "$plain_b64" "$pass_b64" "$2"
	check "$1: no SASL response traced" \
		bash -c '! grep "event=pop3.send" "$1" | grep -Ev "line=\"(\*\*\*|[A-Z]+( [A-Za-z0-9-]+)?( \*\*\*)?)\"" | grep -q .' _ "$2"
}

with_auth "$TEST_TMP/migrate.yaml" auto
"$M2T_BIN" -c "$TEST_TMP/migrate.yaml" migrate >/dev/null

n=0
for mech in plain login cram-md5 scram-sha-1 scram-sha-256 apop user; do
	with_auth "$TEST_TMP/$mech.yaml" "$mech"
	deliver "$(new_mail "$mech")"
	n=$((n + 1))
	run_job "$mech" "$TEST_TMP/$mech.yaml"
	check_eq "$mech: the run exits 0" "$rc" 0 || tail -n 5 "$TEST_TMP/$mech.log"
	case $mech in
	apop) want=APOP ;;
	user) want=USER/PASS ;;
	*) want="AUTH $(printf '%s' "$mech" | tr 'a-z' 'A-Z')" ;;
	esac
	check "$mech: logged in with $want over TLS" \
		grep -q "event=pop3.connect .*tls=yes .*login=\"$want\"" "$TEST_TMP/$mech.log"
	check_eq "$mech: a ticket each" "$(psql_q 'select count(*) from tickets')" "$n"
	check_eq "$mech: the mail deleted" "$(count_inbox)" 0
	no_secrets "$mech" "$TEST_TMP/$mech.log"
done
check "scram-sha-256: the AUTH line traced without its response" \
	grep -q 'event=pop3.send .*line="AUTH SCRAM-SHA-256 \*\*\*"' "$TEST_TMP/scram-sha-256.log"
check "login: the answers traced as ***" grep -q 'event=pop3.send .*line="\*\*\*"' "$TEST_TMP/login.log"

# auth: auto takes the strongest offered: SCRAM-SHA-256, over TLS and without it
for sec in tls none; do
	with_auth "$TEST_TMP/auto-$sec.yaml" auto "$sec"
	deliver "$(new_mail "auto-$sec")"
	run_job "auto-$sec" "$TEST_TMP/auto-$sec.yaml"
	check_eq "auto, security $sec: the run exits 0" "$rc" 0
	check "auto, security $sec: SCRAM-SHA-256" \
		grep -q "event=pop3.connect .*login=\"AUTH SCRAM-SHA-256\"" "$TEST_TMP/auto-$sec.log"
	no_secrets "auto, security $sec" "$TEST_TMP/auto-$sec.log"
done
check "security none: no warning about a password sent in the clear" \
	bash -c '! grep -q "event=pop3.login.*without TLS" "$1"' _ "$TEST_TMP/auto-none.log"

# SCRAM-SHA-1 over required STLS; starttls-optional upgrades when offered
with_auth "$TEST_TMP/stls.yaml" scram-sha-1 starttls
deliver "$(new_mail stls)"
run_job stls "$TEST_TMP/stls.yaml"
check_eq "scram-sha-1 over stls: the run exits 0" "$rc" 0
check "scram-sha-1 over stls: upgraded, then SCRAM-SHA-1" \
	bash -c 'grep -q "line=\"STLS\"" "$1" && grep -q "event=pop3.connect .*tls=yes .*login=\"AUTH SCRAM-SHA-1\"" "$1"' _ "$TEST_TMP/stls.log"
with_auth "$TEST_TMP/optional.yaml" auto starttls-optional
deliver "$(new_mail optional)"
run_job optional "$TEST_TMP/optional.yaml"
check_eq "starttls-optional: the run exits 0" "$rc" 0
check "starttls-optional: upgraded with STLS" \
	bash -c 'grep -q "line=\"STLS\"" "$1" && grep -q "event=pop3.connect .*tls=yes" "$1"' _ "$TEST_TMP/optional.log"
check "starttls-optional: no downgrade warning when STLS worked" \
	bash -c '! grep -q "event=pop3.starttls_skipped" "$1"' _ "$TEST_TMP/optional.log"
check_eq "every mail ticketed once" "$(psql_q 'select count(*) from tickets')" $((n + 4))

# refusals: nothing fetched, the mail stays
deliver "$(new_mail refused)"
printf 'wrong-%s\n' "$RANDOM$RANDOM" >"$TEST_TMP/badpw"
chmod 600 "$TEST_TMP/badpw"
with_auth "$TEST_TMP/bad.yaml" scram-sha-256
sed -i "s|password_file: .*|password_file: \"$TEST_TMP/badpw\"|" "$TEST_TMP/bad.yaml"
run_job bad "$TEST_TMP/bad.yaml"
check_eq "scram, wrong password: EX_UNAVAILABLE" "$rc" 69
check "scram, wrong password: says the login was refused" \
	grep -q 'login as .support. (AUTH SCRAM-SHA-256) refused' "$TEST_TMP/bad.log"
check "scram, wrong password: not shown" bash -c '! grep -qF "$1" "$2"' _ "$(cat "$TEST_TMP/badpw")" "$TEST_TMP/bad.log"
# Debian's Dovecot has no NTLM (NTLM itself: test_cyrus_ntlm.sh, against Cyrus)
for mech in ntlm; do
	with_auth "$TEST_TMP/$mech.yaml" "$mech"
	run_job "$mech" "$TEST_TMP/$mech.yaml"
	check_eq "$mech not offered: EX_UNAVAILABLE" "$rc" 69
	want=$(printf '%s' "$mech" | tr 'a-z' 'A-Z')
	check "$mech not offered: says so and lists the offer" \
		grep -q "does not offer SASL $want (auth: $mech); it offers: .*SCRAM-SHA-256" "$TEST_TMP/$mech.log"
done
check_eq "the refused runs left the mail alone" "$(count_inbox)" 1
# XOAUTH2 and OAUTHBEARER are offered (for the oauth2 passdb of
# test_oauth.sh), and Dovecot checks a bearer token against every passdb:
# the password given as the token logs in, through the SASL exchange, and
# is never shown
for mech in xoauth2 oauthbearer; do
	deliver "$(new_mail "$mech")"
	with_auth "$TEST_TMP/$mech.yaml" "$mech"
	run_job "$mech" "$TEST_TMP/$mech.yaml"
	check_eq "$mech: runs" "$rc" 0
	want=$(printf '%s' "$mech" | tr 'a-z' 'A-Z')
	check "$mech: logged in with AUTH $want" grep -q "AUTH $want" "$TEST_TMP/$mech.log"
	no_secrets "$mech" "$TEST_TMP/$mech.log"
done
check_eq "the token logins took the mail" "$(count_inbox)" 0
