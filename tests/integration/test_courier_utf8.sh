#!/usr/bin/env bash
# IMAP UTF8=ACCEPT (RFC 6855) against a real server: Courier-IMAP 5.0
# (tests/scripts/courier.sh; Dovecot 2.3 and Cyrus 3.6 have no UTF8=ACCEPT).
# The client enables it, then names folders in UTF-8 on the wire (never
# modified UTF-7), creates and finds them, and takes mail the whole way out of
# and into non-ASCII folders; a search with non-ASCII text goes without
# CHARSET, which Courier refuses once UTF-8 is enabled.
# Courier runs pre-authenticated (see courier.sh): logins are tested against
# Dovecot and Cyrus.
. "$(dirname "$0")/lib.sh"

if ! bash "$M2T_SCRIPTS/courier.sh" available; then
	skip "courier utf8" "needs make deps (unpacks courier-imap)"
	exit 0
fi
MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
CO=$TEST_TMP/courier
mkdir "$CO"
on_exit bash "$M2T_SCRIPTS/courier.sh" stop "$CO"
bash "$M2T_SCRIPTS/courier.sh" start "$CO"
# shellcheck disable=SC1091
. "$CO/env"
md=$M2T_COURIER_MAILDIR

cat >"$TEST_TMP/c.yaml" <<EOF
database:
  url_env: DATABASE_URL
accounts:
  courier:
    protocol: imap
    host: 127.0.0.1
    port: $M2T_COURIER_IMAP_PORT
    security: none
    username: $M2T_IMAP_USER
    password_file: "$M2T_IMAP_PASSWORD_FILE"
    timeout: 10s
jobs:
  inbox:
    account: courier
    mailbox: INBOX
    archive_folder: INBOX/Обработано
    badmail_folder: INBOX/Ärger
    schedule: "*/5 * * * *"
  second:
    account: courier
    mailbox: INBOX/Обработано
    archive_folder: INBOX/Архив/Готово
    badmail_folder: INBOX/Ärger
    schedule: "*/5 * * * *"
  search:
    account: courier
    mailbox: INBOX
    archive_folder: INBOX/Störungen
    badmail_folder: INBOX/Ärger
    search: 'SUBJECT "Störung"'
    schedule: "*/5 * * * *"
EOF
"$M2T_BIN" -l error -c "$TEST_TMP/c.yaml" migrate >/dev/null

files_in() { # FOLDER (on disk, as Courier stores it)
	find "$md/$1/cur" "$md/$1/new" -type f 2>/dev/null | wc -l
}

m2t() { # NAME COMMAND...: at debug; NAME.out, NAME.log; sets rc
	rc=0
	"$M2T_BIN" -v -c "$TEST_TMP/c.yaml" "${@:2}" >"$TEST_TMP/$1.out" 2>"$TEST_TMP/$1.log" || rc=$?
}

sent() { # NAME: the lines the client sent
	grep "event=imap.send" "$TEST_TMP/$1.log" | sed 's/.* line=//'
}

sed 's/^Message-ID: <.*>/Message-ID: <courier-1@example.org>/' "$MAIL/plain.eml" >"$TEST_TMP/1.eml"
sh "$M2T_SCRIPTS/maildir-deliver.sh" "$md" "$TEST_TMP/1.eml"
m2t run1 run inbox
check_eq "run: exits 0" "$rc" 0 || tail -n 5 "$TEST_TMP/run1.log"
check "run: UTF-8 enabled" \
	bash -c 'grep -q "line=\"A[0-9]* ENABLE UTF8=ACCEPT\"" "$1" && grep -q "event=imap.enable .*utf8=yes" "$1"' \
	_ "$TEST_TMP/run1.log"
check "run: the folders created by their UTF-8 names" \
	bash -c 'grep -q "^\"A[0-9]* CREATE \\\\\"INBOX.Обработано\\\\\"\"" <<<"$1" && grep -q "CREATE \\\\\"INBOX.Ärger" <<<"$1"' \
	_ "$(sent run1)"
check "run: no modified UTF-7 on the wire" bash -c '! grep -q "&" <<<"$1"' _ "$(sent run1)"
check_eq "run: one ticket" "$(psql_q 'select count(*) from tickets')" 1
check_eq "run: INBOX empty" "$(files_in .)" 0
check_eq "run: the mail in INBOX/Обработано (Courier's .Обработано)" "$(files_in .Обработано)" 1
check "run: Courier made INBOX/Ärger" test -d "$md/.Ärger/cur"

# Again: the folders are found by LIST (answered in UTF-8), not created again
m2t run2 run inbox
check_eq "second run: exits 0" "$rc" 0
check "second run: nothing created" bash -c '! grep -q "CREATE" <<<"$1"' _ "$(sent run2)"

# From a non-ASCII mailbox into a nested non-ASCII folder
m2t run3 run second
check_eq "second job: exits 0" "$rc" 0 || tail -n 5 "$TEST_TMP/run3.log"
check "second job: SELECTs the mailbox by its UTF-8 name" \
	grep -q 'line="A[0-9]* SELECT \\"INBOX.Обработано\\""' "$TEST_TMP/run3.log"
check "second job: already done, only moved" grep -q "already done 1" "$TEST_TMP/run3.out"
check_eq "second job: the mail in INBOX/Архив/Готово" "$(files_in .Архив.Готово)" 1
check_eq "second job: INBOX/Обработано empty" "$(files_in .Обработано)" 0

# search with non-ASCII text: a quoted UTF-8 string, no CHARSET (RFC 6855 3)
sed -e 's/^Message-ID: <.*>/Message-ID: <courier-2@example.org>/' \
	-e 's/^Subject: .*/Subject: =?UTF-8?Q?St=C3=B6rung_im_Netz?=/' "$MAIL/plain.eml" >"$TEST_TMP/2.eml"
sed -e 's/^Message-ID: <.*>/Message-ID: <courier-3@example.org>/' "$MAIL/plain.eml" >"$TEST_TMP/3.eml"
sh "$M2T_SCRIPTS/maildir-deliver.sh" "$md" "$TEST_TMP/2.eml" "$TEST_TMP/3.eml"
m2t search run search
check_eq "search: exits 0" "$rc" 0 || tail -n 5 "$TEST_TMP/search.log"
check "search: sent as UTF-8 without CHARSET" \
	grep -q 'line="A[0-9]* UID SEARCH SUBJECT \\"Störung\\""' "$TEST_TMP/search.log"
check "search: only the matching mail" grep -q "fetched 1," "$TEST_TMP/search.out"
check_eq "search: moved to INBOX/Störungen" "$(files_in .Störungen)" 1
check_eq "search: the other mail stays" "$(files_in .)" 1

m2t probe test-connection courier
check_eq "test-connection: exit 0" "$rc" 0
check "test-connection: the server offers UTF8=ACCEPT" grep -q "capabilities: .*UTF8=ACCEPT" "$TEST_TMP/probe.out"
check "test-connection: pre-authenticated" grep -q "login: *PREAUTH" "$TEST_TMP/probe.out"
check "test-connection: the folders by their UTF-8 names" \
	grep -q "archive  INBOX.Архив.Готово: 1 message" "$TEST_TMP/probe.out"
