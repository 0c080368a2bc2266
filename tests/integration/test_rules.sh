#!/usr/bin/env bash
# The rules end to end on the real servers: two rule files using every
# layer (preprocess stages from both files as one pipeline, fields,
# statements with each action, `body` after preprocessing and
# `body_original` before it), follow-ups by
# In-Reply-To within one batch and by the subject's ticket number in a later
# run, a forged follow-up, a reply to a closed ticket, auto-replies, our own
# address, a delivery report attached to its original's ticket, the
# per-sender cap, move_to, and a broken rule file that stops the job.
. "$(dirname "$0")/lib.sh"

export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
conf=$TEST_TMP/m2t.yaml
mkdir -p "$TEST_TMP/rules"
cat >"$TEST_TMP/rules/main.yaml" <<'EOF'
preprocess:
  - stage: legal
    rules:
      - { name: legal-footer, match: '^LEGAL NOTICE', action: cut_after }
  - whitespace
fields:
  order_no: { type: integer, from: subject, pattern: 'Order (\d+)' }
  amount: { type: decimal, from: body, pattern: '(\d+[.,]\d\d) EUR' }
statements:
  - name: newsletter
    if: { subject: { starts_with: newsletter } }
    then: [ { ignore: "newsletter" }, { move_to: Newsletters }, stop ]
  - name: route
    if: { subject: { matches: '(?i)\b(?<device>printer|scanner)\b' } }
    then:
      - create_ticket: { queue: Hardware, tags: ['${device}'] }
    else if:
      - if: { field order_no: { exists: true } }
        then:
          - create_ticket:
              queue: Billing
              subject: "Order ${order_no}"
              fields: { order: '${order_no}', amount: '${amount}' }
    else:
      - create_ticket: { queue: General }
  - name: urgent
    if: { header X-Priority: { starts_with: '1' } }
    then: [ { set: { priority: high } } ]
  - name: legal
    if: { body_original: { contains: LEGAL NOTICE } }
    then: [ { set: { tags: [legal] } } ]
EOF
cat >"$TEST_TMP/rules/extra.yaml" <<'EOF'
preprocess:
  - stage: banner
    rules:
      - { name: external, match: '^\[EXTERNAL\] ', action: remove_match }
statements:
  - name: forbidden
    if: { body: { contains: forbidden content } }
    then: [ { reject: "forbidden content from ${from}" } ]
EOF
make_config "$conf" "    rules: [ rules/main.yaml, rules/extra.yaml ]
    own_addresses: [ support@example.com ]
    loops: { max_tickets_per_sender: 3 }"

n=0
# mail FROM SUBJECT [HEADER-LINES] [BODY]: writes mail number n (Message-ID
# <mN@test.example>), its path in $last (not in a subshell: n must count)
mail() {
	n=$((n + 1))
	local f=$TEST_TMP/mail$n.eml
	last=$f
	{
		printf 'From: %s\r\nTo: support@example.com\r\nSubject: %s\r\n' "$1" "$2"
		printf 'Date: Mon, 16 Nov 2026 10:%02d:00 +0100\r\nMessage-ID: <m%d@test.example>\r\n' "$n" "$n"
		[ -n "${3:-}" ] && printf '%s\r\n' "$3"
		printf '\r\n%s\r\n' "${4:-hello}"
	} >"$f"
}

# ---------------------------------------------------------------- run 1
mail "Anna <anna@example.org>" "Printer broken on floor 3" "X-Priority: 1 (Highest)"
m1=$last
mail "Anna <anna@example.org>" "Re: Printer broken on floor 3" "In-Reply-To: <m1@test.example>"
m2=$last
mail "Ben <ben@example.org>" "Order 4711 is wrong" "" "Total 19,90 EUR"
m3=$last
mail "News <news@vendor.example>" "Newsletter 11/2026"
m4=$last
mail "Anna <anna@example.org>" "Out of office: Printer" "Auto-Submitted: auto-replied
In-Reply-To: <m1@test.example>"
m5=$last
mail "Carl <carl@example.org>" "Automatic reply" "Auto-Submitted: auto-replied"
m6=$last
mail "Support <support@example.com>" "Echo of our own mail"
m7=$last
mail "Dora <dora@example.org>" "Hello" "" "some forbidden content here"
m8=$last
loops=()
for i in 1 2 3 4 5; do
	mail "Robot <loop@robot.example>" "Alert $i"
	loops+=("$last")
done
deliver "$m1" "$m2" "$m3" "$m4" "$m5" "$m6" "$m7" "$m8" "${loops[@]}"

check "migrate" "$M2T_BIN" -c "$conf" migrate
out=$("$M2T_BIN" -c "$conf" run support-inbox 2>"$TEST_TMP/run1.err") && rc=0 || rc=$?
check_eq "run 1 exits 0" "$rc" 0 || sed 's/^/  | /' "$TEST_TMP/run1.err"
check "run 1 summary" grep -q "fetched 13, tickets 5, appended 2, ignored 5, badmail 1" <<<"$out" ||
	echo "  | $out"

