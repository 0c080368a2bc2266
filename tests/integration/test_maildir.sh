#!/usr/bin/env bash
# The Maildir source the whole way: files in new/ and cur/ → tickets →
# COMMIT → renamed into the Maildir++ archive or badmail folder; identity by
# unique name; a kill between COMMIT and the rename; keep_on_server; a
# subfolder; trashed files left alone.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
md=$TEST_TMP/Maildir
mkdir -p "$md/cur" "$md/new" "$md/tmp"

count() { # FOLDER(relative, "." for the top) -> files in new/ and cur/
	find "$md/$1/new" "$md/$1/cur" -type f 2>/dev/null | wc -l
}

run_job() { # CONFIG [ENV...] -> rc, out
	local cfg=$1
	shift
	rc=0
	out=$(env "$@" "$M2T_BIN" -v -c "$cfg" run support-inbox 2>"$TEST_TMP/run.log") || rc=$?
}

new_mail() {
	sed "s/^Message-ID: <printer-3-0001@/Message-ID: <printer-$1@/" "$MAIL/plain.eml" > "$TEST_TMP/$1.eml"
	echo "$TEST_TMP/$1.eml"
}

CFG_PROTOCOL=maildir CFG_MAILDIR=$md make_config "$TEST_TMP/md.yaml"
sed -i 's/max_message_size: 25MB/max_message_size: 2KB/' "$TEST_TMP/md.yaml"
check "check-config accepts the maildir account" "$M2T_BIN" -c "$TEST_TMP/md.yaml" check-config
"$M2T_BIN" -c "$TEST_TMP/md.yaml" migrate >/dev/null

{
	printf 'From: Big <big@example.org>\r\nSubject: too big\r\nMessage-ID: <big-md@example.org>\r\n\r\n'
	for i in $(seq 1 100); do printf '%s\r\n' "0123456789012345678901234567890123456789012345678901234567890123456789"; done
} > "$TEST_TMP/big.eml"
sh "$M2T_SCRIPTS/maildir-deliver.sh" "$md" "$MAIL/plain.eml" "$MAIL/html_attachment.eml" \
	"$MAIL/reply_to.eml" "$TEST_TMP/big.eml"
# one read by a mail client (in cur/, seen), one deleted there (trashed)
mv "$md/new/$(ls "$md/new" | sed -n 3p)" "$md/cur/$(ls "$md/new" | sed -n 3p):2,S"
cp "$(new_mail trashed)" "$md/cur/1.M1P1.trashed:2,ST"

run_job "$TEST_TMP/md.yaml"
check_eq "run exits 0" "$rc" 0 || tail -n 20 "$TEST_TMP/run.log"
check "three tickets, one badmail" grep -q "fetched 3, tickets 3, appended 0, ignored 0, badmail 1, already done 0" <<<"$out"
check_eq "archived into .Processed" "$(count .Processed)" 3
check_eq "the big one in .Badmail" "$(count .Badmail)" 1
check_eq "the read one kept its flags in cur/" "$(find "$md/.Processed/cur" -name '*:2,S' | wc -l)" 1
check_eq "only the trashed file is left" "$(count .)" 1
check "the trashed one is untouched" test -f "$md/cur/1.M1P1.trashed:2,ST"
check "Maildir++ folders are marked" test -f "$md/.Processed/maildirfolder"
check_eq "identity is the unique name" \
	"$(psql_q "select count(*) from processed_messages where source_key ~ '^[0-9]+\.M[0-9]+P[0-9]+Q[0-9]+\.' and source_key !~ ':' and uid is null and mailbox = 'INBOX'")" 4
check "badmail reason kept" grep -q "exceeds max_message_size 2 KB" \
	<<<"$(psql_q "select reason from processed_messages where outcome = 'badmail'")"

run_job "$TEST_TMP/md.yaml"
check "a second run has nothing to do" grep -q "fetched 0, tickets 0, appended 0, ignored 0, badmail 0, already done 0" <<<"$out"

# a kill between COMMIT and the rename
sh "$M2T_SCRIPTS/maildir-deliver.sh" "$md" "$(new_mail crash1)" "$(new_mail crash2)"
run_job "$TEST_TMP/md.yaml" M2T_FAULT=after-commit
check_eq "after-commit: killed" "$rc" 137
check_eq "after-commit: both still in new/" "$(ls "$md/new" | wc -l)" 2
check_eq "after-commit: committed" "$(psql_q 'select count(*) from tickets')" 5
run_job "$TEST_TMP/md.yaml"
check "after-commit: the next run only moves" grep -q "fetched 0, tickets 0, appended 0, ignored 0, badmail 0, already done 2" <<<"$out"
check_eq "after-commit: no second ticket" "$(psql_q 'select count(*) from tickets')" 5
check_eq "after-commit: archived now" "$(count .Processed)" 5

