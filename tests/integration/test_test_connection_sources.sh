#!/usr/bin/env bash
# `mail2ticket test-connection ACCOUNT` for POP3 and Maildir accounts:
# against the real Dovecot over POP3S, STLS (required and optional) and
# plaintext, what it shows (TLS and certificate, CAPA, the login, STAT and
# the UIDL listing, round trips), that it deletes nothing, never prints the
# password, and exits as for IMAP (0 when a job could run, 69 login or
# certificate refused, 75 unreachable, 78 TLS settings OpenSSL refuses);
# for a Maildir, the directory, its rights, each job's folders with their
# counts, and the exit code when something a run needs is missing.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
reset_mailbox
# test-connection never opens the database; the config still names one
export DATABASE_URL=postgresql://unused@127.0.0.1:1/none
password=$(cat "$M2T_IMAP_PASSWORD_FILE")
deliver "$MAIL/plain.eml" "$MAIL/reply_to.eml"

probe() { # CONFIG: sets rc, out (stdout and stderr, at debug)
	rc=0
	out=$("$M2T_BIN" -v -c "$1" test-connection support 2>&1) || rc=$?
}

# --- POP3 ----------------------------------------------------------------------
CFG_PROTOCOL=pop3 make_config "$TEST_TMP/pop3s.yaml"
probe "$TEST_TMP/pop3s.yaml"
check_eq "pop3s: exit 0" "$rc" 0
check "pop3s: the account line" grep -q "^account support: pop3 127.0.0.1:$M2T_POP3S_PORT, security tls, auth auto" <<<"$out"
check "pop3s: the address" grep -q "address: *127.0.0.1 port $M2T_POP3S_PORT" <<<"$out"
check "pop3s: TLS version and cipher" grep -Eq "TLS: *TLSv1\.[23], [A-Z0-9_-]+" <<<"$out"
check "pop3s: certificate verified" grep -q "valid: chain and name verified" <<<"$out"
check "pop3s: certificate subject" grep -q "certificate: *subject CN=localhost,O=mail2ticket tests" <<<"$out"
check "pop3s: CAPA" grep -q "capabilities: .*UIDL.*SASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256" <<<"$out"
check "pop3s: the login used" grep -q "login: *AUTH SCRAM-SHA-256 as support" <<<"$out"
check "pop3s: round trips" bash -c 'for s in connect TLS login STAT "UIDL, LIST"; do grep -Eq "^    $s +[0-9.]+ ms" <<<"$1" || exit 1; done' _ "$out"
check "pop3s: STAT and the UIDL listing" grep -q "maildrop: *2 messages, [0-9]* octets; 2 listed by UIDL" <<<"$out"
check "pop3s: what the job does with mail" grep -q "job support-inbox: processed mail is deleted after COMMIT" <<<"$out"
check "pop3s: says OK" grep -q "^OK: logged in, and the maildrop can be listed by UIDL" <<<"$out"
check "pop3s: QUIT without DELE" bash -c 'grep -q "line=\"QUIT\"" <<<"$1" && ! grep -q "line=\"DELE" <<<"$1" && ! grep -q "line=\"RETR" <<<"$1"' _ "$out"
check "pop3s: the password is never printed" bash -c '! grep -qF "$1" <<<"$2"' _ "$password" "$out"
check_eq "pop3s: nothing deleted" "$(count_inbox)" 2

