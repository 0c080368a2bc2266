#!/usr/bin/env bash
# Proxies for real (tests/scripts/proxy-servers.sh): IMAP and POP3 through
# dante (SOCKS5, without and with user/password) and tinyproxy (HTTP
# CONNECT with Basic credentials), by a server name only the proxies can
# resolve (remote DNS), with TLS checked against that name inside the
# tunnel; refused credentials, an unreachable proxy; OAuth2 token requests
# through the proxy too. Credentials never reach the output.
. "$(dirname "$0")/lib.sh"

if [ "${M2T_PROXIES:-0}" != 1 ]; then
	skip "proxies" "dante-server and tinyproxy need root and the packages (make deps)"
	exit 0
fi
MAIL=$M2T_ROOT/tests/integration/mail
PW=$(cat "$M2T_PROXY_PASSWORD_FILE")
export DATABASE_URL=postgresql://unused@127.0.0.1:1/none
reset_mailbox
create_folder Processed Badmail

# make_config with the proxy lines and the name only the proxies resolve
proxy_config() { # FILE PROXY_URL [PASSWORD_FILE] [PROTOCOL]
	local proto=${4:-imap}
	CFG_PROTOCOL=$proto make_config "$1"
	sed -i "s|host: 127.0.0.1|host: $M2T_PROXIED_NAME|" "$1"
	sed -i "/^    timeout: 10s/a\\    proxy: $2" "$1"
	if [ -n "${3:-}" ]; then
		sed -i "/^    proxy: /a\\    proxy_password_file: \"$3\"" "$1"
	fi
}
probe() { # CONFIG: sets rc, out
	rc=0
	out=$("$M2T_BIN" -v -c "$1" test-connection support 2>&1) || rc=$?
	printf '%s\n' "$out" >>"$TEST_TMP/all.out"
}

check "the proxied name does not resolve here (only the proxies know it)" \
	bash -c '! getent hosts "$1"' _ "$M2T_PROXIED_NAME"

proxy_config "$TEST_TMP/socks.yaml" "socks5://127.0.0.1:$M2T_SOCKS_PORT"
probe "$TEST_TMP/socks.yaml"
check_eq "SOCKS5: test-connection exit 0" "$rc" 0
check "SOCKS5: shows the proxy" grep -q "proxy: *socks5://127.0.0.1:$M2T_SOCKS_PORT (the proxy resolves" <<<"$out"
check "SOCKS5: connected through it" grep -q "address: *$M2T_PROXIED_NAME port $M2T_IMAPS_PORT, through the socks5 proxy 127.0.0.1" <<<"$out"
check "SOCKS5: TLS verified for the mail host" grep -q "valid: chain and name verified" <<<"$out"
check "SOCKS5: dante logged the tunnel" grep -q "$M2T_IMAPS_PORT" "$M2T_PROXY_LOG_DIR/danted-open.log"

cp "$M2T_PROXY_PASSWORD_FILE" "$TEST_TMP/proxy.pw"
chmod 600 "$TEST_TMP/proxy.pw"
proxy_config "$TEST_TMP/socks-auth.yaml" "socks5://$M2T_PROXY_USER@127.0.0.1:$M2T_SOCKS_AUTH_PORT" "$TEST_TMP/proxy.pw"
probe "$TEST_TMP/socks-auth.yaml"
check_eq "SOCKS5 with user/password: exit 0" "$rc" 0
check "SOCKS5 with user/password: as the user" grep -q "through the socks5 proxy .* as $M2T_PROXY_USER" <<<"$out"

printf 'wrong-%s\n' "$RANDOM" >"$TEST_TMP/wrong.pw"
chmod 600 "$TEST_TMP/wrong.pw"
proxy_config "$TEST_TMP/socks-bad.yaml" "socks5://$M2T_PROXY_USER@127.0.0.1:$M2T_SOCKS_AUTH_PORT" "$TEST_TMP/wrong.pw"
probe "$TEST_TMP/socks-bad.yaml"
check_eq "SOCKS5, wrong password: EX_UNAVAILABLE" "$rc" 69
check "SOCKS5, wrong password: says so" grep -q "refused the user name \"$M2T_PROXY_USER\"" <<<"$out"
proxy_config "$TEST_TMP/socks-none.yaml" "socks5://127.0.0.1:$M2T_SOCKS_AUTH_PORT"
probe "$TEST_TMP/socks-none.yaml"
check_eq "SOCKS5 that needs a password, none given: EX_UNAVAILABLE" "$rc" 69
check "SOCKS5 without password: says so" grep -q "accepts none of our authentication methods" <<<"$out"

proxy_config "$TEST_TMP/http.yaml" "http://$M2T_PROXY_USER@127.0.0.1:$M2T_HTTP_PROXY_PORT" "$TEST_TMP/proxy.pw"
probe "$TEST_TMP/http.yaml"
check_eq "HTTP CONNECT with Basic credentials: exit 0" "$rc" 0
check "HTTP CONNECT: connected through it" grep -q "through the http proxy 127.0.0.1" <<<"$out"
check "HTTP CONNECT: tinyproxy logged the CONNECT" grep -q "CONNECT.*$M2T_PROXIED_NAME:$M2T_IMAPS_PORT" "$M2T_PROXY_LOG_DIR/tinyproxy.log"
proxy_config "$TEST_TMP/http-none.yaml" "http://127.0.0.1:$M2T_HTTP_PROXY_PORT"
probe "$TEST_TMP/http-none.yaml"
check_eq "HTTP CONNECT without credentials: EX_UNAVAILABLE" "$rc" 69
check "HTTP CONNECT without credentials: 407 explained" grep -q "407 .*it needs a user name and password" <<<"$out"

