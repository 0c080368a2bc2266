/*
 * The daemon's parts, shared by daemon.c (the scheduler loop, signals,
 * reload), daemon_jobs.c (the job table and the accounts' shares),
 * daemon_push.c (push jobs in the scheduler), daemon_idle.c (the IDLE
 * event loop), daemon_worker.c (the worker pool) and daemon_keeper.c
 * (lease heartbeats); not for use elsewhere.
 *
 * Threads and who owns what:
 *   main thread   the scheduler: owns the job table, the configurations and
 *                 their reference counts, decides what is due, hands tasks
 *                 to the workers and reads their results. It never waits on
 *                 the network or the database, so signals are served at once.
 *   workers       an elastic pool (pool.h): --workers of them do work; one
 *                 waiting on a stalled server does not count, and another is
 *                 started (up to --max-workers) while tasks queue; extra ones
 *                 exit when idle for a while. One PostgreSQL connection each,
 *                 opened at the first task: claim the lease, run the job,
 *                 release the lease, post the result.
 *   keeper        one PostgreSQL connection: renews the leases of running
 *                 jobs; a lease found lost sets the job's stop flag.
 *   HTTP          libmicrohttpd's own thread: renders the metrics registry.
 *   idler         push (schedule: idle): one thread waiting in epoll on every
 *                 IMAP IDLE connection (daemon_idle.c); it never blocks on
 *                 one, and reports "mail arrived" or "connection lost" to
 *                 the scheduler, which hands the run to a worker.
 * A djob is shared with a worker through its task only while `running`; the
 * worker touches nothing of it but the atomics (and reads its name).
 *
 * Accounts: at most max_concurrent_runs tasks of one account's jobs are
 * handed out at once (runs, and IDLE connects); a job whose account has
 * none to spare is `held` and waits for one of them to end. So a dead
 * server occupies that many workers at most, and a server's per-user
 * connection limit is not exceeded by runs.
 */
#ifndef M2T_SCHED_DAEMON_INT_H
#define M2T_SCHED_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "engine/config/config.h"
#include "engine/fetch/imap_idle.h"
#include "engine/job/job_run.h"
#include "engine/sched/daemon.h"
#include "engine/sched/due.h"
#include "engine/sched/metrics.h"
#include "storage/store.h"

struct http_server;  /* engine/http/http_server.h */

/* An account's share of the pool, by name; kept until the daemon exits
 * (a task gives back to the entry it took from, whatever a reload did). */
struct dacct {
	char *name;
	unsigned inflight;        /* main thread: tasks of its jobs handed out */
};

/* One loaded configuration, kept while a run still uses one of its jobs. */
struct dconf {
	struct config *cfg;
	unsigned refs;            /* main thread only: the daemon's + one per task */
};

struct djob {
	char *name;
	const struct config_job *cfg;   /* in conf; updated by a reload */
	struct dconf *conf;
	bool removed;             /* gone from the configuration: freed when its run ends */
	bool running;             /* handed to a worker, result not read yet */
	bool disabled;            /* a fatal error: not run again until a reload */
	bool known;               /* `due` was read from the database (a claim) */
	bool once_done;           /* --once: dispatched (or found not due) */
	bool held;                /* due, but its account has no run to spare */
	struct dacct *acct;       /* its account's share (follows a reload) */
	struct due_state due;
	time_t next;              /* look at it again then; 0: at the next pass */
	unsigned failures;        /* in a row */
	atomic_bool stop;         /* read by the run between messages */
	atomic_bool lease_lost;   /* set by the keeper along with stop */
	/* push (schedule: idle), main thread only */
	bool lease_held;          /* this daemon holds the lease between runs */
	uint64_t idle_id;         /* its connection in the idler; 0: none */
	bool mail_pending;        /* mail arrived (or a run failed): run again */
	unsigned idle_fails;      /* connections lost or refused in a row */
};

enum dtask_kind {
	TASK_RUN,                 /* claim for the slot, run, release */
	TASK_IDLE_OPEN,           /* (claim,) open the IDLE connection, run; the lease stays */
	TASK_IDLE_RUN,            /* run under the lease already held */
	TASK_IDLE_RELEASE,        /* give the held lease back */
};

