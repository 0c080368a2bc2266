#!/usr/bin/env bash
# Which messages a job takes, against the real Dovecot: fetch: unseen leaves
# \Seen mail alone; search: sends a UID SEARCH (CHARSET UTF-8 for non-ASCII
# text) and only the found mail is listed and taken; a Maildir job with
# fetch: unseen skips files flagged S.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox

# mail FILE FROM SUBJECT ID
mail() {
	printf 'From: %s\r\nTo: support@example.com\r\nSubject: %s\r\nMessage-ID: <%s@test.example>\r\nDate: Mon, 5 Jan 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nbody of %s\r\n' \
		"$2" "$3" "$4" "$4" >"$1"
}
mail "$TEST_TMP/1.eml" "Vendor <ops@vendor.example>" "=?utf-8?q?St=C3=B6rung_Drucker?=" seen-one
mail "$TEST_TMP/2.eml" "Vendor <ops@vendor.example>" "=?utf-8?q?St=C3=B6rung_Netz?=" vendor-two
mail "$TEST_TMP/3.eml" "Other <someone@other.example>" "Hello" other-three
mail "$TEST_TMP/4.eml" "Vendor <ops@vendor.example>" "Invoice" vendor-four
deliver "$TEST_TMP/1.eml" "$TEST_TMP/2.eml" "$TEST_TMP/3.eml" "$TEST_TMP/4.eml"
check_eq "four mails" "$(imap_count)" 4
dove flags add -u "$M2T_IMAP_USER" '\Seen' mailbox INBOX header Message-ID seen-one

conf=$TEST_TMP/m2t.yaml
make_config "$conf" '    fetch: unseen
    search: '\''FROM "@vendor.example" SUBJECT "Störung"'\'''
"$M2T_BIN" -c "$conf" migrate >/dev/null
out=$("$M2T_BIN" -c "$conf" run support-inbox 2>"$TEST_TMP/run.err") && rc=0 || rc=$?
check_eq "unseen + search: run exits 0" "$rc" 0 || sed 's/^/  | /' "$TEST_TMP/run.err"
check "unseen + search: only the one unseen vendor Störung mail" \
	grep -q "fetched 1, tickets 1," <<<"$out"
check_eq "it is the right mail" "$(psql_q "select message_id from processed_messages")" \
	"vendor-two@test.example"
check_eq "three left in INBOX" "$(imap_count)" 3

make_config "$conf" '    fetch: unseen'
out=$("$M2T_BIN" -c "$conf" run support-inbox 2>"$TEST_TMP/run2.err") && rc=0 || rc=$?
check_eq "unseen: run exits 0" "$rc" 0 || sed 's/^/  | /' "$TEST_TMP/run2.err"
check "unseen: the two other unseen mails" grep -q "fetched 2, tickets 2," <<<"$out"
check_eq "the seen mail stays" "$(imap_count)" 1

make_config "$conf" '    search: "SUBJECT {5}"'
out=$("$M2T_BIN" -c "$conf" check-config 2>&1) && rc=0 || rc=$?
check_eq "a literal in search: is a config error (78)" "$rc" 78
check "the error names the key and the byte" grep -q "search: search query at byte 9: literals" <<<"$out"

# Maildir: fetch: unseen takes new/ and cur/ without S
md=$TEST_TMP/md
mkdir -p "$md/cur" "$md/new" "$md/tmp"
cp "$TEST_TMP/3.eml" "$md/new/100.a.host"
mail "$TEST_TMP/5.eml" "X <x@x.example>" "read one" md-seen
mail "$TEST_TMP/6.eml" "X <x@x.example>" "unread one" md-unseen
cp "$TEST_TMP/5.eml" "$md/cur/101.b.host:2,S"
cp "$TEST_TMP/6.eml" "$md/cur/102.c.host:2,F"
DATABASE_URL=$(new_db)
CFG_PROTOCOL=maildir CFG_MAILDIR=$md make_config "$conf" '    fetch: unseen'
sed -i -e '/^    mailbox:/d' -e '/^    archive_folder:/d' -e '/^    badmail_folder:/d' "$conf"
"$M2T_BIN" -c "$conf" migrate >/dev/null
out=$("$M2T_BIN" -c "$conf" run support-inbox 2>"$TEST_TMP/run3.err") && rc=0 || rc=$?
check_eq "maildir unseen: run exits 0" "$rc" 0 || sed 's/^/  | /' "$TEST_TMP/run3.err"
check "maildir unseen: two taken" grep -q "fetched 2, tickets 2," <<<"$out"
check "maildir unseen: the S mail stays" test -f "$md/cur/101.b.host:2,S"
