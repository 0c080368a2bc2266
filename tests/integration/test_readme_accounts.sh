#!/usr/bin/env bash
# The README's account examples for each security mode and login ("Examples
# by security mode and login"), run for real: every ```yaml block whose first
# line is "# example: security-*" or "# example: auth-*" is taken from
# README.md, pointed at a test server (host, port, CA file, user and secret
# files replaced, nothing else: checked), completed with a database and a job,
# checked with check-config, and run: it must log in the way it says and turn
# a mail into a ticket. Servers: Dovecot (IMAP, POP3, its oauth2 passdb with
# the local token endpoint), Dovecot without TLS (starttls-optional), Cyrus
# (NTLM). An example this file does not know fails the test.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/oauth_lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
readme=$M2T_ROOT/README.md
reset_mailbox
reset_oauth_mailbox
start_notls_dovecot

example() { # NAME -> the block's text
	awk -v name="$1" '
		/^```yaml/ { inblock = 1; first = 1; keep = 0; next }
		/^```/ { inblock = 0; keep = 0; next }
		inblock && first { first = 0; keep = ($0 == "# example: " name) }
		inblock && keep { print }' "$readme"
}

# --- the targets ------------------------------------------------------------------
cyrus=0
if bash "$M2T_SCRIPTS/cyrus.sh" available; then
	mkdir "$TEST_TMP/cyrus"
	on_exit bash "$M2T_SCRIPTS/cyrus.sh" stop "$TEST_TMP/cyrus"
	bash "$M2T_SCRIPTS/cyrus.sh" start "$TEST_TMP/cyrus"
	# shellcheck disable=SC1091
	. "$TEST_TMP/cyrus/env"
	cyrus=1
fi
# the local token endpoint: the oauthbearer example's client, and a token
# for the xoauth2 example (which takes an access token as written)
printf 'sso-secret-%s\n' "$RANDOM$RANDOM" >"$TEST_TMP/client-secret"
chmod 600 "$TEST_TMP/client-secret"
start_server --client-id mail2ticket --client-secret "$(cat "$TEST_TMP/client-secret")"
curl -fsS -d grant_type=client_credentials -d client_id=mail2ticket \
	--data-urlencode "client_secret=$(cat "$TEST_TMP/client-secret")" "$URL/token" |
	sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p' >"$TEST_TMP/access-token"
chmod 600 "$TEST_TMP/access-token"
check "the token endpoint issued an access token" test -s "$TEST_TMP/access-token"

