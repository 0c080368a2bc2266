/*
 * sched_bench — what a schedule costs the daemon: nanoseconds per
 * cron_next() for typical expressions in UTC and in a zone with daylight
 * time (both before 2037, from the zone file's table, and after, from its
 * POSIX rule), per tz_offset(), and per zone load.
 *
 *   sched_bench [ZONE]      (default Europe/Berlin)
 *
 * Prints a table: one row per expression, nanoseconds per call in UTC, in
 * the zone, and in the zone after 2040 (where its POSIX rule decides).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/sched/cron.h"
#include "engine/sched/tz.h"
#include "tests/bench/bench_util.h"

/* Follows the schedule for n fires from start; ns per cron_next(). */
static double per_next(const struct cron *c, const struct tz *tz, time_t start, int n)
{
	time_t t = start;
	double t0 = bench_wall_s();
	int i;
	for (i = 0; i < n && cron_next(c, tz, t, &t) == 0; i++)
		;
	return (bench_wall_s() - t0) * 1e9 / (i ? i : 1);
}

int main(int argc, char **argv)
{
	static const char *const exprs[] = {
		"*/5 * * * *", "0 * * * *", "30 2 * * *", "0 9 * * mon-fri", "0 0 1 * *",
		"0 0 29 2 *", "@every 90s",
	};
	const char *zone = argc > 1 ? argv[1] : "Europe/Berlin";
	struct tz *utc = NULL, *tz = NULL;
	struct err err;
	if (tz_load("UTC", &utc, &err) < 0 || tz_load(zone, &tz, &err) < 0) {
		fprintf(stderr, "sched_bench: %s\n", err.msg);
		return 1;
	}
	printf("%-18s %10s %14s %12s\n", "cron_next, ns", "UTC", zone, "after 2040");
	for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
		struct cron *c = NULL;
		if (cron_parse(exprs[e], &c, NULL, &err) < 0) {
			fprintf(stderr, "sched_bench: %s\n", err.msg);
			return 1;
		}
		/* fewer rounds for the rare ones: each round is years of calendar */
		int n = exprs[e][0] == '0' && exprs[e][2] == '0' ? 2000 : 100000;
		printf("%-18s %10.0f %14.0f %12.0f\n", exprs[e], per_next(c, utc, 1767225600, n),
		       per_next(c, tz, 1767225600, n), per_next(c, tz, 2208988800, n));
		cron_free(&c);
	}
	long sum = 0;   /* printed, so the lookups cannot be left out */
	double t0 = bench_wall_s();
	for (time_t t = 1767225600; t < 1767225600 + 1000000 * 600L; t += 600)
		sum += tz_offset(tz, t);
	double before2040 = (bench_wall_s() - t0) * 1e9 / 1000000;
	t0 = bench_wall_s();
	for (time_t t = 2208988800; t < 2208988800 + 1000000 * 600L; t += 600)
		sum += tz_offset(tz, t);
	printf("%-18s %10s %14.0f %12.0f  (offsets summed: %ld)\n", "tz_offset, ns", "",
	       before2040, (bench_wall_s() - t0) * 1e9 / 1000000, sum);
	t0 = bench_wall_s();
	for (int i = 0; i < 2000; i++) {
		struct tz *z = NULL;
		if (tz_load(zone, &z, &err) == 0)
			tz_free(&z);
	}
	printf("%-18s %10s %14.0f\n", "tz_load, ns", "", (bench_wall_s() - t0) * 1e9 / 2000);
	tz_free(&tz);
	tz_free(&utc);
	return 0;
}
