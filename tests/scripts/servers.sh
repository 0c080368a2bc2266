#!/usr/bin/env bash
# Private PostgreSQL 15 and Dovecot 2.3 instances for tests, the demo and the
# benchmark, bound to 127.0.0.1 on free ports, everything under one directory.
#
#   servers.sh start DIR     start both; writes DIR/env (a shell file to source)
#   servers.sh stop DIR      stop both; safe to repeat or after a failed start
#   servers.sh pg-stop DIR [fast|immediate]   stop PostgreSQL only (crash tests)
#   servers.sh pg-start DIR  start PostgreSQL again on the same port
#
# DIR must exist and be empty (mktemp -d). Unix sockets live in a short
# directory made with mktemp under /tmp, because socket paths are limited to
# about 100 bytes; `stop` removes it.
#
# DIR/env defines: M2T_SERVERS_DIR M2T_PG_URL M2T_PG_ADMIN_URL M2T_PG_PORT
# M2T_PG_HOST M2T_IMAP_PORT M2T_IMAPS_PORT M2T_POP3_PORT M2T_POP3S_PORT
# M2T_CA_FILE M2T_OTHER_CA_FILE M2T_IMAP_USER M2T_IMAP_PASSWORD_FILE
# M2T_TLS_DIR M2T_EXPIRED_NAME M2T_SELFSIGNED_NAME
# M2T_OTHER_USER M2T_OTHER_PASSWORD_FILE M2T_MAILDIR M2T_MAIL_ROOT
# M2T_MAIL_UID M2T_MAIL_GID M2T_DOVECOT_CONF M2T_DOVECOT_LOG M2T_PG_LOG
# M2T_PG_BINDIR
# M2T_OAUTH_PORT M2T_OAUTH_USER M2T_OAUTH_MAILDIR (Dovecot's oauth2 passdb asks
# http://127.0.0.1:$M2T_OAUTH_PORT/introspect; the OAuth tests start the token
# server there: build/rel/tools/oauth_server)
# and from proxy-servers.sh: M2T_PROXIES (0: none) M2T_SOCKS_PORT
# M2T_SOCKS_AUTH_PORT M2T_HTTP_PROXY_PORT M2T_PROXY_USER M2T_PROXY_PASSWORD_FILE
# M2T_PROXIED_NAME M2T_PROXY_LOG_DIR
# A second Dovecot without TLS is started on demand by dovecot-notls.sh (the
# tests call it through lib.sh); `stop` stops it as well.
set -eu
set -o pipefail
# shellcheck source=tests/scripts/proc_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/proc_lib.sh"

WAIT_SECONDS=30
# SNI names for which Dovecot serves a certificate a client must refuse
EXPIRED_NAME=expired.mail2ticket.test
SELFSIGNED_NAME=selfsigned.mail2ticket.test

usage() {
	die "usage: servers.sh start|stop|pg-start|pg-stop DIR | servers.sh ports COUNT"
}

is_root() {
	[ "$(id -u)" -eq 0 ]
}

# Runs a PostgreSQL server program as the user that owns the cluster.
as_pg() {
	if is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

find_pg_bindir() {
	local d best=""
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null || true)
		if [ -n "$d" ] && [ -x "$d/initdb" ]; then
			printf '%s\n' "$d"
			return 0
		fi
	fi
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && best=$d
	done
	# prefer 15, the version we target, when several are installed
	[ -x /usr/lib/postgresql/15/bin/initdb ] && best=/usr/lib/postgresql/15/bin
	if [ -z "$best" ] && command -v initdb >/dev/null 2>&1; then
		best=$(dirname "$(command -v initdb)")
	fi
	[ -n "$best" ] || die "PostgreSQL server programs not found (run: make deps)"
	printf '%s\n' "$best"
}

# --- free ports ---------------------------------------------------------------

# Every local TCP port the kernel knows about (listening or connected), so we
# never pick a port some other socket already holds.
ports_in_use() {
	local f
	for f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$f" ] || continue
		awk 'NR > 1 { split($2, a, ":"); print a[2] }' "$f"
	done | while read -r hex; do
		printf '%d\n' "0x$hex"
	done
}

