#!/usr/bin/env bash
# The README's example configurations, run for real: each ```yaml block
# whose first line is "# example: NAME" is taken from README.md, pointed at
# the test servers (host, port, CA, path, password variable) and used the
# way the README says — check-config, then a job run or a delivery.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
readme=$M2T_ROOT/README.md

example() { # NAME -> the block's text
	awk -v name="$1" '
		/^```yaml/ { inblock = 1; first = 1; keep = 0; next }
		/^```/ { inblock = 0; keep = 0; next }
		inblock && first { first = 0; keep = ($0 == "# example: " name) }
		inblock && keep { print }' "$readme"
}

for name in pop3 maildir deliver; do
	example "$name" > "$TEST_TMP/$name.yaml"
	check "README has the $name example" test -s "$TEST_TMP/$name.yaml"
done

# --- POP3: the example as written, aimed at the test Dovecot --------------------
export HELPDESK_POP3_PASSWORD
HELPDESK_POP3_PASSWORD=$(cat "$M2T_IMAP_PASSWORD_FILE")
sed -i -e "s|host: pop.example.com|host: 127.0.0.1\n    port: $M2T_POP3S_PORT|" \
	-e "s|tls: { verify: true }|tls: { verify: true, ca_file: \"$M2T_CA_FILE\" }|" \
	-e "s|username: helpdesk@example.com|username: $M2T_IMAP_USER|" "$TEST_TMP/pop3.yaml"
check "pop3 example: check-config" "$M2T_BIN" -c "$TEST_TMP/pop3.yaml" check-config
"$M2T_BIN" -c "$TEST_TMP/pop3.yaml" migrate >/dev/null
reset_mailbox
deliver "$MAIL/plain.eml"
rc=0
out=$("$M2T_BIN" -c "$TEST_TMP/pop3.yaml" run helpdesk-pop 2>"$TEST_TMP/pop3.err") || rc=$?
check_eq "pop3 example: the job runs" "$rc" 0 || tail -n 5 "$TEST_TMP/pop3.err"
check "pop3 example: one ticket" grep -q "tickets 1" <<<"$out"
check_eq "pop3 example: the mail is deleted" "$(count_inbox)" 0
check "pop3 example: test-connection as the README shows it" \
	bash -c '"$1" -c "$2" test-connection helpdesk-pop | grep -q "^OK: logged in, and the maildrop can be listed by UIDL"' \
	_ "$M2T_BIN" "$TEST_TMP/pop3.yaml"

# --- Maildir --------------------------------------------------------------------
md=$TEST_TMP/Maildir
mkdir -p "$md/cur" "$md/new" "$md/tmp"
sed -i "s|path: /var/mail/helpdesk/Maildir|path: $md|" "$TEST_TMP/maildir.yaml"
check "maildir example: check-config" "$M2T_BIN" -c "$TEST_TMP/maildir.yaml" check-config
sed 's/^Message-ID: <.*>/Message-ID: <readme-md@example.org>/' "$MAIL/plain.eml" > "$TEST_TMP/md.eml"
sh "$M2T_SCRIPTS/maildir-deliver.sh" "$md" "$TEST_TMP/md.eml"
rc=0
out=$("$M2T_BIN" -c "$TEST_TMP/maildir.yaml" run local-inbox 2>"$TEST_TMP/md.err") || rc=$?
check_eq "maildir example: the job runs" "$rc" 0 || tail -n 5 "$TEST_TMP/md.err"
check "maildir example: one ticket" grep -q "tickets 1" <<<"$out"
check_eq "maildir example: archived in .Processed" "$(ls "$md/.Processed/new" | wc -l)" 1
check "maildir example: test-connection as the README shows it" \
	bash -c '"$1" -c "$2" test-connection local | grep -q "^OK: every job.s folders can be used"' \
	_ "$M2T_BIN" "$TEST_TMP/maildir.yaml"

# --- deliver ----------------------------------------------------------------------
sed -i "s|path: /var/mail/helpdesk/Maildir|path: $md|" "$TEST_TMP/deliver.yaml"
check "deliver example: check-config" "$M2T_BIN" -c "$TEST_TMP/deliver.yaml" check-config
sed 's/^Message-ID: <.*>/Message-ID: <readme-mta@example.org>/' "$MAIL/plain.eml" > "$TEST_TMP/mta.eml"
rc=0
"$M2T_BIN" -c "$TEST_TMP/deliver.yaml" -l warn deliver helpdesk <"$TEST_TMP/mta.eml" \
	>/dev/null 2>"$TEST_TMP/mta.err" || rc=$?
check_eq "deliver example: exit 0" "$rc" 0 || cat "$TEST_TMP/mta.err"
check_eq "deliver example: the ticket" \
	"$(psql_q "select count(*) from articles where message_id = 'readme-mta@example.org'")" 1
check "deliver example: -l warn keeps stderr empty" test ! -s "$TEST_TMP/mta.err"
