/*
 * Schedules across daylight-saving changes. Known answers in Europe/Berlin
 * (2026-03-29, 2026-10-25) and America/New_York (2026-03-08, 2026-11-01)
 * for fixed-time and wildcard jobs; then cron_next() against a minute-by-
 * minute replay of cronie's main loop (cron.c: timeRunning, virtualTime and
 * its four cases) over real and made-up zones, with changes of every size
 * around cronie's thresholds (5 minutes, 3 hours).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sched/civil.h"
#include "engine/sched/cron.h"
#include "engine/sched/cron_int.h"
#include "engine/sched/tz.h"
#include "tests/unit/test.h"

static void check_times(const char *expr, const char *zone, const char *from, const char *want)
{
	static char out[4096];
	struct cron *c = NULL;
	struct tz *tz = NULL;
	struct err err = {0};
	time_t t;
	size_t o = 0;
	int n = 1;
	for (const char *p = want; *p; p++)
		n += *p == ' ';
	if (cron_parse(expr, &c, NULL, &err) < 0 || tz_load(zone, &tz, &err) < 0 ||
	    tz_parse_iso(tz, from, &t, &err) < 0) {
		fprintf(stderr, "  %s in %s: %s\n", expr, zone, err.msg);
		test_failed_now = 1;
		goto out;
	}
	out[0] = '\0';
	for (int i = 0; i < n && cron_next(c, tz, t, &t) == 0; i++) {
		char iso[TZ_ISO_MAX];
		tz_format_iso(tz, t, iso, sizeof(iso));
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? " " : "", iso);
	}
	if (strcmp(out, want) != 0) {
		fprintf(stderr, "  \"%s\" in %s from %s:\n    got  %s\n    want %s\n", expr, zone,
			from, out, want);
		test_failed_now = 1;
	}
out:
	cron_free(&c);
	tz_free(&tz);
}

TEST(berlin_spring_forward)
{
	const char *z = "Europe/Berlin", *from = "2026-03-29T01:00";
	/* fixed times inside the skipped hour run once, right after the change */
	check_times("30 2 * * *", z, from,
		    "2026-03-29T03:00:00+02:00 2026-03-30T02:30:00+02:00");
	check_times("0 2 * * *", z, from,
		    "2026-03-29T03:00:00+02:00 2026-03-30T02:00:00+02:00");
	/* several skipped times still run once; 03:00 itself is that same instant */
	check_times("0,30 2-3 * * *", z, from,
		    "2026-03-29T03:00:00+02:00 2026-03-29T03:30:00+02:00 "
		    "2026-03-30T02:00:00+02:00");
	/* fixed times around the hour are not moved */
	check_times("59 1 * * *", z, "2026-03-29T00:00",
		    "2026-03-29T01:59:00+01:00 2026-03-30T01:59:00+02:00");
	check_times("0 3 * * *", z, from, "2026-03-29T03:00:00+02:00 2026-03-30T03:00:00+02:00");
	/* wildcard jobs keep their rhythm in real time */
	check_times("*/15 * * * *", z, "2026-03-29T01:30",
		    "2026-03-29T01:45:00+01:00 2026-03-29T03:00:00+02:00 "
		    "2026-03-29T03:15:00+02:00");
	check_times("0 * * * *", z, "2026-03-29T00:30",
		    "2026-03-29T01:00:00+01:00 2026-03-29T03:00:00+02:00 "
		    "2026-03-29T04:00:00+02:00");
	check_times("@hourly", z, "2026-03-29T00:30",
		    "2026-03-29T01:00:00+01:00 2026-03-29T03:00:00+02:00");
	/* a wildcard job of only the skipped hour does not run that day (cronie) */
	check_times("*/20 2 * * *", z, "2026-03-28T23:00",
		    "2026-03-30T02:00:00+02:00 2026-03-30T02:20:00+02:00");
	/* @daily at midnight is untouched; @every counts real seconds */
	check_times("@daily", z, from, "2026-03-30T00:00:00+02:00");
	check_times("@every 30m", z, "2026-03-29T01:45",
		    "2026-03-29T03:15:00+02:00 2026-03-29T03:45:00+02:00");
}