# Prints COUNT distinct free ports. Scans from a random base below the
# kernel's ephemeral range (outgoing connections cannot steal them), with a
# bounded number of tries.
pick_ports() {
	local count=$1 lo=20000 hi=32000 eph_lo used picked="" n=0 tries=0 p
	eph_lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	if [ "$eph_lo" -gt 25000 ] && [ "$eph_lo" -le 65535 ]; then
		hi=$((eph_lo - 1))
	else
		hi=60000
	fi
	used=" $(ports_in_use | sort -un | tr '\n' ' ') "
	p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
	while [ "$n" -lt "$count" ]; do
		tries=$((tries + 1))
		[ "$tries" -le 2000 ] || die "no free ports found between $lo and $hi"
		p=$((p + 1 + RANDOM % 7))
		[ "$p" -lt "$hi" ] || p=$((lo + RANDOM % 100))
		case "$used $picked " in
		*" $p "*) continue ;;
		esac
		picked="$picked $p"
		n=$((n + 1))
	done
	printf '%s\n' "${picked# }"
}

# --- state --------------------------------------------------------------------

load_state() {
	[ -f "$DIR/state" ] || return 1
	# shellcheck disable=SC1091
	. "$DIR/state"
}

# Reads the first bytes a server sends after connect: "* OK" (IMAP), "+OK" (POP3).
greeting() {
	# shellcheck disable=SC2016  # $1 belongs to the inner shell
	timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && head -c 4 <&3' _ "$1" 2>/dev/null || true
}

# --- TLS ----------------------------------------------------------------------

make_tls() {
	local t=$1 ext
	mkdir -p "$t"
	ext="$t/server.ext"
	(
		umask 077
		openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$t/ca.key" -out "$t/ca.pem" -days 30 -sha256 \
			-subj "/O=mail2ticket tests/CN=mail2ticket test CA" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" \
			-addext "subjectKeyIdentifier=hash" 2>/dev/null
		cat >"$ext" <<-'EOF'
			basicConstraints = critical, CA:FALSE
			keyUsage = critical, digitalSignature, keyEncipherment
			extendedKeyUsage = serverAuth
			subjectAltName = DNS:localhost, IP:127.0.0.1, DNS:imap.proxied.test
			subjectKeyIdentifier = hash
			authorityKeyIdentifier = keyid, issuer
		EOF
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$t/server.key" -out "$t/server.csr" \
			-subj "/O=mail2ticket tests/CN=localhost" 2>/dev/null
		openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" \
			-set_serial "0x$(openssl rand -hex 8)" -days 30 -sha256 \
			-extfile "$ext" -out "$t/server.pem" 2>/dev/null
		# A CA that signed nothing here: clients trusting only it must refuse the server.
		openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$t/other-ca.key" -out "$t/other-ca.pem" -days 30 -sha256 \
			-subj "/O=mail2ticket tests/CN=unrelated test CA" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	) || die "generating the test certificates failed"
	chmod 644 "$t/ca.pem" "$t/server.pem" "$t/other-ca.pem"
	openssl verify -CAfile "$t/ca.pem" "$t/server.pem" >/dev/null ||
		die "generated server certificate does not verify"
	make_bad_certs "$t"
}

# Certificates a client must refuse, served by Dovecot for their own SNI
# names (local_name blocks): one that expired, signed by the test CA, and a
# self-signed one. `openssl x509 -days` cannot go back in time; `openssl ca`
# takes explicit start and end dates.
make_bad_certs() {
	local t=$1 name
	(
		umask 077
		mkdir -p "$t/ca-new"
		: >"$t/ca-index.txt"
		openssl rand -hex 8 >"$t/ca-serial"
		cat >"$t/ca.cnf" <<-EOF
			[ ca ]
			default_ca = test_ca
			[ test_ca ]
			database = $t/ca-index.txt
			new_certs_dir = $t/ca-new
			serial = $t/ca-serial
			default_md = sha256
			policy = any_name
			unique_subject = no
			[ any_name ]
			organizationName = optional
			commonName = supplied
		EOF
		name=$EXPIRED_NAME
		printf '%s\n' "basicConstraints = critical, CA:FALSE" \
			"keyUsage = critical, digitalSignature, keyEncipherment" \
			"extendedKeyUsage = serverAuth" "subjectAltName = DNS:$name" >"$t/expired.ext"
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$t/expired.key" -out "$t/expired.csr" \
			-subj "/O=mail2ticket tests/CN=$name" 2>/dev/null
		openssl ca -batch -config "$t/ca.cnf" -cert "$t/ca.pem" -keyfile "$t/ca.key" \
			-in "$t/expired.csr" -out "$t/expired.pem" -notext \
			-startdate 20200101000000Z -enddate 20200201000000Z \
			-extfile "$t/expired.ext" >/dev/null 2>&1
		name=$SELFSIGNED_NAME
		openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$t/selfsigned.key" -out "$t/selfsigned.pem" -days 30 -sha256 \
			-subj "/O=mail2ticket tests/CN=$name" \
			-addext "basicConstraints=critical,CA:FALSE" \
			-addext "subjectAltName=DNS:$name" 2>/dev/null
	) || die "generating the expired and self-signed certificates failed"
	chmod 644 "$t/expired.pem" "$t/selfsigned.pem"
	case "$(openssl verify -CAfile "$t/ca.pem" "$t/expired.pem" 2>&1 || true)" in
	*expired*) ;;
	*) die "the expired test certificate is not expired" ;;
	esac
}