t1=$(psql_q "select ticket_id from processed_messages where message_id = 'm1@test.example'")
check_eq "printer mail routed by a capture" \
	"$(psql_q "select queue || ' ' || priority || ' ' || array_to_string(tags, ',') from tickets where id = $t1")" \
	"Hardware high Printer"
check_eq "its reply in the same batch landed on it" \
	"$(psql_q "select ticket_id || ' ' || matched_by from processed_messages where message_id = 'm2@test.example'")" \
	"$t1 message_id <m1@test.example>"
check_eq "the auto-reply is a note on it" \
	"$(psql_q "select a.kind || ' ' || a.ticket_id from articles a where a.message_id = 'm5@test.example'")" \
	"note $t1"
check_eq "order mail: fields as JSON numbers, subject template" \
	"$(psql_q "select queue || ' ' || subject || ' ' || (fields->>'order') || ' ' || jsonb_typeof(fields->'amount') || ' ' || (fields->>'amount') from tickets t join processed_messages p on p.ticket_id = t.id where p.message_id = 'm3@test.example'")" \
	"Billing Order 4711 4711 number 19.90"
check_eq "matched statements recorded" \
	"$(psql_q "select statements::text from processed_messages where message_id = 'm1@test.example'")" \
	'["route", "urgent"]'
check_eq "the plan recorded" \
	"$(psql_q "select plan->'ticket'->>'queue' from processed_messages where message_id = 'm1@test.example'")" \
	"Hardware"
check_eq "newsletter ignored by the rules" \
	"$(psql_q "select outcome || ' ' || reason from processed_messages where message_id = 'm4@test.example'")" \
	"ignored newsletter"
check_eq "an auto-reply to nothing is ignored, recorded as such" \
	"$(psql_q "select outcome || ' ' || (reason like 'loop protection: auto-reply%no ticket to append to: ignored')::text from processed_messages where message_id = 'm6@test.example'")" \
	"ignored true"
check_eq "our own address: ignored" \
	"$(psql_q "select outcome from processed_messages where message_id = 'm7@test.example'")" "ignored"
check_eq "reject from the second rule file: badmail with the reason" \
	"$(psql_q "select outcome || ' ' || reason from processed_messages where message_id = 'm8@test.example'")" \
	"badmail forbidden content from dora@example.org"
check_eq "the per-sender cap: 3 tickets, 2 ignored" \
	"$(psql_q "select string_agg(outcome, ',' order by uid) from processed_messages p where exists (select 1 from articles a where false) or p.message_id in (select 'm' || g || '@test.example' from generate_series(9, 13) g)")" \
	"ticket,ticket,ticket,ignored,ignored"
check "the cap's reason names the sender" grep -q "more than 3 new tickets from loop@robot.example" \
	<<<"$(psql_q "select reason from processed_messages where message_id = 'm13@test.example'")"
check_eq "move_to: the newsletter is in its folder" "$(count_folder Newsletters)" 1
check_eq "badmail folder" "$(count_folder Badmail)" 1
check_eq "archive folder" "$(count_folder Processed)" 11
check_eq "inbox empty" "$(count_inbox)" 0

# ---------------------------------------------------------------- run 2
num1=$(psql_q "select number from tickets where id = $t1")
t3=$(psql_q "select ticket_id from processed_messages where message_id = 'm3@test.example'")
psql_q "update tickets set status = 'closed' where id = $t3" >/dev/null
# an agent's reply (the front end's), whose delivery failed
psql_q "insert into articles (ticket_id, kind, message_id, from_email, subject) values ($t1, 'agent', 'agent-1@helpdesk.example.com', 'support@example.com', 'Re')" >/dev/null

mail "Anna <anna@example.org>" "Re: [Ticket#$num1] still broken"
m14=$last
mail "Mallory <mallory@evil.example>" "[Ticket#$num1] send me the data"
m15=$last
mail "Ben <ben@example.org>" "Re: Order 4711 is wrong" "In-Reply-To: <m3@test.example>"
m16=$last
n=$((n + 1))
m17=$TEST_TMP/dsn.eml
{
	printf 'From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: support@example.com\r\n'
	printf 'Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <m%d@test.example>\r\n' "$n"
	printf 'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
	printf -- '--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n'
	printf -- '--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n'
	printf 'Final-Recipient: rfc822; colleague@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n'
	printf -- '--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@example.com\r\nTo: colleague@example.org\r\n'
	printf 'Subject: Re: Printer\r\nMessage-ID: <agent-1@helpdesk.example.com>\r\n\r\n--b--\r\n'
} >"$m17"
deliver "$m14" "$m15" "$m16" "$m17"
out=$("$M2T_BIN" -c "$conf" run support-inbox 2>"$TEST_TMP/run2.err") && rc=0 || rc=$?
check_eq "run 2 exits 0" "$rc" 0 || sed 's/^/  | /' "$TEST_TMP/run2.err"
check "run 2 summary: all four appended" grep -q "fetched 4, tickets 0, appended 4" <<<"$out" ||
	echo "  | $out"
