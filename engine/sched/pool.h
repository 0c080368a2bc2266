/*
 * When the daemon's worker pool grows: a pure function of what the pool
 * looks like now, so that the rule is tested on its own (tests/unit/
 * test_pool.c). The pool itself is daemon_worker.c.
 *
 * The rule: `min` (--workers) is how many tasks run *doing work* at once —
 * using this machine's CPU and the database. A worker that has been
 * waiting on a mail server (or a proxy, a token endpoint, DNS) for longer
 * than a short grace does not count as doing work; while tasks are queued
 * that no idle worker will take, and fewer than `min` workers do work,
 * another worker is started, up to `max` (--max-workers). So a stalled
 * server costs threads (cheap), never the capacity of the accounts that
 * answer; and a long queue of healthy work does not grow the pool.
 */
#ifndef M2T_SCHED_POOL_H
#define M2T_SCHED_POOL_H

#include <stddef.h>

struct pool_view {
	unsigned threads;    /* workers alive */
	unsigned idle;       /* of those, waiting for a task */
	unsigned waiting;    /* of those, busy and waiting on a server past the grace */
	unsigned min, max;   /* --workers, --max-workers (max >= min >= 1) */
	size_t queued;       /* tasks handed to the pool that no worker took yet */
};

/* How many workers to start now (0 when none). Also tops the pool up to min. */
unsigned pool_grow(const struct pool_view *v);

#endif
