/*
 * engine/sched cron expressions: every piece of syntax as known answers
 * (the next fire times in UTC from a fixed start), the day-of-month /
 * day-of-week rule, months without the day, leap days, macros, @every and
 * idle, descriptions, and errors with their exact messages and positions.
 * DST behaviour is in test_cron_dst.c, zones in test_tz.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sched/cron.h"
#include "engine/sched/tz.h"
#include "engine/util/xalloc.h"
#include "tests/unit/test.h"

/*
 * The next n fire times of expr after `from` in zone (NULL: UTC), as ISO
 * times separated by spaces; "ERROR: message" when it does not parse.
 */
static const char *nexts(const char *expr, const char *zone, const char *from, int n)
{
	static char out[4096];
	struct cron *c = NULL;
	struct tz *tz = NULL;
	struct err err = {0};
	size_t o = 0;
	time_t t;
	out[0] = '\0';
	if (cron_parse(expr, &c, NULL, &err) < 0) {
		snprintf(out, sizeof(out), "ERROR: %s", err.msg);
		return out;
	}
	if (tz_load(zone, &tz, &err) < 0 || tz_parse_iso(tz, from, &t, &err) < 0) {
		snprintf(out, sizeof(out), "SETUP: %s", err.msg);
		goto done;
	}
	for (int i = 0; i < n; i++) {
		char iso[TZ_ISO_MAX];
		if (cron_next(c, tz, t, &t) < 0) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%sNONE", i ? " " : "");
			break;
		}
		CHECK_INT(tz_format_iso(tz, t, iso, sizeof(iso)), 0);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? " " : "", iso);
	}
done:
	cron_free(&c);
	tz_free(&tz);
	return out;
}

struct known {
	const char *expr;
	const char *from;   /* UTC unless the time says otherwise */
	int n;
	const char *want;
};

static void check_known(const struct known *k, size_t n, const char *zone)
{
	for (size_t i = 0; i < n; i++) {
		const char *got = nexts(k[i].expr, zone, k[i].from, k[i].n);
		if (strcmp(got, k[i].want) != 0) {
			fprintf(stderr, "  \"%s\" from %s in %s:\n    got  %s\n    want %s\n",
				k[i].expr, k[i].from, zone ? zone : "UTC", got, k[i].want);
			test_failed_now = 1;
		}
	}
}

