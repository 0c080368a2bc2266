# shellcheck shell=bash
# Helpers for integration tests (bash). A test starts with
#
#   #!/usr/bin/env bash
#   . "$(dirname "$0")/lib.sh"
#
# and prints one "PASS name" / "FAIL name" line per check (tests/run-tests.sh
# counts them). Run through `make test` (or `TESTS=name make test`), or
# standalone: `bash tests/integration/test_x.sh` starts private servers itself
# when M2T_SERVERS_DIR is not set. A test that needs no servers sets
# M2T_NO_SERVERS=1 before sourcing this file, and none are started for it.
#
# Results:   pass NAME | fail NAME [WHY] | skip NAME [WHY]
#            check NAME COMMAND...        (pass when COMMAND exits 0)
#            check_eq NAME GOT WANT
# Database:  new_db                       (creates a database, echoes its URL;
#                                          dropped at exit)
#            psql_q SQL [PSQL ARGS...]    (psql -tAX on $DATABASE_URL, else the
#                                          latest new_db)
# Mail:      deliver FILE...              (into the support INBOX, via new/)
#            deliver_to FOLDER FILE...    (creates FOLDER if needed)
#            count_inbox | count_folder NAME   (messages as Maildir files)
#            imap_count [MAILBOX]         (messages as Dovecot sees them)
#            create_folder NAME...
#            reset_mailbox                (empties INBOX, deletes all folders)
#            dove ARGS...                 (doveadm with the test config)
# Config:    make_config FILE [EXTRA_YAML]
#            CFG_PROTOCOL=imap|pop3|maildir CFG_SECURITY=tls|starttls|...
#            CFG_PORT=N pick the account's protocol, security and port
#            (default: IMAPS); CFG_MAILDIR=DIR is a maildir account's path.
#            A pop3 job gets no folder keys (POP3 has none).
#            EXTRA_YAML is appended verbatim at the end, right after the job
#            "support-inbox": indent by 4 spaces to add keys to that job,
#            2 spaces to add another job, none for a new top-level key.
# Servers:   start_notls_dovecot          (a second Dovecot without TLS: sets
#                                          M2T_NOTLS_IMAP_PORT M2T_NOTLS_POP3_PORT
#                                          M2T_NOTLS_LOG; stopped at exit)
# Waiting:   wait_until SECONDS COMMAND...  (polls every 0.2 s; 1 when it timed out)
#            free_port                    (a loopback TCP port nothing listens on)
# Misc:      on_exit COMMAND              (run at exit, last registered first)
#            $TEST_TMP                    (a private temp dir, removed at exit)
#            $M2T_BIN                     (the binary under test)
#            $M2T_ROOT                    (the source tree)

set -eu
set -o pipefail

