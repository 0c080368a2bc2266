/*
 * When a schedule fires next, with cronie's daylight-saving behaviour.
 *
 * cronie wakes every minute and compares the wall clock with the minute it
 * handled last (cron.c, "Too many clocks, not enough time"):
 *   - one minute on: the jobs of this minute run;
 *   - 2 to 5 minutes on (it woke late): every job of every missed minute;
 *   - 6 to 180 minutes on (a change forward): the wildcard jobs of the new
 *     minute, and the fixed-time jobs of every skipped minute, right away;
 *   - more than 180 minutes on: only the new minute's jobs;
 *   - the same minute again (one minute back): nothing, it waits;
 *   - back by up to 180 minutes (a change back): only wildcard jobs run,
 *     until the clock passes the minute handled last again, so a fixed time
 *     shown twice runs once;
 *   - back by more: start over, everything runs.
 * Wildcard jobs are those whose minute or hour field starts with '*'.
 *
 * Rather than stepping minute by minute, this walks the zone's spans of
 * constant offset. Within a span a wall minute maps to one instant, so the
 * next match is a calendar search on the wall clock; the rules above only
 * act at the span's start, through the size of the offset change there
 * (a change of d seconds forward is cronie's "d/60 + 1 minutes on").
 * Changes closer together than three hours interact in cronie through its
 * remembered minute; here each is taken on its own (no zone has such).
 * cronie also notices a change only when the DST flag flips; every change
 * of offset counts here (a zone moving its standard time is a change too).
 *
 * Thread-safe and allocation-free: only the read-only cron and tz are used.
 */
#include "engine/sched/cron_int.h"

#include "engine/sched/civil.h"

#define MINUTES(n) ((int64_t)(n) * 60)
/* spans walked before giving up: two changes a year until 9999 and then some */
#define CRON_MAX_SPANS 100000

/* Lowest set bit of bits at or above `from`, or -1. */
static int bit_next(uint64_t bits, unsigned from)
{
	if (from >= 64)
		return -1;
	bits &= ~0ULL << from;
	return bits ? __builtin_ctzll(bits) : -1;
}

/*
 * The first wall-clock minute (seconds since 1970 as the wall clock reads
 * them) at or after `from` and before `limit` that matches the fields.
 * Each round moves to the next candidate month, day, hour or minute, so the
 * rounds are bounded by the days searched (parse rejects fields that never
 * meet, so a match comes within a few years).
 */
static int wall_next(const struct cron *c, int64_t from, int64_t limit, int64_t *w_r)
{
	int64_t m = civil_floor_div(from, 60) * 60;
	if (m < from)
		m += 60;
	if (limit > CIVIL_SECONDS_MAX)
		limit = CIVIL_SECONDS_MAX;
	while (m < limit) {
		struct civil_time ct;
		civil_from_seconds(m, &ct);
		int64_t day = m - (int64_t)ct.hour * 3600 - (int64_t)ct.minute * 60 - ct.second;
		if (!((c->bits[CRON_MONTH] >> ct.month) & 1)) {
			int nm = bit_next(c->bits[CRON_MONTH], ct.month + 1);
			if (nm < 0)
				m = civil_to_seconds(ct.year + 1, (unsigned)bit_next(c->bits[CRON_MONTH], 1),
						     1, 0, 0, 0);
			else
				m = civil_to_seconds(ct.year, (unsigned)nm, 1, 0, 0, 0);
			continue;
		}
		if (!cron_day_matches(c, ct.day, ct.weekday)) {
			m = day + 86400;
			continue;
		}
		if (!((c->bits[CRON_HOUR] >> ct.hour) & 1)) {
			int nh = bit_next(c->bits[CRON_HOUR], ct.hour + 1);
			m = nh < 0 ? day + 86400 : day + (int64_t)nh * 3600;
			continue;
		}
		int nmin = bit_next(c->bits[CRON_MINUTE], ct.minute);
		if (nmin < 0) {
			m = day + (int64_t)(ct.hour + 1) * 3600;
			continue;
		}
		m = day + (int64_t)ct.hour * 3600 + (int64_t)nmin * 60;
		if (m >= limit)
			break;
		*w_r = m;
		return 0;
	}
	return -1;
}

static void span_at(const struct tz *tz, time_t t, struct tz_span *s)
{
	if (tz) {
		tz_span(tz, t, s);
		return;
	}
	*s = (struct tz_span){INT64_MIN, INT64_MAX, 0, 0, false, "UTC"};
}

/* Does the change forward at the span's start run this job at that instant
 * for a minute it skipped? */
static bool gap_fires(const struct cron *c, const struct tz_span *s)
{
	int64_t d = (int64_t)s->offset - s->prev_offset;
	if (d <= 0)
		return false;
	if (d >= MINUTES(180))
		return false;   /* cronie: "time has changed a lot": skip them */
	if (d >= MINUTES(5) && c->wildcard)
		return false;   /* DST: fixed-time jobs only */
	int64_t w;
	return wall_next(c, s->start + s->prev_offset, s->start + s->offset, &w) == 0;
}

int cron_next(const struct cron *c, const struct tz *tz, time_t after, time_t *next_r)
{
	if (after < CIVIL_SECONDS_MIN || after >= CIVIL_SECONDS_MAX)
		return -1;
	switch (c->kind) {
	case CRON_IDLE:
		return -1;
	case CRON_EVERY:
		if ((uint64_t)(CIVIL_SECONDS_MAX - after) < c->every)
			return -1;
		*next_r = after + (time_t)c->every;
		return 0;
	case CRON_FIELDS:
		break;
	}
	time_t t = after + 1;
	for (int round = 0; round < CRON_MAX_SPANS && t <= CIVIL_SECONDS_MAX; round++) {
		struct tz_span s;
		span_at(tz, t, &s);
		if (s.start == t && gap_fires(c, &s)) {
			*next_r = t;
			return 0;
		}
		time_t from = t;
		if (s.start != INT64_MIN && s.offset < s.prev_offset) {
			/* a change back: these wall minutes were shown (and fixed-time jobs
			 * run) before; one minute back, cronie just waits for the clock to
			 * move, so nothing runs in that minute */
			int64_t back = (int64_t)s.prev_offset - s.offset;
			if (((!c->wildcard && back <= MINUTES(181)) || back <= MINUTES(1)) &&
			    from < s.start + back)
				from = s.start + back;
		}
		if (s.end > CIVIL_SECONDS_MAX)
			s.end = INT64_MAX;   /* (also keeps s.end + s.offset from overflowing) */
		if (s.end == INT64_MAX || from < s.end) {
			int64_t limit = s.end == INT64_MAX ? INT64_MAX : s.end + s.offset;
			int64_t w;
			if (wall_next(c, from + s.offset, limit, &w) == 0) {
				/* the wall clock's 9999 may be UTC's 10000 */
				if (w - s.offset > CIVIL_SECONDS_MAX)
					return -1;
				*next_r = w - s.offset;
				return 0;
			}
		}
		if (s.end == INT64_MAX)
			break;
		t = s.end;
	}
	return -1;
}
