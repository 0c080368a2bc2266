/*
 * POSIX TZ rules ("CET-1CEST,M3.5.0,M10.5.0/3"): the footer of a TZif file
 * that says how a zone's clocks change after its last listed transition, and
 * the form $TZ may take. Grammar (POSIX.1-2017 8.3, with the RFC 8536
 * extensions: rule times from -167 to 167 hours):
 *
 *   std offset [dst [offset] [,start[/time],end[/time]]]
 *   name:   three or more letters, or <...> of letters, digits, '+', '-'
 *   offset: [+-]hh[:mm[:ss]], hours 0..24, positive WEST of Greenwich
 *   date:   Jn (1..365, no Feb 29) | n (0..365) | Mm.w.d (w 5 = last)
 *
 * A rule with daylight time but no dates takes the US rule M3.2.0,M11.1.0,
 * as glibc does. SECURITY: the text comes from a file or the environment:
 * lengths are capped and every number is range-checked while it is read.
 */
#include "engine/sched/tz_int.h"

#include <string.h>

#include "engine/sched/civil.h"

struct rd {
	const char *s;
	size_t len;
	size_t pos;
};

static int peek(const struct rd *r)
{
	return r->pos < r->len ? (unsigned char)r->s[r->pos] : -1;
}

static bool is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int read_name(struct rd *r, char *out, struct err *err)
{
	size_t n = 0;
	if (peek(r) == '<') {
		r->pos++;
		int c;
		while ((c = peek(r)) != '>') {
			if (!(is_alpha(c) || is_digit(c) || c == '+' || c == '-'))
				return err_set(err, ERR_FATAL, "bad character in <name> at %zu",
					       r->pos + 1);
			if (n >= TZ_ABBR_MAX)
				return err_set(err, ERR_FATAL, "zone name longer than %d characters",
					       TZ_ABBR_MAX);
			out[n++] = (char)c;
			r->pos++;
		}
		r->pos++;
	} else {
		while (is_alpha(peek(r))) {
			if (n >= TZ_ABBR_MAX)
				return err_set(err, ERR_FATAL, "zone name longer than %d characters",
					       TZ_ABBR_MAX);
			out[n++] = r->s[r->pos++];
		}
	}
	out[n] = '\0';
	if (n < 3)
		return err_set(err, ERR_FATAL, "expected a zone name of 3 or more letters at %zu",
			       r->pos + 1);
	return 0;
}

/* Up to `digits` decimal digits (at least one) with a value <= max. */
static int read_num(struct rd *r, unsigned digits, unsigned max, unsigned *v_r)
{
	unsigned v = 0, n = 0;
	while (n < digits && is_digit(peek(r))) {
		v = v * 10 + (unsigned)(r->s[r->pos++] - '0');
		n++;
	}
	if (n == 0 || v > max)
		return -1;
	*v_r = v;
	return 0;
}

/* [+-]hh[:mm[:ss]] in seconds; hours up to max_hours. */
static int read_hms(struct rd *r, unsigned max_hours, int32_t *secs_r, struct err *err)
{
	size_t at = r->pos + 1;
	int sign = 1;
	unsigned h, m = 0, s = 0;
	if (peek(r) == '+' || peek(r) == '-')
		sign = r->s[r->pos++] == '-' ? -1 : 1;
	if (read_num(r, 3, max_hours, &h) < 0)
		goto bad;
	if (peek(r) == ':') {
		r->pos++;
		if (read_num(r, 2, 59, &m) < 0)
			goto bad;
		if (peek(r) == ':') {
			r->pos++;
			if (read_num(r, 2, 59, &s) < 0)
				goto bad;
		}
	}
	*secs_r = sign * (int32_t)(h * 3600 + m * 60 + s);
	return 0;
bad:
	return err_set(err, ERR_FATAL, "expected a time [+-]hh[:mm[:ss]] (hours up to %u) at %zu",
		       max_hours, at);
}

static int read_date(struct rd *r, struct tz_date *d, struct err *err)
{
	size_t at = r->pos + 1;
	memset(d, 0, sizeof(*d));
	d->time = 2 * 3600;
	if (peek(r) == 'J') {
		r->pos++;
		d->kind = TZ_DATE_JULIAN;
		if (read_num(r, 3, 365, &d->n) < 0 || d->n < 1)
			goto bad;
	} else if (peek(r) == 'M') {
		r->pos++;
		d->kind = TZ_DATE_MONTH;
		if (read_num(r, 2, 12, &d->month) < 0 || d->month < 1 || peek(r) != '.')
			goto bad;
		r->pos++;
		if (read_num(r, 1, 5, &d->week) < 0 || d->week < 1 || peek(r) != '.')
			goto bad;
		r->pos++;
		if (read_num(r, 1, 6, &d->weekday) < 0)
			goto bad;
	} else {
		d->kind = TZ_DATE_ZERO;
		if (read_num(r, 3, 365, &d->n) < 0)
			goto bad;
	}
	if (peek(r) == '/') {
		r->pos++;
		if (read_hms(r, 167, &d->time, err) < 0)
			return -1;
	}
	return 0;
bad:
	return err_set(err, ERR_FATAL, "expected a date (Jn, n or Mm.w.d) at %zu", at);
}

