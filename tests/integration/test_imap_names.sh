#!/usr/bin/env bash
# Non-ASCII folder names against the real Dovecot, the whole way: a job whose
# mailbox, archive and badmail folders are Поддержка, Soporte/Técnico and
# INBOX.Ärger (INBOX/Ärger on this server). Dovecot keeps them in modified
# UTF-7 on disk, which also shows what went over the wire.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
conf=$TEST_TMP/m2t.yaml
make_config "$conf"
sed -i -e 's|^    mailbox: INBOX$|    mailbox: Поддержка|' \
	-e 's|^    archive_folder: Processed$|    archive_folder: "Soporte/Técnico"|' \
	-e 's|^    badmail_folder: Badmail$|    badmail_folder: INBOX.Ärger|' \
	-e 's/max_message_size: 25MB/max_message_size: 16KB/' "$conf"

{
	printf 'From: Huge <huge@example.org>\r\nTo: support@example.com\r\nSubject: huge\r\nMessage-ID: <huge-names@example.org>\r\n\r\n'
	for _ in $(seq 1 400); do printf '%s\r\n' "0123456789012345678901234567890123456789012345678901234567890123456789"; done
} >"$TEST_TMP/huge.eml"
create_folder "Поддержка"
for f in "$MAIL/plain.eml" "$MAIL/reply_to.eml" "$TEST_TMP/huge.eml"; do
	dove save -u "$M2T_IMAP_USER" -m "Поддержка" <"$f"
done
check_eq "three mails in Поддержка" "$(imap_count "Поддержка")" 3
check "Dovecot keeps the name in modified UTF-7 on disk" \
	test -d "$M2T_MAILDIR/.&BB8EPgQ0BDQENQRABDYEOgQw-"

"$M2T_BIN" -c "$conf" migrate >/dev/null
out=$("$M2T_BIN" -c "$conf" run support-inbox 2>"$TEST_TMP/run.err") && rc=0 || rc=$?
check_eq "run exits 0" "$rc" 0 || sed 's/^/  | /' "$TEST_TMP/run.err"
check "run summary" grep -q "fetched 2, tickets 2, appended 0, ignored 0, badmail 1" <<<"$out"
check_eq "Поддержка is empty" "$(imap_count "Поддержка")" 0
check_eq "two mails archived in Soporte/Técnico" "$(imap_count "Soporte/Técnico")" 2
check_eq "one mail in INBOX/Ärger (badmail)" "$(imap_count "INBOX/Ärger")" 1
check "archive created in modified UTF-7" test -d "$M2T_MAILDIR/.Soporte.T&AOk-cnico"
check "badmail created in modified UTF-7" test -d "$M2T_MAILDIR/.INBOX.&AMQ-rger"
check_eq "recorded under the UTF-8 name" \
	"$(psql_q "select distinct mailbox from processed_messages")" "Поддержка"
check "logs show UTF-8 names" grep -q 'mailbox="Поддержка"' "$TEST_TMP/run.err"

out=$("$M2T_BIN" -c "$conf" run support-inbox 2>"$TEST_TMP/run2.err") && rc=0 || rc=$?
check_eq "second run exits 0" "$rc" 0 || sed 's/^/  | /' "$TEST_TMP/run2.err"
check_eq "nothing twice" "$(psql_q 'select count(*) from tickets')" 2

out=$("$M2T_BIN" -c "$conf" test-connection support 2>&1) && rc=0 || rc=$?
check_eq "test-connection exits 0" "$rc" 0 || sed 's/^/  | /' <<<"$out"
check "test-connection names the folders in UTF-8" grep -q "Soporte/Técnico" <<<"$out"