# a proxy that is not there: transient, and never a direct connection instead
port=$(( M2T_SOCKS_PORT + 40000 > 65000 ? M2T_SOCKS_PORT - 1 : M2T_SOCKS_PORT + 1 ))
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
CFG_PORT=$M2T_IMAPS_PORT make_config "$TEST_TMP/down.yaml"
sed -i "/^    timeout: 10s/a\\    proxy: socks5://127.0.0.1:$port" "$TEST_TMP/down.yaml"
probe "$TEST_TMP/down.yaml"
check_eq "unreachable proxy: EX_TEMPFAIL" "$rc" 75
check "unreachable proxy: named" grep -q "cannot connect to socks5 proxy \"127.0.0.1\" port $port" <<<"$out"

# a job run: IMAP through SOCKS5 stores the mail and moves it
DATABASE_URL=$(new_db)
export DATABASE_URL
"$M2T_BIN" -c "$TEST_TMP/socks-auth.yaml" migrate >/dev/null
deliver "$MAIL/plain.eml"
rc=0
"$M2T_BIN" -c "$TEST_TMP/socks-auth.yaml" run support-inbox >"$TEST_TMP/run.out" 2>&1 || rc=$?
cat "$TEST_TMP/run.out" >>"$TEST_TMP/all.out"
check_eq "IMAP job through SOCKS5: exit 0" "$rc" 0
check_eq "IMAP job through SOCKS5: a ticket" "$(psql_q 'select count(*) from tickets')" 1
check_eq "IMAP job through SOCKS5: mail archived" "$(count_folder Processed)" 1

# POP3 takes the same route, without knowing about proxies
proxy_config "$TEST_TMP/pop3.yaml" "http://$M2T_PROXY_USER@127.0.0.1:$M2T_HTTP_PROXY_PORT" "$TEST_TMP/proxy.pw" pop3
deliver "$MAIL/plain.eml"
rc=0
"$M2T_BIN" -c "$TEST_TMP/pop3.yaml" run support-inbox >"$TEST_TMP/pop3.out" 2>&1 || rc=$?
cat "$TEST_TMP/pop3.out" >>"$TEST_TMP/all.out"
check_eq "POP3 job through HTTP CONNECT: exit 0" "$rc" 0
check "POP3 job: tinyproxy carried it" grep -q "CONNECT.*$M2T_PROXIED_NAME:$M2T_POP3S_PORT" "$M2T_PROXY_LOG_DIR/tinyproxy.log"
check_eq "POP3 job: the mail was taken" "$(count_inbox)" 0

# OAuth2 token requests go through the account's proxy as well
SERVER=$M2T_ROOT/build/rel/tools/oauth_server
"$SERVER" --port "$M2T_OAUTH_PORT" --user oauth --client-id m2t-proxy --client-secret s3 \
	>"$TEST_TMP/oauth_server.log" 2>&1 &
spid=$!
on_exit kill "$spid"
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$M2T_OAUTH_PORT") 2>/dev/null && break; sleep 0.1; done
printf 's3\n' >"$TEST_TMP/cs"
chmod 600 "$TEST_TMP/cs"
cat >"$TEST_TMP/oauth.yaml" <<EOF
database:
  url_env: DATABASE_URL
accounts:
  oauth:
    protocol: imap
    host: $M2T_PROXIED_NAME
    port: $M2T_IMAPS_PORT
    tls: { ca_file: "$M2T_CA_FILE" }
    username: oauth
    auth: xoauth2
    proxy: http://$M2T_PROXY_USER@127.0.0.1:$M2T_HTTP_PROXY_PORT
    proxy_password_file: "$TEST_TMP/proxy.pw"
    oauth2:
      provider: generic
      client_id: m2t-proxy
      client_secret_file: "$TEST_TMP/cs"
      token_url: http://127.0.0.1:$M2T_OAUTH_PORT/token
      flow: client_credentials
jobs:
  j:
    account: oauth
    schedule: "@hourly"
EOF
rc=0
out=$("$M2T_BIN" -v -c "$TEST_TMP/oauth.yaml" test-connection oauth 2>&1) || rc=$?
printf '%s\n' "$out" >>"$TEST_TMP/all.out"
check_eq "OAuth2 through the proxy: logged in" "$rc" 0
check "OAuth2 through the proxy: the token request went through tinyproxy" \
	grep -q "CONNECT.*127.0.0.1:$M2T_OAUTH_PORT" "$M2T_PROXY_LOG_DIR/tinyproxy.log"

check "the proxy password is never printed" bash -c '! grep -qF "$1" "$2"' _ "$PW" "$TEST_TMP/all.out"
