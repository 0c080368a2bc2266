#!/usr/bin/env bash
# OAuth2 for real: the test token server (tests/tools/oauth_server.c) issues
# tokens, Dovecot's oauth2 passdb checks them by introspection, mail2ticket
# signs in with the device-code flow, logs in with XOAUTH2 and OAUTHBEARER,
# refreshes with rotation (the old refresh token refused, as strict
# providers do), survives a revoked access token, reports a revoked refresh
# token, keeps the newest token when two processes refresh at once, and uses
# the client-credentials flow. No token ever reaches the output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/oauth_lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
reset_oauth_mailbox
DATABASE_URL=$(new_db)
export DATABASE_URL

config() { # FILE AUTH [EXTRA OAUTH2 LINES]
	cat >"$1" <<-EOF
		database:
		  url_env: DATABASE_URL
		accounts:
		  oauth:
		    protocol: imap
		    host: 127.0.0.1
		    port: $M2T_IMAPS_PORT
		    tls: { ca_file: "$M2T_CA_FILE" }
		    username: $M2T_OAUTH_USER
		    auth: $2
		    timeout: 10s
		    oauth2:
		      provider: generic
		      client_id: m2t-test
		      token_url: $URL/token
		      device_code_url: $URL/devicecode
		      scope: imap offline_access
		${3:-}
		jobs:
		  oauth-inbox:
		    account: oauth
		    mailbox: INBOX
		    schedule: "@hourly"
	EOF
}

conf=$TEST_TMP/oauth.yaml
config "$conf" xoauth2
check "migrate" "$M2T_BIN" -c "$conf" migrate
start_server --approve-after 2

m2t "$conf" oauth status oauth
check_eq "status before sign-in: EX_UNAVAILABLE" "$rc" 69
check "status says how to sign in" grep -q "none stored: run \`mail2ticket oauth login oauth\`" <<<"$out"
m2t "$conf" test-connection oauth
check_eq "test-connection before sign-in: EX_UNAVAILABLE" "$rc" 69
check "test-connection says how to sign in" grep -q "has no OAuth2 refresh token yet: run" <<<"$out"

# device-code flow: the server says authorization_pending once, then approves
m2t "$conf" oauth login oauth
check_eq "oauth login: exit 0" "$rc" 0
check "oauth login prints the URL and the code" \
	grep -q "To sign in, open $URL/device and enter the code M2T-TEST" <<<"$out"
check "oauth login polled until approved" grep -q "event=oauth.login .*polls=2" <<<"$out"
check_eq "the refresh token is stored" "$(db_refresh)" "$(state refresh_token)"
m2t "$conf" oauth status oauth
check_eq "status after sign-in: exit 0" "$rc" 0
check "status shows the access token's expiry" grep -Eq "access token: valid until .* \((59|60) min left\)" <<<"$out"

# a job logs in with XOAUTH2 at the real Dovecot; the token comes from the database
deliver_oauth "$MAIL/plain.eml"
grants=$(state refresh_grants)
m2t "$conf" run oauth-inbox
check_eq "run with XOAUTH2: exit 0" "$rc" 0
check "run: logged in with XOAUTH2" grep -q "event=imap.connect .*login=XOAUTH2" <<<"$out"
check_eq "run: the mail became a ticket" "$(psql_q 'select count(*) from tickets')" 1
check_eq "run: the cached access token was used (no refresh)" "$(state refresh_grants)" "$grants"
check_eq "run: the mail was archived" "$(count_oauth_inbox)" 0

# expired access token: refreshed, and the rotated refresh token saved
old_rt=$(db_refresh)
expire_access
m2t "$conf" test-connection oauth
check_eq "expired access token: refreshed, logged in" "$rc" 0
check "test-connection shows XOAUTH2" grep -q "login: *XOAUTH2 as oauth" <<<"$out"
check "test-connection shows the token state" grep -q "last error:   none" <<<"$out"
check_eq "one refresh grant" "$(state refresh_grants)" $((grants + 1))
check "the refresh token rotated" test "$(db_refresh)" != "$old_rt"
check_eq "the rotated refresh token is the one stored" "$(db_refresh)" "$(state refresh_token)"
check "refresh logged without the token" grep -q "event=oauth.refresh account=oauth grant=refresh_token expires_in=3600 rotated=yes" <<<"$out"

