#!/usr/bin/env bash
# make bench-quotes: accuracy of the default preprocessing pipeline on a
# quote-stripping corpus (default ../shared/corpora/quotes-dev beside the
# source tree; M2T_QUOTES_CORPUS to change), graded as its README says; then
# speed: mails/s per core on generated typical mail, and the time of the
# corpus' performance cases (the 766 KB mail, the regex trap).
#   -v   list every case, not only the failing ones
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
CORPUS=${M2T_QUOTES_CORPUS:-$ROOT/../shared/corpora/quotes-dev}
BIN=$ROOT/mail2ticket
TOOLS=$ROOT/build/rel/tools

tmp=$(mktemp -d "${TMPDIR:-/tmp}/m2t-quotes.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ -d "$CORPUS" ] && ls "$CORPUS"/*/cases.jsonl >/dev/null 2>&1; then
	echo "accuracy: $CORPUS"
	: >"$tmp/cases.tsv"
	args=()
	for f in "$CORPUS"/*/cases.jsonl; do
		dir=$(dirname "$f")
		while IFS=$'\t' read -r id input fmt; do
			[ "$fmt" = text ] || [ "$fmt" = eml ] || continue
			printf '%s\t%s\t%s\n' "$id" "$dir" "$dir/$input" >>"$tmp/cases.tsv"
		done < <(perl -MJSON::PP -ne 'next unless /\S/; my $c = decode_json($_);
			print join("\t", $c->{id}, $c->{input}, $c->{input_format}), "\n"' "$f")
	done
	# one run per case: each gets a fresh process, as an admin's would
	: >"$tmp/results.jsonl"
	while IFS=$'\t' read -r id dir input; do
		mode=--text
		case $input in *.eml) mode= ;; esac
		# shellcheck disable=SC2086
		"$BIN" preprocess $mode --json "$input" >>"$tmp/results.jsonl" 2>/dev/null || true
	done <"$tmp/cases.tsv"
	perl "$ROOT/tests/bench/quotes-grade.pl" "$CORPUS" "$tmp/results.jsonl" "$tmp/cases.tsv" "$@"
	perf=$(perl -MJSON::PP -MFile::Basename -ne 'next unless /\S/; my $c = decode_json($_);
		print dirname($ARGV), "/$c->{input}\n" if $c->{match} eq "perf_only"' \
		"$CORPUS"/*/cases.jsonl)
	# the grader's µs come from one cold run per process; this is warm, in CPU time
	mapfile -t inputs < <(cut -f3 "$tmp/cases.tsv" | grep -v '\.eml$')
	if [ "${#inputs[@]}" -gt 0 ]; then
		echo "pipeline on the corpus, warm (all text cases round-robin, CPU time):"
		"$TOOLS/pp_bench" --text --seconds 2 "${inputs[@]}" | grep -v 'parse +'
	fi
	if [ -n "$perf" ]; then
		echo "perf cases, median of 21 runs:"
		# shellcheck disable=SC2086
		"$TOOLS/pp_bench" --text --repeat 21 $perf
	fi
else
	echo "bench-quotes: no corpus at $CORPUS (set M2T_QUOTES_CORPUS): accuracy skipped"
fi

echo "throughput on generated typical mail (one core):"
mkdir -p "$tmp/maildir/new" "$tmp/maildir/cur" "$tmp/maildir/tmp"
"$TOOLS/gen_mail" "$tmp/maildir" "${BENCH_MESSAGES:-2000}" 7 >/dev/null
"$TOOLS/pp_bench" --seconds 3 "$tmp/maildir/new"/*