TEST(berlin_fall_back)
{
	const char *z = "Europe/Berlin", *from = "2026-10-25T01:00";
	/* a fixed time shown twice runs once, at the first */
	check_times("30 2 * * *", z, from,
		    "2026-10-25T02:30:00+02:00 2026-10-26T02:30:00+01:00");
	check_times("0,59 2 * * *", z, from,
		    "2026-10-25T02:00:00+02:00 2026-10-25T02:59:00+02:00 "
		    "2026-10-26T02:00:00+01:00");
	check_times("0 3 * * *", z, from, "2026-10-25T03:00:00+01:00 2026-10-26T03:00:00+01:00");
	/* wildcard jobs run in both hours: real-time rhythm */
	check_times("0 * * * *", z, from,
		    "2026-10-25T02:00:00+02:00 2026-10-25T02:00:00+01:00 "
		    "2026-10-25T03:00:00+01:00");
	check_times("*/30 * * * *", z, "2026-10-25T02:15",
		    "2026-10-25T02:30:00+02:00 2026-10-25T02:00:00+01:00 "
		    "2026-10-25T02:30:00+01:00 2026-10-25T03:00:00+01:00");
	check_times("15 */1 * * *", z, from,
		    "2026-10-25T01:15:00+02:00 2026-10-25T02:15:00+02:00 "
		    "2026-10-25T02:15:00+01:00 2026-10-25T03:15:00+01:00");
	check_times("*/20 2 * * *", z, from,
		    "2026-10-25T02:00:00+02:00 2026-10-25T02:20:00+02:00 "
		    "2026-10-25T02:40:00+02:00 2026-10-25T02:00:00+01:00 "
		    "2026-10-25T02:20:00+01:00 2026-10-25T02:40:00+01:00 "
		    "2026-10-26T02:00:00+01:00");
	/* starting inside the repeated hour: the fixed job has run, the next is tomorrow */
	check_times("30 2 * * *", z, "2026-10-25T02:10:00+01:00", "2026-10-26T02:30:00+01:00");
	check_times("30 2 * * *", z, "2026-10-25T02:10:00+02:00",
		    "2026-10-25T02:30:00+02:00 2026-10-26T02:30:00+01:00");
}

TEST(new_york_changes)
{
	const char *z = "America/New_York";
	check_times("30 2 * * *", z, "2026-03-08T00:00",
		    "2026-03-08T03:00:00-04:00 2026-03-09T02:30:00-04:00");
	check_times("0 2 * * sun", z, "2026-03-01T12:00",
		    "2026-03-08T03:00:00-04:00 2026-03-15T02:00:00-04:00");
	check_times("*/30 * * * *", z, "2026-03-08T01:00",
		    "2026-03-08T01:30:00-05:00 2026-03-08T03:00:00-04:00");
	check_times("30 1 * * *", z, "2026-10-31T12:00",
		    "2026-11-01T01:30:00-04:00 2026-11-02T01:30:00-05:00");
	check_times("0 * * * *", z, "2026-11-01T00:30",
		    "2026-11-01T01:00:00-04:00 2026-11-01T01:00:00-05:00 "
		    "2026-11-01T02:00:00-05:00");
	check_times("0 1 1 11 *", z, "2026-10-01T00:00",
		    "2026-11-01T01:00:00-04:00 2027-11-01T01:00:00-04:00");
}

/* cronie's main loop, one real minute at a time: the set of instants at
 * which some job of c starts, in (from, to]. */
static bool sim_match(const struct cron *c, int64_t vminute, bool wild, bool fixed)
{
	if (c->wildcard ? !wild : !fixed)
		return false;
	struct civil_time ct;
	civil_from_seconds(vminute * 60, &ct);
	return ((c->bits[CRON_MINUTE] >> ct.minute) & 1) && ((c->bits[CRON_HOUR] >> ct.hour) & 1) &&
	       ((c->bits[CRON_MONTH] >> ct.month) & 1) && cron_day_matches(c, ct.day, ct.weekday);
}

static size_t simulate(const struct cron *c, const struct tz *tz, time_t from, time_t to,
		       time_t *out, size_t max)
{
	size_t n = 0;
	int64_t running = civil_floor_div(from + tz_offset(tz, from), 60);
	int64_t virt = running;
	for (time_t t = from + 60; t <= to && n < max; t += 60) {
		int64_t clock = civil_floor_div(t + tz_offset(tz, t), 60);
		if (clock == running)
			continue;
		running = clock;
		int64_t diff = running - virt;
		bool fire = false;
		if (diff == 1) {
			virt = running;
			fire = sim_match(c, running, true, true);
		} else if (diff > 180 || diff < -180) {
			virt = running;
			fire = sim_match(c, running, true, true);
		} else if (diff > 5) {
			fire = sim_match(c, running, true, false);
			do {
				virt++;
				fire |= sim_match(c, virt, false, true);
			} while (virt < running);
		} else if (diff > 0) {
			do {
				virt++;
				fire |= sim_match(c, virt, true, true);
			} while (virt < running);
		} else {
			fire = sim_match(c, running, true, false);
		}
		if (fire)
			out[n++] = t;
	}
	return n;
}

