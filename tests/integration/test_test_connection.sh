#!/usr/bin/env bash
# `mail2ticket test-connection ACCOUNT` against the real Dovecot: what it
# shows, that it changes nothing on the server, that secrets are never
# printed, and that its exit code says whether a job could run.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
reset_mailbox
# test-connection never opens the database; the config still names one
export DATABASE_URL=postgresql://unused@127.0.0.1:1/none
password=$(cat "$M2T_IMAP_PASSWORD_FILE")
conf=$TEST_TMP/m2t.yaml
make_config "$conf"
deliver "$MAIL/plain.eml" "$MAIL/reply_to.eml"
create_folder Processed

probe() { # CONFIG [ACCOUNT]: sets rc, out (stdout and stderr, at debug)
	rc=0
	out=$("$M2T_BIN" -v -c "$1" test-connection "${2:-support}" 2>&1) || rc=$?
}

probe "$conf"
check_eq "exit 0 when a job could run" "$rc" 0
check "the address" grep -q "address: *127.0.0.1 port $M2T_IMAPS_PORT" <<<"$out"
check "TLS version and cipher" grep -Eq "TLS: *TLSv1\.[23], [A-Z0-9_-]+" <<<"$out"
check "certificate subject" grep -q "certificate: *subject CN=localhost,O=mail2ticket tests" <<<"$out"
check "certificate issuer" grep -q "issuer  CN=mail2ticket test CA" <<<"$out"
check "certificate names" grep -q "names   DNS:localhost, IP:127.0.0.1" <<<"$out"
check "certificate expiry with days left" grep -Eq "expires 20[0-9-]+ [0-9:]+ UTC \((29|30) days left\)" <<<"$out"
check "certificate verified" grep -q "valid: chain and name verified" <<<"$out"
check "capabilities" grep -q "capabilities: IMAP4rev1 .*AUTH=SCRAM-SHA-256" <<<"$out"
check "login mechanism" grep -q "login: *SCRAM-SHA-256 as support" <<<"$out"
check "mailbox with its count" grep -q "mailbox  INBOX: 2 messages" <<<"$out"
check "archive exists, with its count" grep -q "archive  Processed: 0 messages" <<<"$out"
check "badmail missing" grep -q "badmail  Badmail: missing (created at the first run)" <<<"$out"
check "round trips" grep -Eq "connect +[0-9.]+ ms" <<<"$out"
check "TLS and login times" bash -c 'grep -Eq "TLS +[0-9.]+ ms" <<<"$1" && grep -Eq "login +[0-9.]+ ms" <<<"$1"' _ "$out"
check "select time" grep -Eq "select +[0-9.]+ ms \(EXAMINE" <<<"$out"
check "says OK" grep -q "^OK: logged in, and every job's mailbox exists" <<<"$out"
check "the password is never printed" bash -c '! grep -qF "$1" <<<"$2"' _ "$password" "$out"
check_eq "nothing created on the server" "$(imap_count Badmail)" 0
check_eq "nothing moved" "$(count_inbox)" 2
check "mail not marked seen (EXAMINE only)" bash -c '! ls "$1/cur" | grep -q ",S"' _ "$M2T_MAILDIR"

# STARTTLS and plaintext
CFG_SECURITY=starttls make_config "$TEST_TMP/starttls.yaml"
probe "$TEST_TMP/starttls.yaml"
check_eq "starttls: exit 0" "$rc" 0
check "starttls: says STARTTLS was used" grep -q "STARTTLS: *used" <<<"$out"
CFG_SECURITY=starttls-optional make_config "$TEST_TMP/optional.yaml"
probe "$TEST_TMP/optional.yaml"
check_eq "starttls-optional: upgrades when offered" "$rc" 0
check "starttls-optional: encrypted" grep -Eq "TLS: *TLSv1\.[23]" <<<"$out"
CFG_SECURITY=none make_config "$TEST_TMP/none.yaml"
probe "$TEST_TMP/none.yaml"
check_eq "none: exit 0" "$rc" 0
check "none: says it is not encrypted" grep -q "TLS: *none: the session is NOT encrypted" <<<"$out"

# failures: each with its exit code and a reason
make_config "$TEST_TMP/nobox.yaml"
sed -i 's|^    mailbox: INBOX|    mailbox: Does/Not/Exist|' "$TEST_TMP/nobox.yaml"
probe "$TEST_TMP/nobox.yaml"
check_eq "missing mailbox: EX_UNAVAILABLE" "$rc" 69
check "missing mailbox: named" grep -q "mailbox  Does/Not/Exist: missing" <<<"$out"
check "missing mailbox: FAILED" grep -q "^FAILED: job support-inbox" <<<"$out"

printf 'not-the-password-%s\n' "$RANDOM" >"$TEST_TMP/badpw"
chmod 600 "$TEST_TMP/badpw"
make_config "$TEST_TMP/badpw.yaml"
sed -i "s|password_file: .*|password_file: \"$TEST_TMP/badpw\"|" "$TEST_TMP/badpw.yaml"
probe "$TEST_TMP/badpw.yaml"
check_eq "login refused: EX_UNAVAILABLE" "$rc" 69
check "login refused: FAILED with the reason" grep -q "^FAILED: login as \"support\"" <<<"$out"
check "login refused: the password is not printed" bash -c '! grep -qF "$1" <<<"$2"' _ "$(cat "$TEST_TMP/badpw")" "$out"

CFG_PORT=1 make_config "$TEST_TMP/closed.yaml"
probe "$TEST_TMP/closed.yaml"
check_eq "nothing listening: EX_TEMPFAIL" "$rc" 75
check "nothing listening: says so" grep -q "^FAILED: cannot connect to \"127.0.0.1\" port 1" <<<"$out"

probe "$conf" nosuch
check_eq "unknown account: EX_USAGE" "$rc" 64
rc=0
"$M2T_BIN" -c "$conf" test-connection >/dev/null 2>&1 || rc=$?
check_eq "no account given: EX_USAGE" "$rc" 64
