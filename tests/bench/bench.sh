#!/usr/bin/env bash
# make bench: end-to-end throughput of `mail2ticket run` (IMAPS → tickets
# committed → archived) against a bare IMAP fetch of the same mails, on
# throw-away PostgreSQL and Dovecot servers, with the CPU each of the three
# spends per message; then the same mails again through a job with a
# 50-statement rule file (tests/bench/rules-50.yaml), into a second
# database, for what the statements cost. Before the runs, a test run
# (`test-job --limit 100`) of each job: the issue's target is under 2 s. For both runs it checks where the
# generated replies, auto-replies and delivery reports landed (gen_mail
# names each by its Message-ID).
#   BENCH_MESSAGES=N   number of generated mails (default 10000)
#   BENCH_ROUNDS=N     rounds of the two runs, in alternating order, the mail
#                      moved back and the databases made anew in between
#                      (default 2; the figures are the means)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
n=${BENCH_MESSAGES:-10000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/m2t-bench.XXXXXX")
chmod 755 "$dir"
cleanup() {
	bash tests/scripts/servers.sh stop "$dir" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# a server-sized buffer cache: the tests keep the small default
M2T_PG_SHARED_BUFFERS=256MB bash tests/scripts/servers.sh start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env"
rounds=${BENCH_ROUNDS:-2}
rules_url="postgresql://postgres@127.0.0.1:$M2T_PG_PORT/mail2ticket_rules"
# fresh_dbs: both databases empty, with the schema
fresh_dbs() {
	PGOPTIONS="-c client_min_messages=warning" psql "$M2T_PG_ADMIN_URL" -qtAX \
		-c "drop database if exists mail2ticket with (force)" \
		-c "drop database if exists mail2ticket_rules with (force)" \
		-c "create database mail2ticket" -c "create database mail2ticket_rules"
	./mail2ticket -c "$dir/bench.yaml" migrate >/dev/null
	./mail2ticket -c "$dir/rules.yaml" migrate >/dev/null
}

# config FILE DB-URL JOB MAILBOX [RULES]
config() {
	cat >"$1" <<YAML
database:
  url: "$2"
accounts:
  support:
    protocol: imap
    host: 127.0.0.1
    port: $M2T_IMAPS_PORT
    security: tls
    tls: { verify: true, ca_file: "$M2T_CA_FILE" }
    username: $M2T_IMAP_USER
    password_file: "$M2T_IMAP_PASSWORD_FILE"
    timeout: 60s
jobs:
  $3:
    account: support
    mailbox: $4
    archive_folder: Processed-$4
    badmail_folder: Badmail-$4
    schedule: "*/5 * * * *"
    max_message_size: 25MB
YAML
	if [ -n "${5:-}" ]; then
		printf '    rules: %s\n' "$5" >>"$1"
	fi
}
config "$dir/bench.yaml" "$M2T_PG_URL" bench INBOX
config "$dir/rules.yaml" "$rules_url" rules Rules "$root/tests/bench/rules-50.yaml"

# CPU seconds a server has used so far: its master process, the children it
# has reaped (a finished session or backend) and the ones still running.
server_cpu() {
	perl -e '
		my $root = shift; my $hz = shift; my $sum = 0;
		opendir(my $d, "/proc") or die;
		for my $p (grep { /^\d+$/ } readdir $d) {
			open(my $f, "<", "/proc/$p/stat") or next;
			my $st = <$f>; close $f;
			$st =~ s/^.*\)\s+//;           # past "pid (comm)", which may hold blanks
			my @v = split / /, $st;        # $v[0] is field 3 (state)
			next unless $p == $root || $v[1] == $root;
			$sum += $v[11] + $v[12];       # utime, stime
			$sum += $v[13] + $v[14] if $p == $root;   # cutime, cstime
		}
		printf "%.3f\n", $sum / $hz;' "$1" "$(getconf CLK_TCK)"
}
pg_pid=$(head -n 1 "$dir/pg/data/postmaster.pid")
dc_pid=$(pgrep -o -f "dovecot -c $M2T_DOVECOT_CONF" || true)
[ -n "$dc_pid" ] || { echo "bench: dovecot master not found" >&2; exit 1; }
# delta A B: B - A
delta() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }

