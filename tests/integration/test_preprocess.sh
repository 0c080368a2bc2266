#!/usr/bin/env bash
# Preprocessing on the whole way: a reply's article keeps the cleaned text as
# body_text, the whole text as body_original and the trace as JSON; the
# preprocess command prints the same, as text and as JSON, reports rule
# file errors with their position, and runs what a job runs (--job).
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
conf=$TEST_TMP/m2t.yaml
make_config "$conf" ""

deliver "$MAIL/reply_quoted.eml" "$MAIL/plain.eml"
check "migrate applies the schema" "$M2T_BIN" -c "$conf" migrate
out=$("$M2T_BIN" -c "$conf" run support-inbox 2>"$TEST_TMP/run.err") && rc=0 || rc=$?
check_eq "run exits 0" "$rc" 0 || sed 's/^/  | /' "$TEST_TMP/run.err"

q() { psql_q "select $1 from articles where message_id = 'reply-quoted-1@example.org'"; }
check_eq "body_text is the cleaned text" "$(q body_text)" "It still prints blank pages.

Anna"
check "body_original keeps the quote" grep -q "> Hello Anna, we replaced the toner." <<<"$(q body_original)"
check "body_original keeps the signature" grep -q "Anna Schmidt, Accounting" <<<"$(q body_original)"
check_eq "client recognised" "$(q mail_client)" "thunderbird"
check_eq "trace: stage and rule of each removal" \
	"$(q "string_agg(e->>'stage' || '/' || (e->>'rule'), ',') from articles, jsonb_array_elements(preprocess_trace) e where message_id = 'reply-quoted-1@example.org' --")" \
	"reply-headers/on-date-wrote,signatures/dash-dash-space"
check "trace: the rule's position" grep -q '"at": "rules/packs/signatures.yaml:[0-9]*:[0-9]*"' <<<"$(q preprocess_trace)"
check_eq "trace: offsets point at the removed text in body_original" \
	"$(q "substr(convert_to(body_original, 'UTF8'), (preprocess_trace->1->>'start')::int + 1, 3) = convert_to('-- ', 'UTF8')")" "t"
check_eq "a mail without quotes is unchanged" \
	"$(psql_q "select count(*) from articles where body_text = rtrim(body_original, E'\n') and preprocess_trace = '[]' and message_id <> 'reply-quoted-1@example.org'")" 1

out=$("$M2T_BIN" preprocess "$MAIL/reply_quoted.eml")
check_eq "preprocess prints the cleaned text" "$out" "It still prints blank pages.

Anna"
json=$("$M2T_BIN" preprocess --json "$MAIL/reply_quoted.eml")
check "preprocess --json names file, client, text, removed" \
	perl -MJSON::PP -e 'my $j = decode_json($ARGV[0]); exit(($j->{client} eq "thunderbird" && $j->{text} =~ /^It still/ && $j->{removed}[1]{rule} eq "dash-dash-space" && $j->{removed}[1]{at} =~ /signatures\.yaml:\d+:\d+$/ && defined $j->{file}) ? 0 : 1)' "$json"
out=$("$M2T_BIN" preprocess --trace "$MAIL/reply_quoted.eml")
check "preprocess --trace shows the removed lines" grep -q "^| > Hello Anna, we replaced the toner.$" <<<"$out"
printf 'Thanks!\n\nOn Tue, 3 Nov 2026 at 10:12, A <a@example.com> wrote:\n> old\n' >"$TEST_TMP/t.txt"
check_eq "preprocess --text" "$("$M2T_BIN" preprocess --text "$TEST_TMP/t.txt")" "Thanks!"

cat >"$TEST_TMP/rules.yaml" <<'YAML'
preprocess:
  - stage: footer
    rules:
      - name: ticket-footer
        match: '^Ticket: (?<n>[0-9]+'
        action: cut_after
YAML
out=$("$M2T_BIN" preprocess --rules "$TEST_TMP/rules.yaml" --text "$TEST_TMP/t.txt" 2>&1) && rc=0 || rc=$?
check_eq "a bad rule file exits EX_CONFIG" "$rc" 78
check "the error names file:line:column and the regex offset" \
	grep -q "rules.yaml:5:16: preprocess\[0\].rules\[0\].match: bad regex at offset" <<<"$out"

# --job: what the job runs. Its rule files' stages (here one stage of its
# own), else the shipped default.
cat >"$TEST_TMP/job-rules.yaml" <<'YAML'
preprocess:
  - stage: footer
    rules:
      - name: ticket-footer
        match: '^Ticket: [0-9]+'
        action: cut_after
statements:
  - name: all
    then: [ { create_ticket: { queue: General } } ]
YAML
conf2=$TEST_TMP/m2t-rules.yaml
make_config "$conf2" "    rules: job-rules.yaml"
printf 'Thanks!\n\nOn Tue, 3 Nov 2026 at 10:12, A <a@example.com> wrote:\n> old\nTicket: 42\nfooter\n' \
	>"$TEST_TMP/f.txt"
check_eq "preprocess -c FILE --job JOB runs the job's own stages" \
	"$("$M2T_BIN" preprocess -c "$conf2" --job support-inbox --text "$TEST_TMP/f.txt")" \
	"Thanks!

On Tue, 3 Nov 2026 at 10:12, A <a@example.com> wrote:
> old"
out=$("$M2T_BIN" -c "$conf2" preprocess --job support-inbox --trace --text "$TEST_TMP/f.txt")
check "--trace names the stage, the rule and its rule file" \
	grep -q "^--- removed by footer/ticket-footer (.*job-rules.yaml:4:9), bytes" <<<"$out"
check_eq "a job without rules: the shipped packs" \
	"$("$M2T_BIN" preprocess -c "$conf" --job support-inbox --text "$TEST_TMP/t.txt")" "Thanks!"
printf 'preprocess:\n  - stage: quotes\n    rules:\n      - { name: quoted, match: "^> .*", action: remove_line }\n  - whitespace\n' \
	>"$TEST_TMP/more-rules.yaml"
out=$("$M2T_BIN" preprocess --rules "$TEST_TMP/job-rules.yaml" --rules "$TEST_TMP/more-rules.yaml" \
	--json --text "$TEST_TMP/f.txt")
check "--rules FILE --rules FILE: the stages of both, in order" \
	perl -MJSON::PP -e 'my $j = decode_json($ARGV[0]); my @r = map { $_->{stage} } @{$j->{removed}}; exit((join(",", @r) eq "footer,quotes" && $j->{text} =~ /wrote:$/) ? 0 : 1)' "$out"
out=$("$M2T_BIN" preprocess -c "$conf2" --job no-such-job "$TEST_TMP/t.txt" 2>&1) && rc=0 || rc=$?
check_eq "an unknown job exits EX_USAGE" "$rc" 64
check "and says which" grep -q 'no job "no-such-job"' <<<"$out"
