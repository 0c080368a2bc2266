#!/usr/bin/env bash
# Runs every unit-test binary (build/asan/tests/test_*) and every integration
# test (tests/integration/test_*.sh) against private PostgreSQL and Dovecot
# instances, and ends with one line: "N passed, N failed".
#
#   TESTS=regex            run only tests whose name matches (e.g. TESTS=imap)
#   M2T_TEST_TIMEOUT=secs  limit per binary or script (default 600)
#
# Each binary or script prints "PASS name" / "FAIL name" / "SKIP name" lines.
# A binary or script that exits non-zero without a FAIL line (a crash, a
# sanitizer abort), or prints no result at all, counts as one failure under its
# own name. Sanitizer reports of any process (also mail2ticket started by an
# integration test) are collected and count as a failure of the test that ran.
# The output of failed tests is shown, and kept in build/test-logs/.

# `make test` runs this file with sh: continue in bash.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -eu
set -o pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
KEEP_DIR=$ROOT/build/test-logs
TIMEOUT=${M2T_TEST_TIMEOUT:-600}
FILTER=${TESTS:-}
SHOW_LINES=150

TMP=$(mktemp -d)
chmod 755 "$TMP"
SERVERS=$TMP/servers
SAN_DIR=$TMP/sanitizer
# per run, so that two runs in one tree do not mix their logs
LOG_DIR=$TMP/logs

CHILD=
# shellcheck disable=SC2317  # called from traps
cleanup() {
	bash "$ROOT/tests/scripts/servers.sh" stop "$SERVERS" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
# shellcheck disable=SC2317
interrupted() {
	# `timeout` passes the signal on to the test, whose own traps clean up
	if [ -n "$CHILD" ]; then
		kill -TERM "$CHILD" 2>/dev/null || true
		wait "$CHILD" 2>/dev/null || true
	fi
	echo "interrupted" >&2
	exit 130
}
trap cleanup EXIT
trap interrupted INT TERM

mkdir -p "$LOG_DIR" "$SERVERS" "$SAN_DIR"
chmod 1777 "$SAN_DIR"

passed=0
failed=0
failed_logs=()
failed_names=()

selected() {
	[ -z "$FILTER" ] || [[ $1 =~ $FILTER ]]
}

# Sanitizer output goes to files (one per process), so reports from programs
# whose stderr a test swallows are still seen.
export ASAN_OPTIONS="detect_leaks=1:log_path=$SAN_DIR/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$SAN_DIR/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS=${LSAN_OPTIONS:-}

# run_one KIND NAME COMMAND...: runs one binary or script, counts its lines.
run_one() {
	local kind=$1 name=$2 log rc=0 p f s reports line
	shift 2
	log=$LOG_DIR/$name.log
	printf '  %-5s %-38s ' "$kind" "$name"
	rm -f "$SAN_DIR"/*
	# in the background: a signal to this script is handled at once
	timeout -k 10 "$TIMEOUT" "$@" >"$log" 2>&1 </dev/null &
	CHILD=$!
	wait "$CHILD" 2>/dev/null || rc=$?
	CHILD=
	p=$(grep -c '^PASS ' "$log" || true)
	f=$(grep -c '^FAIL ' "$log" || true)
	s=$(grep -c '^SKIP ' "$log" || true)
	reports=$(find "$SAN_DIR" -type f | sort)
	if [ -n "$reports" ]; then
		{
			echo "--- sanitizer reports"
			# shellcheck disable=SC2086
			cat $reports
		} >>"$log"
		f=$((f + 1))
		echo "FAIL $name (sanitizer report)" >>"$log"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			echo "FAIL $name (timed out after ${TIMEOUT}s)" >>"$log"
		else
			echo "FAIL $name (exit $rc without a FAIL line)" >>"$log"
		fi
	elif [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then
		f=1
		echo "FAIL $name (printed no results)" >>"$log"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		printf '%d passed, %d FAILED\n' "$p" "$f"
		failed_logs+=("$log")
		while IFS= read -r line; do
			line=${line#FAIL }
			case "$line" in
			"$name "*) failed_names+=("$line") ;;
			*) failed_names+=("$name: $line") ;;
			esac
		done < <(grep '^FAIL ' "$log")
	elif [ "$s" -gt 0 ]; then
		printf '%d passed, %d skipped\n' "$p" "$s"
	else
		printf '%d passed\n' "$p"
	fi
	grep '^SKIP ' "$log" | sed 's/^/          /' || true
}

unit_bins=()
for b in build/asan/tests/test_*; do
	if [ ! -f "$b" ] || [ ! -x "$b" ]; then
		continue
	fi
	selected "${b##*/}" && unit_bins+=("$b")
done
integ_scripts=()
for t in tests/integration/test_*.sh; do
	[ -f "$t" ] || continue
	selected "${t##*/}" && integ_scripts+=("$t")
done

if [ "${#unit_bins[@]}" -eq 0 ] && [ "${#integ_scripts[@]}" -eq 0 ]; then
	echo "no tests found${FILTER:+ matching TESTS=$FILTER}"
	echo "0 passed, 0 failed"
	exit 1
fi

printf 'starting PostgreSQL and Dovecot ... '
servers_ok=1
start_s=$SECONDS
if bash tests/scripts/servers.sh start "$SERVERS" >"$LOG_DIR/servers.log" 2>&1; then
	# shellcheck disable=SC1091
	. "$SERVERS/env"
	export M2T_TEST_DATABASE_URL=$M2T_PG_ADMIN_URL
	printf 'ok (%ds; PostgreSQL on %s, IMAPS on %s)\n' "$((SECONDS - start_s))" \
		"$M2T_PG_PORT" "$M2T_IMAPS_PORT"
else
	servers_ok=0
	echo "FAILED"
	sed 's/^/  /' "$LOG_DIR/servers.log" | tail -n 60
	failed=$((failed + 1))
	failed_names+=("servers: could not start PostgreSQL and Dovecot")
fi

export M2T_ROOT=$ROOT
export M2T_BIN=$ROOT/build/asan/mail2ticket
export M2T_BIN_REL=$ROOT/mail2ticket

if [ "${#unit_bins[@]}" -gt 0 ]; then
	echo "unit tests"
	for b in "${unit_bins[@]}"; do
		run_one unit "${b##*/}" "$b"
	done
fi

if [ "${#integ_scripts[@]}" -gt 0 ] && [ "$servers_ok" -eq 1 ]; then
	echo "integration tests"
	for t in "${integ_scripts[@]}"; do
		# every script starts with an empty mailbox
		sh tests/scripts/mailbox-reset.sh "$M2T_DOVECOT_CONF" "$M2T_IMAP_USER" \
			>/dev/null 2>&1 || true
		run_one integ "${t##*/}" bash "$t"
	done
fi

for log in "${failed_logs[@]+"${failed_logs[@]}"}"; do
	mkdir -p "$KEEP_DIR"
	cp "$log" "$KEEP_DIR/"
	echo
	echo "==== ${log##*/}: failed; output follows (full log: ${KEEP_DIR#"$ROOT"/}/${log##*/})"
	if [ "$(wc -l <"$log")" -gt "$SHOW_LINES" ]; then
		head -n 40 "$log"
		echo "  [...]"
		tail -n $((SHOW_LINES - 40)) "$log"
	else
		cat "$log"
	fi
done
if [ "${#failed_names[@]}" -gt 0 ]; then
	echo
	echo "failed:"
	printf '  %s\n' "${failed_names[@]}"
fi

echo "$passed passed, $failed failed"
if [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ]; then
	exit 1
fi
exit 0
