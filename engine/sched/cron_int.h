/*
 * The inside of struct cron, shared by cron_parse.c, cron_next.c and
 * cron_describe.c; not for use elsewhere.
 */
#ifndef M2T_SCHED_CRON_INT_H
#define M2T_SCHED_CRON_INT_H

#include <stdbool.h>

#include "engine/sched/cron.h"

/* Field indexes, in the order of the expression. */
enum cron_field {
	CRON_MINUTE,
	CRON_HOUR,
	CRON_DOM,
	CRON_MONTH,
	CRON_DOW,
	CRON_NFIELDS,
};

struct cron {
	enum cron_kind kind;
	/* bit n set: value n matches (minute 0-59, hour 0-23, day 1-31, month
	 * 1-12, weekday 0-6 with Sunday 0 whether written 0 or 7) */
	uint64_t bits[CRON_NFIELDS];
	bool dom_star;     /* the day-of-month field starts with '*' */
	bool dow_star;     /* the day-of-week field starts with '*' */
	bool wildcard;     /* minute or hour starts with '*' (cronie's MIN_STAR|HR_STAR) */
	uint64_t every;    /* seconds, CRON_EVERY */
	char text[CRON_MAX_LEN + 1];
};

/* Does the calendar day match the day fields (with the either/both rule)? */
bool cron_day_matches(const struct cron *c, unsigned mday, unsigned wday);

#endif
