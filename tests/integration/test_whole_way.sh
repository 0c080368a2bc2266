#!/usr/bin/env bash
# One message's whole way: IMAPS → parse → ticket rows + processed record in
# one transaction → COMMIT → moved to the archive folder. Badmail for mail
# over a limit, with the reason kept; a second run does nothing twice.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
conf=$TEST_TMP/m2t.yaml
make_config "$conf" "    limits: { max_header_bytes: 4KB }"
sed -i 's/max_message_size: 25MB/max_message_size: 64KB/' "$conf"

# A mail whose header block breaks max_header_bytes, and one over max_message_size.
{
	printf 'From: Big Header <big@example.org>\r\nTo: support@example.com\r\nSubject: huge header\r\nMessage-ID: <bighdr@example.org>\r\n'
	for i in $(seq 1 100); do printf 'X-Filler-%d: %s\r\n' "$i" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; done
	printf '\r\nbody\r\n'
} > "$TEST_TMP/bigheader.eml"
{
	printf 'From: Huge <huge@example.org>\r\nTo: support@example.com\r\nSubject: huge body\r\nMessage-ID: <huge@example.org>\r\n\r\n'
	for i in $(seq 1 2000); do printf '%s\r\n' "0123456789012345678901234567890123456789012345678901234567890123456789"; done
} > "$TEST_TMP/huge.eml"

deliver "$MAIL/plain.eml" "$MAIL/html_attachment.eml" "$MAIL/reply_to.eml" \
	"$TEST_TMP/bigheader.eml" "$TEST_TMP/huge.eml"

check "migrate applies the schema" "$M2T_BIN" -c "$conf" migrate
check "migrate is idempotent" "$M2T_BIN" -c "$conf" migrate

out=$("$M2T_BIN" -c "$conf" run support-inbox 2>"$TEST_TMP/run.err") && rc=0 || rc=$?
check_eq "run exits 0" "$rc" 0 || sed 's/^/  | /' "$TEST_TMP/run.err"
check "run prints its summary" grep -q "fetched 4, tickets 3, appended 0, ignored 0, badmail 2, already done 0" <<<"$out"

check_eq "three tickets" "$(psql_q 'select count(*) from tickets')" 3
check_eq "one article per ticket" "$(psql_q 'select count(*) from articles')" 3
check_eq "ticket numbers are YYYYMMDDnnnnn" \
	"$(psql_q "select count(*) from tickets where number ~ ('^' || to_char(now() at time zone 'UTC', 'YYYYMMDD') || '[0-9]{5}\$')")" 3
check_eq "subject decoded from RFC 2047" \
	"$(psql_q "select t.subject from tickets t join articles a on a.ticket_id = t.id where a.message_id = 'invoice-77@example.net'")" \
	"Rechnung falsch – bitte prüfen"
check_eq "requester from From" \
	"$(psql_q "select c.email from tickets t join contacts c on c.id = t.requester_id where t.subject like 'Printer%'")" \
	"anna.schmidt@example.org"
check_eq "requester from Reply-To when set" \
	"$(psql_q "select c.email from tickets t join contacts c on c.id = t.requester_id where t.subject like 'Order 4711%'")" \
	"carla.garcia@example.org"
check_eq "display name decoded" \
	"$(psql_q "select name from contacts where email = 'joerg.mueller@example.net'")" "Jörg Müller"
check "Latin-1 body converted to UTF-8" grep -q "café machine" <<<"$(psql_q "select body_text from articles where message_id = 'order-4711@shop.example.org'")"
check "text/plain preferred over HTML" grep -q "Bitte prüfen." <<<"$(psql_q "select body_text from articles where message_id = 'invoice-77@example.net'")"
check "HTML body kept" grep -q "<b>falsch</b>" <<<"$(psql_q "select body_html from articles where message_id = 'invoice-77@example.net'")"
check_eq "attachment with RFC 2231 name" \
	"$(psql_q "select filename || ' ' || content_type from attachments")" "Rechnung März.pdf application/pdf"
check_eq "attachment content stored by sha256" \
	"$(psql_q "select count(*) from attachment_contents where sha256 = encode(sha256(content), 'hex')")" 1

check_eq "processed rows: 3 ticket, 2 badmail" \
	"$(psql_q "select string_agg(outcome || ':' || n, ',' order by outcome) from (select outcome, count(*) n from processed_messages group by outcome) x")" \
	"badmail:2,ticket:3"
check "badmail reason names the header limit" grep -q "header" <<<"$(psql_q "select reason from processed_messages where outcome = 'badmail' and sha256 is not null")"
check "badmail reason names the size limit" grep -q "exceeds max_message_size 64 KB" <<<"$(psql_q "select reason from processed_messages where outcome = 'badmail' and sha256 is null")"
check_eq "raw mail kept for the parsed ones and the header-limit one" "$(psql_q 'select count(*) from raw_messages')" 4
check_eq "uidvalidity recorded" "$(psql_q "select count(*) from processed_messages where uidvalidity > 0")" 5

check_eq "inbox is empty" "$(count_inbox)" 0
check_eq "three mails in Processed" "$(count_folder Processed)" 3
check_eq "two mails in Badmail" "$(count_folder Badmail)" 2
check_eq "job run recorded" "$(psql_q "select status || ' ' || fetched || ' ' || tickets || ' ' || badmail from job_runs")" "ok 4 3 2"

# The same mails delivered again (same bytes, new UIDs) are recognised by
# Message-ID + sha256: archived, no second ticket.
deliver "$MAIL/plain.eml"
out=$("$M2T_BIN" -c "$conf" run support-inbox 2>>"$TEST_TMP/run.err") && rc=0 || rc=$?
check_eq "second run exits 0" "$rc" 0
check "same mail again is already done" grep -q "tickets 0, .*already done 1" <<<"$out"
check_eq "still three tickets" "$(psql_q 'select count(*) from tickets')" 3
check_eq "the copy is archived too" "$(count_folder Processed)" 4

out=$("$M2T_BIN" -c "$conf" run support-inbox 2>>"$TEST_TMP/run.err") && rc=0 || rc=$?
check "an empty mailbox is a clean run" grep -q "fetched 0, tickets 0" <<<"$out"
check_eq "three job runs recorded" "$(psql_q "select count(*) from job_runs where status = 'ok'")" 3
check "tickets command lists them" grep -q "Printer on floor 3" <<<"$("$M2T_BIN" -c "$conf" tickets)"
