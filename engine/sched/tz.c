/*
 * Looking up a loaded zone: the span of constant UTC offset around an
 * instant, from the file's transitions and, after the last of them, from
 * its POSIX rule. Pure functions of a read-only struct tz: thread-safe and
 * allocation-free.
 */
#include "engine/sched/tz_int.h"

#include <stdlib.h>
#include <string.h>

#include "engine/sched/civil.h"
#include "engine/util/xalloc.h"

_Static_assert(sizeof(time_t) == 8, "time_t must be 64 bits");

struct tz *tz_alloc_utc(const char *name)
{
	struct tz *tz = xcalloc(1, sizeof(*tz));
	tz->name = xstrdup(name);
	tz->types = xcalloc(1, sizeof(*tz->types));
	tz->ntypes = 1;
	tz->types[0] = (struct tz_type){0, false, "UTC"};
	return tz;
}

int tz_parse_posix(const char *rule, struct tz **tz_r, struct err *err)
{
	struct tz *tz = tz_alloc_utc(rule);
	*tz_r = NULL;
	if (tz_rule_parse(rule, strlen(rule), &tz->rule, err) < 0) {
		tz_free(&tz);
		return err_prefix(err, "time zone rule");
	}
	tz->has_rule = true;
	tz->types[0] = tz->rule.std;
	*tz_r = tz;
	return 0;
}

void tz_free(struct tz **tzp)
{
	if (!tzp || !*tzp)
		return;
	struct tz *tz = *tzp;
	free(tz->name);
	free(tz->times);
	free(tz->idx);
	free(tz->types);
	free(tz->abbrs);
	free(tz);
	*tzp = NULL;
}

const char *tz_name(const struct tz *tz)
{
	return tz->name;
}

static void span_of_type(struct tz_span *span, const struct tz_type *t, time_t start,
			 time_t end, int32_t prev)
{
	span->start = start;
	span->end = end;
	span->offset = t->offset;
	span->prev_offset = start == INT64_MIN ? t->offset : prev;
	span->is_dst = t->is_dst;
	span->abbr = t->abbr;
}

void tz_span(const struct tz *tz, time_t t, struct tz_span *span)
{
	size_t n = tz->ntimes;
	if (n == 0) {
		if (tz->has_rule)
			tz_rule_span(&tz->rule, t, span);
		else
			span_of_type(span, &tz->types[0], INT64_MIN, INT64_MAX, 0);
		return;
	}
	if (t < tz->times[0]) {
		/* RFC 8536: before the first transition, the first type holds */
		span_of_type(span, &tz->types[0], INT64_MIN, tz->times[0], 0);
		return;
	}
	/* the last transition at or before t */
	size_t lo = 0, hi = n - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (tz->times[mid] <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	const struct tz_type *before = lo > 0 ? &tz->types[tz->idx[lo - 1]] : &tz->types[0];
	if (lo == n - 1 && tz->has_rule) {
		/* after the table the rule decides; the table's last change still bounds
		 * the span when the rule has not changed since */
		tz_rule_span(&tz->rule, t, span);
		if (span->start <= tz->times[lo]) {
			span->start = tz->times[lo];
			span->prev_offset = before->offset;
		}
		return;
	}
	span_of_type(span, &tz->types[tz->idx[lo]], tz->times[lo],
		     lo + 1 < n ? tz->times[lo + 1] : INT64_MAX, before->offset);
}

int32_t tz_offset(const struct tz *tz, time_t t)
{
	struct tz_span s;
	tz_span(tz, t, &s);
	return s.offset;
}

int tz_from_local(const struct tz *tz, int64_t local, time_t *t_r)
{
	if (local < CIVIL_SECONDS_MIN || local > CIVIL_SECONDS_MAX)
		return -1;
	/* offsets stay within -25..26 hours: walk the spans that could hold it */
	time_t t = local - 27 * 3600;
	for (int i = 0; i < 64; i++) {
		struct tz_span s;
		tz_span(tz, t, &s);
		if (s.start >= CIVIL_SECONDS_MIN && s.offset > s.prev_offset &&
		    local >= s.start + s.prev_offset && local < s.start + s.offset) {
			/* skipped by a change forward: read with the offset before it */
			*t_r = local - s.prev_offset;
			return 1;
		}
		time_t cand = local - s.offset;
		if (cand >= s.start && cand < s.end) {
			*t_r = cand;
			return 0;
		}
		if (s.end == INT64_MAX || s.end > local + 27 * 3600)
			break;
		t = s.end;
	}
	/* not reached for sane data; the offset at the time read as UTC */
	*t_r = local - tz_offset(tz, local);
	return 0;
}