CFG_PROTOCOL=pop3 CFG_SECURITY=starttls make_config "$TEST_TMP/stls.yaml" "    keep_on_server: true"
probe "$TEST_TMP/stls.yaml"
check_eq "stls: exit 0" "$rc" 0
check "stls: says STLS was used" grep -q "^  STLS: *used" <<<"$out"
check "stls: a keep_on_server job" grep -q "job support-inbox: keep_on_server: mail stays on the server" <<<"$out"
CFG_PROTOCOL=pop3 CFG_SECURITY=starttls-optional make_config "$TEST_TMP/optional.yaml"
probe "$TEST_TMP/optional.yaml"
check_eq "starttls-optional: exit 0" "$rc" 0
check "starttls-optional: upgraded" bash -c 'grep -q "^  STLS: *used" <<<"$1" && grep -Eq "TLS: *TLSv1\.[23]" <<<"$1"' _ "$out"
CFG_PROTOCOL=pop3 CFG_SECURITY=none make_config "$TEST_TMP/none.yaml"
probe "$TEST_TMP/none.yaml"
check_eq "none: exit 0" "$rc" 0
check "none: says it is not encrypted" grep -q "TLS: *none: the session is NOT encrypted" <<<"$out"
check "none: still SCRAM" grep -q "login: *AUTH SCRAM-SHA-256 as support" <<<"$out"

printf 'not-the-password-%s\n' "$RANDOM" >"$TEST_TMP/badpw"
chmod 600 "$TEST_TMP/badpw"
CFG_PROTOCOL=pop3 make_config "$TEST_TMP/badpw.yaml"
sed -i "s|password_file: .*|password_file: \"$TEST_TMP/badpw\"|" "$TEST_TMP/badpw.yaml"
probe "$TEST_TMP/badpw.yaml"
check_eq "login refused: EX_UNAVAILABLE" "$rc" 69
check "login refused: FAILED with the reason" grep -q '^FAILED: login as "support" (AUTH SCRAM-SHA-256) refused' <<<"$out"
check "login refused: the password is not printed" bash -c '! grep -qF "$1" <<<"$2"' _ "$(cat "$TEST_TMP/badpw")" "$out"

CFG_PROTOCOL=pop3 make_config "$TEST_TMP/unknown-ca.yaml"
sed -i "s|ca_file: \"[^\"]*\"|ca_file: \"$M2T_OTHER_CA_FILE\"|" "$TEST_TMP/unknown-ca.yaml"
probe "$TEST_TMP/unknown-ca.yaml"
check_eq "unknown CA: EX_UNAVAILABLE" "$rc" 69
check "unknown CA: says why in plain words" grep -q "NOT VALID: the certificate was issued by" <<<"$out"
check "unknown CA: no login attempted" bash -c '! grep -q "line=\"AUTH" <<<"$1"' _ "$out"

CFG_PROTOCOL=pop3 make_config "$TEST_TMP/badcipher.yaml"
sed -i 's|tls: { verify: true,|tls: { verify: true, ciphers: "NO-SUCH-CIPHER",|' "$TEST_TMP/badcipher.yaml"
probe "$TEST_TMP/badcipher.yaml"
check_eq "a cipher list OpenSSL refuses: EX_CONFIG" "$rc" 78

CFG_PROTOCOL=pop3 CFG_PORT=1 make_config "$TEST_TMP/closed.yaml"
probe "$TEST_TMP/closed.yaml"
check_eq "nothing listening: EX_TEMPFAIL" "$rc" 75
check "nothing listening: says so" grep -q '^FAILED: cannot connect to "127.0.0.1" port 1' <<<"$out"
check_eq "pop3: still nothing deleted" "$(count_inbox)" 2