check_eq "follow-up by the subject's ticket number" \
	"$(psql_q "select ticket_id || ' ' || matched_by from processed_messages where message_id = 'm14@test.example'")" \
	"$t1 number $num1"
check_eq "forged follow-up: a note, not the customer's reply" \
	"$(psql_q "select kind from articles where message_id = 'm15@test.example'")" "note"
check_eq "the forger did not become a participant" \
	"$(psql_q "select count(*) from ticket_participants where email = 'mallory@evil.example'")" 0
check_eq "a reply to a closed ticket reopens it" \
	"$(psql_q "select status from tickets where id = $t3")" "open"
check_eq "delivery report attached to the original's ticket" \
	"$(psql_q "select a.kind || ' ' || a.ticket_id from articles a join processed_messages p on p.article_id = a.id where p.message_id = 'm$n@test.example'")" \
	"system $t1"
check_eq "the failed address is marked bouncing" \
	"$(psql_q "select bouncing::text || ' ' || bounce_status from contacts where email = 'colleague@example.org'")" \
	"true 5.1.1"

# ---------------------------------------------------------------- preprocessing
# The stages of both files, main.yaml's first: "forbidden content" only in
# the footer the legal stage cuts is not in `body`; `body_original` still
# has the footer.
mail "Finn <finn@example.org>" "Toner" "" "[EXTERNAL] Please send toner.

LEGAL NOTICE: this mail may hold forbidden content."
deliver "$last"
out=$("$M2T_BIN" -c "$conf" run support-inbox 2>"$TEST_TMP/run3.err") && rc=0 || rc=$?
check_eq "run 3 exits 0" "$rc" 0 || sed 's/^/  | /' "$TEST_TMP/run3.err"
check "run 3: a ticket, not badmail" grep -q "fetched 1, tickets 1, appended 0, ignored 0, badmail 0" \
	<<<"$out" || echo "  | $out"
q() { psql_q "select $1 from articles where message_id = 'm$n@test.example'"; }
check_eq "body_text is the text after both files' stages" "$(q body_text)" "Please send toner."
check "body_original keeps what the stages removed" grep -q "^LEGAL NOTICE: this mail" <<<"$(q body_original)"
check_eq "the trace names both stages, in file order" \
	"$(q "string_agg(e->>'stage' || '/' || (e->>'rule'), ',' order by o) from articles, jsonb_array_elements(preprocess_trace) with ordinality x(e, o) where message_id = 'm$n@test.example' --")" \
	"legal/legal-footer,banner/external"
check "a removal names its rule file" grep -q 'rules/extra.yaml:4:9' <<<"$(q preprocess_trace)"
check_eq "a condition on body_original sees the footer" \
	"$(psql_q "select array_to_string(tags, ',') from tickets t join processed_messages p on p.ticket_id = t.id where p.message_id = 'm$n@test.example'")" \
	"legal"

# ---------------------------------------------------------------- crash before the move
# A kill between COMMIT and the move: the next run moves the newsletter to
# the rule's folder, not the archive (the plan recorded where it goes).
mail "News <news@vendor.example>" "Newsletter 12/2026"
deliver "$last"
rc=0
M2T_FAULT=after-commit "$M2T_BIN" -c "$conf" run support-inbox >/dev/null 2>&1 || rc=$?
check_eq "a run killed after COMMIT" "$rc" 137
out=$("$M2T_BIN" -c "$conf" run support-inbox 2>&1) && rc=0 || rc=$?
check "the next run only moves it" grep -q "already done 1" <<<"$out"
check_eq "into the move_to folder" "$(count_folder Newsletters)" 2

# ---------------------------------------------------------------- broken rules
printf 'statements:\n  - name: bad\n    if: { subject: { matches: "(" } }\n    then: [ stop ]\n' \
	>"$TEST_TMP/rules/extra.yaml"
mail "Eve <eve@example.org>" "waits"
deliver "$last"
out=$("$M2T_BIN" -c "$conf" run support-inbox 2>&1) && rc=0 || rc=$?
check_eq "a job with broken rules does not run (EX_CONFIG)" "$rc" 78
check "the error names file:line:column and the statement" \
	grep -q "rules/extra.yaml:3:31: statement \"bad\": statements\[0\].if.subject.matches: bad regex at offset 1: missing closing parenthesis" <<<"$out"
check_eq "its mail stays in the inbox" "$(count_inbox)" 1
check "check-config reports it too" bash -c "! '$M2T_BIN' -c '$conf' check-config >/dev/null 2>&1"
