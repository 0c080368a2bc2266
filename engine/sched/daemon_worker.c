/*
 * The worker pool: threads taking tasks from one queue, each with its own
 * PostgreSQL connection (libpq connections are not shared between threads),
 * opened at its first task. A task is: claim the job's lease for its slot,
 * run the job, release the lease with the run's outcome and backoff, post
 * the result to the scheduler. Claiming in the worker keeps the scheduler
 * thread free of database waits.
 *
 * The pool is elastic (pool.h): a run or an IDLE connect waits on its mail
 * server, and a stalled server makes it wait for its whole timeout. Each
 * worker's network waits are marked (waitmark.h) in a slot the scheduler
 * reads; a worker waiting longer than the grace does not count as working,
 * and while tasks queue the scheduler starts another worker, up to
 * max_workers. A thread that waits costs a stack and a database
 * connection; a healthy account's run no longer waits behind it. Workers
 * beyond min_workers exit after lingering idle, closing their connection.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine/sched/daemon_int.h"
#include "engine/sched/pool.h"
#include "engine/util/log.h"
#include "engine/util/waitmark.h"
#include "engine/util/xalloc.h"

/* While tasks queue, the scheduler looks at the pool this often. */
#define POOL_TICK_MS 50
/* Jobs named in the log line of a pool that grew. */
#define POOL_LOG_JOBS 4

char *daemon_db_url(struct daemon *d, unsigned *gen_r)
{
	pthread_mutex_lock(&d->lock);
	char *url = xstrdup(d->db_url);
	*gen_r = d->db_gen;
	pthread_mutex_unlock(&d->lock);
	return url;
}

