#!/usr/bin/env bash
# The test servers themselves: PostgreSQL 15 answers, Dovecot speaks IMAPS,
# IMAP STARTTLS, POP3S and POP3 STLS with a certificate from the generated CA,
# logins work, and mail written into the Maildir is visible to Dovecot.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

PASSWORD=$(cat "$M2T_IMAP_PASSWORD_FILE")

# tls_session PORT [openssl s_client options...] < commands
# Talks to 127.0.0.1:PORT, verifying the chain against the test CA and the
# name "localhost"; prints the server's replies.
tls_session() {
	local port=$1
	shift
	timeout 10 openssl s_client -quiet -connect "127.0.0.1:$port" \
		-CAfile "${CA:-$M2T_CA_FILE}" -verify_return_error -verify_hostname localhost \
		-servername localhost "$@" 2>"$TEST_TMP/s_client.err"
}

# --- PostgreSQL ---------------------------------------------------------------

version=$(psql -X -t -A "$M2T_PG_URL" -c 'show server_version_num' 2>&1 || true)
case "$version" in
15????) pass pg_version_15 ;;
*) fail pg_version_15 "server_version_num: $version" ;;
esac

check pg_select_version psql -X -t -A "$M2T_PG_URL" -c 'select version()'

fsync=$(psql -X -t -A "$M2T_PG_URL" -c 'show fsync' 2>&1 || true)
check_eq pg_fsync_on "$fsync" on

DATABASE_URL=$(new_db)
export DATABASE_URL
psql_q 'create table t (x int); insert into t values (42)'
check_eq pg_new_db "$(psql_q 'select x from t')" 42

# --- IMAP -----------------------------------------------------------------------

out=$(tls_session "$M2T_IMAPS_PORT" <<EOF || true
a LOGIN support $PASSWORD
b LOGOUT
EOF
)
case "$out" in
*"a OK"*) pass imaps_verified_login ;;
*) fail imaps_verified_login "$out $(cat "$TEST_TMP/s_client.err")" ;;
esac

out=$(CA=$M2T_OTHER_CA_FILE tls_session "$M2T_IMAPS_PORT" <<EOF || true
a LOGOUT
EOF
)
case "$out" in
*"* OK"*) fail imaps_unknown_ca_refused "connected although the CA is wrong" ;;
*) pass imaps_unknown_ca_refused ;;
esac

out=$(tls_session "$M2T_IMAPS_PORT" <<EOF || true
a LOGIN support wrong-$PASSWORD
b LOGOUT
EOF
)
case "$out" in
*"a NO"*) pass imaps_wrong_password_refused ;;
*) fail imaps_wrong_password_refused "$out" ;;
esac

out=$(tls_session "$M2T_IMAP_PORT" -starttls imap <<EOF || true
a LOGIN support $PASSWORD
b SELECT INBOX
c LOGOUT
EOF
)
case "$out" in
*"a OK"*"b OK"*) pass imap_starttls_login ;;
*) fail imap_starttls_login "$out $(cat "$TEST_TMP/s_client.err")" ;;
esac

# --- POP3 -----------------------------------------------------------------------

out=$(tls_session "$M2T_POP3S_PORT" <<EOF || true
USER support
PASS $PASSWORD
STAT
QUIT
EOF
)
case "$out" in
*"+OK Logged in"*) pass pop3s_login ;;
*) fail pop3s_login "$out $(cat "$TEST_TMP/s_client.err")" ;;
esac

out=$(tls_session "$M2T_POP3_PORT" -starttls pop3 <<EOF || true
USER support
PASS $PASSWORD
QUIT
EOF
)
case "$out" in
*"+OK Logged in"*) pass pop3_stls_login ;;
*) fail pop3_stls_login "$out $(cat "$TEST_TMP/s_client.err")" ;;
esac

# --- Maildir ------------------------------------------------------------------

reset_mailbox
cat >"$TEST_TMP/one.eml" <<'EOF'
From: Alice <alice@example.com>
To: support@example.com
Subject: printer on fire
Message-ID: <servers-test-1@example.com>
Date: Mon, 1 Jan 2024 10:00:00 +0000

It is on fire.
EOF
deliver "$TEST_TMP/one.eml"
check_eq maildir_count_inbox "$(count_inbox)" 1
check_eq dovecot_sees_delivery "$(imap_count INBOX)" 1

deliver_to Processed "$TEST_TMP/one.eml" "$TEST_TMP/one.eml"
check_eq deliver_to_folder "$(imap_count Processed)/$(count_folder Processed)" 2/2

out=$(tls_session "$M2T_IMAPS_PORT" <<EOF || true
a LOGIN support $PASSWORD
b SELECT INBOX
c UID FETCH 1:* (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])
d LOGOUT
EOF
)
case "$out" in
*"Subject: printer on fire"*"c OK"*) pass imap_fetch_delivered ;;
*) fail imap_fetch_delivered "$out" ;;
esac

reset_mailbox
check_eq reset_mailbox_empties "$(count_inbox)/$(imap_count INBOX)/$(imap_count Processed)" 0/0/0
