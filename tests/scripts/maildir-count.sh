#!/bin/sh
# maildir-count.sh MAILDIR [FOLDER]
#
# Prints the number of messages (files in new/ and cur/) in the INBOX of
# MAILDIR, or with FOLDER in that folder (Maildir++ layout: "Processed" is
# MAILDIR/.Processed, "A/B" is MAILDIR/.A.B). A folder that does not exist
# has 0 messages. Messages flagged \Deleted but not yet expunged still count.
set -eu

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
	echo "usage: maildir-count.sh MAILDIR [FOLDER]" >&2
	exit 2
fi
dir=$1
if [ "$#" -eq 2 ] && [ "$2" != INBOX ]; then
	dir=$1/.$(printf '%s' "$2" | tr / .)
fi
n=0
for sub in new cur; do
	[ -d "$dir/$sub" ] || continue
	c=$(find "$dir/$sub" -mindepth 1 -maxdepth 1 -type f | wc -l)
	n=$((n + c))
done
echo "$n"