void workers_push(struct daemon *d, struct dtask *t)
{
	t->queued_ms = waitmark_now_ms();
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

/* Under d->lock: wait for the cond until now + ms (CLOCK_MONOTONIC). */
static int cond_wait_ms(struct daemon *d, uint64_t ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return pthread_cond_timedwait(&d->cond, &d->lock, &until);
}

/*
 * Blocks for a task; false when the worker is to exit: the pool is stopping
 * and nothing is left, or it is beyond min_workers and lingered idle.
 */
static bool queue_pop(struct daemon *d, struct wslot *w, struct dtask *t)
{
	bool got = false;
	pthread_mutex_lock(&d->lock);
	w->busy = false;
	w->job = NULL;
	d->nidle++;
	uint64_t idle_since = waitmark_now_ms();
	while (d->qlen == 0 && !d->quit) {
		if (d->nthreads <= d->min_workers) {
			pthread_cond_wait(&d->cond, &d->lock);
			continue;
		}
		uint64_t idle = waitmark_now_ms() - idle_since;
		if (idle >= d->linger_ms) {
			d->nthreads--;     /* now, so that no other idle worker also goes below min */
			d->nidle--;
			pthread_mutex_unlock(&d->lock);
			return false;
		}
		(void)cond_wait_ms(d, d->linger_ms - idle);
	}
	if (d->qlen > 0) {
		*t = d->queue[d->qhead];
		d->qhead = (d->qhead + 1) % d->qcap;
		d->qlen--;
		w->busy = true;
		w->job = t->job->name;
		got = true;
	} else {
		d->nthreads--;
	}
	d->nidle--;
	pthread_mutex_unlock(&d->lock);
	if (got)
		metrics_task_wait(d->metrics, (double)(waitmark_now_ms() - t->queued_ms) / 1000.0);
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
	struct wslot *w = arg;
	struct daemon *d = w->d;
	struct store *store = NULL;
	unsigned gen = UINT_MAX;
	struct dtask t;
	waitmark_bind(&w->wait_since);
	while (queue_pop(d, w, &t)) {
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
	waitmark_bind(NULL);
	/* an extra worker's connection goes with it (mind max_connections) */
	store_free(&store);
	pthread_mutex_lock(&d->lock);
	w->busy = false;
	w->job = NULL;
	w->state = WSLOT_EXITED;
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* Under d->lock: one more worker in a free slot. */
static int spawn(struct daemon *d, struct err *err)
{
	struct wslot *w = NULL;
	for (unsigned i = 0; i < DAEMON_WORKERS_MAX && !w; i++)
		if (d->slots[i].state == WSLOT_FREE)
			w = &d->slots[i];
	if (!w)
		return err_set(err, ERR_FATAL, "no free worker slot");
	w->d = d;
	w->busy = false;
	w->job = NULL;
	atomic_store(&w->wait_since, 0);
	int rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc != 0)
		return err_set(err, ERR_FATAL, "cannot start worker thread: %s", strerror(rc));
	w->state = WSLOT_RUNNING;
	d->nthreads++;
	return 0;
}

int workers_start(struct daemon *d, struct err *err)
{
	d->slots = xcalloc(DAEMON_WORKERS_MAX, sizeof(*d->slots));
	for (unsigned i = 0; i < DAEMON_WORKERS_MAX; i++)
		atomic_init(&d->slots[i].wait_since, 0);
	pthread_mutex_lock(&d->lock);
	int rc = 0;
	for (unsigned i = 0; i < d->min_workers && rc == 0; i++)
		rc = spawn(d, err);
	pthread_mutex_unlock(&d->lock);
	if (rc < 0)
		workers_stop(d);
	return rc;
}

/* Under d->lock: joins the workers that exited (they no longer take the lock). */
static void reap(struct daemon *d)
{
	for (unsigned i = 0; i < DAEMON_WORKERS_MAX; i++)
		if (d->slots[i].state == WSLOT_EXITED) {
			pthread_join(d->slots[i].thread, NULL);
			d->slots[i].state = WSLOT_FREE;
		}
}

int workers_balance(struct daemon *d)
{
	struct pool_view v = {0};
	struct metrics_pool mp = {0};
	char names[POOL_LOG_JOBS * 64 + 8] = "";
	unsigned started = 0;
	bool full;
	struct err err = {0};
	int rc = 0;

	if (!d->slots)
		return -1;
	uint64_t now = waitmark_now_ms();
	pthread_mutex_lock(&d->lock);
	reap(d);
	unsigned listed = 0;
	size_t used = 0;
	for (unsigned i = 0; i < DAEMON_WORKERS_MAX; i++) {
		struct wslot *w = &d->slots[i];
		if (w->state != WSLOT_RUNNING || !w->busy)
			continue;
		uint64_t since = atomic_load(&w->wait_since);
		if (!since || now < since || now - since < d->grace_ms)
			continue;
		v.waiting++;
		if (listed < POOL_LOG_JOBS && w->job && used < sizeof(names)) {
			int k = snprintf(names + used, sizeof(names) - used, "%s%.60s",
					 listed ? "," : "", w->job);
			used += k > 0 ? (size_t)k : 0;
			listed++;
		}
	}
	v.threads = d->nthreads;
	v.idle = d->nidle;
	v.min = d->min_workers;
	v.max = d->max_workers;
	v.queued = d->qlen;
	unsigned n = d->quit ? 0 : pool_grow(&v);
	for (; started < n && rc == 0; started++)
		rc = spawn(d, &err);
	if (rc < 0 && started)
		started--;
	mp.workers = d->nthreads;
	mp.min = d->min_workers;
	mp.max = d->max_workers;
	mp.busy = d->nthreads - (d->nidle < d->nthreads ? d->nidle : d->nthreads);
	mp.waiting = v.waiting;
	mp.queued = d->qlen;
	if (d->qlen && now > d->queue[d->qhead].queued_ms)
		mp.oldest_s = (double)(now - d->queue[d->qhead].queued_ms) / 1000.0;
	full = d->qlen > d->nidle && d->nthreads >= d->max_workers && v.waiting > 0;
	pthread_mutex_unlock(&d->lock);

	mp.held = d->nheld;
	if (rc < 0)
		log_error("workers.start_failed", "error=\"%s\"", err.msg);
	if (started && v.threads >= v.min)
		log_info("workers.grow", "workers=%u started=%u waiting_network=%u queued=%zu "
			 "waiting_jobs=\"%s\"", mp.workers, started, v.waiting, v.queued, names);
	if (full && !d->pool_full)
		log_warn("workers.full", "workers=%u max_workers=%u waiting_network=%u queued=%zu "
			 "waiting_jobs=\"%s\" note=\"due work waits: raise max_workers or lower the "
			 "accounts' timeouts\"", mp.workers, mp.max, v.waiting, v.queued, names);
	d->pool_full = full;
	metrics_pool(d->metrics, &mp, started && v.threads >= v.min ? started : 0);
	return v.queued ? POOL_TICK_MS : -1;
}

void workers_stop(struct daemon *d)
{
	if (!d->slots)
		return;
	pthread_t *v = xcalloc(DAEMON_WORKERS_MAX, sizeof(*v));
	unsigned n = 0;
	pthread_mutex_lock(&d->lock);
	d->quit = true;
	pthread_cond_broadcast(&d->cond);
	for (unsigned i = 0; i < DAEMON_WORKERS_MAX; i++)
		if (d->slots[i].state != WSLOT_FREE)
			v[n++] = d->slots[i].thread;
	pthread_mutex_unlock(&d->lock);
	/* no thread starts any more (quit): join those there were */
	for (unsigned i = 0; i < n; i++)
		pthread_join(v[i], NULL);
	free(v);
	d->nthreads = 0;
	free(d->slots);
	d->slots = NULL;
}
