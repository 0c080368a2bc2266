#!/usr/bin/env bash
# Certificates against the real Dovecot (it serves an expired and a
# self-signed certificate for their own SNI names): each bad one refused
# with verify: true, in plain words, the mail left in place; accepted with a
# warning that says what is wrong when verify: false. TLS versions the server
# does not speak are refused; key pins bind with and without verify.
. "$(dirname "$0")/lib.sh"

MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
conf=$TEST_TMP/base.yaml
make_config "$conf"
"$M2T_BIN" -c "$conf" migrate >/dev/null
deliver "$MAIL/plain.eml"

with_tls() { # FILE 'TLS MAP': the account's tls: line replaced
	make_config "$1"
	sed -i "s|^    tls: .*|    tls: $2|" "$1"
}

probe() { # NAME FILE: test-connection; sets rc, out
	rc=0
	"$M2T_BIN" -c "$2" test-connection support >"$TEST_TMP/$1.out" 2>&1 || rc=$?
	out=$(cat "$TEST_TMP/$1.out")
}

refused() { # NAME 'TLS MAP' 'EXPECTED WORDS'
	local name=$1
	with_tls "$TEST_TMP/$name.yaml" "$2"
	probe "$name" "$TEST_TMP/$name.yaml"
	check_eq "$name: refused (EX_UNAVAILABLE)" "$rc" 69
	check "$name: says why in plain words" grep -qF "$3" <<<"$out"
	rc=0
	"$M2T_BIN" -c "$TEST_TMP/$name.yaml" run support-inbox >/dev/null 2>&1 || rc=$?
	check_eq "$name: a run fails too" "$rc" 69
	check_eq "$name: the mail is left in place" "$(count_inbox)" 1
}

accepted_with_warning() { # NAME 'TLS MAP' 'EXPECTED WORDS'
	local name=$1
	with_tls "$TEST_TMP/$name.yaml" "$2"
	probe "$name" "$TEST_TMP/$name.yaml"
	check_eq "$name: accepted" "$rc" 0
	check "$name: warns, saying what is wrong" \
		grep -q "level=warn event=net.tls .*accepted although it is not valid.*$3" <<<"$out"
}

ca="ca_file: \"$M2T_CA_FILE\""
refused expired "{ verify: true, $ca, server_name: $M2T_EXPIRED_NAME }" \
	"the certificate expired on 2020-02-01"
refused self-signed "{ verify: true, $ca, server_name: $M2T_SELFSIGNED_NAME }" \
	"the certificate is self-signed"
refused unknown-ca "{ verify: true, ca_file: \"$M2T_OTHER_CA_FILE\" }" \
	"issued by \"mail2ticket test CA\", a certificate authority not trusted here"
refused wrong-name "{ verify: true, $ca, server_name: imap.example.com }" \
	"the certificate is for localhost, 127.0.0.1, imap.proxied.test, not imap.example.com"

accepted_with_warning expired-noverify "{ verify: false, $ca, server_name: $M2T_EXPIRED_NAME }" \
	"expired on 2020-02-01"
accepted_with_warning self-signed-noverify \
	"{ verify: false, $ca, server_name: $M2T_SELFSIGNED_NAME }" "self-signed"
accepted_with_warning unknown-ca-noverify "{ verify: false, ca_file: \"$M2T_OTHER_CA_FILE\" }" \
	"not trusted here"
accepted_with_warning wrong-name-noverify "{ verify: false, $ca, server_name: imap.example.com }" \
	"is for localhost, 127.0.0.1, imap.proxied.test, not imap.example.com"

# Dovecot here speaks TLS 1.2 and 1.3 only
refused old-tls "{ verify: true, $ca, min_version: \"1.0\", max_version: \"1.1\" }" \
	"closed the connection during the TLS handshake: it may refuse the TLS versions (1.0 to 1.1)"
check "old-tls: lowering OpenSSL's security level is logged" \
	grep -q "event=net.tls_legacy min_version=1.0" "$TEST_TMP/old-tls.out"