/* 2026-01-01 is a Thursday. */
TEST(syntax_known_answers)
{
	static const struct known k[] = {
		{"* * * * *", "2026-01-01T00:00:30Z", 3,
		 "2026-01-01T00:01:00+00:00 2026-01-01T00:02:00+00:00 2026-01-01T00:03:00+00:00"},
		/* strictly after: a start on the minute is not a fire time */
		{"* * * * *", "2026-01-01T00:00:00Z", 1, "2026-01-01T00:01:00+00:00"},
		{"5 * * * *", "2026-01-01T00:00:00Z", 2,
		 "2026-01-01T00:05:00+00:00 2026-01-01T01:05:00+00:00"},
		{"*/15 * * * *", "2026-01-01T00:50:00Z", 3,
		 "2026-01-01T01:00:00+00:00 2026-01-01T01:15:00+00:00 2026-01-01T01:30:00+00:00"},
		{"10-20/5 * * * *", "2026-01-01T00:00:00Z", 4,
		 "2026-01-01T00:10:00+00:00 2026-01-01T00:15:00+00:00 2026-01-01T00:20:00+00:00 "
		 "2026-01-01T01:10:00+00:00"},
		{"0,30 9-10 * * *", "2026-01-01T00:00:00Z", 5,
		 "2026-01-01T09:00:00+00:00 2026-01-01T09:30:00+00:00 2026-01-01T10:00:00+00:00 "
		 "2026-01-01T10:30:00+00:00 2026-01-02T09:00:00+00:00"},
		{"0 */6 * * *", "2026-01-01T00:00:00Z", 4,
		 "2026-01-01T06:00:00+00:00 2026-01-01T12:00:00+00:00 2026-01-01T18:00:00+00:00 "
		 "2026-01-02T00:00:00+00:00"},
		{"1-3,7,50-59/4 0 1 1 *", "2026-01-01T00:00:00Z", 7,
		 "2026-01-01T00:01:00+00:00 2026-01-01T00:02:00+00:00 2026-01-01T00:03:00+00:00 "
		 "2026-01-01T00:07:00+00:00 2026-01-01T00:50:00+00:00 2026-01-01T00:54:00+00:00 "
		 "2026-01-01T00:58:00+00:00"},
		/* months by number and by name, any case, also in ranges and lists */
		{"0 0 1 feb,JUN-Aug *", "2026-01-01T00:00:00Z", 4,
		 "2026-02-01T00:00:00+00:00 2026-06-01T00:00:00+00:00 2026-07-01T00:00:00+00:00 "
		 "2026-08-01T00:00:00+00:00"},
		{"0 0 1 */4 *", "2026-01-01T00:00:00Z", 3,
		 "2026-05-01T00:00:00+00:00 2026-09-01T00:00:00+00:00 2027-01-01T00:00:00+00:00"},
		/* days of the week: names, numbers, 0 and 7 both Sunday */
		{"0 12 * * mon-fri", "2026-01-02T13:00:00Z", 3,
		 "2026-01-05T12:00:00+00:00 2026-01-06T12:00:00+00:00 2026-01-07T12:00:00+00:00"},
		{"0 12 * * 0", "2026-01-01T00:00:00Z", 1, "2026-01-04T12:00:00+00:00"},
		{"0 12 * * 7", "2026-01-01T00:00:00Z", 1, "2026-01-04T12:00:00+00:00"},
		{"0 12 * * Sun", "2026-01-01T00:00:00Z", 1, "2026-01-04T12:00:00+00:00"},
		{"0 12 * * 5-7", "2026-01-01T00:00:00Z", 3,
		 "2026-01-02T12:00:00+00:00 2026-01-03T12:00:00+00:00 2026-01-04T12:00:00+00:00"},
		{"0 12 * * fri-sun", "2026-01-01T00:00:00Z", 4,
		 "2026-01-02T12:00:00+00:00 2026-01-03T12:00:00+00:00 2026-01-04T12:00:00+00:00 "
		 "2026-01-09T12:00:00+00:00"},
		{"0 12 * * */2", "2026-01-01T00:00:00Z", 3,   /* Sun, Tue, Thu, Sat */
		 "2026-01-01T12:00:00+00:00 2026-01-03T12:00:00+00:00 2026-01-04T12:00:00+00:00"},
		{"0 0 * * 1-5/2", "2026-01-01T00:00:00Z", 3,   /* Mon, Wed, Fri */
		 "2026-01-02T00:00:00+00:00 2026-01-05T00:00:00+00:00 2026-01-07T00:00:00+00:00"},
		/* blanks: tabs, several, around */
		{" \t0\t0  * *  *\t ", "2026-01-01T00:00:00Z", 1, "2026-01-02T00:00:00+00:00"},
		/* a far start, and the last possible time */
		{"59 23 31 12 *", "9999-12-31T00:00:00Z", 2, "9999-12-31T23:59:00+00:00 NONE"},
		{"0 0 1 1 *", "1970-01-01T00:00:00Z", 1, "1971-01-01T00:00:00+00:00"},
		{"0 0 1 1 *", "1900-06-01T00:00:00Z", 1, "1901-01-01T00:00:00+00:00"},
	};
	check_known(k, sizeof(k) / sizeof(k[0]), NULL);
}