# OAUTHBEARER (RFC 7628) with the cached token
config "$TEST_TMP/bearer.yaml" oauthbearer
m2t "$TEST_TMP/bearer.yaml" test-connection oauth
check_eq "OAUTHBEARER: exit 0" "$rc" 0
check "OAUTHBEARER used" grep -q "login: *OAUTHBEARER as oauth" <<<"$out"
config "$TEST_TMP/auto.yaml" auto
m2t "$TEST_TMP/auto.yaml" test-connection oauth
check "auth: auto takes OAUTHBEARER when offered" grep -q "login: *OAUTHBEARER as oauth" <<<"$out"

# the server revoked every access token: the cached one is refused, a new one works
grants=$(state refresh_grants)
curl -fsS -X POST "$URL/admin/revoke-access" >/dev/null
m2t "$conf" test-connection oauth
check_eq "revoked access token: a new one is fetched, login works" "$rc" 0
check "revoked access token: said in the log" grep -q "event=oauth.token_refused" <<<"$out"
check_eq "revoked access token: one refresh" "$(state refresh_grants)" $((grants + 1))

# the refresh token revoked: the login fails, visibly, and nothing is touched
curl -fsS -X POST "$URL/admin/revoke-refresh" >/dev/null
expire_access
deliver_oauth "$MAIL/plain.eml"
m2t "$conf" run oauth-inbox
check_eq "revoked refresh token: EX_UNAVAILABLE" "$rc" 69
check "revoked refresh token: invalid_grant in the error" grep -q "invalid_grant" <<<"$out"
check "revoked refresh token: what to do" grep -q "run \`mail2ticket oauth login ACCOUNT\`" <<<"$out"
check "revoked refresh token: logged as a warning" grep -q "level=warn event=oauth.refresh_failed .*account=oauth" <<<"$out"
check_eq "revoked refresh token: the mail stays" "$(count_oauth_inbox)" 1
m2t "$conf" oauth status oauth
check_eq "status after invalid_grant: EX_UNAVAILABLE" "$rc" 69
check "status shows the last error" grep -q "last error:   .*invalid_grant: AADSTS70000" <<<"$out"
m2t "$conf" test-connection oauth
check "test-connection shows the refresh error" grep -q "last error:   .*invalid_grant" <<<"$out"

# two processes refresh at once: one asks the endpoint, the other takes its
# token; the stored refresh token is the newest
start_server --refresh-token rt-second --delay-ms 1500
rc=0
printf 'rt-second\n' | "$M2T_BIN" -c "$conf" oauth import oauth >"$TEST_TMP/import.out" 2>&1 || rc=$?
cat "$TEST_TMP/import.out" >>"$ALL"
check_eq "oauth import: exit 0" "$rc" 0
check "oauth import: checked with a refresh" grep -q "Stored and checked" "$TEST_TMP/import.out"
expire_access
grants=$(state refresh_grants)
"$M2T_BIN" -v -c "$conf" test-connection oauth >"$TEST_TMP/p1.out" 2>&1 &
p1=$!
"$M2T_BIN" -v -c "$conf" test-connection oauth >"$TEST_TMP/p2.out" 2>&1 &
p2=$!
rc1=0 rc2=0
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
cat "$TEST_TMP/p1.out" "$TEST_TMP/p2.out" >>"$ALL"
check_eq "concurrent refresh: both log in" "$rc1 $rc2" "0 0"
check_eq "concurrent refresh: one request at the endpoint" "$(state refresh_grants)" $((grants + 1))
check_eq "concurrent refresh: the newest refresh token is stored" "$(db_refresh)" "$(state refresh_token)"
check_eq "concurrent refresh: one of them refreshed" \
	"$(cat "$TEST_TMP/p1.out" "$TEST_TMP/p2.out" | grep -c 'event=oauth.refresh ')" 1

# client credentials (app-only)
secret="app-secret-$RANDOM$RANDOM"
start_server --client-secret "$secret"
printf '%s\n' "$secret" >"$TEST_TMP/client.secret"
chmod 600 "$TEST_TMP/client.secret"
config "$TEST_TMP/app.yaml" xoauth2 "      flow: client_credentials
      client_secret_file: \"$TEST_TMP/client.secret\""
m2t "$TEST_TMP/app.yaml" test-connection oauth
check_eq "client credentials: logged in" "$rc" 0
check "client credentials: the grant" grep -q "event=oauth.refresh account=oauth grant=client_credentials" <<<"$out"
check "client credentials: the secret is never printed" bash -c '! grep -qF "$1" "$2"' _ "$secret" "$ALL"

# no token, code or refresh token in anything mail2ticket printed
check_no_tokens
