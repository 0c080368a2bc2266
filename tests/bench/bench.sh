#!/usr/bin/env bash
# make bench: end-to-end throughput of `mail2ticket run` (IMAPS → tickets
# committed → archived) against a bare IMAP fetch of the same mails, on
# throw-away PostgreSQL and Dovecot servers.
#   BENCH_MESSAGES=N   number of generated mails (default 10000)
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

cat > "$dir/bench.yaml" <<YAML
database:
  url_env: DATABASE_URL
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
  bench:
    account: support
    mailbox: INBOX
    archive_folder: Processed
    badmail_folder: Badmail
    schedule: "*/5 * * * *"
    max_message_size: 25MB
YAML
export DATABASE_URL="$M2T_PG_URL"

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

echo "generating $n mails ..."
build/rel/tools/gen_mail "$M2T_MAILDIR" "$n" 1 "$M2T_MAIL_UID" "$M2T_MAIL_GID"
./mail2ticket -c "$dir/bench.yaml" migrate >/dev/null

# Warm Dovecot's index and the page cache once, then measure the bare fetch.
build/rel/tools/bare_fetch "$dir/bench.yaml" bench >/dev/null 2>&1
dc0=$(server_cpu "$dc_pid")
/usr/bin/time -f '%U %S' -o "$dir/bare.cpu" build/rel/tools/bare_fetch "$dir/bench.yaml" bench \
	> "$dir/bare.out" 2>/dev/null
read -r bare_msgs bare_bytes bare_secs < "$dir/bare.out"
sleep 0.5   # let Dovecot reap the finished session
bare_dc=$(awk -v a="$dc0" -v b="$(server_cpu "$dc_pid")" 'BEGIN { print b - a }')
bare_cl=$(awk '{ print $1 + $2 }' "$dir/bare.cpu")

pg0=$(server_cpu "$pg_pid")
dc0=$(server_cpu "$dc_pid")
/usr/bin/time -f '%M %U %S' -o "$dir/rss" ./mail2ticket -l info -c "$dir/bench.yaml" run bench \
	> "$dir/run.out" 2> "$dir/run.err" || { cat "$dir/run.err"; exit 1; }
run_line=$(cat "$dir/run.out")
sleep 0.5   # let both servers reap the finished session and backend
run_pg=$(awk -v a="$pg0" -v b="$(server_cpu "$pg_pid")" 'BEGIN { print b - a }')
run_dc=$(awk -v a="$dc0" -v b="$(server_cpu "$dc_pid")" 'BEGIN { print b - a }')
read -r rss_kb run_u run_s < <(tail -n 1 "$dir/rss")
run_cl=$(awk -v u="$run_u" -v s="$run_s" 'BEGIN { print u + s }')
tickets=$(psql "$M2T_PG_URL" -tAX -c 'select count(*) from tickets')
run_secs=$(echo "$run_line" | sed -n 's/.* in \([0-9.]*\) s$/\1/p')
# where the run's time went (wall seconds waiting in each step)
split=$(grep 'event=job.done' "$dir/run.err" | grep -o 'fetch_s=.*')

awk -v n="$bare_msgs" -v b="$bare_bytes" -v bs="$bare_secs" -v rs="$run_secs" \
    -v rss="$rss_kb" -v t="$tickets" -v line="$run_line" -v cores="$(nproc)" \
    -v rcl="$run_cl" -v rpg="$run_pg" -v rdc="$run_dc" -v bcl="$bare_cl" -v bdc="$bare_dc" 'BEGIN {
	printf "run:        %s\n", line
	printf "tickets:    %d in the database\n", t
	printf "end to end: %8.0f messages/s %7.2f MB/s  (%d messages, %.2f MB, %.2f s)\n", n/rs, b/1048576/rs, n, b/1048576, rs
	printf "bare fetch: %8.0f messages/s %7.2f MB/s  (%.2f s)\n", n/bs, b/1048576/bs, bs
	printf "ratio:      end to end takes %.2fx the bare fetch\n", rs/bs
	printf "peak RSS:   %.1f MB (mail2ticket run)\n", rss/1024
	# CPU per message shows what the machine must do, whatever the load:
	# with `cores` cores, no schedule of that work beats total/cores.
	rt = rcl + rpg + rdc; bt = bcl + bdc
	printf "CPU/msg:    end to end %.0f us = mail2ticket %.0f + PostgreSQL %.0f + Dovecot %.0f\n", rt/n*1e6, rcl/n*1e6, rpg/n*1e6, rdc/n*1e6
	printf "            bare fetch %.0f us = client %.0f + Dovecot %.0f\n", bt/n*1e6, bcl/n*1e6, bdc/n*1e6
	printf "CPU bound:  on %d cores the end-to-end work needs at least %.2f s, %.2fx the bare fetch\n", cores, rt/cores, (rt/cores)/bs
}'
echo "split:      $split (fetch includes parsing and queueing)"