TEST(day_of_month_or_day_of_week)
{
	static const struct known k[] = {
		/* both restricted: the 1st, the 15th AND every Monday */
		{"0 0 1,15 * mon", "2026-01-01T00:00:00Z", 5,
		 "2026-01-05T00:00:00+00:00 2026-01-12T00:00:00+00:00 2026-01-15T00:00:00+00:00 "
		 "2026-01-19T00:00:00+00:00 2026-01-26T00:00:00+00:00"},
		/* day of week is '*': only the days of month */
		{"0 0 1,15 * *", "2026-01-01T00:00:00Z", 3,
		 "2026-01-15T00:00:00+00:00 2026-02-01T00:00:00+00:00 2026-02-15T00:00:00+00:00"},
		/* day of month is '*': only Mondays */
		{"0 0 * * mon", "2026-01-01T00:00:00Z", 2,
		 "2026-01-05T00:00:00+00:00 2026-01-12T00:00:00+00:00"},
		/* a field that starts with '*' counts as '*' even with a step: both must
		 * match (cronie's DOM_STAR): odd days that are Mondays */
		{"0 0 */2 * mon", "2026-01-01T00:00:00Z", 3,
		 "2026-01-05T00:00:00+00:00 2026-01-19T00:00:00+00:00 2026-02-09T00:00:00+00:00"},
		{"0 0 13 * */7", "2026-01-01T00:00:00Z", 2,   /* Friday the 13th? no: Sunday 13th */
		 "2026-09-13T00:00:00+00:00 2026-12-13T00:00:00+00:00"},
		/* and the OR form again with a day-of-week range */
		{"0 0 31 * sat-sun", "2026-01-01T00:00:00Z", 4,
		 "2026-01-03T00:00:00+00:00 2026-01-04T00:00:00+00:00 2026-01-10T00:00:00+00:00 "
		 "2026-01-11T00:00:00+00:00"},
	};
	check_known(k, sizeof(k) / sizeof(k[0]), NULL);
}

TEST(short_months_and_leap_days)
{
	static const struct known k[] = {
		/* the 31st skips the months without one */
		{"0 0 31 * *", "2026-01-01T00:00:00Z", 7,
		 "2026-01-31T00:00:00+00:00 2026-03-31T00:00:00+00:00 2026-05-31T00:00:00+00:00 "
		 "2026-07-31T00:00:00+00:00 2026-08-31T00:00:00+00:00 2026-10-31T00:00:00+00:00 "
		 "2026-12-31T00:00:00+00:00"},
		{"0 0 30 * *", "2026-01-31T00:00:00Z", 2,
		 "2026-03-30T00:00:00+00:00 2026-04-30T00:00:00+00:00"},
		/* February 29: only leap years; 2100 is none, 2000 and 2400 are */
		{"0 0 29 2 *", "2026-01-01T00:00:00Z", 2,
		 "2028-02-29T00:00:00+00:00 2032-02-29T00:00:00+00:00"},
		{"0 0 29 2 *", "2096-03-01T00:00:00Z", 1, "2104-02-29T00:00:00+00:00"},
		{"0 0 29 2 *", "1999-01-01T00:00:00Z", 1, "2000-02-29T00:00:00+00:00"},
		{"0 0 29 2 *", "2399-01-01T00:00:00Z", 1, "2400-02-29T00:00:00+00:00"},
		{"0 0 29-31 2,4 *", "2026-01-01T00:00:00Z", 2,
		 "2026-04-29T00:00:00+00:00 2026-04-30T00:00:00+00:00"},
		/* day 1 or 29 of February, and a Monday ('*' first: both must match) */
		{"0 0 */28 2 mon", "2026-03-01T00:00:00Z", 2,
		 "2027-02-01T00:00:00+00:00 2038-02-01T00:00:00+00:00"},
		{"0 0 */28 2 mon", "2040-01-01T00:00:00Z", 2,
		 "2044-02-01T00:00:00+00:00 2044-02-29T00:00:00+00:00"},
	};
	check_known(k, sizeof(k) / sizeof(k[0]), NULL);
}

