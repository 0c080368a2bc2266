/*
 * When the daemon runs a job (engine/sched/due.h): slots, late jobs running
 * once, jobs never run, backoff and retries, @every rhythm, idle, clock
 * skew, sparse schedules, a DST change, and the backoff curve.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/sched/cron.h"
#include "engine/sched/due.h"
#include "engine/sched/tz.h"
#include "tests/unit/test.h"

static struct tz *UTC, *BERLIN;

static time_t T(const char *iso)
{
	time_t t = 0;
	struct err err = {0};
	if (tz_parse_iso(UTC, iso, &t, &err) < 0) {
		fprintf(stderr, "  bad time %s: %s\n", iso, err.msg);
		abort();
	}
	return t;
}

/* due_check of expr in zone with (last_slot, retry_at) at now. */
static int due(const char *expr, const struct tz *tz, time_t last, time_t retry, time_t now,
	       time_t *slot, time_t *next)
{
	struct cron *c = NULL;
	struct err err = {0};
	if (cron_parse(expr, &c, NULL, &err) < 0) {
		fprintf(stderr, "  bad expression %s: %s\n", expr, err.msg);
		abort();
	}
	struct due_state st = { .last_slot = last, .retry_at = retry };
	int rc = due_check(c, tz, &st, now, slot, next);
	cron_free(&c);
	return rc;
}

TEST(never_run_is_due_for_the_latest_slot)
{
	time_t slot, next;
	CHECK_INT(due("*/5 * * * *", UTC, 0, 0, T("2026-11-22T10:07:30Z"), &slot, &next), 1);
	CHECK_INT(slot, T("2026-11-22T10:05:00Z"));
	/* a slot exactly now is the latest */
	CHECK_INT(due("*/5 * * * *", UTC, 0, 0, T("2026-11-22T10:10:00Z"), &slot, &next), 1);
	CHECK_INT(slot, T("2026-11-22T10:10:00Z"));
}

TEST(after_a_slot_waits_for_the_next)
{
	time_t slot, next;
	CHECK_INT(due("*/5 * * * *", UTC, T("2026-11-22T10:05:00Z"), 0, T("2026-11-22T10:07:00Z"),
		      &slot, &next), 0);
	CHECK_INT(next, T("2026-11-22T10:10:00Z"));
	CHECK_INT(due("*/5 * * * *", UTC, T("2026-11-22T10:05:00Z"), 0, T("2026-11-22T10:10:00Z"),
		      &slot, &next), 1);
	CHECK_INT(slot, T("2026-11-22T10:10:00Z"));
}

TEST(late_job_runs_once_for_the_latest_slot)
{
	time_t slot, next;
	/* two hours of missed slots: one run, for 10:05, not 24 runs from 08:05 */
	CHECK_INT(due("*/5 * * * *", UTC, T("2026-11-22T08:00:00Z"), 0, T("2026-11-22T10:07:30Z"),
		      &slot, &next), 1);
	CHECK_INT(slot, T("2026-11-22T10:05:00Z"));
	/* a day late, every minute: the current minute */
	CHECK_INT(due("* * * * *", UTC, T("2026-11-21T10:07:00Z"), 0, T("2026-11-22T10:07:59Z"),
		      &slot, &next), 1);
	CHECK_INT(slot, T("2026-11-22T10:07:00Z"));
	/* and the run of that slot makes it not due until the next one */
	CHECK_INT(due("* * * * *", UTC, slot, 0, T("2026-11-22T10:07:59Z"), &slot, &next), 0);
	CHECK_INT(next, T("2026-11-22T10:08:00Z"));
}

TEST(backoff_wins_over_the_schedule)
{
	time_t slot, next;
	time_t retry = T("2026-11-22T10:09:00Z");
	CHECK_INT(due("* * * * *", UTC, T("2026-11-22T10:05:00Z"), retry, T("2026-11-22T10:07:10Z"),
		      &slot, &next), 0);
	CHECK_INT(next, retry);
	/* retry time come, no newer slot: the failed slot again */
	CHECK_INT(due("0 * * * *", UTC, T("2026-11-22T10:00:00Z"), retry, T("2026-11-22T10:09:05Z"),
		      &slot, &next), 1);
	CHECK_INT(slot, T("2026-11-22T10:00:00Z"));
	/* retry time come and a newer slot passed: the newer one */
	CHECK_INT(due("* * * * *", UTC, T("2026-11-22T10:05:00Z"), retry, T("2026-11-22T10:09:05Z"),
		      &slot, &next), 1);
	CHECK_INT(slot, T("2026-11-22T10:09:00Z"));
}

TEST(idle_never_fires)
{
	time_t slot, next;
	CHECK_INT(due("idle", UTC, 0, 0, T("2026-11-22T10:07:30Z"), &slot, &next), -1);
	CHECK_INT(due("idle", UTC, T("2026-11-22T10:00:00Z"), T("2026-11-22T10:01:00Z"),
		      T("2026-11-22T10:07:30Z"), &slot, &next), -1);
}

