/*
 * The worker pool: a fixed number of threads, each with its own PostgreSQL
 * connection (libpq connections are not shared between threads), taking
 * tasks from one queue. A task is: claim the job's lease for its slot, run
 * the job, release the lease with the run's outcome and backoff, post the
 * result to the scheduler. Claiming in the worker keeps the scheduler
 * thread free of database waits.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine/sched/daemon_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

char *daemon_db_url(struct daemon *d, unsigned *gen_r)
{
	pthread_mutex_lock(&d->lock);
	char *url = xstrdup(d->db_url);
	*gen_r = d->db_gen;
	pthread_mutex_unlock(&d->lock);
	return url;
}

void workers_push(struct daemon *d, const struct dtask *t)
{
	pthread_mutex_lock(&d->lock);
	if (d->qlen == d->qcap) {
		/* grow, unrolling the ring so it starts at 0 */
		size_t cap = d->qcap ? d->qcap * 2 : 64;
		struct dtask *q = xcalloc(cap, sizeof(*q));
		for (size_t i = 0; i < d->qlen; i++)
			q[i] = d->queue[(d->qhead + i) % d->qcap];
		free(d->queue);
		d->queue = q;
		d->qcap = cap;
		d->qhead = 0;
	}
	d->queue[(d->qhead + d->qlen) % d->qcap] = *t;
	d->qlen++;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* Blocks for a task; false when the pool is stopping and nothing is left. */
static bool queue_pop(struct daemon *d, struct dtask *t)
{
	pthread_mutex_lock(&d->lock);
	while (d->qlen == 0 && !d->quit)
		pthread_cond_wait(&d->cond, &d->lock);
	bool got = d->qlen > 0;
	if (got) {
		*t = d->queue[d->qhead];
		d->qhead = (d->qhead + 1) % d->qcap;
		d->qlen--;
	}
	pthread_mutex_unlock(&d->lock);
	return got;
}

static void post_result(struct daemon *d, const struct dresult *r)
{
	pthread_mutex_lock(&d->rlock);
	if (d->nresults == d->rcap) {
		d->rcap = d->rcap ? d->rcap * 2 : 64;
		d->results = xreallocarray(d->results, d->rcap, sizeof(*d->results));
	}
	d->results[d->nresults++] = *r;
	pthread_mutex_unlock(&d->rlock);
	uint64_t one = 1;
	(void)!write(d->evfd, &one, sizeof(one));
}

void results_take(struct daemon *d, struct dresult **v_r, size_t *n_r)
{
	pthread_mutex_lock(&d->rlock);
	*v_r = d->results;
	*n_r = d->nresults;
	d->results = NULL;
	d->nresults = 0;
	d->rcap = 0;
	pthread_mutex_unlock(&d->rlock);
}

/* The worker's connection, (re)opened when missing or when a reload changed the URL. */
static int worker_store(struct daemon *d, struct store **store, unsigned *gen, struct err *err)
{
	unsigned g;
	char *url = daemon_db_url(d, &g);
	int rc = 0;
	if (!*store || g != *gen) {
		store_free(store);
		rc = store_open(url, store, err);
		if (rc == 0)
			*gen = g;
	}
	free(url);
	return rc;
}

static int claim(struct daemon *d, struct store **store, unsigned *gen, const struct dtask *t,
		 bool *won, struct store_lease *lease, struct err *err)
{
	struct store_run_context who = { d->host, d->pid, d->id, (int64_t)t->slot };
	for (int attempt = 0; attempt < 2; attempt++) {
		if (worker_store(d, store, gen, err) == 0 &&
		    store_lease_claim(*store, t->job->name, (int64_t)t->slot, t->force, &who,
				      d->ttl_ms, won, lease, err) == 0)
			return 0;
		if (err->cls != ERR_TRANSIENT)
			return -1;
		/* a connection lost while idle (database restart): reconnect once */
		store_free(store);
	}
	return -1;
}

/* Frees the lease and records how the run ended, with the backoff to wait. */
static void release(struct daemon *d, struct store *store, struct dresult *r)
{
	struct djob *j = r->task.job;
	struct store_lease_end end = { .run_id = r->res.run_id, .retry_ms = -1 };
	if (r->rc < 0 && r->lease_lost) {
		/* the lease is another daemon's: only the run's row is completed */
		r->failures = r->lease.failures;
		end.status = "failed";
		end.error_class = err_class_name(r->err.cls);
		end.error = r->err.msg;
	} else if (r->rc < 0) {
		r->failures = r->lease.failures + 1;
		end.status = "failed";
		end.error_class = err_class_name(r->err.cls);
		end.error = r->err.msg;
		/* fatal: this daemon disables the job until a reload, which then
		 * runs it at once; another daemon finds out for itself */
		end.retry_ms = r->err.cls == ERR_FATAL
			? 0
			: (int64_t)due_backoff_ms(r->failures, d->retry_min_ms, d->retry_max_ms,
						  (double)arc4random() / 4294967296.0);
	} else if (r->res.stopped) {
		/* what is left is due at once, for whichever daemon comes first */
		r->failures = r->lease.failures;
		end.status = "stopped";
		end.retry_ms = 0;
		end.error = r->lease_lost ? "stopped: the lease was lost (another daemon took the job over)"
					  : "stopped: the daemon is stopping or the job was removed";
	} else {
		r->failures = 0;
		end.status = "ok";
	}
	r->retry_ms = end.retry_ms;
	unsigned failures;
	bool held;
	struct err err = {0};
	if (store_lease_release(store, j->name, d->id, &end, &failures, &held, &err) < 0) {
		/* the lease runs out by itself; until then only this daemon may claim it */
		log_warn("lease.release_failed", "error=\"%s\"", err.msg);
		return;
	}
	r->released = true;
	if (held)
		r->failures = failures;
}

