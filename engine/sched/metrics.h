/*
 * The daemon's metrics registry and its Prometheus text rendering, plus the
 * health verdict behind /healthz. Updated by the scheduler (main thread),
 * read by the HTTP thread: every call takes the registry's mutex. Knows
 * nothing of HTTP (engine/http serves it).
 *
 * Metrics (all prefixed mail2ticket_; job="name"):
 *   messages_total{job,outcome}          ticket, appended, ignored, badmail,
 *                                        already_done: counted when a run ends
 *   runs_total{job,status}               ok, failed, stopped
 *   run_duration_seconds{job}            histogram of run wall times
 *   last_success_timestamp_seconds{job}  0 when unknown
 *   job_failures_in_row{job}, job_disabled{job}, job_running{job},
 *   lease_held{job}                      1 when this daemon holds the lease
 *   jobs, config_reloads_total{result}, database_up,
 *   daemon_info{daemon_id,host,version}, start_time_seconds
 * The worker pool (isolation: a stalled server must show, and must not
 * delay the others):
 *   workers                              worker threads now
 *   workers_min, workers_max             --workers, --max-workers
 *   workers_busy                         threads running a task
 *   workers_waiting_network              of those, in one wait on a server
 *                                        longer than the grace (200 ms)
 *   workers_started_total                threads started beyond --workers
 *   tasks_queued                         due tasks no worker took yet
 *   tasks_queued_oldest_seconds          how long the oldest one has waited
 *   jobs_held_account_limit              due jobs waiting for their account's
 *                                        max_concurrent_runs
 *   task_wait_seconds                    histogram: handed to the pool until
 *                                        a worker took it
 */
#ifndef M2T_SCHED_METRICS_H
#define M2T_SCHED_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "engine/util/buf.h"
#include "storage/store.h"

struct metrics;

struct metrics *metrics_new(const char *daemon_id, const char *host, const char *version,
			    unsigned workers);
void metrics_free(struct metrics **m);

/* The jobs that exist now; counters of names kept are kept. */
void metrics_set_jobs(struct metrics *m, const char *const *names, size_t n);
/* A run ended: status "ok", "failed" or "stopped". */
void metrics_run_done(struct metrics *m, const char *job, const struct run_counts *c,
		      double seconds, const char *status, time_t now);
/* What the scheduler knows of a job. last_success 0: unknown (kept as it was). */
void metrics_job_state(struct metrics *m, const char *job, unsigned failures, bool disabled,
		       bool running, time_t last_success);
void metrics_lease_held(struct metrics *m, const char *job, bool held);
/* Rows the keeper reads per heartbeat for the OAuth2 gauges. */
#define METRICS_OAUTH_MAX 256
/* The OAuth2 token state of every account with a token row (copied). */
void metrics_oauth(struct metrics *m, const struct store_oauth_state *v, size_t n);
/* What the worker pool looks like now (the scheduler, every pass). */
struct metrics_pool {
	unsigned workers, min, max, busy, waiting;
	size_t queued, held;
	double oldest_s;
};
/* started: threads started beyond --workers since the last call. */
void metrics_pool(struct metrics *m, const struct metrics_pool *p, unsigned started);
/* A worker took a task that waited this long in the queue (any thread). */
void metrics_task_wait(struct metrics *m, double seconds);
void metrics_reload(struct metrics *m, bool ok);
/* The scheduler loop went round at `now` (the health check wants it recent). */
void metrics_loop(struct metrics *m, time_t now);
/* The lease keeper reached the database (ok) or not, at now. */
void metrics_database(struct metrics *m, bool ok, time_t now);

/* Prometheus text exposition format 0.0.4. -1 when out went over its cap. */
int metrics_render(struct metrics *m, struct buf *out);
/*
 * /healthz: 200 with "ok" when the scheduler loop went round in the last
 * stale_s seconds and the database was reachable within the last stale_s;
 * else 503 with the reason.
 */
int metrics_health(struct metrics *m, time_t now, time_t stale_s, struct buf *out);

#endif
