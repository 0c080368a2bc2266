#!/usr/bin/env bash
# security: starttls-optional against a real Dovecot that offers no STARTTLS
# and no STLS (tests/scripts/dovecot-notls.sh, ssl = no), over IMAP and POP3:
# the session goes on in plaintext with a warning on every connection, logs
# in only with a mechanism that keeps the password off the wire (SCRAM,
# CRAM-MD5, APOP) and takes mail the whole way; PLAIN, LOGIN, USER and the
# token mechanisms are refused before anything is sent (the server's own log
# says "no auth attempts"); security: starttls against the same server fails
# with a clear error, and no credentials are sent either.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
start_notls_dovecot
password=$(cat "$M2T_IMAP_PASSWORD_FILE")

config() { # FILE PROTOCOL AUTH [SECURITY]: an account on the server without TLS
	local port=$M2T_NOTLS_IMAP_PORT
	[ "$2" = pop3 ] && port=$M2T_NOTLS_POP3_PORT
	CFG_PROTOCOL=$2 CFG_SECURITY=${4:-starttls-optional} CFG_PORT=$port make_config "$1"
	sed -i "s/^    timeout: 10s/    timeout: 10s\n    auth: $3/" "$1"
}

new_mail() { # a fresh Message-ID each time
	sed "s/^Message-ID: <printer-3-0001@/Message-ID: <optional-$1@/" "$MAIL/plain.eml" >"$TEST_TMP/$1.eml"
	echo "$TEST_TMP/$1.eml"
}

# The server's log from line FROM on, once it has logged the end of the
# login phase (its log process writes a moment after the client is gone).
server_log_since() { # FROM
	# shellcheck disable=SC2016
	wait_until 5 bash -c 'tail -n +"$1" "$2" | grep -q "Disconnected\|Login:"' \
		_ "$1" "$M2T_NOTLS_LOG" || true
	tail -n +"$1" "$M2T_NOTLS_LOG"
}

mark() { # the number of the log's next line
	echo $(($(wc -l <"$M2T_NOTLS_LOG") + 1))
}

# NAME PROTO CONFIG COMMAND: runs it at debug, keeps NAME.out and NAME.log, sets rc
m2t() {
	rc=0
	"$M2T_BIN" -v -c "$3" "${@:4}" >"$TEST_TMP/$1.out" 2>"$TEST_TMP/$1.log" || rc=$?
}

no_password() { # NAME
	check "$1: the password never logged or printed" \
		bash -c '! grep -qF "$1" "$2" "$3"' _ "$password" "$TEST_TMP/$1.out" "$TEST_TMP/$1.log"
}

make_config "$TEST_TMP/migrate.yaml"
"$M2T_BIN" -c "$TEST_TMP/migrate.yaml" migrate >/dev/null

# --- IMAP: auto takes SCRAM-SHA-256 in plaintext, the whole way ---------------------
config "$TEST_TMP/imap-auto.yaml" imap auto
deliver "$(new_mail imap-auto)"
from=$(mark)
m2t imap-auto imap "$TEST_TMP/imap-auto.yaml" run support-inbox
check_eq "imap, auto: the run exits 0" "$rc" 0 || tail -n 5 "$TEST_TMP/imap-auto.log"
check "imap, auto: no STARTTLS was offered, none was sent" \
	bash -c '! grep -q "line=\"A[0-9]* STARTTLS\"" "$1"' _ "$TEST_TMP/imap-auto.log"
check "imap, auto: logged in with SCRAM-SHA-256, without TLS" \
	grep -q "event=imap.connect .*tls=no .*login=SCRAM-SHA-256" "$TEST_TMP/imap-auto.log"
check_eq "imap, auto: warned once for its one connection" \
	"$(grep -c "level=warn event=imap.starttls_skipped .*WITHOUT encryption" "$TEST_TMP/imap-auto.log")" 1
check_eq "imap, auto: one ticket" "$(psql_q 'select count(*) from tickets')" 1
check_eq "imap, auto: the mail archived" "$(count_folder Processed)" 1
server_log_since "$from" >"$TEST_TMP/imap-auto.server"
check "imap, auto: the server saw a SCRAM-SHA-256 login" \
	grep -q "Login: user=<support>, method=SCRAM-SHA-256" "$TEST_TMP/imap-auto.server"
no_password "imap-auto"

# test-connection is a connection too: its own warning, and it says so
m2t imap-probe imap "$TEST_TMP/imap-auto.yaml" test-connection support
check_eq "imap, test-connection: exit 0" "$rc" 0
check "imap, test-connection: says the session is not encrypted" \
	grep -q "NOT encrypted" "$TEST_TMP/imap-probe.out"
check_eq "imap, test-connection: warned again" \
	"$(grep -c "event=imap.starttls_skipped" "$TEST_TMP/imap-probe.log")" 1