# --- aiming an example at a server ------------------------------------------------
# aim NAME PORT USER SECRET: $TEST_TMP/NAME.yaml, a whole configuration
aim() {
	local name=$1 port=$2 user=$3 secret=$4 account proto
	example "$name" >"$TEST_TMP/$name.snippet"
	awk -v port="$port" -v user="$user" -v secret="$secret" -v ca="$M2T_CA_FILE" \
		-v token_url="$URL/token" '
		/^    security: none/ { none = 1 }
		/^    host: / { host = 1; print "    host: 127.0.0.1"; print "    port: " port; next }
		/^    port: / { next }
		/^    tls: \{ / { sub(/\{ /, "{ ca_file: \"" ca "\", "); print; tls = 1; next }
		/^    username: / && user != "" { print "    username: " user; next }
		/^    password_file: / { print "    password_file: \"" secret "\""; next }
		/^      token_url: / { print "      token_url: " token_url; next }
		/^      client_secret_file: / { print "      client_secret_file: \"" secret "\""; next }
		{ print }
		END { if (!none && !tls) print "    tls: { ca_file: \"" ca "\" }" }' \
		"$TEST_TMP/$name.snippet" >"$TEST_TMP/$name.accounts"
	account=$(awk '/^accounts:/ { getline; sub(/^  /, ""); sub(/:.*/, ""); print; exit }' \
		"$TEST_TMP/$name.snippet")
	proto=$(awk '/^    protocol: / { print $2; exit }' "$TEST_TMP/$name.snippet")
	{
		printf '%s\n' "database:" "  url_env: DATABASE_URL"
		cat "$TEST_TMP/$name.accounts"
		printf '%s\n' "jobs:" "  readme-job:" "    account: $account"
		[ "$proto" = pop3 ] ||
			printf '%s\n' "    mailbox: INBOX" "    archive_folder: Processed" \
				"    badmail_folder: Badmail"
		printf '%s\n' '    schedule: "@hourly"'
	} >"$TEST_TMP/$name.yaml"
}

# Only the keys that say where and who may differ from the README.
only_aimed() { # NAME
	check "$1: only host, port, CA, user and secrets differ from the README" bash -c '
		diff "$1" "$2" | grep "^[<>]" |
			grep -Ev "^[<>]     (host|port|tls|username|password_file): |^[<>]       (token_url|client_secret_file): " |
			grep -q . && exit 1 || exit 0' _ "$TEST_TMP/$1.snippet" "$TEST_TMP/$1.accounts"
}

# run NAME DELIVER_CMD WANT_REGEX: check-config, a mail in, a job run, a ticket out
tickets=0
run() {
	local name=$1 deliver_cmd=$2 want=$3 rc=0 msg
	check "$name: README has it" test -s "$TEST_TMP/$name.snippet"
	only_aimed "$name"
	check "$name: check-config" "$M2T_BIN" -c "$TEST_TMP/$name.yaml" check-config
	msg=$TEST_TMP/$name.eml
	sed "s/^Message-ID: <printer-3-0001@/Message-ID: <readme-$name-$tickets@/" "$MAIL/plain.eml" >"$msg"
	$deliver_cmd "$msg"
	"$M2T_BIN" -v -c "$TEST_TMP/$name.yaml" run readme-job >"$TEST_TMP/$name.out" \
		2>"$TEST_TMP/$name.log" || rc=$?
	check_eq "$name: the job runs" "$rc" 0 || grep 'level=error' "$TEST_TMP/$name.log" | tail -n 3
	check "$name: logged in as expected" grep -Eq "$want" "$TEST_TMP/$name.log"
	tickets=$((tickets + 1))
	check_eq "$name: a ticket" "$(psql_q 'select count(*) from tickets')" "$tickets"
	cat "$TEST_TMP/$name.out" "$TEST_TMP/$name.log" >>"$ALL"
}

deliver_cyrus() { bash "$M2T_SCRIPTS/cyrus.sh" deliver "$TEST_TMP/cyrus" "$@"; }

pw=$M2T_IMAP_PASSWORD_FILE
aim security-tls "$M2T_IMAPS_PORT" support "$pw"
"$M2T_BIN" -c "$TEST_TMP/security-tls.yaml" migrate >/dev/null

names=$(grep -Eo '^# example: (security|auth)-[a-z0-9-]+$' "$readme" | sed 's/^# example: //')
check "the README has an example for each security mode and login" \
	test "$(printf '%s\n' "$names" | wc -l)" -ge 15
for name in $names; do
	case $name in
	security-tls)
		run "$name" deliver 'event=imap.connect .*tls=yes .*login=SCRAM-SHA-256' ;;
	security-starttls)
		aim "$name" "$M2T_IMAP_PORT" support "$pw"
		run "$name" deliver 'event=imap.connect .*tls=yes .*login=SCRAM-SHA-256' ;;
	security-starttls-optional)
		# a server without STARTTLS: plaintext, warned, SCRAM
		aim "$name" "$M2T_NOTLS_IMAP_PORT" support "$pw"
		run "$name" deliver 'event=imap.connect .*tls=no .*login=SCRAM-SHA-256'
		check "$name: warned that it goes on without TLS" \
			grep -q "level=warn event=imap.starttls_skipped" "$TEST_TMP/$name.log"
		# one with STARTTLS: upgraded
		mv "$TEST_TMP/$name.log" "$TEST_TMP/$name-notls.log"
		aim "$name" "$M2T_IMAP_PORT" support "$pw"
		run "$name" deliver 'event=imap.connect .*tls=yes .*login=SCRAM-SHA-256' ;;
	security-none)
		aim "$name" "$M2T_IMAP_PORT" support "$pw"
		run "$name" deliver 'event=imap.connect .*tls=no .*login=SCRAM-SHA-256' ;;
	auth-auto | auth-scram-sha-256 | auth-scram-sha-1 | auth-plain)
		mech=SCRAM-SHA-256
		case $name in auth-scram-sha-1) mech=SCRAM-SHA-1 ;; auth-plain) mech=PLAIN ;; esac
		aim "$name" "$M2T_IMAPS_PORT" support "$pw"
		run "$name" deliver "event=imap.connect .*tls=yes .*login=$mech" ;;
	auth-cram-md5)
		aim "$name" "$M2T_IMAP_PORT" support "$pw"
		run "$name" deliver 'event=imap.connect .*tls=yes .*login=CRAM-MD5' ;;
	auth-login)
		aim "$name" "$M2T_IMAPS_PORT" support "$pw"
		run "$name" deliver 'event=imap.connect .*tls=yes .*login="?LOGIN command' ;;
	auth-ntlm)
		if [ "$cyrus" -eq 1 ]; then
			# the user as written: EXAMPLE\support is Cyrus's "support"
			aim "$name" "$M2T_CYRUS_IMAPS_PORT" "" "$pw"
			run "$name" deliver_cyrus 'event=imap.connect .*tls=yes .*login=NTLM'
		else
			skip "$name" "Cyrus is not available (make deps, as root)"
		fi ;;
	auth-xoauth2)
		aim "$name" "$M2T_IMAPS_PORT" "$M2T_OAUTH_USER" "$TEST_TMP/access-token"
		run "$name" deliver_oauth 'event=imap.connect .*tls=yes .*login=XOAUTH2' ;;
	auth-oauthbearer)
		aim "$name" "$M2T_IMAPS_PORT" "$M2T_OAUTH_USER" "$TEST_TMP/client-secret"
		run "$name" deliver_oauth 'event=imap.connect .*tls=yes .*login=OAUTHBEARER' ;;
	auth-apop)
		aim "$name" "$M2T_POP3_PORT" support "$pw"
		run "$name" deliver 'event=pop3.connect .*tls=yes .*login="APOP"' ;;
	auth-user)
		aim "$name" "$M2T_POP3S_PORT" support "$pw"
		run "$name" deliver 'event=pop3.connect .*tls=yes .*login="USER/PASS"' ;;
	*)
		fail "$name: an example this test does not run" "add it to tests/integration/test_readme_accounts.sh" ;;
	esac
done
check "the password never logged" bash -c '! grep -qF "$1" "$2"' _ "$(cat "$pw")" "$ALL"
check "the client secret never logged" \
	bash -c '! grep -qF "$1" "$2"' _ "$(cat "$TEST_TMP/client-secret")" "$ALL"
check_no_tokens