# The same mails in INBOX and in Rules, delivered in ten waves; Dovecot
# numbers each wave before the next, so a reply comes after its original.
doveadm -c "$M2T_DOVECOT_CONF" mailbox create -u "$M2T_IMAP_USER" Rules
echo "generating $n mails twice ..."
wave=$(( n >= 10 ? n / 10 : 1 ))
for box in INBOX Rules; do
	maildir=$M2T_MAILDIR
	[ "$box" = INBOX ] || maildir=$M2T_MAILDIR/.$box
	for ((from = 0; from < n; from += wave)); do
		to=$(( from + wave < n ? from + wave : n ))
		build/rel/tools/gen_mail "$maildir" "$n" 1 "$M2T_MAIL_UID" "$M2T_MAIL_GID" \
			"$from" "$to" > "$dir/gen.out"
		doveadm -c "$M2T_DOVECOT_CONF" mailbox status -u "$M2T_IMAP_USER" messages "$box" \
			>/dev/null
	done
done
fresh_dbs

# What deciding costs on its own (no network, no database), on the same mail.
rules_cpu=$(build/rel/tools/rules_cpu "$M2T_MAILDIR" "$root/tests/bench/rules-50.yaml" 5)

# Warm Dovecot's index and the page cache once, then measure the bare fetch.
build/rel/tools/bare_fetch "$dir/bench.yaml" bench >/dev/null 2>&1
build/rel/tools/bare_fetch "$dir/rules.yaml" rules >/dev/null 2>&1
# test_run NAME CONFIG JOB ARGS...: wall seconds of a 100-mail test run
test_run() {
	local t0 t1
	t0=$(date +%s.%N)
	./mail2ticket -c "$2" test-job "$3" --limit 100 "${@:4}" >"$dir/test.$1.out" 2>"$dir/test.$1.err"
	t1=$(date +%s.%N)
	printf -v "tsecs_$1" '%s' "$(delta "$t0" "$t1")"
}
test_run plain "$dir/bench.yaml" bench --html "$dir/test.plain.html"
test_run rules "$dir/rules.yaml" rules --html "$dir/test.rules.html"
test_run json "$dir/rules.yaml" rules --json
grep -q '"taken":100,' "$dir/test.json.out" || { echo "bench: test-job took fewer than 100 mails" >&2; exit 1; }

dc0=$(server_cpu "$dc_pid")
/usr/bin/time -f '%U %S' -o "$dir/bare.cpu" build/rel/tools/bare_fetch "$dir/bench.yaml" bench \
	> "$dir/bare.out" 2>/dev/null
read -r bare_msgs bare_bytes bare_secs < "$dir/bare.out"
sleep 0.5   # let Dovecot reap the finished session
bare_dc=$(delta "$dc0" "$(server_cpu "$dc_pid")")
bare_cl=$(awk '{ print $1 + $2 }' "$dir/bare.cpu")

