#!/bin/sh
# Turns rules/packs/NAME.yaml into a C table, so the binary carries its rule
# packs and needs no install path: rule files name packs, the binary has them.
set -eu
echo '/* generated from the rule packs (rules/packs) by rules/embed-packs.sh */'
echo '#include "rules/packs.h"'
echo 'const struct pack_source m2t_packs[] = {'
n=0
for f in "$@"; do
	base=$(basename "$f" .yaml)
	printf '\t{ "%s",\n' "$base"
	# escape backslashes and quotes; one C string literal per line
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t\t"/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
	n=$((n + 1))
done
# an empty table is not valid C
[ "$n" -gt 0 ] || printf '\t{ "", "" },\n'
echo '};'
printf 'const unsigned m2t_packs_count = %s;\n' "$n"
