# shellcheck shell=bash
# The OAuth2 tests' share, sourced after lib.sh: the local token server
# (tests/tools/oauth_server.c), whose tokens Dovecot's oauth2 passdb checks
# by introspection at 127.0.0.1:$M2T_OAUTH_PORT for the user
# $M2T_OAUTH_USER (mail in $M2T_OAUTH_MAILDIR), and the check that no
# token ever reaches mail2ticket's output.
#
#   start_server ARGS...   (re)starts the token server with these options
#                          (--user and --client-id m2t-test given); stopped at exit
#   stop_server
#   state KEY              the server's refresh_grants | refresh_token | access_tokens
#   $URL                   the server's base URL
#   deliver_oauth FILE...  into the oauth user's INBOX
#   count_oauth_inbox      messages there, as Maildir files
#   reset_oauth_mailbox    empties it (its folders are left)
#   m2t CONFIG ARGS...     mail2ticket -v -c CONFIG ARGS...: sets rc and out;
#                          every output is also kept in $ALL
#   check_no_tokens        no access token, refresh token or device code in $ALL
#   db_refresh             the refresh token stored for the account "oauth"
#   expire_access          makes its stored access token expired

SERVER=$M2T_ROOT/build/rel/tools/oauth_server
[ -x "$SERVER" ] || { fail "oauth_server built" "run make tools"; exit 1; }
URL=http://127.0.0.1:$M2T_OAUTH_PORT
SERVER_PID=

start_server() {
	stop_server
	"$SERVER" --port "$M2T_OAUTH_PORT" --user "$M2T_OAUTH_USER" --client-id m2t-test \
		"$@" >>"$TEST_TMP/oauth_server.log" 2>&1 &
	SERVER_PID=$!
	local i=0
	until curl -fsS "$URL/admin/state" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { fail "token server starts"; exit 1; }
		sleep 0.05
	done
}
stop_server() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}
on_exit stop_server
state() { curl -fsS "$URL/admin/state" | sed -n "s/^$1=//p"; }
db_refresh() { psql_q "select refresh_token from oauth_tokens where account = 'oauth'"; }
expire_access() {
	psql_q "update oauth_tokens set access_expires_at = now() - interval '1 minute'
		where account = 'oauth' and access_token is not null" >/dev/null
}

deliver_oauth() {
	sh "$M2T_SCRIPTS/maildir-deliver.sh" "$M2T_OAUTH_MAILDIR" "$@"
}
count_oauth_inbox() { sh "$M2T_SCRIPTS/maildir-count.sh" "$M2T_OAUTH_MAILDIR"; }
# doveadm cannot reach this user (its oauth2 passdb has no lookup without a
# token): the files go, as an expunge would take them, and Dovecot finds
# them gone at the next login
reset_oauth_mailbox() {
	find "$M2T_OAUTH_MAILDIR/new" "$M2T_OAUTH_MAILDIR/cur" -mindepth 1 -maxdepth 1 -type f -delete
}

ALL=$TEST_TMP/all.out
: >"$ALL"
m2t() {
	rc=0
	out=$("$M2T_BIN" -v -c "$@" 2>&1) || rc=$?
	printf '%s\n' "$out" >>"$ALL"
}

check_no_tokens() {
	check "no access token in the output" bash -c '! grep -Eq "at-[0-9]+-[0-9a-f]{16}" "$1"' _ "$ALL"
	check "no refresh token in the output" \
		bash -c '! grep -Eq "rt-[0-9]+-[0-9a-f]{16}|rt-second|rt-pop3" "$1"' _ "$ALL"
	check "no device code in the output" bash -c '! grep -Eq "dc-[0-9]+-[0-9a-f]{16}" "$1"' _ "$ALL"
}
