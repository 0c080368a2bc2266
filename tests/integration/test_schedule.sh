#!/usr/bin/env bash
# `mail2ticket schedule`: the output format (ISO 8601 with the zone's offset,
# one time per line), the count, zones and daylight-saving changes, the ways
# to write the command line, and errors with their exit codes. No servers
# and no configuration file are needed.
M2T_NO_SERVERS=1
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# sched ARGS... -> sets rc, out, err
sched() {
	rc=0
	out=$("$M2T_BIN" -c /nonexistent/config.yaml schedule "$@" 2>"$TEST_TMP/err") || rc=$?
	err=$(cat "$TEST_TMP/err")
}

iso_re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}$'

# --- format ---------------------------------------------------------------------

before=$(date +%s)
sched '*/5 * * * *'
after=$(date +%s)
check_eq "default: exit 0" "$rc" 0
check_eq "default: five lines" "$(printf '%s\n' "$out" | wc -l)" 5
check "default: every line is ISO 8601 with an offset" \
	bash -c '! printf "%s\n" "$1" | grep -Evq "$2"' _ "$out" "$iso_re"
check_eq "default: UTC" "$(printf '%s\n' "$out" | grep -c '+00:00$')" 5
check_eq "default: nothing on stderr" "$err" ""

# from now: the first time is in the next five minutes, and they ascend
first=$(date -d "$(printf '%s\n' "$out" | head -n 1)" +%s)
check "from now: first time within 5 minutes" \
	test "$first" -gt "$before" -a "$first" -le $((after + 300))
prev=0
ascending=yes
while IFS= read -r line; do
	t=$(date -d "$line" +%s)
	[ "$t" -gt "$prev" ] || ascending=no
	prev=$t
done <<<"$out"
check_eq "from now: ascending, 5 minutes apart" "$ascending $((prev - first))" "yes 1200"

sched '0 12 * * mon-fri' --from 2026-01-01T00:00Z -n 3
check_eq "weekdays from a start" "$out" "2026-01-01T12:00:00+00:00
2026-01-02T12:00:00+00:00
2026-01-05T12:00:00+00:00"

sched @hourly -n 1000 --from 2026-01-01T00:00Z
check_eq "-n 1000: 1000 lines" "$(printf '%s\n' "$out" | wc -l)" 1000
check_eq "-n 1000: the last" "$(printf '%s\n' "$out" | tail -n 1)" "2026-02-11T16:00:00+00:00"

# --- zones and DST --------------------------------------------------------------

sched '30 2 * * *' --tz Europe/Berlin --from 2026-03-28T00:00 -n 3
check_eq "Berlin spring: skipped 02:30 runs at 03:00" "$out" "2026-03-28T02:30:00+01:00
2026-03-29T03:00:00+02:00
2026-03-30T02:30:00+02:00"
sched '30 2 * * *' --tz Europe/Berlin --from 2026-10-24T12:00 -n 3
check_eq "Berlin autumn: 02:30 runs once" "$out" "2026-10-25T02:30:00+02:00
2026-10-26T02:30:00+01:00
2026-10-27T02:30:00+01:00"
sched '0 * * * *' --tz Europe/Berlin --from 2026-10-25T01:30+02:00 -n 3
check_eq "Berlin autumn: hourly runs in both hours" "$out" "2026-10-25T02:00:00+02:00
2026-10-25T02:00:00+01:00
2026-10-25T03:00:00+01:00"
sched '*/30 * * * *' --tz America/New_York --from 2026-03-08T01:00 -n 3
check_eq "New York spring: every 30 minutes in real time" "$out" "2026-03-08T01:30:00-05:00
2026-03-08T03:00:00-04:00
2026-03-08T03:30:00-04:00"
sched '0 0 29 2 *' --tz Asia/Kolkata --from 2026-01-01 -n 2
check_eq "Feb 29 from 2026" "$out" "2028-02-29T00:00:00+05:30
2032-02-29T00:00:00+05:30"
sched '@every 90m' --tz Europe/Berlin --from 2026-03-29T01:00 -n 2
check_eq "@every: real time across the change" "$out" "2026-03-29T03:30:00+02:00
2026-03-29T05:00:00+02:00"
out=$(TZ=America/New_York "$M2T_BIN" schedule '0 9 * * *' --tz local --from 2026-07-01T00:00Z -n 1)
check_eq "--tz local follows TZ" "$out" "2026-07-01T09:00:00-04:00"

# --- command line ----------------------------------------------------------------

sched --tz Europe/Berlin -n 2 --from 2026-01-01T00:00 30 2 '*' '*' '*'
check_eq "options first, unquoted expression" "$out" "2026-01-01T02:30:00+01:00
2026-01-02T02:30:00+01:00"
sched @daily -n 1 --from=2026-01-01T00:00Z
check_eq "--from=VALUE" "$out" "2026-01-02T00:00:00+00:00"
sched --help
check_eq "--help: exit 0" "$rc" 0
check "--help: usage" grep -q "usage: mail2ticket schedule EXPR" <<<"$out"
check "main usage lists schedule" bash -c '"$1" --help | grep -q "schedule EXPR"' _ "$M2T_BIN"

# --- errors -----------------------------------------------------------------------

sched '0 0 1 foo *'
check_eq "bad expression: EX_USAGE" "$rc" 64
check_eq "bad expression: nothing on stdout" "$out" ""
check_eq "bad expression: message, expression and caret" "$err" \
	"mail2ticket: schedule: unknown month name \"foo\" (use jan..dec or numbers) at position 7
  0 0 1 foo *
        ^"
sched '0 0 L * *'
check_eq "Quartz L: EX_USAGE" "$rc" 64
check "Quartz L: named with its position" grep -q "'L' is not supported .* at position 5" <<<"$err"
sched '@daily' --tz Mars/Base
check_eq "unknown zone: EX_USAGE" "$rc" 64
check_eq "unknown zone: message" "$err" "mail2ticket: schedule: --tz: unknown time zone \"Mars/Base\""
sched '@daily' --tz ../../etc/passwd
check_eq "zone name with ..: EX_USAGE" "$rc" 64
sched '@daily' --from yesterday
check_eq "bad --from: EX_USAGE" "$rc" 64
check "bad --from: message" grep -q "is not an ISO 8601 time" <<<"$err"
sched '@daily' -n 1001
check_eq "-n over 1000: EX_USAGE" "$rc" 64
sched '@daily' -n 0
check_eq "-n 0: EX_USAGE" "$rc" 64
sched
check_eq "no expression: EX_USAGE" "$rc" 64
sched idle
check_eq "idle: exit 0" "$rc" 0
check_eq "idle: no times" "$out" ""
check "idle: says why" grep -q "idle: no times" <<<"$err"
sched '59 23 31 12 *' --from 9999-12-31T23:59:00Z
check_eq "past the year 9999: exit 0, no times" "$rc:$out" "0:"