# --- Maildir -------------------------------------------------------------------
md=$TEST_TMP/Maildir
mkdir -p "$md/cur" "$md/new" "$md/tmp" "$md/.Processed/cur" "$md/.Processed/new" "$md/.Processed/tmp"
cp "$MAIL/plain.eml" "$md/new/1700000000.1.host"
cp "$MAIL/reply_to.eml" "$md/cur/1700000001.2.host:2,S"
cp "$MAIL/plain.eml" "$md/cur/1700000002.3.host:2,ST"   # trashed in a client: not taken
cp "$MAIL/plain.eml" "$md/.Processed/cur/1700000003.4.host:2,S"
chmod -R go+rX "$md"
CFG_PROTOCOL=maildir CFG_MAILDIR=$md make_config "$TEST_TMP/md.yaml"
probe "$TEST_TMP/md.yaml"
check_eq "maildir: exit 0" "$rc" 0
check "maildir: the account line" grep -q "^account support: maildir $md\$" <<<"$out"
check "maildir: a Maildir, with owner and mode" grep -Eq "Maildir: +cur/ new/ tmp/, owner uid [0-9]+ gid [0-9]+, mode 0755" <<<"$out"
check "maildir: rights" grep -Eq "rights: +read, rename, create folders \(as uid [0-9]+\)" <<<"$out"
check "maildir: the mailbox counted as a run would" grep -q "mailbox  INBOX: 2 messages (new 1, cur 1)" <<<"$out"
check "maildir: the archive folder with its count" grep -q "archive  Processed: 1 message (new 0, cur 1)" <<<"$out"
check "maildir: badmail missing, created at the first run" grep -q "badmail  Badmail: missing (created at the first run)" <<<"$out"
check "maildir: says OK" grep -q "^OK: every job's folders can be used" <<<"$out"
check "maildir: nothing created" test ! -e "$md/.Badmail"
check_eq "maildir: nothing moved" "$(find "$md" -type f | wc -l)" 4

CFG_PROTOCOL=maildir CFG_MAILDIR=$TEST_TMP/nowhere make_config "$TEST_TMP/md-missing.yaml"
probe "$TEST_TMP/md-missing.yaml"
check_eq "maildir missing: EX_UNAVAILABLE" "$rc" 69
check "maildir missing: says so" grep -q "^FAILED: $TEST_TMP/nowhere: cannot open the Maildir: No such file or directory" <<<"$out"
mkdir -p "$TEST_TMP/notmd/new"
CFG_PROTOCOL=maildir CFG_MAILDIR=$TEST_TMP/notmd make_config "$TEST_TMP/md-not.yaml"
probe "$TEST_TMP/md-not.yaml"
check_eq "not a Maildir: EX_UNAVAILABLE" "$rc" 69
check "not a Maildir: names what is missing" grep -q "not a Maildir: no cur/" <<<"$out"
CFG_PROTOCOL=maildir CFG_MAILDIR=$md make_config "$TEST_TMP/md-nobox.yaml"
sed -i 's|^    mailbox: INBOX|    mailbox: Support/Level2|' "$TEST_TMP/md-nobox.yaml"
probe "$TEST_TMP/md-nobox.yaml"
check_eq "mailbox folder missing: EX_UNAVAILABLE" "$rc" 69
check "mailbox folder missing: named" grep -q "mailbox  Support/Level2: missing" <<<"$out"
check "mailbox folder missing: FAILED" grep -q "^FAILED: a job of this account could not run" <<<"$out"

# rights are those of the user running the command (root may do anything)
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1 && runuser -u nobody -- test -x "$M2T_BIN"; then
	chmod 644 "$TEST_TMP"/md*.yaml
	rc=0
	out=$(runuser -u nobody -- "$M2T_BIN" -c "$TEST_TMP/md.yaml" test-connection support 2>&1) || rc=$?
	check_eq "maildir, as another user: EX_UNAVAILABLE" "$rc" 69
	check "maildir, as another user: no rename right" grep -q "no right to rename files in new/" <<<"$out"
	check "maildir, as another user: no folder can be created" grep -q "badmail  Badmail: missing, and cannot be created" <<<"$out"
	CFG_PROTOCOL=maildir CFG_MAILDIR=$md make_config "$TEST_TMP/md-keep.yaml" "    keep_on_server: true"
	chmod 644 "$TEST_TMP/md-keep.yaml"
	rc=0
	out=$(runuser -u nobody -- "$M2T_BIN" -c "$TEST_TMP/md-keep.yaml" test-connection support 2>&1) || rc=$?
	check_eq "maildir, keep_on_server, read-only: exit 0" "$rc" 0
	check "maildir, keep_on_server: no folders used" grep -q "keep_on_server: mail stays in the mailbox, no folders used" <<<"$out"
else
	skip "maildir rights as another user" "needs root and the nobody user"
fi
