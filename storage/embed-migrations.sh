#!/bin/sh
# Turns migrations/NNNN_name.sql into a C table, so the binary carries the
# schema it was built for and can refuse a database that is newer.
set -eu
echo '/* generated from the migrations directory by storage/embed-migrations.sh */'
echo '#include "storage/migrations.h"'
echo 'const struct migration m2t_migrations[] = {'
for f in "$@"; do
	base=$(basename "$f" .sql)
	ver=$(echo "$base" | sed 's/_.*//' | sed 's/^0*//')
	[ -n "$ver" ] || ver=0
	printf '\t{ %s, "%s",\n' "$ver" "$base"
	# escape backslashes and quotes; one C string literal per line
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t\t"/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
done
echo '};'
printf 'const unsigned m2t_migrations_count = %s;\n' "$#"