# --- PostgreSQL ---------------------------------------------------------------

pg_init() {
	local data=$PG_DATA
	mkdir -p "$data"
	chmod 700 "$data"
	if is_root; then
		chown postgres:postgres "$data"
		touch "$DIR/pg.log"
		chown postgres:postgres "$DIR/pg.log"
	fi
	# -N: initdb skips its final flush of the new cluster; the running server
	# keeps fsync=on, which is what the crash tests rely on.
	as_pg "$PG_BINDIR/initdb" -D "$data" -U postgres -E UTF8 --locale=C \
		-A trust -N >"$DIR/initdb.log" 2>&1 ||
		{ cat "$DIR/initdb.log" >&2; die "initdb failed"; }
	as_pg tee "$data/pg_hba.conf" >/dev/null <<-'EOF'
		# mail2ticket test cluster: loopback only
		local   all   all                 trust
		host    all   all   127.0.0.1/32  trust
	EOF
	as_pg tee -a "$data/postgresql.conf" >/dev/null <<-EOF

		# mail2ticket test cluster
		listen_addresses = '127.0.0.1'
		port = $PG_PORT
		unix_socket_directories = '$SOCK_DIR'
		fsync = on
		synchronous_commit = on
		full_page_writes = on
		shared_buffers = ${M2T_PG_SHARED_BUFFERS:-32MB}
		max_connections = 100
		logging_collector = off
		log_min_messages = warning
		log_connections = off
		log_checkpoints = off
		timezone = 'UTC'
	EOF
}

# Rewrites the port line appended by pg_init (used when a retry picks new ports).
pg_set_port() {
	as_pg sed -i "s/^port = [0-9]*\$/port = $PG_PORT/" "$PG_DATA/postgresql.conf"
}

pg_start() {
	as_pg "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$DIR/pg.log" -w -t "$WAIT_SECONDS" start \
		>/dev/null 2>&1
}

pg_stop() {
	local mode=${1:-fast}
	[ -f "$PG_DATA/postmaster.pid" ] || return 0
	as_pg "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m "$mode" -w -t "$WAIT_SECONDS" stop \
		>/dev/null 2>&1 || {
		# still there after the wait: stop it hard, by its own pid only
		local pid
		pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
		if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	}
}

