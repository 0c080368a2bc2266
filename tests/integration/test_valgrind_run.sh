#!/usr/bin/env bash
# The release binary's whole way under valgrind's memcheck: no invalid
# access, no definite leak, in the code paths the sanitizer build cannot
# see (optimised, _FORTIFY_SOURCE).
. "$(dirname "$0")/lib.sh"

if ! command -v valgrind >/dev/null 2>&1; then
	skip "valgrind run" "valgrind is not installed"
	exit 0
fi
MAIL=$M2T_ROOT/tests/integration/mail
export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
conf=$TEST_TMP/m2t.yaml
make_config "$conf"
deliver "$MAIL/plain.eml" "$MAIL/html_attachment.eml" "$MAIL/reply_to.eml"
"$M2T_BIN_REL" -c "$conf" migrate >/dev/null

vg() {
	G_SLICE=always-malloc valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite \
		--suppressions="$M2T_ROOT/tests/scripts/valgrind.supp" "$@"
}
rc=0
vg "$M2T_BIN_REL" -c "$conf" run support-inbox >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
check_eq "run under valgrind exits 0" "$rc" 0
if [ "$rc" -ne 0 ]; then sed 's/^/  | /' "$TEST_TMP/err" | head -40; fi
check_eq "three tickets" "$(psql_q 'select count(*) from tickets')" 3
rc=0
vg "$M2T_BIN_REL" -c "$conf" tickets >/dev/null 2>"$TEST_TMP/err2" || rc=$?
check_eq "tickets under valgrind exits 0" "$rc" 0
rc=0
vg "$M2T_BIN_REL" -c "$conf" check-config >/dev/null 2>"$TEST_TMP/err3" || rc=$?
check_eq "check-config under valgrind exits 0" "$rc" 0