static const char *const sim_exprs[] = {
	"* * * * *", "*/15 * * * *", "*/7 * * * *", "0 * * * *", "30 * * * *", "@hourly",
	"0 */2 * * *", "30 2 * * *", "0 2 * * *", "0 3 * * *", "59 1 * * *", "0,30 1-3 * * *",
	"*/20 2 * * *", "45 * * * *", "1 2 * * *", "2 1 * * *", "0 0 * * *", "@daily",
	"15 0-4 * * *", "0 2,3 * * sun", "*/10 1-3 * * *", "3 2 * * *", "58 0-23/2 * * *",
	"0 22-23 * * *", "30 23 * * *", "0 4 * * *",
};

/* The instants of each change of offset in [from, to] of tz. */
static size_t changes(const struct tz *tz, time_t from, time_t to, time_t *out, size_t max)
{
	size_t n = 0;
	for (time_t t = from; t < to && n < max;) {
		struct tz_span s;
		tz_span(tz, t, &s);
		if (s.start > from && s.offset != s.prev_offset)
			out[n++] = s.start;
		if (s.end == INT64_MAX)
			break;
		t = s.end;
	}
	return n;
}

static int compare_with_cronie(const char *zone, const struct tz *tz, time_t from, time_t to)
{
	static time_t sim[20000], ours[20000];
	int bad = 0;
	for (size_t e = 0; e < sizeof(sim_exprs) / sizeof(sim_exprs[0]); e++) {
		struct cron *c = NULL;
		struct err err;
		if (cron_parse(sim_exprs[e], &c, NULL, &err) < 0)
			return 1;
		size_t ns = simulate(c, tz, from, to, sim, 20000);
		size_t no = 0;
		time_t t = from;
		while (no < 20000 && cron_next(c, tz, t, &t) == 0 && t <= to)
			ours[no++] = t;
		size_t i = 0;
		while (i < ns && i < no && sim[i] == ours[i])
			i++;
		if (i < ns || i < no) {
			char a[TZ_ISO_MAX] = "-", b[TZ_ISO_MAX] = "-";
			if (i < ns)
				tz_format_iso(tz, sim[i], a, sizeof(a));
			if (i < no)
				tz_format_iso(tz, ours[i], b, sizeof(b));
			fprintf(stderr, "  %s \"%s\": fire %zu: cronie %s, ours %s\n", zone,
				sim_exprs[e], i, a, b);
			bad++;
		}
		cron_free(&c);
	}
	return bad;
}

/* Two days around each change in 2026 and 2027, in real zones. */
TEST(real_zones_match_cronie)
{
	static const char *const zones[] = {
		"Europe/Berlin", "America/New_York", "Europe/Dublin", "Australia/Lord_Howe",
		"Australia/Sydney", "Antarctica/Troll", "America/Santiago", "Pacific/Chatham",
		"Asia/Kolkata",
	};
	int bad = 0, nchanges = 0;
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		struct tz *tz = NULL;
		struct err err;
		if (tz_load(zones[z], &tz, &err) < 0) {
			fprintf(stderr, "  %s\n", err.msg);
			bad++;
			continue;
		}
		time_t ch[16];
		size_t n = changes(tz, 1767225600, 1830297600, ch, 16);   /* 2026-2027 */
		for (size_t i = 0; i < n; i++) {
			nchanges++;
			bad += compare_with_cronie(zones[z], tz, ch[i] - 86400, ch[i] + 86400);
		}
		/* a plain week without changes as well */
		bad += compare_with_cronie(zones[z], tz, 1767830400, 1767830400 + 7 * 86400);
		tz_free(&tz);
	}
	CHECK_INT(bad, 0);
	CHECK(nchanges >= 30);
}

/* Samoa skipped 2011-12-30 (a change of 24 hours forward: "a lot"). */
TEST(samoa_skips_a_day)
{
	struct tz *tz = NULL;
	struct err err;
	if (tz_load("Pacific/Apia", &tz, &err) < 0) {
		fprintf(stderr, "  %s\n", err.msg);
		test_failed_now = 1;
		return;
	}
	CHECK_INT(compare_with_cronie("Pacific/Apia", tz, 1325152800 - 86400,
				      1325152800 + 86400), 0);
	tz_free(&tz);
	check_times("0 12 * * *", "Pacific/Apia", "2011-12-29T00:00",
		    "2011-12-29T12:00:00-10:00 2011-12-31T12:00:00+14:00");
}