TEST(every_keeps_its_rhythm)
{
	time_t slot, next;
	time_t now = T("2026-11-22T10:07:31Z");
	/* never run: a multiple of the interval, the same on every daemon */
	CHECK_INT(due("@every 30s", UTC, 0, 0, now, &slot, &next), 1);
	CHECK_INT(slot, T("2026-11-22T10:07:30Z"));
	time_t last = T("2026-11-22T10:05:07Z");
	CHECK_INT(due("@every 30s", UTC, last, 0, now, &slot, &next), 1);
	CHECK_INT(slot, last + 120);  /* 10:07:07: the latest of 10:05:37 ... 10:07:07 */
	CHECK_INT(due("@every 30s", UTC, slot, 0, now, &slot, &next), 0);
	CHECK_INT(next, last + 150);
}

TEST(slot_from_a_clock_ahead_is_not_run_again)
{
	time_t slot, next;
	/* another daemon, two seconds ahead, already claimed 10:10 */
	CHECK_INT(due("*/5 * * * *", UTC, T("2026-11-22T10:10:00Z"), 0, T("2026-11-22T10:09:58Z"),
		      &slot, &next), 0);
	CHECK_INT(next, T("2026-11-22T10:15:00Z"));
}

TEST(sparse_schedules)
{
	time_t slot, next;
	/* a leap day: the latest one is found years back */
	CHECK_INT(due("0 0 29 2 *", UTC, 0, 0, T("2027-06-01T00:00:00Z"), &slot, &next), 1);
	CHECK_INT(slot, T("2024-02-29T00:00:00Z"));
	CHECK_INT(due("0 0 29 2 *", UTC, slot, 0, T("2027-06-01T00:00:00Z"), &slot, &next), 0);
	CHECK_INT(next, T("2028-02-29T00:00:00Z"));
	/* hours without a fire time before now */
	CHECK_INT(due("* 0-21 * * *", UTC, 0, 0, T("2026-11-22T23:30:00Z"), &slot, &next), 1);
	CHECK_INT(slot, T("2026-11-22T21:59:00Z"));
}

TEST(dst_gap_slot_is_the_change)
{
	time_t slot, next;
	/* 02:30 does not exist on 2026-03-29 in Berlin: cronie runs it at 03:00 CEST */
	CHECK_INT(due("30 2 * * *", BERLIN, T("2026-03-28T01:30:00Z"), 0, T("2026-03-29T01:10:00Z"),
		      &slot, &next), 1);
	CHECK_INT(slot, T("2026-03-29T01:00:00Z"));
	CHECK_INT(due("30 2 * * *", BERLIN, slot, 0, T("2026-03-29T01:10:00Z"), &slot, &next), 0);
	CHECK_INT(next, T("2026-03-30T00:30:00Z"));
}

TEST(backoff_doubles_caps_and_jitters)
{
	CHECK_INT(due_backoff_ms(0, 30000, 900000, 0.5), 0);
	CHECK_INT(due_backoff_ms(1, 30000, 900000, 0.0), 15000);
	CHECK(due_backoff_ms(1, 30000, 900000, 0.999) > 29900);
	CHECK(due_backoff_ms(1, 30000, 900000, 0.999) <= 30000);
	CHECK_INT(due_backoff_ms(2, 30000, 900000, 0.0), 30000);
	CHECK_INT(due_backoff_ms(3, 30000, 900000, 0.0), 60000);
	CHECK_INT(due_backoff_ms(6, 30000, 900000, 0.0), 450000);
	CHECK_INT(due_backoff_ms(7, 30000, 900000, 0.0), 450000);
	CHECK_INT(due_backoff_ms(4000000000u, 30000, 900000, 0.99999), 899995);
	/* a jitter outside [0, 1) is held inside */
	CHECK_INT(due_backoff_ms(1, 1000, 1000, -3.0), 500);
	CHECK(due_backoff_ms(1, 1000, 1000, 7.0) <= 1000);
	/* every draw lands in [d/2, d] */
	for (unsigned f = 1; f < 12; f++) {
		uint64_t lo = due_backoff_ms(f, 1000, 60000, 0.0);
		uint64_t hi = due_backoff_ms(f, 1000, 60000, 0.999999);
		CHECK(lo <= hi);
		CHECK(hi <= 2 * lo + 1);
	}
}

int main(void)
{
	struct err err = {0};
	if (tz_load("UTC", &UTC, &err) < 0 || tz_load("Europe/Berlin", &BERLIN, &err) < 0) {
		fprintf(stderr, "test_due: %s\n", err.msg);
		printf("FAIL test_due_setup\n");
		return 1;
	}
	RUN(never_run_is_due_for_the_latest_slot);
	RUN(after_a_slot_waits_for_the_next);
	RUN(late_job_runs_once_for_the_latest_slot);
	RUN(backoff_wins_over_the_schedule);
	RUN(idle_never_fires);
	RUN(every_keeps_its_rhythm);
	RUN(slot_from_a_clock_ahead_is_not_run_again);
	RUN(sparse_schedules);
	RUN(dst_gap_slot_is_the_change);
	RUN(backoff_doubles_caps_and_jitters);
	tz_free(&UTC);
	tz_free(&BERLIN);
	return test_summary();
}
