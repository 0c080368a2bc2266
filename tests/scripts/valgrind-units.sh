#!/bin/sh
# make valgrind: every unit test (the build without sanitizers) under
# valgrind's memcheck; any error or definite leak fails. Tests that need
# PostgreSQL skip themselves unless M2T_TEST_DATABASE_URL is set.
set -u
if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind: not installed (make deps installs it)" >&2
	exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
failed=0
for bin in "$@"; do
	name=$(basename "$bin")
	# GLib keeps type-system and charset tables for the life of the process:
	# "still reachable", never "definitely lost"; G_SLICE makes it use malloc.
	if G_SLICE=always-malloc G_DEBUG=gc-friendly valgrind -q --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite \
		--suppressions="$here/valgrind.supp" "$bin" >/dev/null 2>"${TMPDIR:-/tmp}/vg.$$"; then
		echo "  ok    $name"
	else
		echo "  FAIL  $name"
		sed 's/^/    /' "${TMPDIR:-/tmp}/vg.$$" | head -60
		failed=$((failed + 1))
	fi
	rm -f "${TMPDIR:-/tmp}/vg.$$"
done
[ "$failed" -eq 0 ] || { echo "valgrind: $failed test binaries failed"; exit 1; }
echo "valgrind: all $# test binaries clean"