pg_wait() {
	local i=0
	while [ "$i" -lt $((WAIT_SECONDS * 10)) ]; do
		if "$PG_BINDIR/psql" -X -q -t -A -c 'select 1' \
			"postgresql://postgres@127.0.0.1:$PG_PORT/postgres" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# --- Dovecot ------------------------------------------------------------------

dovecot_config() {
	local conf=$DIR/dovecot/dovecot.conf login_user internal_user internal_group
	local chroot_line=""
	if is_root; then
		login_user=dovenull
		internal_user=dovecot
		internal_group=dovecot
		getent passwd dovenull >/dev/null || login_user=nobody
		getent passwd dovecot >/dev/null || internal_user=nobody
		getent group dovecot >/dev/null || internal_group=nogroup
	else
		# everything runs as the calling user, without chroot
		login_user=$(id -un)
		internal_user=$(id -un)
		internal_group=$(id -gn)
		chroot_line="chroot ="
	fi
	cat >"$conf" <<-EOF
		# mail2ticket test instance (generated by tests/scripts/servers.sh)
		instance_name = m2t-$INSTANCE
		base_dir = $SOCK_DIR/dc
		state_dir = $DIR/dovecot/state
		protocols = imap pop3
		listen = 127.0.0.1
		shutdown_clients = yes

		log_path = $DIR/dovecot.log
		info_log_path = $DIR/dovecot.log
		debug_log_path = $DIR/dovecot.log
		login_log_format_elements = user=<%u> method=%m rip=%r lip=%l %c

		default_login_user = $login_user
		default_internal_user = $internal_user
		default_internal_group = $internal_group
		first_valid_uid = $MAIL_UID
		first_valid_gid = $MAIL_GID

		ssl = yes
		ssl_cert = <$DIR/tls/server.pem
		ssl_key = <$DIR/tls/server.key
		ssl_min_protocol = TLSv1.2
		disable_plaintext_auth = no
		# the password mechanisms mail2ticket speaks and this Dovecot has
		# ({PLAIN} passwords let it compute what CRAM-MD5 and SCRAM need;
		# Debian's build has no NTLM); apop for POP3
		auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256 apop xoauth2 oauthbearer
		auth_failure_delay = 0

		# certificates to refuse, chosen by the name the client asks for (SNI)
		local_name $EXPIRED_NAME {
		  ssl_cert = <$DIR/tls/expired.pem
		  ssl_key = <$DIR/tls/expired.key
		}
		local_name $SELFSIGNED_NAME {
		  ssl_cert = <$DIR/tls/selfsigned.pem
		  ssl_key = <$DIR/tls/selfsigned.key
		}

		# the user "oauth" logs in with access tokens of the test token server
		# (tests/tools/oauth_server.c), checked by introspection; so do the
		# users of the Microsoft 365 and Gmail examples (examples/accounts),
		# run as written; only those users, so other logins never wait for it
		passdb {
		  driver = oauth2
		  args = $DIR/dovecot/oauth2.conf.ext
		  username_filter = oauth support@contoso.com support@example.com
		}
		passdb {
		  driver = passwd-file
		  args = scheme=PLAIN username_format=%u $DIR/dovecot/users
		}
		userdb {
		  driver = static
		  args = uid=$MAIL_UID gid=$MAIL_GID home=$DIR/mail/%u
		}

		mail_location = maildir:$DIR/mail/%u
		mail_fsync = optimized
		namespace inbox {
		  inbox = yes
		  separator = /
		}

		service imap-login {
		  $chroot_line
		  inet_listener imap {
		    address = 127.0.0.1
		    port = $IMAP_PORT
		  }
		  inet_listener imaps {
		    address = 127.0.0.1
		    port = $IMAPS_PORT
		    ssl = yes
		  }
		}
		service pop3-login {
		  $chroot_line
		  inet_listener pop3 {
		    address = 127.0.0.1
		    port = $POP3_PORT
		  }
		  inet_listener pop3s {
		    address = 127.0.0.1
		    port = $POP3S_PORT
		    ssl = yes
		  }
		}
		# No auth penalty: tests log in with wrong passwords on purpose, and
		# the next login from 127.0.0.1 would wait 2-15 s. Without access to
		# this socket the auth process turns the penalty off.
		service anvil {
		  $chroot_line
		  unix_listener anvil-auth-penalty {
		    mode = 0
		  }
		}
		service imap {
		  process_limit = 64
		}
		service pop3 {
		  process_limit = 64
		}
		protocol pop3 {
		  pop3_uidl_format = %08Xv%08Xu
		}
	EOF
	cat >"$DIR/dovecot/oauth2.conf.ext" <<-EOF
		introspection_mode = post
		introspection_url = http://127.0.0.1:$OAUTH_PORT/introspect
		username_attribute = username
		active_attribute = active
		active_value = true
		force_introspection = yes
	EOF
	printf '%s\n' "$conf"
}

# Rewrites the port numbers in the config (used when a retry picks new ports).
dovecot_set_ports() {
	local conf=$DIR/dovecot/dovecot.conf
	awk -v imap="$IMAP_PORT" -v imaps="$IMAPS_PORT" -v pop3="$POP3_PORT" -v pop3s="$POP3S_PORT" '
		/inet_listener imaps/ { l = imaps } /inet_listener imap / { l = imap }
		/inet_listener pop3s/ { l = pop3s } /inet_listener pop3 / { l = pop3 }
		/^ *port = / && l { sub(/[0-9]+/, l); l = "" }
		{ print }' "$conf" >"$conf.new"
	mv "$conf.new" "$conf"
}

# True while PID runs (a zombie nobody reaped yet counts as gone).
dovecot_pid() {
	local pid
	pid=$(cat "$SOCK_DIR/dc/master.pid" 2>/dev/null || true)
	[ -n "$pid" ] || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dovecot ] || return 1
	alive "$pid" || return 1
	printf '%s\n' "$pid"
}

