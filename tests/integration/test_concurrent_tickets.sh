#!/usr/bin/env bash
# Four mail2ticket processes at once, each on its own mailbox, all creating
# tickets in one database: every ticket gets a number, no two the same,
# and the day's counter has no gaps (the counter row is locked until each
# transaction commits). Small batches, so the four interleave many times.
. "$(dirname "$0")/lib.sh"

export DATABASE_URL
DATABASE_URL=$(new_db)
reset_mailbox
conf=$TEST_TMP/m2t.yaml
per=40
extra="    batch_size: 5"
for j in 1 2 3 4; do
	extra="$extra
  load$j:
    account: support
    mailbox: Load$j
    archive_folder: Done$j
    badmail_folder: Bad$j
    schedule: \"*/5 * * * *\"
    batch_size: 5"
	files=()
	for i in $(seq 1 "$per"); do
		f=$TEST_TMP/l$j-$i.eml
		printf 'From: User %d <user%d.%d@example.org>\r\nTo: support@example.com\r\nSubject: load %d/%d\r\nMessage-ID: <l%d.%d@test.example>\r\n\r\nbody\r\n' \
			"$i" "$j" "$i" "$j" "$i" "$j" "$i" >"$f"
		files+=("$f")
	done
	deliver_to "Load$j" "${files[@]}"
done
make_config "$conf" "$extra"
check "migrate" "$M2T_BIN" -c "$conf" migrate

pids=()
for j in 1 2 3 4; do
	"$M2T_BIN" -c "$conf" run "load$j" >"$TEST_TMP/run$j.out" 2>"$TEST_TMP/run$j.err" &
	pids+=($!)
done
rcs=""
for p in "${pids[@]}"; do
	wait "$p" && rcs="$rcs 0" || rcs="$rcs $?"
done
check_eq "all four runs exit 0" "$rcs" " 0 0 0 0"
total=$((4 * per))
check_eq "every mail became a ticket" "$(psql_q 'select count(*) from tickets')" "$total"
check_eq "ticket numbers are unique" "$(psql_q 'select count(distinct number) from tickets')" "$total"
check_eq "the day's numbers have no gaps" \
	"$(psql_q "select count(*) from tickets where right(number, 5)::int between 1 and $total")" "$total"
check_eq "the counter stands at the last one" \
	"$(psql_q "select last from ticket_counters where day = (now() at time zone 'UTC')::date")" "$total"
for j in 1 2 3 4; do
	check_eq "load$j: all mail archived" "$(count_folder "Done$j")" "$per"
done
