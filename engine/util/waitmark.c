/*
 * Wait marks (waitmark.h). Thread-local state only: the bound slot and how
 * deep the current marks nest. The slot holds 0 or a start time; the clock
 * is offset by one so that a start is never 0.
 */
#include "engine/util/waitmark.h"

#include <stddef.h>
#include <time.h>

static _Thread_local atomic_uint_least64_t *bound;
static _Thread_local unsigned depth;

void waitmark_bind(atomic_uint_least64_t *slot)
{
	bound = slot;
	depth = 0;
	if (slot)
		atomic_store(slot, 0);
}

uint64_t waitmark_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + 1;
}

void waitmark_begin(void)
{
	if (!bound)
		return;
	if (depth++ == 0)
		atomic_store(bound, waitmark_now_ms());
}

void waitmark_end(void)
{
	if (!bound || depth == 0)
		return;
	if (--depth == 0)
		atomic_store(bound, 0);
}