config "$TEST_TMP/imap-cram.yaml" imap cram-md5
m2t imap-cram imap "$TEST_TMP/imap-cram.yaml" test-connection support
check_eq "imap, cram-md5: logs in" "$rc" 0
check "imap, cram-md5: with CRAM-MD5" grep -q "login: *CRAM-MD5 as support" "$TEST_TMP/imap-cram.out"
check "imap, cram-md5: warned" grep -q "event=imap.starttls_skipped" "$TEST_TMP/imap-cram.log"
no_password "imap-cram"

# --- refusals: the secret would cross the wire in the clear -------------------------
refused() { # NAME PROTO AUTH WANT_ERROR [SECURITY]
	local from
	config "$TEST_TMP/$1.yaml" "$2" "$3" "${5:-}"
	from=$(mark)
	m2t "$1" "$2" "$TEST_TMP/$1.yaml" test-connection support
	check_eq "$1: refused (EX_UNAVAILABLE)" "$rc" 69
	check "$1: says why" grep -qF "$4" "$TEST_TMP/$1.out"
	check "$1: no login command sent" \
		bash -c '! grep -E "event=(imap|pop3).send" "$1" | grep -Eq "AUTHENTICATE|LOGIN|AUTH |USER|PASS|APOP|\*\*\*"' \
		_ "$TEST_TMP/$1.log"
	server_log_since "$from" >"$TEST_TMP/$1.server"
	check "$1: the server saw no login attempt" \
		bash -c 'grep -q "no auth attempts" "$1" && ! grep -q "Login:\|auth failed" "$1"' \
		_ "$TEST_TMP/$1.server"
	no_password "$1"
}
refused imap-plain imap plain "auth: plain would send the password unencrypted: STARTTLS was not used"
refused imap-login imap login "the LOGIN command would send the password unencrypted"
refused imap-xoauth2 imap xoauth2 "auth: xoauth2 would send the token unencrypted"
refused imap-starttls imap auto "127.0.0.1 does not offer STARTTLS, which security: starttls requires" starttls

# --- POP3: the same without STLS -----------------------------------------------------
config "$TEST_TMP/pop-auto.yaml" pop3 auto
deliver "$(new_mail pop-auto)"
from=$(mark)
m2t pop-auto pop3 "$TEST_TMP/pop-auto.yaml" run support-inbox
check_eq "pop3, auto: the run exits 0" "$rc" 0 || tail -n 5 "$TEST_TMP/pop-auto.log"
check "pop3, auto: no STLS sent" bash -c '! grep -q "line=\"STLS\"" "$1"' _ "$TEST_TMP/pop-auto.log"
check "pop3, auto: logged in with SCRAM-SHA-256, without TLS" \
	grep -q "event=pop3.connect .*tls=no .*login=\"AUTH SCRAM-SHA-256\"" "$TEST_TMP/pop-auto.log"
check_eq "pop3, auto: warned once for its one connection" \
	"$(grep -c "level=warn event=pop3.starttls_skipped .*WITHOUT encryption" "$TEST_TMP/pop-auto.log")" 1
check_eq "pop3, auto: a second ticket" "$(psql_q 'select count(*) from tickets')" 2
check_eq "pop3, auto: the mail deleted" "$(count_inbox)" 0
no_password "pop-auto"

config "$TEST_TMP/pop-apop.yaml" pop3 apop
deliver "$(new_mail pop-apop)"
m2t pop-apop pop3 "$TEST_TMP/pop-apop.yaml" run support-inbox
check_eq "pop3, apop: the run exits 0" "$rc" 0
check "pop3, apop: logged in with APOP" \
	grep -q "event=pop3.connect .*tls=no .*login=\"APOP\"" "$TEST_TMP/pop-apop.log"
check "pop3, apop: warned" grep -q "event=pop3.starttls_skipped" "$TEST_TMP/pop-apop.log"
check_eq "pop3, apop: a third ticket" "$(psql_q 'select count(*) from tickets')" 3
no_password "pop-apop"

config "$TEST_TMP/pop-cram.yaml" pop3 cram-md5
m2t pop-cram pop3 "$TEST_TMP/pop-cram.yaml" test-connection support
check_eq "pop3, cram-md5: logs in" "$rc" 0
check "pop3, cram-md5: with AUTH CRAM-MD5" grep -q "login: *AUTH CRAM-MD5 as support" "$TEST_TMP/pop-cram.out"
no_password "pop-cram"

deliver "$(new_mail pop-left)"
refused pop-plain pop3 plain "auth: plain would send the password unencrypted: STLS was not used"
refused pop-login pop3 login "auth: login would send the password unencrypted: STLS was not used"
refused pop-user pop3 user "auth: user would send the password unencrypted: STLS was not used"
refused pop-xoauth2 pop3 xoauth2 "auth: xoauth2 would send the token unencrypted"
refused pop-starttls pop3 auto "127.0.0.1 does not offer STLS, which security: starttls requires" starttls
check_eq "the refused logins left the mail alone" "$(count_inbox)" 1
