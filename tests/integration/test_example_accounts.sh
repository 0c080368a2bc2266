#!/usr/bin/env bash
# The account examples of the README (examples/accounts/*.yaml): the plain
# IMAP one, pointed at the test Dovecot, connects and logs in as written;
# the Microsoft 365 (IMAP and POP3) and Gmail (OAuth2) ones load, with their
# secret files replaced (their flows are tested against the local endpoint in
# test_oauth.sh and test_oauth_pop3.sh).
. "$(dirname "$0")/lib.sh"

export DATABASE_URL=postgresql://unused@127.0.0.1:1/none
ex=$M2T_ROOT/examples/accounts
sed -e "s|host: imap.example.com|host: 127.0.0.1|" \
	-e "s|port: 993|port: $M2T_IMAPS_PORT|" \
	-e "s|ca_file: /etc/ssl/certs/ca-certificates.crt|ca_file: \"$M2T_CA_FILE\"|" \
	-e "s|username: support@example.com|username: $M2T_IMAP_USER|" \
	-e "s|password_file: /run/secrets/support-imap|password_file: \"$M2T_IMAP_PASSWORD_FILE\"|" \
	"$ex/plain-imap.yaml" >"$TEST_TMP/plain.yaml"
check "plain IMAP example: only host, port, CA and secret were changed" \
	test "$(diff "$ex/plain-imap.yaml" "$TEST_TMP/plain.yaml" | grep -c '^>')" -eq 5
rc=0
"$M2T_BIN" -c "$TEST_TMP/plain.yaml" test-connection support >"$TEST_TMP/plain.out" 2>&1 || rc=$?
check_eq "plain IMAP example: test-connection exits 0" "$rc" 0
check "plain IMAP example: logs in with SCRAM-SHA-256" grep -q "login: *SCRAM-SHA-256" "$TEST_TMP/plain.out"

for f in microsoft365 microsoft365-app microsoft365-pop3 gmail; do
	token=$TEST_TMP/$f.token
	printf 'ya29.example-client-secret\n' >"$token"
	chmod 600 "$token"
	sed "s|client_secret_file: /run/secrets/.*|client_secret_file: \"$token\"|" "$ex/$f.yaml" >"$TEST_TMP/$f.yaml"
	rc=0
	"$M2T_BIN" -c "$TEST_TMP/$f.yaml" check-config >"$TEST_TMP/$f.out" 2>&1 || rc=$?
	check_eq "$f example: loads" "$rc" 0
	check "$f example: the token is not shown" bash -c '! grep -q "ya29" "$1"' _ "$TEST_TMP/$f.out"
done
check "microsoft365-pop3 example: POP3 with the POP scope" \
	grep -q "scope https://outlook.office365.com/POP.AccessAsUser.All offline_access" \
	"$TEST_TMP/microsoft365-pop3.out"