# the same bytes delivered again under a new name: recognised by content
sh "$M2T_SCRIPTS/maildir-deliver.sh" "$md" "$MAIL/plain.eml"
run_job "$TEST_TMP/md.yaml"
check "a copy is already done by Message-ID + sha256" grep -q "tickets 0, .*already done 1" <<<"$out"
check_eq "and archived" "$(count .Processed)" 6

# keep_on_server: tickets, no renames
CFG_PROTOCOL=maildir CFG_MAILDIR=$md make_config "$TEST_TMP/keep.yaml" "    keep_on_server: true"
sh "$M2T_SCRIPTS/maildir-deliver.sh" "$md" "$(new_mail keep1)"
run_job "$TEST_TMP/keep.yaml"
check "keep: one ticket" grep -q "fetched 1, tickets 1" <<<"$out"
check_eq "keep: still in new/" "$(ls "$md/new" | wc -l)" 1
run_job "$TEST_TMP/keep.yaml"
check "keep: remembered" grep -q "fetched 0, tickets 0, appended 0, ignored 0, badmail 0, already done 0" <<<"$out"
rm -f "$md"/new/*

# a subfolder, named with '/', read from .Support.Level2
mkdir -p "$md/.Support.Level2/cur" "$md/.Support.Level2/new" "$md/.Support.Level2/tmp"
sh "$M2T_SCRIPTS/maildir-deliver.sh" "$md/.Support.Level2" "$(new_mail sub1)"
CFG_PROTOCOL=maildir CFG_MAILDIR=$md make_config "$TEST_TMP/sub.yaml"
sed -i 's|^    mailbox: INBOX|    mailbox: Support/Level2|' "$TEST_TMP/sub.yaml"
run_job "$TEST_TMP/sub.yaml"
check "subfolder: one ticket" grep -q "fetched 1, tickets 1" <<<"$out"
check_eq "subfolder: emptied" "$(count .Support.Level2)" 0
check_eq "subfolder: recorded under its name" \
	"$(psql_q "select count(*) from processed_messages where mailbox = 'Support/Level2'")" 1

# a missing Maildir is the account's problem: EX_UNAVAILABLE, nothing recorded as done
CFG_PROTOCOL=maildir CFG_MAILDIR=$TEST_TMP/nowhere make_config "$TEST_TMP/missing.yaml"
run_job "$TEST_TMP/missing.yaml"
check_eq "missing Maildir: EX_UNAVAILABLE" "$rc" 69
check "missing Maildir: says which" grep -q "nowhere" "$TEST_TMP/run.log"

# a rule's move_to: the Maildir++ folder exists before the first mail is
# read; a mail committed but not yet moved goes there on the next run
# (its source key's record says where), not to the archive
cat >"$TEST_TMP/rules.yaml" <<'YAML'
statements:
  - name: newsletters
    if: { subject: { starts_with: Newsletter } }
    then: [ { ignore: newsletter }, { move_to: Lists/News }, stop ]
YAML
CFG_PROTOCOL=maildir CFG_MAILDIR=$md make_config "$TEST_TMP/rules-md.yaml" "    rules: rules.yaml"
run_job "$TEST_TMP/rules-md.yaml"
check_eq "move_to: run exits 0" "$rc" 0 || tail -n 20 "$TEST_TMP/run.log"
check "move_to: the folder is made before any mail" test -f "$md/.Lists.News/maildirfolder"
news_mail() {
	sed -e "s/^Message-ID: <printer-3-0001@/Message-ID: <news-$1@/" \
	    -e "s/^Subject: .*/Subject: Newsletter $1/" "$MAIL/plain.eml" > "$TEST_TMP/news-$1.eml"
	echo "$TEST_TMP/news-$1.eml"
}
sh "$M2T_SCRIPTS/maildir-deliver.sh" "$md" "$(news_mail 1)" "$(new_mail after-news)"
run_job "$TEST_TMP/rules-md.yaml"
check "move_to: one ignored, one ticket" grep -q "fetched 2, tickets 1, appended 0, ignored 1" <<<"$out"
check_eq "move_to: the newsletter is in .Lists.News" "$(count .Lists.News)" 1
check_eq "move_to: recorded with the folder" \
	"$(psql_q "select plan->>'move_to' from processed_messages where message_id like 'news-1@%'")" "Lists/News"
sh "$M2T_SCRIPTS/maildir-deliver.sh" "$md" "$(news_mail 2)"
run_job "$TEST_TMP/rules-md.yaml" M2T_FAULT=after-commit
check_eq "move_to: killed after COMMIT" "$rc" 137
check_eq "move_to: still in new/" "$(ls "$md/new" | wc -l)" 1
run_job "$TEST_TMP/rules-md.yaml"
check "move_to: the next run only moves it" grep -q "fetched 0, .*already done 1" <<<"$out"
check_eq "move_to: into the rule's folder, not the archive" "$(count .Lists.News)" 2
