/*
 * Time zones for schedules, without the process environment.
 *
 * glibc converts times only in the one zone named by the process's TZ
 * variable: localtime_r() in another zone would mean setenv("TZ") + tzset()
 * around each call, which races with every other thread that converts a
 * time (the daemon runs jobs in worker threads, each job in its own zone).
 * So zones are loaded here from the IANA TZif files (/usr/share/zoneinfo,
 * Debian package tzdata; $TZDIR overrides the directory) into a struct tz,
 * and every conversion afterwards is a pure, allocation-free function of
 * that read-only struct: any number of threads may share one.
 *
 * Times beyond a file's last transition follow the POSIX TZ rule in its
 * footer ("CET-1CEST,M3.5.0,M10.5.0/3"), the same way glibc does. Leap
 * seconds are not counted (time_t is POSIX time), so the "right/" zones are
 * refused. Times are seconds since 1970 (time_t, 64-bit); calendar results
 * are only computed for the years 1..9999 and times outside are clamped.
 *
 * SECURITY: a TZif file is binary input read by a parser with limits:
 * TZ_FILE_MAX bytes, TZ_MAX_TRANSITIONS, 256 types, TZ_MAX_ABBR_CHARS,
 * TZ_RULE_MAX footer bytes; every count, index and offset is checked before
 * use and a file that breaks any rule of RFC 8536 is refused whole. Zone
 * names are checked (no "..", no leading '/') before they become a path.
 */
#ifndef M2T_SCHED_TZ_H
#define M2T_SCHED_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "engine/util/err.h"

#define TZ_NAME_MAX 128           /* "America/Argentina/ComodRivadavia" is 32 */
#define TZ_FILE_MAX (64 * 1024)   /* the largest tzdata file is under 4 KB */
#define TZ_MAX_TRANSITIONS 4000
#define TZ_MAX_ABBR_CHARS 512
#define TZ_RULE_MAX 128           /* a POSIX TZ rule, in a footer or $TZ */
#define TZ_ISO_MAX 32             /* "2026-03-29T03:00:00+02:00" and a NUL */

struct tz;

/* The stretch of time around an instant in which the UTC offset is fixed. */
struct tz_span {
	time_t start;          /* first second of the span; INT64_MIN: none before */
	time_t end;            /* first second after it; INT64_MAX: none after */
	int32_t offset;        /* seconds east of UTC within the span */
	int32_t prev_offset;   /* the offset just before start (offset when none) */
	bool is_dst;
	const char *abbr;      /* "CEST"; owned by the tz */
};

/*
 * Loads a zone by name:
 *   NULL, "" or "UTC"   UTC (built in, no file needed)
 *   "local"             the process's zone: $TZ (a zone name, a file path
 *                       after ':' or '/', or a POSIX rule), else
 *                       /etc/localtime, else UTC
 *   "Europe/Berlin"     the IANA zone file under $TZDIR or /usr/share/zoneinfo
 * Reads the environment: call it while loading the configuration, not
 * from threads that may race with setenv(). -1 with ERR_FATAL ("unknown time
 * zone ...") otherwise. *tz_r is the caller's: tz_free().
 */
int tz_load(const char *name, struct tz **tz_r, struct err *err);
/* A TZif file (RFC 8536, versions 1 to 4) from memory; name is copied. */
int tz_parse_tzif(const void *data, size_t len, const char *name, struct tz **tz_r,
		  struct err *err);
/* A POSIX TZ rule such as "EST5EDT,M3.2.0,M11.1.0" or "<+0530>-5:30". */
int tz_parse_posix(const char *rule, struct tz **tz_r, struct err *err);
void tz_free(struct tz **tz);

/* The name given to the loader ("UTC", "local", "Europe/Berlin"). */
const char *tz_name(const struct tz *tz);
/* The span containing t. Thread-safe, allocation-free. */
void tz_span(const struct tz *tz, time_t t, struct tz_span *span);
/* Seconds east of UTC at t. */
int32_t tz_offset(const struct tz *tz, time_t t);

/*
 * The instant at which the zone's clocks show `local` (seconds since
 * 1970 as read on the wall clock). A time shown twice (autumn) gives the
 * first; a time skipped (spring) gives the instant it would have been by the
 * offset before the change, which is after the change: returns 1 then,
 * else 0; -1 outside the years 1..9999.
 */
int tz_from_local(const struct tz *tz, int64_t local, time_t *t_r);

/* "2026-03-29T03:00:00+02:00" (seconds in the offset only when not 0).
 * -1 when t is outside the years 1..9999 or out is too small. */
int tz_format_iso(const struct tz *tz, time_t t, char *out, size_t outlen);
/*
 * Reads "2026-03-29", "2026-03-29T02:30", "2026-03-29 02:30:00",
 * optionally followed by "Z", "+02:00", "+0200" or "+02". Without an
 * offset the time is read on the zone's wall clock (tz_from_local()).
 * -1 with ERR_FATAL naming what is wrong.
 */
int tz_parse_iso(const struct tz *tz, const char *s, time_t *t_r, struct err *err);

#endif
