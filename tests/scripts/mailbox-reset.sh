#!/bin/sh
# mailbox-reset.sh DOVECOT_CONF [USER]
#
# Empties every mailbox of USER (default: support) through Dovecot itself, so
# its index files stay consistent with the Maildir while the server runs:
# expunges all messages, then deletes every folder except INBOX.
# UIDVALIDITY of INBOX is kept and its UIDs keep counting up.
set -eu

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
	echo "usage: mailbox-reset.sh DOVECOT_CONF [USER]" >&2
	exit 2
fi
conf=$1
user=${2:-support}

doveadm -c "$conf" expunge -u "$user" mailbox '*' all

# Children before parents (reverse sort); parents that exist only as part of a
# child's name (\NoSelect) are gone with it, hence the quiet second pass.
doveadm -c "$conf" mailbox list -u "$user" | grep -vx INBOX | sort -r |
	while IFS= read -r box; do
		doveadm -c "$conf" mailbox delete -u "$user" -s "$box" 2>/dev/null || true
	done

left=$(doveadm -c "$conf" mailbox list -u "$user" | grep -vx INBOX || true)
if [ -n "$left" ]; then
	echo "mailbox-reset: could not delete: $left" >&2
	exit 1
fi
