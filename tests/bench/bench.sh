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

echo "generating $n mails ..."
build/rel/tools/gen_mail "$M2T_MAILDIR" "$n" 1 "$M2T_MAIL_UID" "$M2T_MAIL_GID"
./mail2ticket -c "$dir/bench.yaml" migrate >/dev/null

# Warm Dovecot's index and the page cache once, then measure the bare fetch.
build/rel/tools/bare_fetch "$dir/bench.yaml" bench >/dev/null 2>&1
read -r bare_msgs bare_bytes bare_secs < <(build/rel/tools/bare_fetch "$dir/bench.yaml" bench 2>/dev/null)

/usr/bin/time -f '%M' -o "$dir/rss" ./mail2ticket -l info -c "$dir/bench.yaml" run bench \
	> "$dir/run.out" 2> "$dir/run.err" || { cat "$dir/run.err"; exit 1; }
run_line=$(cat "$dir/run.out")
rss_kb=$(tail -n 1 "$dir/rss")
tickets=$(psql "$M2T_PG_URL" -tAX -c 'select count(*) from tickets')
run_secs=$(echo "$run_line" | sed -n 's/.* in \([0-9.]*\) s$/\1/p')
# where the run's time went (wall seconds waiting in each step)
split=$(grep 'event=job.done' "$dir/run.err" | grep -o 'fetch_s=.*')

awk -v n="$bare_msgs" -v b="$bare_bytes" -v bs="$bare_secs" -v rs="$run_secs" \
    -v rss="$rss_kb" -v t="$tickets" -v line="$run_line" 'BEGIN {
	printf "run:        %s\n", line
	printf "tickets:    %d in the database\n", t
	printf "end to end: %8.0f messages/s %7.2f MB/s  (%d messages, %.2f MB, %.2f s)\n", n/rs, b/1048576/rs, n, b/1048576, rs
	printf "bare fetch: %8.0f messages/s %7.2f MB/s  (%.2f s)\n", n/bs, b/1048576/bs, bs
	printf "ratio:      end to end takes %.2fx the bare fetch\n", rs/bs
	printf "peak RSS:   %.1f MB (mail2ticket run)\n", rss/1024
}'
echo "split:      $split (fetch includes parsing and queueing)"
