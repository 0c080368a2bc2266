#!/usr/bin/env bash
# NTLM against a real server: Cyrus IMAP 3.6 with Cyrus SASL's NTLM plugin
# (tests/scripts/cyrus.sh; Debian's Dovecot is built without NTLM), so the
# GNU SASL client is checked by another implementation's verifier. IMAP over
# implicit TLS and STARTTLS, POP3 over implicit TLS and STLS, each taking a
# mail the whole way or logging in; "DOMAIN\user"; a wrong password refused;
# auth: auto takes SCRAM-SHA-256, checked by Cyrus SASL too. Neither the
# password nor an NTLM message reaches the log.
. "$(dirname "$0")/lib.sh"

if ! bash "$M2T_SCRIPTS/cyrus.sh" available; then
	skip "cyrus ntlm" "needs root, cyrus-common and sasl2-bin, and make deps (unpacks cyrus-imapd)"
	exit 0
fi
MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
password=$(cat "$M2T_IMAP_PASSWORD_FILE")
CY=$TEST_TMP/cyrus
mkdir "$CY"
on_exit bash "$M2T_SCRIPTS/cyrus.sh" stop "$CY"
bash "$M2T_SCRIPTS/cyrus.sh" start "$CY"
# shellcheck disable=SC1091
. "$CY/env"

config() { # FILE PROTOCOL SECURITY AUTH: an account on Cyrus
	local port
	case "$2:$3" in
	imap:tls) port=$M2T_CYRUS_IMAPS_PORT ;;
	imap:*) port=$M2T_CYRUS_IMAP_PORT ;;
	pop3:tls) port=$M2T_CYRUS_POP3S_PORT ;;
	pop3:*) port=$M2T_CYRUS_POP3_PORT ;;
	esac
	CFG_PROTOCOL=$2 CFG_SECURITY=$3 CFG_PORT=$port make_config "$1"
	sed -i "s/^    timeout: 10s/    timeout: 10s\n    auth: $4/" "$1"
}

new_mail() { # a fresh Message-ID each time
	sed "s/^Message-ID: <printer-3-0001@/Message-ID: <cyrus-$1@/" "$MAIL/plain.eml" >"$TEST_TMP/$1.eml"
	echo "$TEST_TMP/$1.eml"
}

m2t() { # NAME CONFIG COMMAND...: at debug; NAME.out, NAME.log; sets rc
	rc=0
	"$M2T_BIN" -v -c "$2" "${@:3}" >"$TEST_TMP/$1.out" 2>"$TEST_TMP/$1.log" || rc=$?
}

# The password, and any NTLM message (base64 of "NTLMSSP": TlRMTVNTUA), never logged
no_secrets() { # NAME
	check "$1: neither the password nor an NTLM message logged or printed" \
		bash -c '! grep -qF -e "$1" -e TlRMTVNTUA "$2" "$3"' _ "$password" \
		"$TEST_TMP/$1.out" "$TEST_TMP/$1.log"
}

config "$TEST_TMP/migrate.yaml" imap tls auto
"$M2T_BIN" -c "$TEST_TMP/migrate.yaml" migrate >/dev/null

# --- IMAP --------------------------------------------------------------------------
config "$TEST_TMP/imaps.yaml" imap tls ntlm
m2t imaps "$TEST_TMP/imaps.yaml" test-connection support
check_eq "imap, tls: NTLM logs in" "$rc" 0 || tail -n 5 "$TEST_TMP/imaps.out"
check "imap, tls: the server is Cyrus and offers NTLM" \
	grep -q "capabilities: .*AUTH=NTLM" "$TEST_TMP/imaps.out"
check "imap, tls: the login was NTLM" grep -q "login: *NTLM as support" "$TEST_TMP/imaps.out"
check "imap, tls: over TLS" grep -Eq "TLS: *TLSv1\.[23]" "$TEST_TMP/imaps.out"
check "imap, tls: the command traced without its response" \
	grep -q 'line="A[0-9]* AUTHENTICATE NTLM \*\*\*"' "$TEST_TMP/imaps.log"
no_secrets imaps

# the whole way with NTLM over STARTTLS: a ticket, the mail moved to Processed
config "$TEST_TMP/starttls.yaml" imap starttls ntlm
bash "$M2T_SCRIPTS/cyrus.sh" deliver "$CY" "$(new_mail imap)"
m2t imap-run "$TEST_TMP/starttls.yaml" run support-inbox
check_eq "imap, starttls: the run exits 0" "$rc" 0 || tail -n 5 "$TEST_TMP/imap-run.log"
check "imap, starttls: upgraded, then NTLM" \
	grep -q "event=imap.connect .*tls=yes .*login=NTLM" "$TEST_TMP/imap-run.log"
