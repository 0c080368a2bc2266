/*
 * Wait marks: a thread says when it waits on another machine (a mail
 * server, a proxy, a token endpoint, DNS), so that whoever hands it work
 * can tell a thread that waits from one that works. The daemon's worker
 * pool (engine/sched/daemon_worker.c) uses it to start another worker when
 * its workers all wait on stalled servers, instead of leaving due work
 * queued behind them.
 *
 * A thread binds one slot it does not own (the caller keeps it alive
 * while bound). Marks store the monotonic start of the outermost wait in
 * the bound slot and clear it to 0 when that wait ends; nested marks (a
 * TLS handshake's reads inside a connect) keep the outer start. A thread
 * without a slot pays one thread-local load per mark. Any thread may read
 * a slot (atomic_load).
 *
 * Database waits are not marked on purpose: they are every run's shared
 * bottleneck, and more threads would only add to it.
 */
#ifndef M2T_UTIL_WAITMARK_H
#define M2T_UTIL_WAITMARK_H

#include <stdatomic.h>
#include <stdint.h>

/* The calling thread's slot from now on; NULL unbinds. Resets the nesting. */
void waitmark_bind(atomic_uint_least64_t *slot);
/* A wait on the network begins / ends (pairs; they nest). */
void waitmark_begin(void);
void waitmark_end(void);
/* The clock the marks use: CLOCK_MONOTONIC in milliseconds, never 0. */
uint64_t waitmark_now_ms(void);

#endif
