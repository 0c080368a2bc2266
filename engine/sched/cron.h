/*
 * Schedules: cron expressions and when they fire next.
 *
 * Syntax (as Vixie cron and cronie read it):
 *   "M H DOM MON DOW"  five fields: minute 0-59, hour 0-23, day of month
 *                      1-31, month 1-12 or jan-dec, day of week 0-7 or
 *                      sun-sat (0 and 7 are Sunday); each a comma list
 *                      of "*", "N", "A-B", and steps "A-B/S" or '*' then
 *                      "/S" (names in any case, also in ranges: "mon-fri")
 *   When both day fields are restricted (neither starts with '*'), a day
 *   matches if EITHER matches ("0 0 1,15 * mon": the 1st, the 15th and every
 *   Monday); otherwise both must match.
 *   "@hourly" "@daily" "@midnight" "@weekly" "@monthly" "@yearly"
 *   "@annually"        the usual five-field equivalents
 *   "@every 30s"       a fixed interval in real time (whole seconds, 1 s to
 *                      366 days; units as str_parse_duration_ms())
 *   "idle"             no times at all: the job is pushed (IMAP IDLE)
 * Not supported: L, W, # and ? (Quartz), @reboot, seconds, years.
 *
 * When a schedule fires (cron_next), with the exact DST behaviour of cronie
 * in the job's zone:
 *   - A fixed-time job (neither the minute nor the hour field starts with
 *     '*') whose local time is skipped by a change forward runs once, at the
 *     instant of the change; at a time shown twice by a change back it runs
 *     once, at the first.
 *   - A wildcard job (minute or hour field starts with '*', and @hourly)
 *     fires whenever the wall clock shows a matching minute: it keeps its
 *     rhythm in real time, skips nothing but the minutes that do not exist,
 *     and fires again in a repeated hour ("0 * * * *" at 02:00 CEST and at
 *     02:00 CET).
 *   - cronie's thresholds hold too: a change forward of under 5 minutes
 *     catches up every job, one of 3 hours or more catches up none; a change
 *     back of more than 3 hours repeats fixed-time jobs.
 *   - "@every" ignores zones: the next fire is the previous one plus the
 *     interval.
 *
 * A struct cron is immutable after cron_parse(): cron_next() and the other
 * readers are thread-safe and allocate nothing.
 */
#ifndef M2T_SCHED_CRON_H
#define M2T_SCHED_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "engine/sched/tz.h"
#include "engine/util/err.h"

#define CRON_MAX_LEN 256              /* bytes of an expression */
#define CRON_EVERY_MAX (366 * 86400)  /* seconds */
#define CRON_DESCRIBE_MAX 256         /* cron_describe() output, NUL included */

enum cron_kind {
	CRON_FIELDS,   /* five fields or a macro */
	CRON_EVERY,    /* @every DURATION */
	CRON_IDLE,     /* idle: never fires by time */
};

struct cron;

/*
 * Parses expr (leading and trailing blanks allowed). 0 ok, *c_r is the
 * caller's (cron_free). -1 with ERR_FATAL and a message naming what is wrong
 * and its 1-based position ("unknown month name \"foo\" at position 9"); when
 * pos_r is not NULL it gets the same position as a 0-based byte offset into
 * expr, so a caller can point at it (config file columns).
 */
int cron_parse(const char *expr, struct cron **c_r, size_t *pos_r, struct err *err);
void cron_free(struct cron **c);

enum cron_kind cron_kind(const struct cron *c);
/* The expression as given, without the surrounding blanks. */
const char *cron_text(const struct cron *c);
/* The interval of an @every schedule in seconds, 0 for other kinds. */
uint64_t cron_every_seconds(const struct cron *c);

/*
 * The first time after `after` (strictly later) at which the schedule
 * fires, with local times read in tz (NULL: UTC). For @every the previous
 * fire (or the start) is `after`, and the answer is after + interval.
 * 0 ok; -1 when there is none: an idle schedule, or nothing before the end
 * of the year 9999 (or `after` outside the years 1..9999).
 */
int cron_next(const struct cron *c, const struct tz *tz, time_t after, time_t *next_r);

/* Plain words: "at 02:30 every day", "every 15 minutes", "every 30s".
 * Cut to outlen; returns out. */
const char *cron_describe(const struct cron *c, char *out, size_t outlen);

#endif