int tz_rule_parse(const char *s, size_t len, struct tz_rule *rule, struct err *err)
{
	struct rd r = {s, len, 0};
	int32_t off;
	memset(rule, 0, sizeof(*rule));
	if (len == 0 || len > TZ_RULE_MAX)
		return err_set(err, ERR_FATAL, "rule must be 1 to %d characters", TZ_RULE_MAX);
	if (memchr(s, '\0', len))
		return err_set(err, ERR_FATAL, "rule contains a NUL byte");
	if (read_name(&r, rule->std_abbr, err) < 0 || read_hms(&r, 24, &off, err) < 0)
		return -1;
	rule->std.offset = -off;
	rule->std.abbr = rule->std_abbr;
	if (r.pos < len) {
		if (read_name(&r, rule->dst_abbr, err) < 0)
			return -1;
		rule->has_dst = true;
		rule->dst.is_dst = true;
		rule->dst.abbr = rule->dst_abbr;
		rule->dst.offset = rule->std.offset + 3600;
		int c = peek(&r);
		if (c != ',' && c != -1) {
			if (read_hms(&r, 24, &off, err) < 0)
				return -1;
			rule->dst.offset = -off;
		}
		if (peek(&r) == ',') {
			r.pos++;
			if (read_date(&r, &rule->start, err) < 0)
				return -1;
			if (peek(&r) != ',')
				return err_set(err, ERR_FATAL, "expected ',' and the end date at %zu",
					       r.pos + 1);
			r.pos++;
			if (read_date(&r, &rule->end, err) < 0)
				return -1;
		} else {
			/* POSIX leaves it to the implementation; glibc's choice */
			rule->start = (struct tz_date){.kind = TZ_DATE_MONTH, .month = 3, .week = 2,
						       .time = 2 * 3600};
			rule->end = (struct tz_date){.kind = TZ_DATE_MONTH, .month = 11, .week = 1,
						     .time = 2 * 3600};
		}
	}
	if (r.pos != len)
		return err_set(err, ERR_FATAL, "unexpected text at %zu", r.pos + 1);
	if (rule->std.offset < -89999 || rule->std.offset > 93599 ||
	    rule->dst.offset < -89999 || rule->dst.offset > 93599)
		return err_set(err, ERR_FATAL, "offset out of range");
	return 0;
}

/* Midnight (local) of the rule's date in year y, as days since 1970. */
static int64_t date_days(const struct tz_date *d, int64_t y)
{
	int64_t jan1 = civil_days(y, 1, 1);
	switch (d->kind) {
	case TZ_DATE_JULIAN:
		return jan1 + d->n - 1 + (civil_is_leap(y) && d->n >= 60);
	case TZ_DATE_ZERO:
		return jan1 + d->n;
	case TZ_DATE_MONTH:
		break;
	}
	int64_t first = civil_days(y, d->month, 1);
	unsigned wd = civil_weekday(first);
	unsigned day = 1 + (d->weekday + 7 - wd) % 7 + (d->week - 1) * 7;
	unsigned mdays = civil_month_days(y, d->month);
	while (day > mdays)
		day -= 7;
	return first + day - 1;
}

struct change {
	time_t at;
	bool to_dst;
};

/*
 * The rule's changes in the years around y, in order. At equal times the
 * end comes first, so that "daylight time all year" rules (where one year's
 * end meets the next year's start) stay in daylight time.
 */
static size_t changes_around(const struct tz_rule *rule, int64_t y, struct change *c)
{
	size_t n = 0;
	for (int64_t yy = y - 2; yy <= y + 2; yy++) {
		c[n++] = (struct change){date_days(&rule->start, yy) * 86400 + rule->start.time -
					 rule->std.offset, true};
		c[n++] = (struct change){date_days(&rule->end, yy) * 86400 + rule->end.time -
					 rule->dst.offset, false};
	}
	/* insertion sort of ten */
	for (size_t i = 1; i < n; i++) {
		struct change x = c[i];
		size_t j = i;
		while (j > 0 && (c[j - 1].at > x.at || (c[j - 1].at == x.at && c[j - 1].to_dst &&
							 !x.to_dst))) {
			c[j] = c[j - 1];
			j--;
		}
		c[j] = x;
	}
	return n;
}

static time_t clamp(time_t t)
{
	return t < CIVIL_SECONDS_MIN ? CIVIL_SECONDS_MIN : t > CIVIL_SECONDS_MAX ?
	       CIVIL_SECONDS_MAX : t;
}

void tz_rule_span(const struct tz_rule *rule, time_t t, struct tz_span *span)
{
	if (!rule->has_dst) {
		*span = (struct tz_span){INT64_MIN, INT64_MAX, rule->std.offset, rule->std.offset,
					 false, rule->std.abbr};
		return;
	}
	struct change c[10];
	struct civil_time ct;
	t = clamp(t);
	civil_from_seconds(t + rule->std.offset, &ct);
	size_t n = changes_around(rule, ct.year, c);
	size_t i = 0;
	/* c[0] is two years before t and c[n-1] two years after: both bound t */
	while (i + 1 < n && c[i + 1].at <= t)
		i++;
	const struct tz_type *now = c[i].to_dst ? &rule->dst : &rule->std;
	const struct tz_type *before = i > 0 && c[i - 1].to_dst ? &rule->dst : &rule->std;
	span->start = c[i].at;
	span->end = i + 1 < n ? c[i + 1].at : INT64_MAX;
	span->offset = now->offset;
	span->prev_offset = before->offset;
	span->is_dst = now->is_dst;
	span->abbr = now->abbr;
}

int32_t tz_rule_offset(const struct tz_rule *rule, time_t t)
{
	struct tz_span s;
	tz_rule_span(rule, t - 1, &s);
	return s.offset;
}
