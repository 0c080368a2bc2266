/*
 * When a daemon runs a job: pure functions of the schedule, what is known of
 * the job's last run, and the clock (no I/O, no globals), so that the rules
 * are tested on their own.
 *
 * Rules (README "Running the daemon"):
 *   - A job runs once per schedule slot (fire time). A job that is late —
 *     slots passed while no daemon ran it, or while its previous run went on
 *     — runs ONCE, for the latest slot that has passed, not once per slot.
 *   - A job that has never run is due at once (for the latest slot passed).
 *   - After a failure the job waits for retry_at (exponential backoff),
 *     whatever its schedule; the retry may run the same slot again.
 *   - "idle" schedules never fire by time; "@every" keeps its rhythm from the
 *     last slot (a job never run starts on a multiple of the interval since
 *     1970, so that daemons agree on the slot).
 * Slots are the schedule's fire times in seconds since 1970; several daemons
 * compute the same slot for the same job, and the database's lease row
 * refuses a slot that has already run (migrations/0005_leases.sql).
 */
#ifndef M2T_SCHED_DUE_H
#define M2T_SCHED_DUE_H

#include <stdint.h>
#include <time.h>

#include "engine/sched/cron.h"

struct due_state {
	time_t last_slot;   /* slot of the last run started; 0: never ran */
	time_t retry_at;    /* backoff after a failure: not before this; 0: none */
};

/*
 * 1: the job is due now, for slot *slot_r. 0: not due; look again at
 * *next_r (> now). -1: never due by time (idle, or no fire time left).
 */
int due_check(const struct cron *c, const struct tz *tz, const struct due_state *s, time_t now,
	      time_t *slot_r, time_t *next_r);

/* The latest fire time at or before now (within the last 8 years): 0 and
 * *t_r, or -1 when there is none. */
int due_latest(const struct cron *c, const struct tz *tz, time_t now, time_t *t_r);

/*
 * Milliseconds to wait after the failures-th failure in a row (1 = first):
 * min(max_ms, base_ms * 2^(failures-1)), of which half is kept and half
 * scaled by jitter (0 <= jitter < 1: a random draw), so that the jobs of a
 * dead server do not all come back at the same instant.
 */
uint64_t due_backoff_ms(unsigned failures, uint64_t base_ms, uint64_t max_ms, double jitter);

#endif