TEST(macros_are_their_five_fields)
{
	static const struct {
		const char *macro, *fields;
	} m[] = {
		{"@hourly", "0 * * * *"}, {"@daily", "0 0 * * *"}, {"@midnight", "0 0 * * *"},
		{"@weekly", "0 0 * * 0"}, {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
		{"@annually", "0 0 1 1 *"}, {"@DAILY", "0 0 * * *"}, {" @Weekly ", "0 0 * * 0"},
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		char want[4096];
		snprintf(want, sizeof(want), "%s", nexts(m[i].fields, NULL, "2026-01-01T00:30Z", 4));
		CHECK_STR(nexts(m[i].macro, NULL, "2026-01-01T00:30Z", 4), want);
	}
	CHECK_STR(nexts("@weekly", NULL, "2026-01-01T00:30Z", 2),
		  "2026-01-04T00:00:00+00:00 2026-01-11T00:00:00+00:00");
}

TEST(every_is_an_interval_in_real_time)
{
	static const struct known k[] = {
		{"@every 30s", "2026-01-01T00:00:10Z", 3,
		 "2026-01-01T00:00:40+00:00 2026-01-01T00:01:10+00:00 2026-01-01T00:01:40+00:00"},
		{"@every 5m", "2026-01-01T00:00:00Z", 2,
		 "2026-01-01T00:05:00+00:00 2026-01-01T00:10:00+00:00"},
		{"@every 90", "2026-01-01T00:00:00Z", 1, "2026-01-01T00:01:30+00:00"},
		{"@every 1h", "2026-01-01T00:00:00Z", 1, "2026-01-01T01:00:00+00:00"},
		{"@every  2000ms ", "2026-01-01T00:00:00Z", 1, "2026-01-01T00:00:02+00:00"},
		{"@every 8784h", "9999-01-01T00:00:00Z", 1, "NONE"},
		/* through a change forward: 60 real minutes apart, whatever the clock says */
		{"@every 1h", "2026-03-29T01:30:00+01:00", 2,
		 "2026-03-29T03:30:00+02:00 2026-03-29T04:30:00+02:00"},
	};
	check_known(k, 6, NULL);
	check_known(k + 6, 1, "Europe/Berlin");
	struct cron *c = NULL;
	struct err err;
	CHECK_INT(cron_parse("@every 5m", &c, NULL, &err), 0);
	if (c) {
		CHECK_INT(cron_kind(c), CRON_EVERY);
		CHECK_INT(cron_every_seconds(c), 300);
		CHECK_STR(cron_text(c), "@every 5m");
	}
	cron_free(&c);
	CHECK(c == NULL);
}

TEST(idle_has_no_times)
{
	struct cron *c = NULL;
	struct err err;
	time_t t = 42;
	CHECK_INT(cron_parse(" IDLE ", &c, NULL, &err), 0);
	if (c) {
		CHECK_INT(cron_kind(c), CRON_IDLE);
		CHECK_INT(cron_next(c, NULL, 0, &t), -1);
		CHECK_INT(t, 42);
		CHECK_STR(cron_text(c), "IDLE");
		CHECK_INT(cron_every_seconds(c), 0);
	}
	cron_free(&c);
	CHECK_INT(cron_parse("0 0 * * *", &c, NULL, &err), 0);
	if (c) {
		CHECK_INT(cron_kind(c), CRON_FIELDS);
		/* times outside the years 1..9999 have no answer */
		CHECK_INT(cron_next(c, NULL, 253402300799LL, &t), -1);
		CHECK_INT(cron_next(c, NULL, -62135596801LL, &t), -1);
		CHECK_INT(cron_next(c, NULL, -62135596800LL, &t), 0);
		CHECK_INT(t, -62135596800LL + 86400);
	}
	cron_free(&c);
}

TEST(errors_name_what_and_where)
{
	static const struct {
		const char *expr;
		size_t pos;   /* 0-based, as cron_parse reports it */
		const char *msg;
	} e[] = {
		{"", 0, "empty schedule (expected 5 cron fields, a macro such as @hourly, "
		 "@every 5m or idle) at position 1"},
		{"   ", 3, "empty schedule (expected 5 cron fields, a macro such as @hourly, "
		 "@every 5m or idle) at position 4"},
		{"* * * *", 7, "expected 5 fields (minute hour day-of-month month day-of-week), "
		 "found 4 at position 8"},
		{"* * * * * *", 10, "expected 5 fields (minute hour day-of-month month "
		 "day-of-week), found more at position 11"},
		{"60 * * * *", 0, "minute 60 out of range 0-59 at position 1"},
		{"0 24 * * *", 2, "hour 24 out of range 0-23 at position 3"},
		{"0 0 0 * *", 4, "day of month 0 out of range 1-31 at position 5"},
		{"0 0 32 * *", 4, "day of month 32 out of range 1-31 at position 5"},
		{"0 0 * 13 *", 6, "month 13 out of range 1-12 at position 7"},
		{"0 0 * * 8", 8, "day of week 8 out of range 0-7 at position 9"},
		{"99999999999999999999 * * * *", 0,
		 "minute 9999999999 out of range 0-59 at position 1"},
		{"0 0 1 foo *", 6, "unknown month name \"foo\" (use jan..dec or numbers) at "
		 "position 7"},
		{"0 0 * * monday", 8, "unknown day of week name \"monday\" (use sun..sat or "
		 "numbers) at position 9"},
		{"0 0 mon * *", 4, "day of month must be a number, not \"mon\" at position 5"},
		{"0 0 * jan-mon *", 10, "unknown month name \"mon\" (use jan..dec or numbers) at "
		 "position 11"},
		{"5-1 * * * *", 1, "range 5-1 runs backwards at position 2"},
		{"0 0 * * 5-0", 9, "range 5-0 runs backwards at position 10"},
		{"0 0 * * sun-sun", 0, "OK"},
		{"*/0 * * * *", 2, "a step must be at least 1 at position 3"},
		{"*/61 * * * *", 2, "step 61 is larger than the minute field (60 values) at "
		 "position 3"},
		{"*/ * * * *", 2, "expected a step (a number) after '/' at position 3"},
		{"5/10 * * * *", 1, "a step needs a range or '*' before it (\"0-59/5\", \"*/5\") "
		 "at position 2"},
		{"1,,2 * * * *", 2, "empty item in the minute field at position 3"},
		{"1, * * * *", 2, "empty item in the minute field at position 3"},
		{",1 * * * *", 0, "empty item in the minute field at position 1"},
		{"1- * * * *", 2, "missing minute value at position 3"},
		{"*5 * * * *", 1, "unexpected '5' in the minute field at position 2"},
		{"1-5x * * * *", 3, "unexpected 'x' in the minute field at position 4"},
		{"1+ * * * *", 1, "unexpected '+' in the minute field at position 2"},
		/* Quartz features, named with their position */
		{"0 0 L * *", 4, "'L' is not supported (no L, W, # or ? in cron expressions) at "
		 "position 5"},
		{"0 0 15W * *", 6, "'W' is not supported (no L, W, # or ? in cron expressions) at "
		 "position 7"},
		{"0 0 LW * *", 4, "'L' is not supported (no L, W, # or ? in cron expressions) at "
		 "position 5"},
		{"0 0 * * 5L", 9, "'L' is not supported (no L, W, # or ? in cron expressions) at "
		 "position 10"},
		{"0 0 * * mon#2", 11, "'#' is not supported (no L, W, # or ? in cron expressions) "
		 "at position 12"},
		{"0 0 ? * mon", 4, "'?' is not supported (no L, W, # or ? in cron expressions) at "
		 "position 5"},
		{"0 0 * * l", 8, "'l' is not supported (no L, W, # or ? in cron expressions) at "
		 "position 9"},
		/* never fires */
		{"0 0 30 2 *", 4, "never fires: no month of the month field has these days at "
		 "position 5"},
		{"0 0 31 4,6,9,11 *", 4, "never fires: no month of the month field has these days "
		 "at position 5"},
		{"0 0 30 2 mon", 0, "OK"},   /* either day field: Mondays in February */
		/* bytes that have no business here */
		{"0 0 * * *\n", 9, "unexpected byte 0x0a at position 10"},
		{"0 0 \xc3\xa4 * *", 4, "unexpected byte 0xc3 at position 5"},
		/* macros */
		{"@reboot", 0, "@reboot is not supported (schedules are times, not events) at "
		 "position 1"},
		{"@often", 0, "unknown macro \"@often\" (use @hourly, @daily, @weekly, @monthly, "
		 "@yearly or @every) at position 1"},
		{"@", 0, "unknown macro \"@\" (use @hourly, @daily, @weekly, @monthly, @yearly or "
		 "@every) at position 1"},
		{"@daily now", 7, "unexpected text after @daily at position 8"},
		{"@every", 6, "@every needs a duration such as 30s, 5m or 1h at position 7"},
		{"@every5m", 6, "unexpected '5' after @every at position 7"},
		{"@every 5 parsecs", 7, "\"5 parsecs\" is not a duration such as 30s, 5m or 1h at "
		 "position 8"},
		{"@every 0s", 7, "@every must be between 1s and 366 days, not \"0s\" at position 8"},
		{"@every 500ms", 7, "@every takes whole seconds, not \"500ms\" at position 8"},
		{"@every 8785h", 7, "@every must be between 1s and 366 days, not \"8785h\" at "
		 "position 8"},
		{"@every 99999999999999999999h", 7, "\"99999999999999999999h\" is not a duration "
		 "such as 30s, 5m or 1h at position 8"},
		{"idle now", 8, "expected 5 fields (minute hour day-of-month month day-of-week), "
		 "found 2 at position 9"},
	};
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		struct cron *c = NULL;
		struct err err = {0};
		size_t pos = 999;
		int rc = cron_parse(e[i].expr, &c, &pos, &err);
		if (strcmp(e[i].msg, "OK") == 0) {
			if (rc != 0)
				fprintf(stderr, "  \"%s\": %s\n", e[i].expr, err.msg);
			CHECK_INT(rc, 0);
			cron_free(&c);
			continue;
		}
		CHECK_INT(rc, -1);
		CHECK(c == NULL);
		CHECK_INT(err.cls, ERR_FATAL);
		if (strcmp(err.msg, e[i].msg) != 0 || pos != e[i].pos) {
			fprintf(stderr, "  \"%s\":\n    got  %zu %s\n    want %zu %s\n", e[i].expr,
				pos, err.msg, e[i].pos, e[i].msg);
			test_failed_now = 1;
		}
		cron_free(&c);
	}
}

