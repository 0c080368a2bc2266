/*
 * cron expressions into struct cron (syntax in cron.h).
 *
 * SECURITY: expressions come from the configuration and the command line.
 * The length is capped (CRON_MAX_LEN) before anything else; numbers are
 * read with a cap on their digits and range-checked per field; steps are
 * at least 1 and at most the field's size, so filling a field is a loop of
 * at most 60 rounds; every character outside the grammar is an error that
 * names it and its position.
 */
#include "engine/sched/cron_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/sched/civil.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL,
};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

struct field_def {
	const char *what;
	unsigned min, max;          /* values as written (day of week 0-7) */
	unsigned size;              /* the largest step that makes sense */
	const char *const *names;   /* names[i] is min + i */
	const char *hint;           /* for "unknown name" */
};

static const struct field_def field_defs[CRON_NFIELDS] = {
	{"minute", 0, 59, 60, NULL, NULL},
	{"hour", 0, 23, 24, NULL, NULL},
	{"day of month", 1, 31, 31, NULL, NULL},
	{"month", 1, 12, 12, month_names, "jan..dec"},
	{"day of week", 0, 7, 7, day_names, "sun..sat"},
};

struct parser {
	const char *expr;   /* the whole expression, for positions */
	struct err *err;
	size_t *pos_r;
};

/* Sets the error with " at position N" (1-based) and the 0-based offset. */
__attribute__((format(printf, 3, 4)))
static int fail(struct parser *p, size_t at, const char *fmt, ...)
{
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (p->pos_r)
		*p->pos_r = at;
	return err_set(p->err, ERR_FATAL, "%s at position %zu", what, at + 1);
}

static bool is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int unsupported(struct parser *p, size_t at)
{
	return fail(p, at, "'%c' is not supported (no L, W, # or ? in cron expressions)",
		    p->expr[at]);
}

/*
 * One value of a field: a number or (month, day of week) a name. `at` is
 * its offset in p->expr, `end` the end of the field.
 */