# run NAME CONFIG JOB: one measured run; sets secs_NAME, rss_NAME, cpu_NAME
# (user + system seconds of mail2ticket), pg_NAME and dc_NAME (the CPU
# seconds PostgreSQL and Dovecot spent meanwhile), line_NAME, split_NAME.
# A checkpoint first, so that no run pays for the WAL of the one before.
run() {
	psql "$M2T_PG_ADMIN_URL" -qtAX -c checkpoint
	local pg0 dc0
	pg0=$(server_cpu "$pg_pid")
	dc0=$(server_cpu "$dc_pid")
	/usr/bin/time -f '%M %U %S' -o "$dir/rss.$1" ./mail2ticket -l info -c "$2" run "$3" \
		> "$dir/run.$1.out" 2> "$dir/run.$1.err" || { cat "$dir/run.$1.err"; exit 1; }
	sleep 0.5   # let both servers reap the finished session and backend
	printf -v "pg_$1" '%s' "$(delta "$pg0" "$(server_cpu "$pg_pid")")"
	printf -v "dc_$1" '%s' "$(delta "$dc0" "$(server_cpu "$dc_pid")")"
	printf -v "line_$1" '%s' "$(cat "$dir/run.$1.out")"
	printf -v "secs_$1" '%s' "$(sed -n 's/.* in \([0-9.]*\) s$/\1/p' "$dir/run.$1.out")"
	local rss user sys
	read -r rss user sys < <(tail -n 1 "$dir/rss.$1")
	printf -v "rss_$1" '%s' "$rss"
	printf -v "cpu_$1" '%s' "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')"
	printf -v "split_$1" '%s' "$(grep 'event=job.done' "$dir/run.$1.err" | grep -o 'fetch_s=.*')"
}
sum_plain=0 sum_rules=0 sumcpu_plain=0 sumcpu_rules=0 sumpg_plain=0 sumdc_plain=0 per_round=""
for ((round = 1; round <= rounds; round++)); do
	if [ "$round" -gt 1 ]; then
		# the same mail again, in the same order, into empty databases
		for box in INBOX Rules; do
			doveadm -c "$M2T_DOVECOT_CONF" move -u "$M2T_IMAP_USER" "$box" \
				mailbox "Processed-$box" all
		done
		fresh_dbs
	fi
	# odd rounds: plain first on INBOX; even rounds: rules first, and the
	# mailboxes swapped, so neither order nor mailbox favours one
	if [ $((round % 2)) -eq 1 ]; then
		order="plain rules" pbox=INBOX rbox=Rules
	else
		order="rules plain" pbox=Rules rbox=INBOX
	fi
	config "$dir/bench.yaml" "$M2T_PG_URL" bench "$pbox"
	config "$dir/rules.yaml" "$rules_url" rules "$rbox" "$root/tests/bench/rules-50.yaml"
	for r in $order; do
		if [ "$r" = plain ]; then run plain "$dir/bench.yaml" bench; else run rules "$dir/rules.yaml" rules; fi
	done
	per_round="$per_round  round $round ($order): ${secs_plain} s without rules ($pbox), ${secs_rules} s with 50 statements ($rbox)
"
	sum_plain=$(awk -v a="$sum_plain" -v b="$secs_plain" 'BEGIN { print a + b }')
	sum_rules=$(awk -v a="$sum_rules" -v b="$secs_rules" 'BEGIN { print a + b }')
	sumcpu_plain=$(awk -v a="$sumcpu_plain" -v b="$cpu_plain" 'BEGIN { print a + b }')
	sumcpu_rules=$(awk -v a="$sumcpu_rules" -v b="$cpu_rules" 'BEGIN { print a + b }')
	sumpg_plain=$(awk -v a="$sumpg_plain" -v b="$pg_plain" 'BEGIN { print a + b }')
	sumdc_plain=$(awk -v a="$sumdc_plain" -v b="$dc_plain" 'BEGIN { print a + b }')
done
secs_plain=$(awk -v a="$sum_plain" -v r="$rounds" 'BEGIN { print a / r }')
secs_rules=$(awk -v a="$sum_rules" -v r="$rounds" 'BEGIN { print a / r }')
cpu_plain=$(awk -v a="$sumcpu_plain" -v r="$rounds" 'BEGIN { print a / r }')
cpu_rules=$(awk -v a="$sumcpu_rules" -v r="$rounds" 'BEGIN { print a / r }')
pg_plain=$(awk -v a="$sumpg_plain" -v r="$rounds" 'BEGIN { print a / r }')
dc_plain=$(awk -v a="$sumdc_plain" -v r="$rounds" 'BEGIN { print a / r }')