TEST(length_is_capped)
{
	char expr[CRON_MAX_LEN + 2];
	struct cron *c = NULL;
	struct err err;
	size_t pos;
	/* exactly at the cap: blanks around a valid expression still parse */
	memset(expr, ' ', CRON_MAX_LEN);
	memcpy(expr + 100, "0 0 * * *", 9);
	expr[CRON_MAX_LEN] = '\0';
	CHECK_INT(cron_parse(expr, &c, &pos, &err), 0);
	cron_free(&c);
	expr[CRON_MAX_LEN] = ' ';
	expr[CRON_MAX_LEN + 1] = '\0';
	CHECK_INT(cron_parse(expr, &c, &pos, &err), -1);
	CHECK_STR(err.msg, "expression longer than 256 characters at position 257");
	CHECK_INT(pos, CRON_MAX_LEN);
}

/* Every prefix and every one-byte change of valid expressions either parses
 * or fails with a position inside the text; none crashes or hangs. */
TEST(prefixes_and_mutations_fail_cleanly)
{
	static const char *const good[] = {
		"*/15 9-17 1,15 jan-jun mon-fri", "@every 5m", "0 0 29 2 *", "@annually",
	};
	static const char mut[] = "*/-,0159aLW#? @\t";
	for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
		size_t len = strlen(good[g]);
		char buf[64];
		for (size_t n = 0; n <= len; n++) {
			struct cron *c = NULL;
			struct err err;
			size_t pos = 999;
			memcpy(buf, good[g], n);
			buf[n] = '\0';
			if (cron_parse(buf, &c, &pos, &err) < 0)
				CHECK(pos <= n);
			cron_free(&c);
			for (size_t i = 0; i < n; i++) {
				for (size_t k = 0; k < sizeof(mut) - 1; k++) {
					char save = buf[i];
					buf[i] = mut[k];
					pos = 999;
					if (cron_parse(buf, &c, &pos, &err) == 0) {
						time_t t;
						(void)cron_next(c, NULL, 1767225600, &t);
					} else {
						CHECK(pos <= n);
					}
					cron_free(&c);
					buf[i] = save;
				}
			}
		}
	}
}