M2T_ROOT=${M2T_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
M2T_SCRIPTS=$M2T_ROOT/tests/scripts
M2T_BIN=${M2T_BIN:-$M2T_ROOT/build/asan/mail2ticket}
M2T_BIN_REL=${M2T_BIN_REL:-$M2T_ROOT/mail2ticket}
export M2T_ROOT M2T_BIN M2T_BIN_REL

TEST_TMP=$(mktemp -d)
chmod 755 "$TEST_TMP"
_m2t_exit_cmds=()
_m2t_passed=0
_m2t_failed=0

# on_exit 'shell code' or on_exit COMMAND ARG... (each ARG kept as one word)
on_exit() {
	if [ "$#" -eq 1 ]; then
		_m2t_exit_cmds+=("$1")
	else
		_m2t_exit_cmds+=("$(printf '%q ' "$@")")
	fi
}

_m2t_on_exit() {
	local i
	_m2t_drop_dbs
	for ((i = ${#_m2t_exit_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_m2t_exit_cmds[$i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$TEST_TMP"
}
trap _m2t_on_exit EXIT
trap 'exit 130' INT TERM

# --- results --------------------------------------------------------------------

pass() {
	_m2t_passed=$((_m2t_passed + 1))
	printf 'PASS %s\n' "$1"
}

fail() {
	_m2t_failed=$((_m2t_failed + 1))
	printf 'FAIL %s\n' "$1"
	if [ "$#" -gt 1 ]; then
		shift
		printf '%s\n' "$*" | sed 's/^/  /'
	fi
}

skip() {
	printf 'SKIP %s%s\n' "$1" "${2:+ ($2)}"
}

check() {
	local name=$1 out=$TEST_TMP/check.out rc=0
	shift
	"$@" >"$out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$name"
	elif [ -s "$out" ]; then
		fail "$name" "command failed (exit $rc): $*
$(tail -n 20 "$out")"
	else
		fail "$name" "command failed (exit $rc): $*"
	fi
}

check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "got '$2', want '$3'"
	fi
}

# --- waiting --------------------------------------------------------------------

wait_until() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 5; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			printf '%s\n' "$p"
			return 0
		fi
	done
	return 1
}

# --- servers (standalone runs) ----------------------------------------------

if [ -z "${M2T_SERVERS_DIR:-}" ] && [ -z "${M2T_NO_SERVERS:-}" ]; then
	mkdir "$TEST_TMP/servers"
	on_exit bash "$M2T_SCRIPTS/servers.sh" stop "$TEST_TMP/servers"
	bash "$M2T_SCRIPTS/servers.sh" start "$TEST_TMP/servers" >&2
	# shellcheck disable=SC1091
	. "$TEST_TMP/servers/env"
	M2T_TEST_DATABASE_URL=$M2T_PG_ADMIN_URL
	export M2T_TEST_DATABASE_URL
fi

# Dovecot with `ssl = no` on its own ports (tests/scripts/dovecot-notls.sh):
# the server a starttls-optional client goes on without TLS with.
start_notls_dovecot() {
	on_exit bash "$M2T_SCRIPTS/dovecot-notls.sh" stop "$M2T_SERVERS_DIR"
	bash "$M2T_SCRIPTS/dovecot-notls.sh" start "$M2T_SERVERS_DIR" >&2
	# shellcheck disable=SC1091
	. "$M2T_SERVERS_DIR/notls/env"
}

_m2t_psql() {
	local bin=psql
	[ -x "${M2T_PG_BINDIR:-}/psql" ] && bin=$M2T_PG_BINDIR/psql
	"$bin" -X -q -v ON_ERROR_STOP=1 "$@"
}

# --- database -------------------------------------------------------------------

# Database names are recorded in a file, so `DB=$(new_db)` (a subshell) still
# gets its database dropped when the test exits.
_m2t_db_list=$TEST_TMP/databases
: >"$_m2t_db_list"

new_db() {
	local name
	name="m2t_t_$$_$(date +%s%N | tail -c 7)_$RANDOM"
	_m2t_psql "$M2T_PG_ADMIN_URL" -c "create database $name" >/dev/null
	printf '%s\n' "$name" >>"$_m2t_db_list"
	printf 'postgresql://postgres@127.0.0.1:%s/%s\n' "$M2T_PG_PORT" "$name"
}

_m2t_drop_dbs() {
	local name
	[ -f "$_m2t_db_list" ] || return 0
	while IFS= read -r name; do
		_m2t_psql "$M2T_PG_ADMIN_URL" \
			-c "drop database if exists $name with (force)" >/dev/null 2>&1 || true
	done <"$_m2t_db_list"
}

_m2t_current_db() {
	local name
	if [ -n "${DATABASE_URL:-}" ]; then
		printf '%s\n' "$DATABASE_URL"
		return 0
	fi
	name=$(tail -n 1 "$_m2t_db_list")
	if [ -z "$name" ]; then
		echo "psql_q: no database: call new_db first" >&2
		return 1
	fi
	printf 'postgresql://postgres@127.0.0.1:%s/%s\n' "$M2T_PG_PORT" "$name"
}

psql_q() {
	local sql=$1 url
	shift
	url=$(_m2t_current_db)
	_m2t_psql -t -A "$url" "$@" -c "$sql"
}

# --- mail -----------------------------------------------------------------------

dove() {
	doveadm -c "$M2T_DOVECOT_CONF" "$@"
}

deliver() {
	sh "$M2T_SCRIPTS/maildir-deliver.sh" "$M2T_MAILDIR" "$@"
}

create_folder() {
	local box
	for box in "$@"; do
		dove mailbox create -u "$M2T_IMAP_USER" "$box" 2>/dev/null ||
			dove mailbox status -u "$M2T_IMAP_USER" messages "$box" >/dev/null
	done
}

deliver_to() {
	local box=$1
	shift
	if [ "$box" = INBOX ]; then
		deliver "$@"
		return
	fi
	create_folder "$box"
	sh "$M2T_SCRIPTS/maildir-deliver.sh" "$M2T_MAILDIR/.${box//\//.}" "$@"
}

count_inbox() {
	sh "$M2T_SCRIPTS/maildir-count.sh" "$M2T_MAILDIR"
}

count_folder() {
	sh "$M2T_SCRIPTS/maildir-count.sh" "$M2T_MAILDIR" "$1"
}

# Messages in MAILBOX (default INBOX) as Dovecot reports them; 0 when the
# mailbox does not exist.
imap_count() {
	local out
	out=$(dove -f flow mailbox status -u "$M2T_IMAP_USER" messages "${1:-INBOX}" 2>/dev/null) ||
		{ echo 0; return 0; }
	printf '%s\n' "${out##*messages=}"
}

reset_mailbox() {
	sh "$M2T_SCRIPTS/mailbox-reset.sh" "$M2T_DOVECOT_CONF" "$M2T_IMAP_USER"
}

# --- config ---------------------------------------------------------------------

make_config() {
	local file=$1 extra=${2:-} proto=${CFG_PROTOCOL:-imap} sec=${CFG_SECURITY:-tls} port
	local account folders
	port=${CFG_PORT:-}
	if [ -z "$port" ]; then
		case "$proto:$sec" in
		imap:tls) port=$M2T_IMAPS_PORT ;;
		imap:*) port=$M2T_IMAP_PORT ;;
		pop3:tls) port=$M2T_POP3S_PORT ;;
		pop3:*) port=$M2T_POP3_PORT ;;
		maildir:*) ;;
		*) echo "make_config: unknown protocol $proto" >&2; return 1 ;;
		esac
	fi
	if [ "$proto" = maildir ]; then
		account="    protocol: maildir
    path: \"${CFG_MAILDIR:?make_config: CFG_MAILDIR is required for maildir}\""
	else
		account="    protocol: $proto
    host: 127.0.0.1
    port: $port
    security: $sec
    tls: { verify: true, ca_file: \"$M2T_CA_FILE\" }
    username: $M2T_IMAP_USER
    password_file: \"$M2T_IMAP_PASSWORD_FILE\"
    timeout: 10s"
	fi
	folders="    mailbox: INBOX
    archive_folder: Processed
    badmail_folder: Badmail"
	[ "$proto" = pop3 ] && folders=""
	{
		printf '%s\n' "# mail2ticket test configuration" "database:" "  url_env: DATABASE_URL" \
			"accounts:" "  support:" "$account" "jobs:" "  support-inbox:" \
			"    account: support"
		[ -z "$folders" ] || printf '%s\n' "$folders"
		printf '%s\n' '    schedule: "*/5 * * * *"' "    max_message_size: 25MB"
	} >"$file"
	if [ -n "$extra" ]; then
		printf '%s\n' "$extra" >>"$file"
	fi
}