# landed URL: "replies R, on their original's ticket L; auto-replies A and
# reports D, tickets made of them T; reports attached S"
landed() {
	psql "$1" -tAX -F ' ' -c "
	select (select count(*) from processed_messages where message_id like '%.reply@gen.example.org'),
	       (select count(*) from articles r join articles o on o.message_id = r.in_reply_to
		 where r.message_id like '%.reply@gen.example.org' and r.ticket_id = o.ticket_id),
	       (select count(*) from processed_messages where message_id like '%.auto@gen.example.org'),
	       (select count(*) from processed_messages where message_id like '%.dsn@gen.example.org'),
	       (select count(*) from processed_messages where outcome = 'ticket'
		 and (message_id like '%.auto@gen.example.org' or message_id like '%.dsn@gen.example.org')),
	       (select count(*) from articles where kind = 'system'),
	       (select count(*) from tickets)"
}
read -r rp_plain rl_plain au_plain ds_plain at_plain sy_plain tk_plain < <(landed "$M2T_PG_URL")
read -r rp_rules rl_rules au_rules ds_rules at_rules sy_rules tk_rules < <(landed "$rules_url")

awk -v n="$bare_msgs" -v b="$bare_bytes" -v bs="$bare_secs" -v rs="$secs_plain" \
    -v rr="$secs_rules" -v rss="$rss_plain" -v rssr="$rss_rules" -v t="$tk_plain" \
    -v line="$line_plain" -v liner="$line_rules" -v cp="$cpu_plain" -v cr="$cpu_rules" \
    -v cores="$(nproc)" -v rpg="$pg_plain" -v rdc="$dc_plain" -v bcl="$bare_cl" \
    -v bdc="$bare_dc" 'BEGIN {
	printf "run:        %s\n", line
	printf "tickets:    %d in the database\n", t
	printf "end to end: %8.0f messages/s %7.2f MB/s  (%d messages, %.2f MB, %.2f s, mean of the rounds)\n", n/rs, b/1048576/rs, n, b/1048576, rs
	printf "bare fetch: %8.0f messages/s %7.2f MB/s  (%.2f s)\n", n/bs, b/1048576/bs, bs
	printf "ratio:      end to end takes %.2fx the bare fetch\n", rs/bs
	printf "peak RSS:   %.1f MB (mail2ticket run)\n", rss/1024
	# CPU per message shows what the machine must do, whatever the load:
	# with `cores` cores, no schedule of that work beats total/cores.
	rt = cp + rpg + rdc; bt = bcl + bdc
	printf "CPU/msg:    end to end %.0f us = mail2ticket %.0f + PostgreSQL %.0f + Dovecot %.0f\n", rt/n*1e6, cp/n*1e6, rpg/n*1e6, rdc/n*1e6
	printf "            bare fetch %.0f us = client %.0f + Dovecot %.0f\n", bt/n*1e6, bcl/n*1e6, bdc/n*1e6
	printf "CPU bound:  on %d cores the end-to-end work needs at least %.2f s, %.2fx the bare fetch\n", cores, rt/cores, (rt/cores)/bs
	printf "rules run:  %s\n", liner
	printf "50 rules:   %8.0f messages/s  (%.2f s): statements add %+.1f%% to end to end; peak RSS %.1f MB\n", n/rr, rr, (rr/rs - 1) * 100, rssr/1024
	printf "CPU:        mail2ticket %.2f s without rules, %.2f s with 50 statements (%+.1f%%, %.0f us per mail)\n", cp, cr, (cr/cp - 1) * 100, (cr - cp) / n * 1e6
}'
printf '%s' "$per_round"
printf 'test run:   100 mails in %.2f s (terminal + HTML), %.2f s with 50 statements (terminal + HTML), %.2f s as JSON (target: under 2 s)\n' \
	"$tsecs_plain" "$tsecs_rules" "$tsecs_json"
echo "decide:     $rules_cpu"
echo "split:      $split_plain (fetch includes parsing and queueing)"
echo "split 50:   $split_rules"
for r in plain rules; do
	eval "rp=\$rp_$r rl=\$rl_$r au=\$au_$r ds=\$ds_$r at=\$at_$r sy=\$sy_$r"
	printf 'landing %s: %d of %d replies on their original'"'"'s ticket; %d auto-replies and %d delivery reports made %d tickets; %d reports attached\n' \
		"$r" "$rl" "$rp" "$au" "$ds" "$at" "$sy"
done