/* A job handed to a worker. */
struct dtask {
	struct djob *job;
	const struct config_job *cfg;
	struct dconf *conf;       /* a reference, given back with the result */
	time_t slot;
	bool force;               /* --once --all: whatever the slot and backoff */
	enum dtask_kind kind;
	bool claim;               /* TASK_IDLE_OPEN: the lease is not held yet */
	struct dacct *acct;       /* the share taken, given back with the result; NULL: none */
	uint64_t queued_ms;       /* when it was handed to the pool (waitmark clock) */
};

enum dresult_kind {
	DRESULT_LOST,             /* the claim was refused: lease says why */
	DRESULT_RAN,              /* claimed and run (ok or not) */
	DRESULT_ERROR,            /* no claim: the database failed */
};

struct dresult {
	struct dtask task;
	enum dresult_kind kind;
	struct store_lease lease; /* the lease row at the claim */
	int rc;                   /* of job_run */
	struct err err;
	struct job_run_result res;
	unsigned failures;        /* in a row, after this run */
	int64_t retry_ms;         /* backoff set; -1: none */
	bool lease_lost;
	bool released;            /* the release reached the database */
	struct imap_idle *idle;   /* TASK_IDLE_OPEN: the connection, handed to the idler */
	bool idle_failed;         /* TASK_IDLE_OPEN: it could not be opened (idle_err) */
	struct err idle_err;
};

/* From the idler to the scheduler. */
struct idle_event {
	uint64_t id;              /* djob.idle_id */
	bool mail;                /* new mail; else the connection is over (err) */
	struct err err;
};

/* One worker thread's place in the pool. */
enum wslot_state { WSLOT_FREE, WSLOT_RUNNING, WSLOT_EXITED };
struct wslot {
	struct daemon *d;
	pthread_t thread;
	enum wslot_state state;   /* under d->lock; EXITED: joined and freed by the main thread */
	bool busy;                /* under d->lock: has a task */
	const char *job;          /* under d->lock: the task's job name while busy */
	atomic_uint_least64_t wait_since;  /* waitmark.h: when its network wait began; 0: none */
};

struct daemon {
	struct daemon_opts opts;
	char host[256];
	int pid;
	char id[24];              /* random per process: the lease holder key */
	uint64_t ttl_ms;          /* lease time to live */
	uint64_t retry_min_ms;    /* backoff after the first failure */
	uint64_t retry_max_ms;

	struct dconf *conf;       /* the current configuration */
	struct djob **jobs;
	size_t njobs;
	size_t running;           /* jobs handed out, results not read */
	bool stopping;
	enum err_class worst;     /* --once: the worst failure, for the exit code */

	/* the task queue (workers wait on it) and the pool */
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* CLOCK_MONOTONIC: idle extra workers time out */
	struct dtask *queue;
	size_t qhead, qlen, qcap;
	bool quit;                /* workers exit once the queue is empty */
	char *db_url;             /* guarded by lock; a reload may change it */
	unsigned db_gen;          /* bumped with db_url */
	uint64_t runs_keep_s;     /* guarded by lock: database.job_runs_retention */
	uint64_t prune_every_ms;  /* how often the keeper prunes job_runs */

	/* results back to the main thread */
	pthread_mutex_t rlock;
	struct dresult *results;
	size_t nresults, rcap;
	int evfd;                 /* eventfd: a result is waiting */
	struct idle_event *ievents;   /* under rlock, like results */
	size_t nievents, icap;
	struct idler *idler;
	struct imap_idle_opts idle_opts;
	uint64_t idle_backoff_max_ms;

	struct wslot *slots;      /* DAEMON_WORKERS_MAX; NULL until workers_start */
	unsigned nthreads;        /* under lock: workers alive */
	unsigned nidle;           /* under lock: of those, waiting for a task */
	unsigned min_workers;     /* under lock: --workers (doing work at once) */
	unsigned max_workers;     /* under lock: --max-workers (threads at most) */
	uint64_t grace_ms;        /* a network wait longer than this is "waiting" */
	uint64_t linger_ms;       /* an extra worker idle this long exits */
	bool pool_full;           /* main thread: "at max_workers" logged */
	size_t nheld;             /* main thread: jobs held by their account's limit */
	struct dacct **accts;     /* main thread */
	size_t naccts;
	struct keeper *keeper;
	struct metrics *metrics;
	struct http_server *http; /* main thread: /metrics and /healthz, or NULL */
	char *http_listen;        /* the metrics_listen it serves (NULL: none) */
};

