/*
 * What the bench tools share: clocks and reading a whole file. Tools only
 * in tests/bench, never linked into mail2ticket.
 */
#ifndef M2T_BENCH_UTIL_H
#define M2T_BENCH_UTIL_H

#include <stdio.h>
#include <time.h>

#include "engine/util/buf.h"

/* Wall-clock seconds (monotonic). */
static inline double bench_wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this thread: "per core" figures that other work on a
 * shared machine does not distort (wall time counts the time we were not
 * running). */
static inline double bench_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole file (at most 64 MB), malloc'd; NULL when it cannot be opened. */
static inline char *bench_read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b;
	buf_init(&b, (size_t)64 << 20);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_detach(&b, len_r);
}

#endif