dovecot_start() {
	# The master keeps stderr open: never leave it attached to a pipe.
	dovecot -c "$DIR/dovecot/dovecot.conf" >>"$DIR/dovecot.out" 2>&1 </dev/null
}

dovecot_stop() {
	local pid
	pid=$(dovecot_pid) || return 0
	stop_pid "$pid" "$WAIT_SECONDS"
}

dovecot_wait() {
	local i=0 p ok
	while [ "$i" -lt $((WAIT_SECONDS * 10)) ]; do
		ok=1
		for p in "$IMAP_PORT" "$POP3_PORT"; do
			case "$(greeting "$p")" in
			"* OK" | "+OK"*) ;;
			*) ok=0 ;;
			esac
		done
		for p in "$IMAPS_PORT" "$POP3S_PORT"; do
			port_open "$p" || ok=0
		done
		[ "$ok" -eq 1 ] && return 0
		dovecot_pid >/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# --- mail store ---------------------------------------------------------------

mail_user() {
	if is_root; then
		if getent passwd mail >/dev/null; then
			MAIL_UID=$(id -u mail)
			MAIL_GID=$(getent group mail | cut -d: -f3)
		else
			MAIL_UID=$(id -u nobody)
			MAIL_GID=$(id -g nobody)
		fi
	else
		MAIL_UID=$(id -u)
		MAIL_GID=$(id -g)
	fi
}

make_mailboxes() {
	local u
	mkdir -p "$DIR/mail"
	for u in support other oauth support@contoso.com support@example.com; do
		mkdir -p "$DIR/mail/$u/new" "$DIR/mail/$u/cur" "$DIR/mail/$u/tmp"
	done
	if is_root; then
		chown -R "$MAIL_UID:$MAIL_GID" "$DIR/mail"
	fi
	chmod -R u+rwX,go+rX "$DIR/mail"
}

random_password() {
	openssl rand -hex 12
}

# --- commands -----------------------------------------------------------------

