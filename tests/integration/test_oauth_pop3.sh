#!/usr/bin/env bash
# OAuth2 for POP3 accounts against the real Dovecot POP3 server (its oauth2
# passdb checks the tokens of the local token server by introspection): a
# job run that refreshes an expired access token (the rotated refresh
# token saved) and logs in with AUTH OAUTHBEARER (auth: auto) over TLS;
# XOAUTH2 when asked for; test-connection shows the token state; an access
# token the server revoked is replaced once and the run goes on; when no
# new token can be had there is no second try, the run fails visibly and
# the mail stays. No token ever reaches the output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/oauth_lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
reset_oauth_mailbox
on_exit reset_oauth_mailbox
DATABASE_URL=$(new_db)
export DATABASE_URL

config() { # FILE AUTH
	cat >"$1" <<-EOF
		database:
		  url_env: DATABASE_URL
		accounts:
		  oauth:
		    protocol: pop3
		    host: 127.0.0.1
		    port: $M2T_POP3S_PORT
		    security: tls
		    tls: { ca_file: "$M2T_CA_FILE" }
		    username: $M2T_OAUTH_USER
		    auth: $2
		    timeout: 10s
		    oauth2:
		      provider: generic
		      client_id: m2t-test
		      token_url: $URL/token
		      scope: pop offline_access
		jobs:
		  oauth-pop:
		    account: oauth
		    schedule: "@hourly"
	EOF
}

new_mail() { # a fresh Message-ID each time
	sed "s/^Message-ID: <printer-3-0001@/Message-ID: <oauth-pop3-$1@/" "$MAIL/plain.eml" >"$TEST_TMP/$1.eml"
	echo "$TEST_TMP/$1.eml"
}
tickets() { psql_q 'select count(*) from tickets'; }
# the AUTH commands a run sent (traced as "AUTH MECH ***")
auth_lines() { grep -c 'event=pop3.send .*line="AUTH ' <<<"$out" || true; }

conf=$TEST_TMP/auto.yaml
config "$conf" auto
check "migrate" "$M2T_BIN" -c "$conf" migrate
start_server --refresh-token rt-pop3-first

# no refresh token yet: the token endpoint is the first step, the server is not asked
m2t "$conf" test-connection oauth
check_eq "before sign-in: test-connection EX_UNAVAILABLE" "$rc" 69
check "before sign-in: says how to sign in" grep -q "has no OAuth2 refresh token yet: run" <<<"$out"
check "before sign-in: the token state is shown" \
	grep -q "refresh token: none stored: run \`mail2ticket oauth login oauth\`" <<<"$out"
check "before sign-in: no POP3 connection" bash -c '! grep -q "event=pop3\." <<<"$1"' _ "$out"

rc=0
printf 'rt-pop3-first\n' | "$M2T_BIN" -c "$conf" oauth import oauth >"$TEST_TMP/import.out" 2>&1 || rc=$?
cat "$TEST_TMP/import.out" >>"$ALL"
check_eq "oauth import: exit 0" "$rc" 0

# a job run with an expired access token: refreshed (rotated), then AUTH OAUTHBEARER
deliver_oauth "$(new_mail one)"
expire_access
old_rt=$(db_refresh)
grants=$(state refresh_grants)
m2t "$conf" run oauth-pop
check_eq "run: exit 0" "$rc" 0
check_eq "run: one refresh at the token endpoint" "$(state refresh_grants)" $((grants + 1))
check "run: the refresh logged without the token" \
	grep -q "event=oauth.refresh job=oauth-pop .*grant=refresh_token expires_in=3600 rotated=yes" <<<"$out"
check "run: the refresh token rotated" test "$(db_refresh)" != "$old_rt"
check_eq "run: the rotated refresh token is the one stored" "$(db_refresh)" "$(state refresh_token)"
check "run: auth auto took OAUTHBEARER over TLS" \
	grep -q 'event=pop3.connect .*tls=yes .*login="AUTH OAUTHBEARER"' <<<"$out"
check "run: the AUTH line traced without the token" \
	grep -q 'event=pop3.send .*line="AUTH OAUTHBEARER \*\*\*"' <<<"$out"
check_eq "run: one login" "$(auth_lines)" 1
check_eq "run: the mail became a ticket" "$(tickets)" 1
check_eq "run: the mail was deleted after COMMIT" "$(count_oauth_inbox)" 0

# XOAUTH2 when asked for, with the cached token; test-connection shows the token state
config "$TEST_TMP/xoauth2.yaml" xoauth2
grants=$(state refresh_grants)
m2t "$TEST_TMP/xoauth2.yaml" test-connection oauth
check_eq "test-connection, XOAUTH2: exit 0" "$rc" 0
check "test-connection: login AUTH XOAUTH2" grep -q "login: *AUTH XOAUTH2 as oauth" <<<"$out"
check "test-connection: provider and flow" \
	grep -q "oauth2: *generic, flow refresh_token, client m2t-test" <<<"$out"
check "test-connection: refresh token stored" grep -q "refresh token: stored" <<<"$out"
check "test-connection: the access token's expiry" \
	grep -Eq "access token: valid until .* \((59|60) min left\)" <<<"$out"
check "test-connection: no last error" grep -q "last error:   none" <<<"$out"
check "test-connection: the maildrop listed" grep -q "maildrop: *0 messages" <<<"$out"
check_eq "test-connection: the cached token was used" "$(state refresh_grants)" "$grants"

# the server revoked every access token: the cached one is refused, one new one works
deliver_oauth "$(new_mail two)"
grants=$(state refresh_grants)
curl -fsS -X POST "$URL/admin/revoke-access" >/dev/null
m2t "$conf" run oauth-pop
check_eq "revoked access token: the run exits 0" "$rc" 0
check "revoked access token: said in the log" grep -q "level=warn event=oauth.token_refused job=oauth-pop" <<<"$out"
check "revoked access token: tried again" \
	grep -q 'event=pop3.login .*msg="trying again with a new OAuth2 token"' <<<"$out"
check_eq "revoked access token: two logins in one session" "$(auth_lines)" 2
check_eq "revoked access token: one refresh" "$(state refresh_grants)" $((grants + 1))
check_eq "revoked access token: the mail became a ticket" "$(tickets)" 2
check_eq "revoked access token: the mail was deleted" "$(count_oauth_inbox)" 0
at=$(psql_q "select access_token from oauth_tokens where account = 'oauth'")
check "an access token is stored" test -n "$at"

# revoked again, and now the refresh token too: one try, no second, the mail stays
deliver_oauth "$(new_mail three)"
curl -fsS -X POST "$URL/admin/revoke-access" >/dev/null
curl -fsS -X POST "$URL/admin/revoke-refresh" >/dev/null
m2t "$conf" run oauth-pop
check_eq "no new token: EX_UNAVAILABLE" "$rc" 69
check_eq "no new token: one login only" "$(auth_lines)" 1
check "no new token: the login refusal and invalid_grant in the error" \
	grep -q "refused.*; and no new OAuth2 token: .*invalid_grant" <<<"$out"
check_eq "no new token: no ticket" "$(tickets)" 2
check_eq "no new token: the mail stays on the server" "$(count_oauth_inbox)" 1
m2t "$conf" test-connection oauth
check_eq "test-connection after invalid_grant: EX_UNAVAILABLE" "$rc" 69
check "test-connection shows the refresh error" grep -q "last error:   .*invalid_grant" <<<"$out"

# no token, code or refresh token in anything mail2ticket printed
check_no_tokens
check "the stored access token is not in the output" bash -c '! grep -qF "$1" "$2"' _ "$at" "$ALL"