check_eq "imap, starttls: one ticket" "$(psql_q 'select count(*) from tickets')" 1
m2t imap-after "$TEST_TMP/starttls.yaml" test-connection support
check "imap, starttls: INBOX empty, the mail in Processed" \
	bash -c 'grep -q "mailbox  INBOX: 0 messages" "$1" && grep -q "archive  Processed: 1 message" "$1"' \
	_ "$TEST_TMP/imap-after.out"
no_secrets imap-run

# a Windows domain before the user: "DOMAIN\user" goes into NTLM's domain field
config "$TEST_TMP/domain.yaml" imap tls ntlm
sed -i 's/^    username: .*/    username: "EXAMPLE\\\\support"/' "$TEST_TMP/domain.yaml"
m2t domain "$TEST_TMP/domain.yaml" test-connection support
check_eq "imap, DOMAIN\\user: logs in" "$rc" 0
check "imap, DOMAIN\\user: as EXAMPLE\\support" grep -qF 'login:        NTLM as EXAMPLE\support' \
	"$TEST_TMP/domain.out"

# a wrong password: Cyrus SASL's verifier says no
printf 'wrong-%s\n' "$RANDOM$RANDOM" >"$TEST_TMP/badpw"
chmod 600 "$TEST_TMP/badpw"
config "$TEST_TMP/bad.yaml" imap tls ntlm
sed -i "s|password_file: .*|password_file: \"$TEST_TMP/badpw\"|" "$TEST_TMP/bad.yaml"
m2t bad "$TEST_TMP/bad.yaml" test-connection support
check_eq "imap, wrong password: EX_UNAVAILABLE" "$rc" 69
check "imap, wrong password: the server's refusal" \
	grep -q 'login as "support" on 127.0.0.1 failed (AUTHENTICATE NTLM): authentication failure' \
	"$TEST_TMP/bad.out"
check "imap, wrong password: not shown" \
	bash -c '! grep -qF "$1" "$2" "$3"' _ "$(cat "$TEST_TMP/badpw")" "$TEST_TMP/bad.out" "$TEST_TMP/bad.log"

# auth: auto takes the strongest offered, SCRAM-SHA-256, which Cyrus SASL checks
config "$TEST_TMP/auto.yaml" imap tls auto
m2t auto "$TEST_TMP/auto.yaml" test-connection support
check_eq "imap, auto: logs in" "$rc" 0
check "imap, auto: with SCRAM-SHA-256" grep -q "login: *SCRAM-SHA-256 as support" "$TEST_TMP/auto.out"

# --- POP3 --------------------------------------------------------------------------
config "$TEST_TMP/pop3s.yaml" pop3 tls ntlm
bash "$M2T_SCRIPTS/cyrus.sh" deliver "$CY" "$(new_mail pop3)"
m2t pop-run "$TEST_TMP/pop3s.yaml" run support-inbox
check_eq "pop3, tls: the run exits 0" "$rc" 0 || tail -n 5 "$TEST_TMP/pop-run.log"
check "pop3, tls: logged in with AUTH NTLM over TLS" \
	grep -q "event=pop3.connect .*tls=yes .*login=\"AUTH NTLM\"" "$TEST_TMP/pop-run.log"
check "pop3, tls: the AUTH line traced without its response" \
	grep -q 'event=pop3.send .*line="AUTH NTLM' "$TEST_TMP/pop-run.log"
check_eq "pop3, tls: a second ticket" "$(psql_q 'select count(*) from tickets')" 2
m2t pop-after "$TEST_TMP/pop3s.yaml" test-connection support
check "pop3, tls: the mail deleted" grep -q "maildrop: *0 messages" "$TEST_TMP/pop-after.out"
no_secrets pop-run

config "$TEST_TMP/stls.yaml" pop3 starttls ntlm
m2t stls "$TEST_TMP/stls.yaml" test-connection support
check_eq "pop3, stls: NTLM logs in" "$rc" 0
check "pop3, stls: upgraded, then AUTH NTLM" \
	bash -c 'grep -q "^  STLS: *used" "$1" && grep -q "login: *AUTH NTLM as support" "$1"' _ "$TEST_TMP/stls.out"
no_secrets stls

config "$TEST_TMP/pop-bad.yaml" pop3 tls ntlm
sed -i "s|password_file: .*|password_file: \"$TEST_TMP/badpw\"|" "$TEST_TMP/pop-bad.yaml"
m2t pop-bad "$TEST_TMP/pop-bad.yaml" test-connection support
check_eq "pop3, wrong password: EX_UNAVAILABLE" "$rc" 69
check "pop3, wrong password: the server's refusal" \
	grep -q 'login as "support" (AUTH NTLM) refused' "$TEST_TMP/pop-bad.out"

config "$TEST_TMP/pop-auto.yaml" pop3 tls auto
m2t pop-auto "$TEST_TMP/pop-auto.yaml" test-connection support
check_eq "pop3, auto: logs in" "$rc" 0
check "pop3, auto: with SCRAM-SHA-256" grep -q "login: *AUTH SCRAM-SHA-256 as support" "$TEST_TMP/pop-auto.out"