# TLS 1.1 from a server that speaks nothing newer (openssl s_server, since
# Dovecot here is set to 1.2 and up): refused by default, accepted when
# min_version allows it (OpenSSL's security level lowered, and logged)
free_port() {
	bash "$M2T_SCRIPTS/servers.sh" ports 1
}
old_server() { # PORT: one TLS 1.1-only connection, greeting as IMAP
	( printf '* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] old\r\n'; sleep 15 ) |
		timeout 20 openssl s_server -accept "127.0.0.1:$1" -naccept 1 -quiet \
			-cert "$M2T_TLS_DIR/server.pem" -key "$M2T_TLS_DIR/server.key" \
			-tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' >/dev/null 2>&1 &
	on_exit kill "$!"
	# listening? (without connecting: that would take its one accept)
	local i hex
	hex=$(printf ':%04X$' "$1")
	for i in $(seq 1 50); do
		awk -v p="$hex" '$2 ~ p && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp &&
			return 0
		sleep 0.1
	done
	return 1
}
for case in default allowed; do
	port=$(free_port)
	check "TLS 1.1 server ($case) listens" old_server "$port"
	ver=""
	[ "$case" = allowed ] && ver=", min_version: \"1.1\""
	with_tls "$TEST_TMP/tls11-$case.yaml" "{ verify: true, $ca$ver }"
	sed -i -e "s/^    port: .*/    port: $port/" -e "s/^    timeout: 10s/    timeout: 2s/" \
		"$TEST_TMP/tls11-$case.yaml"
	probe "tls11-$case" "$TEST_TMP/tls11-$case.yaml"
	if [ "$case" = default ]; then
		check "TLS 1.1 server, default settings: refused" test "$rc" -ne 0
		check "TLS 1.1 server, default settings: no TLS 1.1 session" \
			bash -c '! grep -q "TLS: *TLSv1.1" <<<"$1"' _ "$out"
	else
		check "TLS 1.1 server, min_version 1.1: handshake done" grep -q "TLS: *TLSv1.1, " <<<"$out"
		check "TLS 1.1 server, min_version 1.1: the certificate verified" \
			grep -q "valid: chain and name verified" <<<"$out"
		check "TLS 1.1 server, min_version 1.1: the lowered level is logged" \
			grep -q "event=net.tls_legacy min_version=1.1" <<<"$out"
	fi
done

with_tls "$TEST_TMP/tls12.yaml" "{ verify: true, $ca, max_version: \"1.2\", ciphers: \"ECDHE-ECDSA-AES256-GCM-SHA384\" }"
probe tls12 "$TEST_TMP/tls12.yaml"
check_eq "TLS 1.2 with one cipher: accepted" "$rc" 0
check "TLS 1.2 with one cipher: shown" grep -q "TLS: *TLSv1.2, ECDHE-ECDSA-AES256-GCM-SHA384" <<<"$out"
with_tls "$TEST_TMP/tls13.yaml" "{ verify: true, $ca, min_version: \"1.3\", ciphersuites: \"TLS_CHACHA20_POLY1305_SHA256\" }"
probe tls13 "$TEST_TMP/tls13.yaml"
check_eq "TLS 1.3 with one suite: accepted" "$rc" 0
check "TLS 1.3 with one suite: shown" grep -q "TLS: *TLSv1.3, TLS_CHACHA20_POLY1305_SHA256" <<<"$out"
with_tls "$TEST_TMP/badcipher.yaml" "{ verify: true, $ca, ciphers: \"NO-SUCH-CIPHER\" }"
probe badcipher "$TEST_TMP/badcipher.yaml"
check_eq "unknown cipher list: EX_CONFIG" "$rc" 78

# pins: the SHA-256 of the server's SubjectPublicKeyInfo
spki_pin() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
		openssl dgst -sha256 -binary | base64
}
pin=$(spki_pin "$M2T_TLS_DIR/server.pem")
self_pin=$(spki_pin "$M2T_TLS_DIR/selfsigned.pem")
wrong_pin=$(printf 'not the key' | openssl dgst -sha256 -binary | base64)
with_tls "$TEST_TMP/pin.yaml" "{ verify: true, $ca, pin_sha256: \"$pin\" }"
probe pin "$TEST_TMP/pin.yaml"
check_eq "pin matches: accepted" "$rc" 0
check "pin matches: test-connection shows the same pin" grep -qF "sha256//$pin" <<<"$out"
with_tls "$TEST_TMP/pin-list.yaml" "{ verify: true, $ca, pin_sha256: [\"$wrong_pin\", \"$pin\"] }"
probe pin-list "$TEST_TMP/pin-list.yaml"
check_eq "one of two pins matches: accepted" "$rc" 0
refused pin-mismatch "{ verify: true, $ca, pin_sha256: \"$wrong_pin\" }" \
	"matches none of tls.pin_sha256"
refused pin-mismatch-noverify "{ verify: false, $ca, pin_sha256: \"$wrong_pin\" }" \
	"matches none of tls.pin_sha256"
with_tls "$TEST_TMP/pin-self.yaml" "{ verify: false, $ca, server_name: $M2T_SELFSIGNED_NAME, pin_sha256: \"$self_pin\" }"
probe pin-self "$TEST_TMP/pin-self.yaml"
check_eq "self-signed, verify off, pinned: accepted" "$rc" 0

# after all that, a good run takes the mail
rc=0
"$M2T_BIN" -c "$conf" run support-inbox >/dev/null 2>&1 || rc=$?
check_eq "a good run afterwards exits 0" "$rc" 0
check_eq "the mail became a ticket" "$(psql_q 'select count(*) from tickets')" 1
