#!/usr/bin/env bash
# The same whole way over required STARTTLS and over plaintext, with LOGIN
# as well as AUTHENTICATE PLAIN, from a subfolder named with either
# hierarchy delimiter; and the password never in the log, even at debug.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox

password=$(cat "$M2T_IMAP_PASSWORD_FILE")

one_run() { # NAME CONFIG: one mail in, one ticket out, archived
	local name=$1 cfg=$2 before rc=0
	before=$(psql_q 'select count(*) from tickets' 2>/dev/null || echo 0)
	"$M2T_BIN" -c "$cfg" migrate >/dev/null 2>&1
	"$M2T_BIN" -v -c "$cfg" run support-inbox >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.log" || rc=$?
	check_eq "$name: run exits 0" "$rc" 0
	check_eq "$name: one more ticket" "$(psql_q 'select count(*) from tickets')" $((before + 1))
	check "$name: password never logged" bash -c '! grep -qF "$1" "$2"' _ "$password" "$TEST_TMP/$name.log"
}

new_mail() { # a fresh Message-ID each time, so every run makes a ticket
	sed "s/^Message-ID: <printer-3-0001@/Message-ID: <printer-$1@/" "$MAIL/plain.eml" > "$TEST_TMP/$1.eml"
	echo "$TEST_TMP/$1.eml"
}

CFG_SECURITY=starttls make_config "$TEST_TMP/starttls.yaml"
deliver "$(new_mail starttls)"
one_run starttls "$TEST_TMP/starttls.yaml"
check "starttls: the session was upgraded" grep -q "STARTTLS" "$TEST_TMP/starttls.log"

CFG_SECURITY=none make_config "$TEST_TMP/plain.yaml"
deliver "$(new_mail plain)"
one_run plaintext "$TEST_TMP/plain.yaml"

make_config "$TEST_TMP/login.yaml"
sed -i 's/^    timeout: 10s/    auth: login\n    timeout: 10s/' "$TEST_TMP/login.yaml"
deliver "$(new_mail login)"
one_run login "$TEST_TMP/login.yaml"
check "login: LOGIN was used, its arguments hidden" grep -q 'LOGIN \*\*\*' "$TEST_TMP/login.log"

# A subfolder, configured with '.' while the server's delimiter is '/'
create_folder "Support/Level2"
deliver_to "Support/Level2" "$(new_mail subfolder)"
make_config "$TEST_TMP/sub.yaml"
sed -i 's|^    mailbox: INBOX|    mailbox: Support.Level2|' "$TEST_TMP/sub.yaml"
one_run subfolder "$TEST_TMP/sub.yaml"
check_eq "subfolder: emptied" "$(imap_count Support/Level2)" 0

# An inline password works, with a warning naming the place, and stays secret.
make_config "$TEST_TMP/inline.yaml"
sed -i "s|^    password_file: .*|    password: \"$password\"|" "$TEST_TMP/inline.yaml"
deliver "$(new_mail inline)"
one_run inline "$TEST_TMP/inline.yaml"
check "inline: warns about the plain password" grep -q "inline.yaml:[0-9]*" "$TEST_TMP/inline.log"
check_eq "everything archived" "$(count_folder Processed)" 5
