/*
 * A schedule in plain words, for check-config and logs: "at 02:30 every
 * day", "every 15 minutes", "at minute 0 of every hour on Mon-Fri".
 * Lists are shown compressed to ranges ("1-5,7"), days and months by name.
 */
#include "engine/sched/cron_int.h"

#include <stdio.h>
#include <string.h>

#include "engine/util/buf.h"
#include "engine/util/str.h"

static const char *const month_abbr[] = {
	"", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const day_abbr[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

#define ALL_MINUTES ((1ULL << 60) - 1)
#define ALL_HOURS ((1ULL << 24) - 1)
#define ALL_DAYS (((1ULL << 32) - 1) & ~1ULL)
#define ALL_MONTHS (((1ULL << 13) - 1) & ~1ULL)
#define ALL_WEEKDAYS ((1ULL << 7) - 1)

static void value_add(struct buf *b, unsigned v, const char *const *names)
{
	if (names)
		buf_adds(b, names[v]);
	else
		buf_addf(b, "%u", v);
}

/* "1-5,7,9" over the values lo..hi of bits. */
static void list_add(struct buf *b, uint64_t bits, unsigned lo, unsigned hi,
		     const char *const *names)
{
	bool first = true;
	for (unsigned v = lo; v <= hi; v++) {
		if (!((bits >> v) & 1))
			continue;
		unsigned e = v;
		while (e + 1 <= hi && ((bits >> (e + 1)) & 1))
			e++;
		if (!first)
			buf_addc(b, ',');
		first = false;
		value_add(b, v, names);
		if (e > v) {
			buf_addc(b, e == v + 1 ? ',' : '-');
			value_add(b, e, names);
		}
		v = e;
	}
}

static unsigned count(uint64_t bits)
{
	return (unsigned)__builtin_popcountll(bits);
}

/* n when bits are 0, n, 2n, ... (n > 1, n divides the field's size). */
static unsigned step_of(uint64_t bits, unsigned size)
{
	for (unsigned n = 2; n < size; n++) {
		if (size % n)
			continue;
		uint64_t want = 0;
		for (unsigned v = 0; v < size; v += n)
			want |= 1ULL << v;
		if (bits == want)
			return n;
	}
	return 0;
}

static void time_add(struct buf *b, const struct cron *c)
{
	uint64_t mins = c->bits[CRON_MINUTE], hours = c->bits[CRON_HOUR];
	unsigned step = step_of(mins, 60);
	if (mins == ALL_MINUTES && hours == ALL_HOURS) {
		buf_adds(b, "every minute");
	} else if (hours == ALL_HOURS && step) {
		buf_addf(b, "every %u minutes", step);
	} else if (mins == ALL_MINUTES) {
		buf_adds(b, count(hours) > 1 ? "every minute of hours " : "every minute of hour ");
		list_add(b, hours, 0, 23, NULL);
	} else if (hours == ALL_HOURS) {
		buf_adds(b, count(mins) > 1 ? "at minutes " : "at minute ");
		list_add(b, mins, 0, 59, NULL);
		buf_adds(b, " of every hour");
	} else if (count(mins) * count(hours) <= 4) {
		unsigned k = 0, n = count(mins) * count(hours);
		buf_adds(b, "at ");
		for (unsigned h = 0; h < 24; h++) {
			for (unsigned m = 0; m < 60; m++) {
				if (!((hours >> h) & 1) || !((mins >> m) & 1))
					continue;
				if (k > 0)
					buf_adds(b, k + 1 == n ? " and " : ", ");
				buf_addf(b, "%02u:%02u", h, m);
				k++;
			}
		}
	} else {
		buf_adds(b, count(mins) > 1 ? "at minutes " : "at minute ");
		list_add(b, mins, 0, 59, NULL);
		buf_adds(b, count(hours) > 1 ? " of hours " : " of hour ");
		list_add(b, hours, 0, 23, NULL);
	}
}

static void days_add(struct buf *b, const struct cron *c)
{
	uint64_t dom = c->bits[CRON_DOM], dow = c->bits[CRON_DOW];
	bool both = c->dom_star || c->dow_star;
	bool dom_any = dom == ALL_DAYS, dow_any = dow == ALL_WEEKDAYS;
	if (both && dom_any && dow_any) {
		/* "every 15 minutes" says it already */
		if (c->bits[CRON_HOUR] != ALL_HOURS)
			buf_adds(b, " every day");
	} else if (both && dow_any) {
		buf_adds(b, count(dom) > 1 ? " on days " : " on day ");
		list_add(b, dom, 1, 31, NULL);
		buf_adds(b, " of the month");
	} else if (both && dom_any) {
		buf_adds(b, " on ");
		list_add(b, dow, 0, 6, day_abbr);
	} else {
		buf_adds(b, count(dom) > 1 ? " on days " : " on day ");
		list_add(b, dom, 1, 31, NULL);
		buf_adds(b, both ? " of the month if it is a " : " of the month and on ");
		list_add(b, dow, 0, 6, day_abbr);
	}
	if (c->bits[CRON_MONTH] != ALL_MONTHS) {
		buf_adds(b, " in ");
		list_add(b, c->bits[CRON_MONTH], 1, 12, month_abbr);
	}
}

const char *cron_describe(const struct cron *c, char *out, size_t outlen)
{
	struct buf b;
	char d[32];
	if (!outlen)
		return out;
	buf_init(&b, CRON_DESCRIBE_MAX * 2);
	switch (c->kind) {
	case CRON_IDLE:
		buf_adds(&b, "when the server reports new mail (idle)");
		break;
	case CRON_EVERY:
		buf_addf(&b, "every %s", str_fmt_duration_ms(c->every * 1000, d, sizeof(d)));
		break;
	case CRON_FIELDS:
		time_add(&b, c);
		days_add(&b, c);
		break;
	}
	snprintf(out, outlen, "%s", buf_str(&b));
	buf_release(&b);
	return out;
}