/*
 * Made-up zones whose daylight time differs by every size around cronie's
 * thresholds: forward 1..6 minutes (woke late / DST), 179..181 minutes
 * (DST / "a lot"), back 181..183 minutes (DST end / "a lot").
 */
TEST(thresholds_match_cronie)
{
	static const char *const rules[] = {
		"AAA0BBB-0:01,M3.5.0/1,M10.5.0/1", "AAA0BBB-0:04,M3.5.0/1,M10.5.0/1",
		"AAA0BBB-0:05,M3.5.0/1,M10.5.0/1", "AAA0BBB-0:06,M3.5.0/1,M10.5.0/1",
		"AAA0BBB-2:59,M3.5.0/1,M10.5.0/1", "AAA0BBB-3:00,M3.5.0/1,M10.5.0/1",
		"AAA0BBB-3:01,M3.5.0/1,M10.5.0/1", "AAA0BBB-3:02,M3.5.0/1,M10.5.0/1",
		"AAA0BBB-3:03,M3.5.0/1,M10.5.0/1", "AAA3BBB,M3.5.0/1,M10.5.0/1",
		"AAA-13BBB-14,M9.5.0,M4.1.0/3",
	};
	int bad = 0;
	for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
		struct tz *tz = NULL;
		struct err err;
		if (tz_parse_posix(rules[r], &tz, &err) < 0) {
			fprintf(stderr, "  %s: %s\n", rules[r], err.msg);
			bad++;
			continue;
		}
		time_t ch[8];
		size_t n = changes(tz, 1767225600, 1798761600, ch, 8);   /* 2026 */
		CHECK_INT(n, 2);
		for (size_t i = 0; i < n; i++)
			bad += compare_with_cronie(rules[r], tz, ch[i] - 86400, ch[i] + 86400);
		tz_free(&tz);
	}
	CHECK_INT(bad, 0);
}

/* The same answers from any start between two fires. */
TEST(any_start_gives_the_same_next)
{
	struct tz *tz = NULL;
	struct err err;
	if (tz_load("Europe/Berlin", &tz, &err) < 0)
		return;
	for (size_t e = 0; e < sizeof(sim_exprs) / sizeof(sim_exprs[0]); e++) {
		struct cron *c = NULL;
		if (cron_parse(sim_exprs[e], &c, NULL, &err) < 0)
			continue;
		time_t prev = 1792890000 - 7200, next;
		for (int k = 0; k < 20 && cron_next(c, tz, prev, &next) == 0; k++) {
			for (time_t t = prev; t < next; t += 97) {
				time_t n2;
				CHECK(cron_next(c, tz, t, &n2) == 0 && n2 == next);
			}
			prev = next;
		}
		cron_free(&c);
	}
	tz_free(&tz);
}

/* Worker threads share one cron and one zone: the answers are those of a
 * single thread (nothing in cron_next or tz_span keeps state). */
struct shared {
	const struct cron *c;
	const struct tz *tz;
	time_t times[3000];
	size_t n;
};

static void *follow(void *arg)
{
	struct shared *s = arg;
	time_t t = 1767225600;
	for (s->n = 0; s->n < 3000 && cron_next(s->c, s->tz, t, &t) == 0; s->n++)
		s->times[s->n] = t;
	return NULL;
}

TEST(threads_share_a_schedule_and_a_zone)
{
	struct cron *c = NULL;
	struct tz *tz = NULL;
	struct err err;
	static struct shared one, many[4];
	if (cron_parse("*/7 1-3 * * *", &c, NULL, &err) < 0 ||
	    tz_load("Europe/Berlin", &tz, &err) < 0) {
		fprintf(stderr, "  %s\n", err.msg);
		test_failed_now = 1;
		goto out;
	}
	one = (struct shared){.c = c, .tz = tz};
	follow(&one);
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		many[i] = (struct shared){.c = c, .tz = tz};
		CHECK_INT(pthread_create(&th[i], NULL, follow, &many[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(many[i].n, one.n);
		CHECK(memcmp(many[i].times, one.times, one.n * sizeof(time_t)) == 0);
	}
	CHECK_INT(one.n, 3000);
out:
	cron_free(&c);
	tz_free(&tz);
}

int main(void)
{
	RUN(berlin_spring_forward);
	RUN(berlin_fall_back);
	RUN(new_york_changes);
	RUN(real_zones_match_cronie);
	RUN(samoa_skips_a_day);
	RUN(thresholds_match_cronie);
	RUN(any_start_gives_the_same_next);
	RUN(threads_share_a_schedule_and_a_zone);
	return test_summary();
}