static int value_read(struct parser *p, const struct field_def *f, size_t *at, size_t end,
		      unsigned *v_r)
{
	const char *s = p->expr;
	size_t start = *at, i = *at;
	if (i < end && is_digit(s[i])) {
		unsigned v = 0;
		while (i < end && is_digit(s[i])) {
			/* keep reading, but stop growing: an out-of-range value either way */
			if (v <= 1000)
				v = v * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (i < end && (s[i] == 'L' || s[i] == 'l' || s[i] == 'W' || s[i] == 'w'))
			return unsupported(p, i);
		if (v < f->min || v > f->max)
			return fail(p, start, "%s %.*s out of range %u-%u", f->what,
				    (int)(i - start > 10 ? 10 : i - start), s + start, f->min, f->max);
		*v_r = v;
		*at = i;
		return 0;
	}
	if (i < end && is_alpha(s[i])) {
		while (i < end && is_alpha(s[i]))
			i++;
		size_t n = i - start;
		if (f->names && n == 3) {
			for (unsigned k = 0; f->names[k]; k++) {
				if (strncasecmp(s + start, f->names[k], 3) == 0) {
					*v_r = f->min + k;
					*at = i;
					return 0;
				}
			}
		}
		if ((n == 1 || (n == 2 && (s[start] == 'L' || s[start] == 'l'))) &&
		    strchr("LlWw", s[start]))
			return unsupported(p, start);
		if (f->names)
			return fail(p, start, "unknown %s name \"%.*s\" (use %s or numbers)", f->what,
				    (int)(n > 16 ? 16 : n), s + start, f->hint);
		return fail(p, start, "%s must be a number, not \"%.*s\"", f->what,
			    (int)(n > 16 ? 16 : n), s + start);
	}
	if (i >= end || s[i] == ',')
		return fail(p, start, "missing %s value", f->what);
	return fail(p, start, "unexpected '%c' in the %s field", s[i], f->what);
}

static int step_read(struct parser *p, const struct field_def *f, size_t *at, size_t end,
		     unsigned *step_r)
{
	const char *s = p->expr;
	size_t start = *at, i = *at;
	unsigned v = 0;
	while (i < end && is_digit(s[i])) {
		if (v <= 1000)
			v = v * 10 + (unsigned)(s[i] - '0');
		i++;
	}
	if (i == start)
		return fail(p, start, "expected a step (a number) after '/'");
	if (v == 0)
		return fail(p, start, "a step must be at least 1");
	if (v > f->size)
		return fail(p, start, "step %.*s is larger than the %s field (%u values)",
			    (int)(i - start > 10 ? 10 : i - start), s + start, f->what, f->size);
	*step_r = v;
	*at = i;
	return 0;
}

/* One item of a list: "*", "*" "/S", "N", "A-B", "A-B/S". */
static int item_read(struct parser *p, const struct field_def *f, size_t *at, size_t end,
		     uint64_t *bits)
{
	const char *s = p->expr;
	size_t i = *at;
	unsigned lo, hi, step = 1;
	bool range = false;
	if (s[i] == '*') {
		lo = f->min;
		hi = f->max;
		range = true;
		i++;
	} else {
		if (value_read(p, f, &i, end, &lo) < 0)
			return -1;
		hi = lo;
		if (i < end && s[i] == '-') {
			size_t dash = i++;
			if (value_read(p, f, &i, end, &hi) < 0)
				return -1;
			/* "fri-sun": a range may end on Sunday written as a name, the 7th day */
			if (f->names == day_names && hi == 0 && lo > 0 && is_alpha(s[dash + 1]))
				hi = 7;
			if (hi < lo)
				return fail(p, dash, "range %u-%u runs backwards", lo, hi);
			range = true;
		}
	}
	if (i < end && s[i] == '/') {
		if (!range)
			return fail(p, i, "a step needs a range or '*' before it (\"0-59/%s\", "
				    "\"*/%s\")", "5", "5");
		i++;
		if (step_read(p, f, &i, end, &step) < 0)
			return -1;
	}
	if (i < end && s[i] != ',')
		return fail(p, i, "unexpected '%c' in the %s field", s[i], f->what);
	for (unsigned v = lo; v <= hi; v += step)
		*bits |= 1ULL << v;
	*at = i;
	return 0;
}

static int field_read(struct parser *p, enum cron_field which, size_t start, size_t end,
		      struct cron *c)
{
	const struct field_def *f = &field_defs[which];
	uint64_t bits = 0;
	size_t i = start;
	for (;;) {
		if (i >= end || p->expr[i] == ',')
			return fail(p, i, "empty item in the %s field", f->what);
		if (item_read(p, f, &i, end, &bits) < 0)
			return -1;
		if (i >= end)
			break;
		i++;   /* the comma */
	}
	if (which == CRON_DOW && (bits & (1ULL << 7)))
		bits = (bits & ~(1ULL << 7)) | 1ULL;   /* 7 is Sunday too */
	c->bits[which] = bits;
	return 0;
}

/* With both day fields needed (one starts with '*'), some month must have
 * one of the days: "0 0 30 2 *" would never fire. */
static int check_reachable(struct parser *p, const struct cron *c, size_t dom_at)
{
	if (!(c->dom_star || c->dow_star))
		return 0;
	for (unsigned m = 1; m <= 12; m++) {
		if (!(c->bits[CRON_MONTH] & (1ULL << m)))
			continue;
		for (unsigned d = 1; d <= civil_month_days(2000, m); d++)
			if (c->bits[CRON_DOM] & (1ULL << d))
				return 0;
	}
	return fail(p, dom_at, "never fires: no month of the month field has these days");
}

static int fields_read(struct parser *p, size_t start, size_t end, struct cron *c)
{
	size_t at[CRON_NFIELDS], stop[CRON_NFIELDS];
	size_t n = 0, i = start;
	while (i < end) {
		while (i < end && is_blank(p->expr[i]))
			i++;
		if (i >= end)
			break;
		if (n == CRON_NFIELDS)
			return fail(p, i, "expected 5 fields (minute hour day-of-month month "
				    "day-of-week), found more");
		at[n] = i;
		while (i < end && !is_blank(p->expr[i]))
			i++;
		stop[n++] = i;
	}
	if (n < CRON_NFIELDS)
		return fail(p, end, "expected 5 fields (minute hour day-of-month month "
			    "day-of-week), found %zu", n);
	for (size_t k = 0; k < CRON_NFIELDS; k++)
		if (field_read(p, (enum cron_field)k, at[k], stop[k], c) < 0)
			return -1;
	c->wildcard = p->expr[at[CRON_MINUTE]] == '*' || p->expr[at[CRON_HOUR]] == '*';
	c->dom_star = p->expr[at[CRON_DOM]] == '*';
	c->dow_star = p->expr[at[CRON_DOW]] == '*';
	return check_reachable(p, c, at[CRON_DOM]);
}

static const struct {
	const char *name;
	const char *fields;
} macros[] = {
	{"hourly", "0 * * * *"},
	{"daily", "0 0 * * *"},
	{"midnight", "0 0 * * *"},
	{"weekly", "0 0 * * 0"},
	{"monthly", "0 0 1 * *"},
	{"yearly", "0 0 1 1 *"},
	{"annually", "0 0 1 1 *"},
};

static int every_read(struct parser *p, size_t at, size_t end, struct cron *c)
{
	char dur[CRON_MAX_LEN + 1];
	uint64_t ms;
	while (at < end && is_blank(p->expr[at]))
		at++;
	if (at >= end)
		return fail(p, at, "@every needs a duration such as 30s, 5m or 1h");
	memcpy(dur, p->expr + at, end - at);
	dur[end - at] = '\0';
	if (str_parse_duration_ms(dur, &ms) < 0)
		return fail(p, at, "\"%.32s\" is not a duration such as 30s, 5m or 1h", dur);
	if (ms % 1000 != 0)
		return fail(p, at, "@every takes whole seconds, not \"%.32s\"", dur);
	if (ms < 1000 || ms / 1000 > CRON_EVERY_MAX)
		return fail(p, at, "@every must be between 1s and 366 days, not \"%.32s\"", dur);
	c->kind = CRON_EVERY;
	c->every = ms / 1000;
	return 0;
}

static int macro_read(struct parser *p, size_t start, size_t end, struct cron *c)
{
	size_t i = start + 1;
	while (i < end && is_alpha(p->expr[i]))
		i++;
	size_t n = i - start - 1;
	const char *name = p->expr + start + 1;
	if (n == 5 && strncasecmp(name, "every", 5) == 0) {
		if (i < end && !is_blank(p->expr[i]))
			return fail(p, i, "unexpected '%c' after @every", p->expr[i]);
		return every_read(p, i, end, c);
	}
	for (size_t k = 0; k < sizeof(macros) / sizeof(macros[0]); k++) {
		if (strlen(macros[k].name) != n || strncasecmp(name, macros[k].name, n) != 0)
			continue;
		size_t j = i;
		while (j < end && is_blank(p->expr[j]))
			j++;
		if (j < end)
			return fail(p, j, "unexpected text after @%s", macros[k].name);
		/* the five-field form: the same flags as cronie gives the macro */
		struct parser inner = {macros[k].fields, NULL, NULL};
		return fields_read(&inner, 0, strlen(macros[k].fields), c);
	}
	if (n == 6 && strncasecmp(name, "reboot", 6) == 0)
		return fail(p, start, "@reboot is not supported (schedules are times, not events)");
	return fail(p, start, "unknown macro \"@%.*s\" (use @hourly, @daily, @weekly, @monthly, "
		    "@yearly or @every)", (int)(n > 16 ? 16 : n), name);
}

int cron_parse(const char *expr, struct cron **c_r, size_t *pos_r, struct err *err)
{
	struct parser p = {expr, err, pos_r};
	struct cron *c = NULL;
	size_t len = strnlen(expr, CRON_MAX_LEN + 1);
	*c_r = NULL;
	if (pos_r)
		*pos_r = 0;
	if (len > CRON_MAX_LEN)
		return fail(&p, CRON_MAX_LEN, "expression longer than %d characters", CRON_MAX_LEN);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)expr[i];
		if (ch == '#' || ch == '?')
			return unsupported(&p, i);
		if ((ch < 0x20 && ch != '\t') || ch >= 0x7f)
			return fail(&p, i, "unexpected byte 0x%02x", ch);
	}
	size_t start = 0, end = len;
	while (start < end && is_blank(expr[start]))
		start++;
	while (end > start && is_blank(expr[end - 1]))
		end--;
	if (start == end)
		return fail(&p, start, "empty schedule (expected 5 cron fields, a macro such as "
			    "@hourly, @every 5m or idle)");
	c = xcalloc(1, sizeof(*c));
	memcpy(c->text, expr + start, end - start);
	int rc;
	if (expr[start] == '@')
		rc = macro_read(&p, start, end, c);
	else if (end - start == 4 && strncasecmp(expr + start, "idle", 4) == 0) {
		c->kind = CRON_IDLE;
		rc = 0;
	} else
		rc = fields_read(&p, start, end, c);
	if (rc < 0) {
		free(c);
		return -1;
	}
	*c_r = c;
	return 0;
}

void cron_free(struct cron **c)
{
	if (!c)
		return;
	free(*c);
	*c = NULL;
}

enum cron_kind cron_kind(const struct cron *c)
{
	return c->kind;
}

const char *cron_text(const struct cron *c)
{
	return c->text;
}

uint64_t cron_every_seconds(const struct cron *c)
{
	return c->kind == CRON_EVERY ? c->every : 0;
}

bool cron_day_matches(const struct cron *c, unsigned mday, unsigned wday)
{
	bool dom = (c->bits[CRON_DOM] >> mday) & 1;
	bool dow = (c->bits[CRON_DOW] >> wday) & 1;
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}
