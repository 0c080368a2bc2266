/*
 * The inside of struct tz, shared by the zone files of engine/sched
 * (tz.c, tz_rule.c, tzif.c, tz_load.c, tz_iso.c); not for use elsewhere.
 */
#ifndef M2T_SCHED_TZ_INT_H
#define M2T_SCHED_TZ_INT_H

#include "engine/sched/tz.h"

#define TZ_ABBR_MAX 16   /* "CEST", "<+0530>": POSIX allows 3 and more */

/* One local time type: an offset and its name. */
struct tz_type {
	int32_t offset;      /* seconds east of UTC */
	bool is_dst;
	const char *abbr;    /* points into tz->abbrs or the rule */
};

enum tz_date_kind {
	TZ_DATE_JULIAN,      /* Jn: 1..365, February 29 never counted */
	TZ_DATE_ZERO,        /* n: 0..365, counting February 29 */
	TZ_DATE_MONTH,       /* Mm.w.d: day d of week w (5 = last) of month m */
};

struct tz_date {
	enum tz_date_kind kind;
	unsigned n;          /* Jn and n */
	unsigned month, week, weekday;
	int32_t time;        /* seconds after local midnight, -167h..167h */
};

/* A POSIX TZ rule: standard time, and optionally daylight time with dates. */
struct tz_rule {
	struct tz_type std;
	struct tz_type dst;
	bool has_dst;
	struct tz_date start;   /* daylight time starts (in standard time) */
	struct tz_date end;     /* and ends (in daylight time) */
	char std_abbr[TZ_ABBR_MAX + 1];
	char dst_abbr[TZ_ABBR_MAX + 1];
};

struct tz {
	char *name;
	/* transitions from the file: times strictly ascending, each with its type */
	time_t *times;
	uint8_t *idx;
	size_t ntimes;
	struct tz_type *types;  /* at least one; types[0] holds before the first time */
	size_t ntypes;
	char *abbrs;            /* the file's NUL-separated abbreviations */
	bool has_rule;          /* times after the last transition follow rule */
	struct tz_rule rule;
};

/* A fresh zone with the one type UTC and no rule. */
struct tz *tz_alloc_utc(const char *name);
/* Parses a POSIX TZ rule of len bytes (not NUL-terminated); -1 with a reason. */
int tz_rule_parse(const char *s, size_t len, struct tz_rule *rule, struct err *err);
/*
 * The span around t by the rule alone: start and end are the rule's own
 * changes before and after t (INT64_MIN / INT64_MAX without daylight time).
 */
void tz_rule_span(const struct tz_rule *rule, time_t t, struct tz_span *span);
/* The offset before t by the rule (t is a rule change). */
int32_t tz_rule_offset(const struct tz_rule *rule, time_t t);

#endif
