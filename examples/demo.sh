#!/usr/bin/env bash
# `make demo`: throw-away PostgreSQL and Dovecot, the sample mails of
# examples/mail in an IMAP inbox, one run of mail2ticket, and where every
# mail went. Everything is removed at the end; DEMO_KEEP=1 keeps the servers
# running (and says how to stop them) so you can look around.

# `make demo` runs this file with sh: continue in bash.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -eu
set -o pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=$ROOT/mail2ticket
SCRIPTS=$ROOT/tests/scripts

if [ ! -x "$BIN" ]; then
	echo "demo: $BIN not found: run \`make demo\` (it builds it first)" >&2
	exit 1
fi

TMP=$(mktemp -d)
chmod 755 "$TMP"
SERVERS=$TMP/servers
mkdir "$SERVERS"
CONF=$TMP/mail2ticket.yaml
KEEP=${DEMO_KEEP:-0}

# shellcheck disable=SC2317  # called from traps
cleanup() {
	if [ "$KEEP" = 1 ] && [ -f "$SERVERS/env" ]; then
		echo
		echo "servers left running (DEMO_KEEP=1). Environment: . $SERVERS/env"
		echo "stop them with: sh tests/scripts/servers.sh stop $SERVERS && rm -rf $TMP"
		return
	fi
	bash "$SCRIPTS/servers.sh" stop "$SERVERS" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then
	B=$(printf '\033[1m')
	N=$(printf '\033[0m')
else
	B=
	N=
fi
step=0
failed_steps=()

heading() {
	step=$((step + 1))
	printf '\n%s%d. %s%s\n' "$B" "$step" "$*" "$N"
}

# run_step LABEL COMMAND...: shows the command, indents its output, notes failure.
run_step() {
	local label=$1 rc=0
	shift
	heading "$label"
	printf '   $ %s\n' "$*"
	"$@" 2>&1 | sed 's/^/   | /' || rc=$?
	if [ "$rc" -ne 0 ]; then
		printf '   (exit status %d)\n' "$rc"
		failed_steps+=("$label")
	fi
}

show_folder() {
	local name=$1 dir=$2 n
	n=$(sh "$SCRIPTS/maildir-count.sh" "$dir")
	printf '   %-10s %d message(s)\n' "$name" "$n"
}

printf '%smail2ticket demo%s: IMAP mailbox -> help-desk tickets in PostgreSQL\n' "$B" "$N"

heading "Starting a private PostgreSQL 15 and Dovecot (127.0.0.1 only)"
bash "$SCRIPTS/servers.sh" start "$SERVERS"
# shellcheck disable=SC1091
. "$SERVERS/env"
printf '   PostgreSQL on port %s, IMAPS on %s, mailbox user "%s"\n' \
	"$M2T_PG_PORT" "$M2T_IMAPS_PORT" "$M2T_IMAP_USER"

heading "Delivering the sample mails of examples/mail into the INBOX"
mails=("$ROOT"/examples/mail/*.eml)
if [ ! -f "${mails[0]}" ]; then
	echo "demo: no sample mails in examples/mail" >&2
	exit 1
fi
sh "$SCRIPTS/maildir-deliver.sh" "$M2T_MAILDIR" "${mails[@]}"
for m in "${mails[@]}"; do
	printf '   %s\n' "${m##*/}"
done

heading "Configuration ($CONF)"
cat >"$CONF" <<EOF
database:
  url_env: DATABASE_URL          # the connection string comes from the environment
accounts:
  support:
    protocol: imap
    host: 127.0.0.1
    port: $M2T_IMAPS_PORT
    security: tls                # implicit TLS, certificate verified
    tls: { verify: true, ca_file: "$M2T_CA_FILE" }
    username: $M2T_IMAP_USER
    password_file: "$M2T_IMAP_PASSWORD_FILE"
    timeout: 10s
jobs:
  support-inbox:
    account: support
    mailbox: INBOX
    archive_folder: Processed    # handled mail is moved here
    badmail_folder: Badmail      # mail that cannot be handled goes here, with a reason
    schedule: "*/5 * * * *"
    max_message_size: 25MB
    limits: { max_header_bytes: 16KB }
EOF
sed 's/^/   /' "$CONF"
export DATABASE_URL=$M2T_PG_URL

run_step "Creating the database schema" "$BIN" -c "$CONF" migrate
run_step "Running the job once" "$BIN" -c "$CONF" run support-inbox
run_step "The tickets" "$BIN" -c "$CONF" tickets

heading "Where each mail went"
show_folder INBOX "$M2T_MAILDIR"
show_folder Processed "$M2T_MAILDIR/.Processed"
show_folder Badmail "$M2T_MAILDIR/.Badmail"

heading "What the database recorded (processed_messages)"
sql="select p.uid, p.outcome, coalesce(t.number, '') as ticket,
            coalesce(left(a.subject, 40), '') as subject,
            coalesce(left(coalesce('follow-up by ' || p.matched_by, p.reason), 60), '') as why
       from processed_messages p left join tickets t on t.id = p.ticket_id
            left join articles a on a.processed_message_id = p.id
      order by p.uid"
if ! psql -X -q -P footer=off "$M2T_PG_URL" -c "$sql" 2>"$TMP/psql.err" | sed "/^ *$/d; s/^/   /"; then
	sed 's/^/   /' "$TMP/psql.err"
	failed_steps+=("reading processed_messages")
fi

echo
if [ "${#failed_steps[@]}" -gt 0 ]; then
	printf 'demo finished with errors in: %s\n' "$(printf '%s; ' "${failed_steps[@]}")"
	exit 1
fi
if [ "$KEEP" = 1 ]; then
	echo "demo finished."
else
	echo "demo finished; the servers are stopped and removed."
fi
exit 0
