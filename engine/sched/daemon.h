/*
 * The daemon: runs the configured jobs at their schedules on a pool of
 * worker threads, any number of daemons sharing one database (a job is owned
 * through a lease row, migrations/0005_leases.sql), until SIGTERM or SIGINT.
 *
 * Isolation: `workers` tasks do work at once; a worker waiting on a stalled
 * server does not count, and another is started (up to `max_workers`
 * threads, each with its own PostgreSQL connection) while due tasks queue,
 * so one account's stalled server never delays another account. An
 * account's jobs have at most its max_concurrent_runs tasks out at once.
 *
 *   SIGTERM, SIGINT  stop: no new runs; each running job finishes the message
 *                    in hand, commits, moves what was committed, releases its
 *                    lease; then the process exits 0.
 *   SIGHUP           reload the configuration file; when it has errors they
 *                    are logged (file:line:column) and the old one stays.
 *                    Jobs added run by their schedule, removed ones stop at
 *                    the next message, changed ones take the change at their
 *                    next run; a job disabled by a fatal error is enabled again.
 *
 * Failures (error classes, err.h): transient and source failures are retried
 * with exponential backoff (capped, jittered), logged with the reason;
 * fatal ones disable the job until a reload. One job's failure never stops
 * another.
 *
 * Test and tuning knobs from the environment (durations like "30s", "500ms"):
 *   M2T_LEASE_TTL   lease time to live (default 30s; heartbeat every third)
 *   M2T_RETRY_MIN   backoff after the first failure (default 30s)
 *   M2T_RETRY_MAX   longest backoff (default 15m)
 *   M2T_IDLE_REISSUE  IDLE ended and sent again after (default 29m)
 *   M2T_IDLE_POLL     NOOP interval for servers without IDLE (default 60s)
 *   M2T_IDLE_ANSWER   an IDLE, DONE or NOOP unanswered this long is a
 *                     stalled connection (default 30s)
 *   M2T_IDLE_BACKOFF_MAX  longest wait before reconnecting (default 5m;
 *                     from 1 s, doubling, jittered)
 *   M2T_WORKER_GRACE  a worker in one network wait this long no longer
 *                     counts as doing work (default 200ms)
 *   M2T_WORKER_LINGER an extra worker idle this long exits (default 60s)
 *
 * Push (schedule: idle, IMAP only; daemon_idle.c): the job's lease is
 * claimed and kept while this daemon idles on it; at the claim and after
 * every reconnect the job runs once (mail that came while nobody idled);
 * each EXISTS with new mail hands a run to a worker; SIGTERM ends every
 * IDLE (DONE, LOGOUT) and gives the leases back; SIGHUP starts and ends
 * idling as the new configuration says.
 */
#ifndef M2T_SCHED_DAEMON_H
#define M2T_SCHED_DAEMON_H

#include <stdbool.h>

#include "engine/config/config.h"
#include "engine/util/err.h"

#define DAEMON_WORKERS_DEFAULT 4
/* Two daemons at the default, with their lease keepers (2 x 33), stay under
 * PostgreSQL's default max_connections of 100. */
#define DAEMON_MAX_WORKERS_DEFAULT 32
#define DAEMON_WORKERS_MAX 256

struct daemon_opts {
	const char *config_path;   /* reloaded from here on SIGHUP */
	/* 1..DAEMON_WORKERS_MAX, 0: from the configuration (workers:,
	 * max_workers:) else the defaults; a max below workers is raised to it */
	unsigned workers;
	unsigned max_workers;
	bool once;                 /* run what is due once, then exit */
	bool all;                  /* with once: every job, due or not */
	bool log_level_from_cli;   /* a reload keeps the command line's level */
	const char *version;       /* shown in the metrics */
};

/*
 * Runs until stopped (or, with once, until the due jobs ran). Takes cfg
 * (loaded, schema checked by the caller; freed here). 0 when it ran and
 * stopped as asked; *worst_r is the class of the worst failure of a run
 * (ERR_NONE when every run succeeded) — what --once's exit code reports.
 * -1 with err when it cannot start (threads, signals, metrics_listen).
 */
int daemon_run(const struct daemon_opts *o, struct config *cfg, enum err_class *worst_r,
	       struct err *err);

#endif