static void run_task(struct daemon *d, struct store **store, unsigned *gen, struct dresult *r)
{
	const struct dtask *t = &r->task;
	struct djob *j = t->job;
	bool won = false;

	log_ctx_set(j->name, t->cfg->account->name);
	if (claim(d, store, gen, t, &won, &r->lease, &r->err) < 0) {
		r->kind = DRESULT_ERROR;
		goto out;
	}
	if (!won) {
		r->kind = DRESULT_LOST;
		goto out;
	}
	r->kind = DRESULT_RAN;
	log_debug("job.claimed", "slot=%" PRId64 " failures=%u", (int64_t)t->slot, r->lease.failures);
	keeper_add(d->keeper, j);
	metrics_lease_held(d->metrics, j->name, true);
	struct store_run_context who = { d->host, d->pid, d->id, (int64_t)t->slot };
	store_run_context_set(*store, &who);
	struct job_run_ctl ctl = { .stop = &j->stop };
	r->rc = job_run_ctl(t->cfg, *store, &ctl, &r->res, &r->err);
	/* first out of the heartbeat: it must not renew (or miss) a lease being freed */
	keeper_remove(d->keeper, j);
	r->lease_lost = atomic_load(&j->lease_lost);
	log_ctx_set(j->name, t->cfg->account->name);
	release(d, *store, r);
	metrics_lease_held(d->metrics, j->name, false);
out:
	log_ctx_set(NULL, NULL);
}

/*
 * Push jobs keep their lease between runs (daemon_idle.c): opening claims
 * it (unless held), opens the IDLE connection first and runs after, so
 * that mail arriving during the run is reported on the connection; later
 * runs happen under the held lease; the lease goes back only when the job
 * stops idling here.
 */
static void run_idle_task(struct daemon *d, struct store **store, unsigned *gen,
			  struct dresult *r)
{
	const struct dtask *t = &r->task;
	struct djob *j = t->job;
	log_ctx_set(j->name, t->cfg->account->name);
	if (t->kind == TASK_IDLE_RELEASE) {
		r->kind = DRESULT_RAN;
		keeper_remove(d->keeper, j);
		r->res.stopped = true;   /* due at once for whichever daemon comes next */
		r->lease_lost = atomic_load(&j->lease_lost);
		if (worker_store(d, store, gen, &r->err) == 0)
			release(d, *store, r);
		metrics_lease_held(d->metrics, j->name, false);
		goto out;
	}
	if (t->kind == TASK_IDLE_OPEN && t->claim) {
		bool won = false;
		if (claim(d, store, gen, t, &won, &r->lease, &r->err) < 0) {
			r->kind = DRESULT_ERROR;
			goto out;
		}
		if (!won) {
			r->kind = DRESULT_LOST;
			goto out;
		}
		keeper_add(d->keeper, j);
		metrics_lease_held(d->metrics, j->name, true);
	}
	r->kind = DRESULT_RAN;
	if (t->kind == TASK_IDLE_OPEN && idle_connect(d, t->cfg, &r->idle, &r->idle_err) < 0) {
		r->idle_failed = true;
		goto out;
	}
	if (worker_store(d, store, gen, &r->err) < 0) {
		r->rc = -1;
		goto out;
	}
	struct store_run_context who = { d->host, d->pid, d->id, (int64_t)t->slot };
	store_run_context_set(*store, &who);
	struct job_run_ctl ctl = { .stop = &j->stop };
	r->rc = job_run_ctl(t->cfg, *store, &ctl, &r->res, &r->err);
out:
	log_ctx_set(NULL, NULL);
}

static void *worker_main(void *arg)
{
	struct daemon *d = arg;
	struct store *store = NULL;
	unsigned gen = UINT_MAX;
	struct dtask t;
	while (queue_pop(d, &t)) {
		struct dresult *r = xcalloc(1, sizeof(*r));
		r->task = t;
		r->retry_ms = -1;
		if (t.kind == TASK_RUN)
			run_task(d, &store, &gen, r);
		else
			run_idle_task(d, &store, &gen, r);
		post_result(d, r);
		free(r);
	}
	store_free(&store);
	return NULL;
}

int workers_start(struct daemon *d, struct err *err)
{
	d->threads = xcalloc(d->opts.workers, sizeof(*d->threads));
	for (unsigned i = 0; i < d->opts.workers; i++) {
		int rc = pthread_create(&d->threads[i], NULL, worker_main, d);
		if (rc != 0) {
			workers_stop(d);
			return err_set(err, ERR_FATAL, "cannot start worker thread: %s", strerror(rc));
		}
		d->nthreads++;
	}
	return 0;
}

void workers_stop(struct daemon *d)
{
	pthread_mutex_lock(&d->lock);
	d->quit = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < d->nthreads; i++)
		pthread_join(d->threads[i], NULL);
	d->nthreads = 0;
	free(d->threads);
	d->threads = NULL;
}