/* daemon_jobs.c */
/* Builds the table from d->conf (at start). */
void djobs_init(struct daemon *d);
/* Takes a newly loaded configuration: jobs kept keep their state, new ones
 * start unknown, removed ones stop (when running) or go. */
void djobs_apply(struct daemon *d, struct dconf *next);
/* Frees the entries that are removed and not running. */
void djobs_sweep(struct daemon *d);
void djobs_free(struct daemon *d);
void dconf_unref(struct daemon *d, struct dconf **c);
/* Tells the metrics which jobs exist and their state. */
void djobs_publish(struct daemon *d);
/* The share of the account called name (created at first use). */
struct dacct *dacct_get(struct daemon *d, const char *name);
void daccts_free(struct daemon *d);
/* Whether j's account has a run to spare; false marks j held. */
bool dacct_turn(struct djob *j);
/* t (a task of j) takes one of its account's runs; dacct_give gives it back. */
void dacct_take(struct djob *j, struct dtask *t);
void dacct_give(struct dtask *t);
/* event=job.retry with the delay, failures in a row, class and reason (cleaned). */
void djob_log_retry(const struct djob *j, int64_t retry_ms, enum err_class cls, const char *why);

static inline bool djob_is_idle(const struct djob *j)
{
	return cron_kind(j->cfg->cron) == CRON_IDLE;
}

/* The worst failure class seen (--once reports it as its exit code). */
static inline void daemon_note_failure(struct daemon *d, enum err_class cls)
{
	if (cls > d->worst)
		d->worst = cls;
}

/* daemon_push.c: push (schedule: idle) in the scheduler, main thread only */
/* Hands j's next push task to the workers when it has one due. */
void push_dispatch(struct daemon *d, struct djob *j, time_t now);
/* Stops idling on j: the connection ends (DONE, LOGOUT) and the lease goes back. */
void push_end(struct daemon *d, struct djob *j, const char *why, time_t now);
/* A push task's result. */
void push_result(struct daemon *d, struct djob *j, struct dresult *r, time_t now);
/* The idler's events: new mail, or a connection over (reconnect after a backoff). */
void push_events(struct daemon *d, time_t now);

/* daemon_worker.c */
/* Starts min_workers threads (more come with workers_balance). */
int workers_start(struct daemon *d, struct err *err);
void workers_push(struct daemon *d, struct dtask *t);
/*
 * Main thread, every pass: joins the workers that exited, starts more when
 * pool.h says so, publishes the pool's gauges. Returns in how many ms it
 * wants to look again (tasks are queued), or -1 (nothing to watch).
 */
int workers_balance(struct daemon *d);
/* Asks the workers to exit once the queue is empty, and joins them. */
void workers_stop(struct daemon *d);
/* Moves the posted results out: *v_r is malloc'd (free it), *n_r entries. */
void results_take(struct daemon *d, struct dresult **v_r, size_t *n_r);
/* A database URL for a worker or the keeper: a copy (free it) and its generation. */
char *daemon_db_url(struct daemon *d, unsigned *gen_r);

/* daemon_idle.c */
struct idler;
int idler_start(struct daemon *d, struct idler **x_r, struct err *err);
/* Ends every connection left (DONE, LOGOUT) and joins the thread. */
void idler_stop(struct idler **x);
/* Main thread: takes idle over; the id its events carry (never 0). job is copied for logs. */
uint64_t idler_add(struct idler *x, const char *job, struct imap_idle *idle);
/* Main thread: ends that connection (DONE, LOGOUT); no event follows. */
void idler_remove(struct idler *x, uint64_t id);
/* Moves the posted events out: *v_r malloc'd, *n_r entries. */
void idle_events_take(struct daemon *d, struct idle_event **v_r, size_t *n_r);
/* Worker: the job's IDLE connection (connect, log in, EXAMINE its mailbox, IDLE). */
int idle_connect(struct daemon *d, const struct config_job *job, struct imap_idle **idle_r,
		 struct err *err);

/* daemon_keeper.c */
struct keeper;
int keeper_start(struct daemon *d, struct keeper **k_r, struct err *err);
void keeper_stop(struct keeper **k);
/* A running job to keep the lease of; its stop flags are set if it is lost. */
void keeper_add(struct keeper *k, struct djob *job);
void keeper_remove(struct keeper *k, struct djob *job);

#endif
