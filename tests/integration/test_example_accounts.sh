#!/usr/bin/env bash
# The account examples of the README (examples/accounts/*.yaml), run: the
# plain IMAP one, pointed at the test Dovecot, connects and logs in as
# written; the Microsoft 365 (IMAP delegated and app-only, POP3) and Gmail
# ones, pointed at the test Dovecot and the local token endpoint, each log in
# with a token of that endpoint and take a mail the whole way.
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

# --- Microsoft 365 and Gmail, run for real -----------------------------------------
# Each file as written, but for host, port, CA file, the token endpoint
# (token_url, which takes the place of Microsoft's and Google's) and the
# client secret file: the local token server (tests/tools/oauth_server.c)
# plays the provider, with the file's client id and user, and Dovecot's
# oauth2 passdb checks every access token with it (servers.sh lets these
# users log in that way). The delegated ones get their refresh token by
# `oauth import` (Microsoft's device-code sign-in needs its own endpoint;
# test_oauth.sh runs that flow), the app-only one by client credentials.
. "$(dirname "$0")/oauth_lib.sh"
MAIL=$M2T_ROOT/tests/integration/mail
DATABASE_URL=$(new_db)
printf 'example-client-secret-%s\n' "$RANDOM$RANDOM" >"$TEST_TMP/client-secret"
chmod 600 "$TEST_TMP/client-secret"
n=0
for f in microsoft365 microsoft365-app microsoft365-pop3 gmail; do
	src=$ex/$f.yaml
	cfg=$TEST_TMP/$f.yaml
	user=$(awk '/^    username: / { print $2; exit }' "$src")
	client=$(awk '/^      client_id: / { print $2; exit }' "$src")
	account=$(awk '/^accounts:/ { getline; sub(/^  /, ""); sub(/:.*/, ""); print; exit }' "$src")
	job=$(awk '/^jobs:/ { getline; sub(/^  /, ""); sub(/:.*/, ""); print; exit }' "$src")
	mech=$(awk '/^    auth: / { print toupper($2); exit }' "$src")
	sed -e "s|^    host: .*|    host: 127.0.0.1|" \
		-e "s|^    port: 993|    port: $M2T_IMAPS_PORT|" -e "s|^    port: 995|    port: $M2T_POP3S_PORT|" \
		-e "s|^    tls: { verify: true, min_version: \"1.2\" }|    tls: { verify: true, min_version: \"1.2\", ca_file: \"$M2T_CA_FILE\" }|" \
		-e "s|^      client_secret_file: .*|      client_secret_file: \"$TEST_TMP/client-secret\"|" \
		-e "s|^\(      client_id: .*\)|\1\n      token_url: $URL/token|" "$src" >"$cfg"
	check "$f example: only host, port, CA, token_url and the secret file differ" bash -c '
		diff "$1" "$2" | grep "^[<>]" |
			grep -Ev "^[<>]     (host|port|tls): |^[<>]       (token_url|client_secret_file): " |
			grep -q . && exit 1 || exit 0' _ "$src" "$cfg"
	rc=0
	"$M2T_BIN" -c "$cfg" check-config >"$TEST_TMP/$f.out" 2>&1 || rc=$?
	check_eq "$f example: loads" "$rc" 0
	"$M2T_BIN" -c "$cfg" migrate >/dev/null
	secret=()
	grep -q client_secret_file "$src" && secret=(--client-secret "$(cat "$TEST_TMP/client-secret")")
	start_server --user "$user" --client-id "$client" --refresh-token "rt-$f" "${secret[@]}"
	if ! grep -q "flow: client_credentials" "$src"; then
		rc=0
		printf 'rt-%s\n' "$f" | "$M2T_BIN" -c "$cfg" oauth import "$account" \
			>"$TEST_TMP/$f.import" 2>&1 || rc=$?
		cat "$TEST_TMP/$f.import" >>"$ALL"
		check_eq "$f example: oauth import" "$rc" 0
	fi
	md=$M2T_MAIL_ROOT/$user
	find "$md/new" "$md/cur" -mindepth 1 -maxdepth 1 -type f -delete
	sed "s/^Message-ID: <printer-3-0001@/Message-ID: <example-$f@/" "$MAIL/plain.eml" >"$TEST_TMP/$f.eml"
	sh "$M2T_SCRIPTS/maildir-deliver.sh" "$md" "$TEST_TMP/$f.eml"
	m2t "$cfg" run "$job"
	check_eq "$f example: the job runs" "$rc" 0 || grep 'level=error' <<<"$out" | tail -n 3
	check "$f example: logged in with $mech and a token of the endpoint" \
		grep -Eq "event=(imap|pop3).connect .*tls=yes user=$user login=\"?(AUTH )?$mech" <<<"$out"
	n=$((n + 1))
	check_eq "$f example: the mail became a ticket" "$(psql_q 'select count(*) from tickets')" "$n"
	check_eq "$f example: the mail left the inbox" "$(sh "$M2T_SCRIPTS/maildir-count.sh" "$md")" 0
	check "$f example: the client secret not shown" \
		bash -c '! grep -qF "$1" <<<"$2"' _ "$(cat "$TEST_TMP/client-secret")" "$out"
done
check "microsoft365-pop3 example: POP3 with the POP scope" \
	bash -c '"$1" -c "$2" check-config | grep -q "scope https://outlook.office365.com/POP.AccessAsUser.All offline_access"' \
	_ "$M2T_BIN" "$TEST_TMP/microsoft365-pop3.yaml"
check_no_tokens
check "the imported refresh tokens never shown" \
	bash -c '! grep -Eq "rt-(microsoft365|gmail)" "$1"' _ "$ALL"
