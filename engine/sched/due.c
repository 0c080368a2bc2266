/*
 * The daemon's time decisions (due.h). cron has no "previous fire time", so
 * the latest slot is found by stepping cron_next() forward from a known fire
 * time: from the last slot in the steady state (one or two steps), else
 * from the start of the smallest look-back window that holds a fire time
 * (so a job that was never run, or was late for days, costs a few hundred
 * steps at most, not one per minute of the gap).
 */
#include "engine/sched/due.h"

#include <stdbool.h>

/* Steps of cron_next() one search may take; well above what a window needs. */
#define DUE_MAX_STEPS 100000

/* Look-back windows, smallest first; the last covers leap days and years. */
static const int64_t windows[] = {
	60, 600, 3600, 4 * 3600, 86400, 7 * 86400, 32 * 86400, 367 * 86400, 8 * 367 * 86400,
};

/* From the fire time t (<= now): the latest fire time <= now, in *t_r. */
static int step_to(const struct cron *c, const struct tz *tz, time_t t, time_t now,
		   time_t *t_r)
{
	for (unsigned i = 0; i < DUE_MAX_STEPS; i++) {
		time_t n;
		if (cron_next(c, tz, t, &n) < 0 || n > now) {
			*t_r = t;
			return 0;
		}
		t = n;
	}
	return -1;
}

int due_latest(const struct cron *c, const struct tz *tz, time_t now, time_t *t_r)
{
	switch (cron_kind(c)) {
	case CRON_IDLE:
		return -1;
	case CRON_EVERY: {
		time_t every = (time_t)cron_every_seconds(c);
		if (every <= 0 || now < 0)
			return -1;
		*t_r = now - now % every;
		return 0;
	}
	case CRON_FIELDS:
		break;
	}
	for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		time_t first;
		/* cron_next is strictly after: start one second before the window */
		if (cron_next(c, tz, now - windows[i] - 1, &first) < 0 || first > now)
			continue;
		return step_to(c, tz, first, now, t_r);
	}
	return -1;
}

/* The latest slot <= now after the known slot `last` (0 when none passed). */
static int latest_after(const struct cron *c, const struct tz *tz, time_t last, time_t now,
			time_t *t_r)
{
	time_t n;
	*t_r = 0;
	if (cron_kind(c) == CRON_EVERY) {
		time_t every = (time_t)cron_every_seconds(c);
		if (every <= 0 || now - last < every)
			return 0;
		*t_r = last + (now - last) / every * every;
		return 0;
	}
	if (cron_next(c, tz, last, &n) < 0 || n > now)
		return 0;
	/* late by many slots: search from now rather than step through the gap */
	time_t t;
	if (step_to(c, tz, n, now, &t) == 0 && t > 0) {
		*t_r = t;
		return 0;
	}
	if (due_latest(c, tz, now, &t) == 0 && t > last)
		*t_r = t;
	return 0;
}

int due_check(const struct cron *c, const struct tz *tz, const struct due_state *s, time_t now,
	      time_t *slot_r, time_t *next_r)
{
	time_t t;
	*slot_r = 0;
	*next_r = 0;
	if (cron_kind(c) == CRON_IDLE)
		return -1;
	if (s->retry_at) {
		if (s->retry_at > now) {
			*next_r = s->retry_at;
			return 0;
		}
		/* a retry runs the latest slot: a newer one if it has come, else the
		 * failed one again (a job that never ran: whatever passed last) */
		if (s->last_slot) {
			latest_after(c, tz, s->last_slot, now, &t);
			*slot_r = t ? t : s->last_slot;
		} else {
			*slot_r = due_latest(c, tz, now, &t) == 0 ? t : now;
		}
		return 1;
	}
	if (!s->last_slot) {
		if (due_latest(c, tz, now, &t) == 0) {
			*slot_r = t;
			return 1;
		}
		if (cron_next(c, tz, now, next_r) < 0)
			return -1;
		return 0;
	}
	if (s->last_slot > now) {
		/* another daemon's clock ran ahead and claimed a slot of our future */
		if (cron_next(c, tz, s->last_slot, next_r) < 0)
			return -1;
		return 0;
	}
	latest_after(c, tz, s->last_slot, now, &t);
	if (t) {
		*slot_r = t;
		return 1;
	}
	if (cron_next(c, tz, s->last_slot, next_r) < 0)
		return -1;
	return 0;
}

uint64_t due_backoff_ms(unsigned failures, uint64_t base_ms, uint64_t max_ms, double jitter)
{
	uint64_t d = base_ms;
	if (failures == 0)
		return 0;
	for (unsigned i = 1; i < failures && d < max_ms; i++)
		d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
	if (d > max_ms)
		d = max_ms;
	if (!(jitter >= 0.0))
		jitter = 0.0;
	if (jitter >= 1.0)
		jitter = 0.999999;
	return d - d / 2 + (uint64_t)((double)(d / 2) * jitter);
}