TEST(describes_in_plain_words)
{
	static const struct {
		const char *expr, *want;
	} d[] = {
		{"* * * * *", "every minute"},
		{"*/15 * * * *", "every 15 minutes"},
		{"0,30 * * * *", "every 30 minutes"},
		{"0 * * * *", "at minute 0 of every hour"},
		{"@hourly", "at minute 0 of every hour"},
		{"5,35 * * * *", "at minutes 5,35 of every hour"},
		{"*/15 * * * 1-5", "every 15 minutes on Mon-Fri"},
		{"30 2 * * *", "at 02:30 every day"},
		{"0 9,17 * * mon-fri", "at 09:00 and 17:00 on Mon-Fri"},
		{"0,30 9,17 * * *", "at 09:00, 09:30, 17:00 and 17:30 every day"},
		{"0 9-17 * * 1-5", "at minute 0 of hours 9-17 on Mon-Fri"},
		{"* 3 * * *", "every minute of hour 3 every day"},
		{"0 0 1,15 * mon", "at 00:00 on days 1,15 of the month and on Mon"},
		{"0 0 */2 * mon", "at 00:00 on days 1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31 "
		 "of the month if it is a Mon"},
		{"0 0 1 * *", "at 00:00 on day 1 of the month"},
		{"0 0 1 1 *", "at 00:00 on day 1 of the month in Jan"},
		{"0 0 29 2 *", "at 00:00 on day 29 of the month in Feb"},
		{"0 12 * jun-aug sat,sun", "at 12:00 on Sun,Sat in Jun-Aug"},
		{"@every 90s", "every 90s"},
		{"@every 2h", "every 2h"},
		{"idle", "when the server reports new mail (idle)"},
	};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		struct cron *c = NULL;
		struct err err;
		char out[CRON_DESCRIBE_MAX];
		if (cron_parse(d[i].expr, &c, NULL, &err) < 0) {
			fprintf(stderr, "  \"%s\": %s\n", d[i].expr, err.msg);
			test_failed_now = 1;
			continue;
		}
		CHECK_STR(cron_describe(c, out, sizeof(out)), d[i].want);
		/* cut, never overrun */
		char small[8];
		CHECK_INT(strlen(cron_describe(c, small, sizeof(small))), strlen(d[i].want) < 7 ?
			  strlen(d[i].want) : 7);
		cron_free(&c);
	}
}

int main(void)
{
	RUN(syntax_known_answers);
	RUN(day_of_month_or_day_of_week);
	RUN(short_months_and_leap_days);
	RUN(macros_are_their_five_fields);
	RUN(every_is_an_interval_in_real_time);
	RUN(idle_has_no_times);
	RUN(errors_name_what_and_where);
	RUN(length_is_capped);
	RUN(prefixes_and_mutations_fail_cleanly);
	RUN(describes_in_plain_words);
	return test_summary();
}