write_env() {
	local f=$DIR/env
	cat >"$f.new" <<-EOF
		# mail2ticket test servers; source this file
		export M2T_SERVERS_DIR='$DIR'
		export M2T_PG_HOST=127.0.0.1
		export M2T_PG_PORT=$PG_PORT
		export M2T_PG_URL='postgresql://postgres@127.0.0.1:$PG_PORT/mail2ticket'
		export M2T_PG_ADMIN_URL='postgresql://postgres@127.0.0.1:$PG_PORT/postgres'
		export M2T_PG_BINDIR='$PG_BINDIR'
		export M2T_PG_LOG='$DIR/pg.log'
		export M2T_IMAP_PORT=$IMAP_PORT
		export M2T_IMAPS_PORT=$IMAPS_PORT
		export M2T_POP3_PORT=$POP3_PORT
		export M2T_POP3S_PORT=$POP3S_PORT
		export M2T_CA_FILE='$DIR/tls/ca.pem'
		export M2T_OTHER_CA_FILE='$DIR/tls/other-ca.pem'
		export M2T_TLS_DIR='$DIR/tls'
		export M2T_EXPIRED_NAME='$EXPIRED_NAME'
		export M2T_SELFSIGNED_NAME='$SELFSIGNED_NAME'
		export M2T_IMAP_USER=support
		export M2T_IMAP_PASSWORD_FILE='$DIR/support.password'
		export M2T_OTHER_USER=other
		export M2T_OTHER_PASSWORD_FILE='$DIR/other.password'
		export M2T_MAIL_ROOT='$DIR/mail'
		export M2T_MAILDIR='$DIR/mail/support'
		export M2T_MAIL_UID=$MAIL_UID
		export M2T_MAIL_GID=$MAIL_GID
		export M2T_DOVECOT_CONF='$DIR/dovecot/dovecot.conf'
		export M2T_DOVECOT_LOG='$DIR/dovecot.log'
		export M2T_OAUTH_PORT=$OAUTH_PORT
		export M2T_OAUTH_USER=oauth
		export M2T_OAUTH_MAILDIR='$DIR/mail/oauth'
	EOF
	if [ -f "$DIR/proxy.env" ]; then
		cat "$DIR/proxy.env" >>"$f.new"
	fi
	mv "$f.new" "$f"
}

write_state() {
	cat >"$DIR/state" <<-EOF
		SOCK_DIR='$SOCK_DIR'
		PG_DATA='$PG_DATA'
		PG_BINDIR='$PG_BINDIR'
		PG_PORT=$PG_PORT
		IMAP_PORT=$IMAP_PORT
		IMAPS_PORT=$IMAPS_PORT
		POP3_PORT=$POP3_PORT
		POP3S_PORT=$POP3S_PORT
		OAUTH_PORT=$OAUTH_PORT
	EOF
}

show_logs() {
	local f
	for f in "$DIR/initdb.log" "$DIR/pg.log" "$DIR/dovecot.out" "$DIR/dovecot.log"; do
		[ -s "$f" ] || continue
		printf -- '--- %s (last 30 lines)\n' "${f##*/}" >&2
		tail -n 30 "$f" >&2
	done
}

cmd_start() {
	local ports attempt=0 pw_support pw_other
	[ -d "$DIR" ] || die "$DIR: no such directory"
	[ ! -e "$DIR/state" ] || die "$DIR: servers already started here (stop first)"
	command -v dovecot >/dev/null 2>&1 || die "dovecot not found (run: make deps)"
	command -v openssl >/dev/null 2>&1 || die "openssl not found (run: make deps)"
	if is_root; then
		getent passwd postgres >/dev/null || die "no postgres user (run: make deps)"
	fi
	PG_BINDIR=$(find_pg_bindir)
	mail_user

	# The server users must be able to walk down to their files.
	chmod 755 "$DIR"
	if is_root && ! runuser -u postgres -- test -x "$DIR"; then
		die "$DIR is not reachable by the postgres user: use a directory under /tmp"
	fi

	SOCK_DIR=$(mktemp -d /tmp/m2t.XXXXXX)
	chmod 755 "$SOCK_DIR"
	INSTANCE=${SOCK_DIR##*.}
	PG_DATA=$DIR/pg/data
	mkdir -p "$DIR/pg" "$DIR/dovecot/state"
	if is_root; then
		chown postgres:postgres "$DIR/pg" "$SOCK_DIR"
	fi

	read -r PG_PORT IMAP_PORT IMAPS_PORT POP3_PORT POP3S_PORT OAUTH_PORT PROXY_PORTS \
		<<<"$(pick_ports 9)"
	write_state
	# whatever fails from here on: leave nothing running behind
	trap cmd_stop EXIT

	make_tls "$DIR/tls"
	pw_support=$(random_password)
	pw_other=$(random_password)
	(
		umask 077
		printf '%s\n' "$pw_support" >"$DIR/support.password"
		printf '%s\n' "$pw_other" >"$DIR/other.password"
		printf 'support:{PLAIN}%s\nother:{PLAIN}%s\n' "$pw_support" "$pw_other" \
			>"$DIR/dovecot/users"
	)
	if is_root; then
		chown root:"$(id -gn dovecot 2>/dev/null || echo root)" "$DIR/dovecot/users" 2>/dev/null || true
		chmod 640 "$DIR/dovecot/users"
	fi
	make_mailboxes

	pg_init
	dovecot_config >/dev/null
	doveconf -c "$DIR/dovecot/dovecot.conf" -n >/dev/null 2>"$DIR/doveconf.err" ||
		{ cat "$DIR/doveconf.err" >&2; die "dovecot configuration rejected"; }

	# Another process may grab a port between our probe and the bind:
	# retry with fresh ports a few times.
	while :; do
		attempt=$((attempt + 1))
		if pg_start && pg_wait; then
			break
		fi
		pg_stop immediate
		if [ "$attempt" -ge 4 ] || ! grep -q 'could not bind\|Address already in use' "$DIR/pg.log"; then
			show_logs
			die "PostgreSQL did not start"
		fi
		ports=$(pick_ports 1)
		PG_PORT=$ports
		pg_set_port
		write_state
	done

	attempt=0
	while :; do
		attempt=$((attempt + 1))
		if dovecot_start && dovecot_wait; then
			break
		fi
		dovecot_stop
		if [ "$attempt" -ge 4 ] ||
			! grep -q 'Address already in use' "$DIR/dovecot.out" "$DIR/dovecot.log" 2>/dev/null; then
			show_logs
			die "Dovecot did not start"
		fi
		read -r IMAP_PORT IMAPS_PORT POP3_PORT POP3S_PORT <<<"$(pick_ports 4)"
		dovecot_set_ports
		write_state
	done

	"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
		"postgresql://postgres@127.0.0.1:$PG_PORT/postgres" \
		-c 'create database mail2ticket' >/dev/null ||
		die "creating database mail2ticket failed"

	bash "$(dirname "$0")/proxy-servers.sh" start "$DIR" "$PROXY_PORTS" ||
		die "the proxies did not start"
	write_env
	trap - EXIT
}

cmd_stop() {
	load_state || return 0
	bash "$(dirname "$0")/proxy-servers.sh" stop "$DIR" || true
	bash "$(dirname "$0")/dovecot-notls.sh" stop "$DIR" || true
	dovecot_stop
	pg_stop fast
	case "$SOCK_DIR" in
	/tmp/m2t.*) rm -rf "$SOCK_DIR" ;;
	esac
	rm -f "$DIR/state"
}

cmd_pg_stop() {
	load_state || die "$DIR: servers not started"
	pg_stop "${1:-fast}"
}

cmd_pg_start() {
	load_state || die "$DIR: servers not started"
	if ! pg_start || ! pg_wait; then
		show_logs
		die "PostgreSQL did not start"
	fi
}

# free ports for a test's own listener, chosen as the servers' are
if [ "${1:-}" = ports ] && [ "$#" -eq 2 ]; then
	pick_ports "$2"
	exit 0
fi

[ "$#" -ge 2 ] || usage
CMD=$1
DIR=$2
shift 2
case "$DIR" in
/*) ;;
*) DIR=$(pwd)/$DIR ;;
esac
DIR=${DIR%/}

case "$CMD" in
start) cmd_start ;;
stop) cmd_stop ;;
pg-stop) cmd_pg_stop "$@" ;;
pg-start) cmd_pg_start ;;
*) usage ;;
esac
