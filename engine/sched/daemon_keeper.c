/*
 * The lease keeper: one thread with its own database connection that renews
 * the leases of this daemon's running jobs every third of the TTL, in one
 * statement for all of them. A lease found to belong to someone else (it
 * expired while this process stalled, and another daemon took it over) sets
 * the job's stop flag: the run stops at the next message boundary, since
 * processing is idempotent by identity but double work is waste. A lease
 * that could not be renewed for two thirds of the TTL (database unreachable)
 * is given up the same way, before another daemon may take it over.
 *
 * The keeper also prunes old job runs that did nothing (migration 0008), once
 * a minute after the start and then every hour, in small batches so no
 * statement holds many row locks for long. The next heartbeat waits
 * meanwhile, so a pass stops after a sixth of the lease TTL and goes on at
 * the next beat: a lease is never left unrenewed for long by pruning.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/sched/daemon_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

struct kentry {
	struct djob *job;
	double confirmed;        /* monotonic seconds: claimed or last renewed */
};

struct keeper {
	struct daemon *d;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;     /* CLOCK_MONOTONIC */
	bool quit;
	struct kentry *v;
	size_t n, cap;
	struct store *store;
	unsigned gen;
	double next_prune;       /* monotonic seconds */
};

/* A batch of job_runs deletions, and the most one pass does (1M rows; a
 * pass also stops at its time bound): a backlog shrinks over a few passes. */
#define PRUNE_BATCH 5000
#define PRUNE_MAX_BATCHES 200
#define PRUNE_FIRST_S 60.0

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void keeper_add(struct keeper *k, struct djob *job)
{
	pthread_mutex_lock(&k->lock);
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 16;
		k->v = xreallocarray(k->v, k->cap, sizeof(*k->v));
	}
	k->v[k->n].job = job;
	k->v[k->n].confirmed = mono_now();
	k->n++;
	pthread_mutex_unlock(&k->lock);
}

void keeper_remove(struct keeper *k, struct djob *job)
{
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < k->n; i++) {
		if (k->v[i].job == job) {
			k->v[i] = k->v[--k->n];
			break;
		}
	}
	pthread_mutex_unlock(&k->lock);
}

/* Under k->lock: the entry of job, if it is still kept. */
static struct kentry *entry_of(struct keeper *k, const struct djob *job)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->v[i].job == job)
			return &k->v[i];
	return NULL;
}

static void give_up(struct djob *job, const char *why)
{
	atomic_store(&job->lease_lost, true);
	atomic_store(&job->stop, true);
	log_ctx_set(job->name, NULL);
	log_warn("lease.lost", "reason=\"%s\"", why);
	log_ctx_set(NULL, NULL);
}

/* Deletes old empty job runs, if it is time; errors are logged, not fatal. */
static void prune_runs(struct keeper *k, double now)
{
	struct daemon *d = k->d;
	if (now < k->next_prune)
		return;
	double stop_at = now + (double)d->ttl_ms / 6000.0;
	k->next_prune = now + (double)d->prune_every_ms / 1000.0;
	pthread_mutex_lock(&d->lock);
	uint64_t keep_s = d->runs_keep_s;
	pthread_mutex_unlock(&d->lock);
	if (keep_s == 0)
		return;
	unsigned total = 0, n = PRUNE_BATCH;
	struct err err = {0};
	for (unsigned i = 0; i < PRUNE_MAX_BATCHES && n == PRUNE_BATCH; i++) {
		if (mono_now() > stop_at) {
			k->next_prune = now;  /* more to do: again at the next beat */
			break;
		}
		if (store_job_runs_prune(k->store, keep_s, PRUNE_BATCH, &n, &err) < 0) {
			log_warn("job_runs.prune_failed", "error=\"%s\"", err.msg);
			break;
		}
		total += n;
	}
	if (total)
		log_info("job_runs.pruned", "count=%u older_than_s=%" PRIu64, total, keep_s);
}

/* One heartbeat: renew what is kept; give up what is lost or unconfirmed. */
static void beat(struct keeper *k)
{
	struct daemon *d = k->d;
	struct err err = {0};
	pthread_mutex_lock(&k->lock);
	size_t n = k->n;
	struct djob **jobs = xcalloc(n ? n : 1, sizeof(*jobs));
	char **names = xcalloc(n ? n : 1, sizeof(*names));
	for (size_t i = 0; i < n; i++) {
		jobs[i] = k->v[i].job;
		names[i] = xstrdup(jobs[i]->name);
	}
	pthread_mutex_unlock(&k->lock);

	bool *held = xcalloc(n ? n : 1, sizeof(*held));
	unsigned gen;
	char *url = daemon_db_url(d, &gen);
	int rc = 0;
	if (!k->store || gen != k->gen) {
		store_free(&k->store);
		if ((rc = store_open(url, &k->store, &err)) == 0)
			k->gen = gen;
	}
	free(url);
	if (rc == 0 && n)
		rc = store_lease_renew(k->store, d->id, (const char *const *)names, n, d->ttl_ms, held,
				       &err);
	else if (rc == 0) {
		unsigned v;  /* nothing to renew: still tell /healthz whether the database answers */
		rc = store_schema_version(k->store, &v, &err);
	}
	if (rc == 0) {
		/* the token gauges: one small query per heartbeat, no secrets read */
		struct store_oauth_state *os = xcalloc(METRICS_OAUTH_MAX, sizeof(*os));
		size_t nos = 0;
		struct err oerr = {0};
		if (store_oauth_states(k->store, os, METRICS_OAUTH_MAX, &nos, &oerr) == 0)
			metrics_oauth(d->metrics, os, nos);
		else
			log_debug("metrics.oauth", "error=\"%s\"", oerr.msg);
		free(os);
	}
	double now = mono_now();
	if (rc == 0)
		prune_runs(k, now);
	metrics_database(d->metrics, rc == 0, time(NULL));
	if (rc < 0) {
		log_warn("lease.renew_failed", "error=\"%s\"", err.msg);
		store_free(&k->store);
	}
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < n; i++) {
		struct kentry *e = entry_of(k, jobs[i]);
		if (!e)
			continue;  /* the run ended meanwhile */
		if (rc == 0 && held[i]) {
			e->confirmed = now;
		} else if (rc == 0) {
			give_up(jobs[i], "another daemon holds the lease now");
			k->v[e - k->v] = k->v[--k->n];
		} else if (now - e->confirmed > (double)d->ttl_ms * 2.0 / 3000.0) {
			give_up(jobs[i], "the lease could not be renewed (database unreachable)");
			k->v[e - k->v] = k->v[--k->n];
		}
	}
	pthread_mutex_unlock(&k->lock);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(jobs);
	free(held);
}

static void *keeper_main(void *arg)
{
	struct keeper *k = arg;
	double interval = (double)k->d->ttl_ms / 3000.0;
	pthread_mutex_lock(&k->lock);
	while (!k->quit) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		double t = (double)until.tv_sec + (double)until.tv_nsec / 1e9 + interval;
		until.tv_sec = (time_t)t;
		until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
		while (!k->quit && pthread_cond_timedwait(&k->cond, &k->lock, &until) == 0)
			;
		if (k->quit)
			break;
		pthread_mutex_unlock(&k->lock);
		beat(k);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	store_free(&k->store);
	return NULL;
}

int keeper_start(struct daemon *d, struct keeper **k_r, struct err *err)
{
	struct keeper *k = xcalloc(1, sizeof(*k));
	pthread_condattr_t ca;
	k->d = d;
	k->next_prune = mono_now() + ((double)d->prune_every_ms / 1000.0 < PRUNE_FIRST_S
				      ? (double)d->prune_every_ms / 1000.0 : PRUNE_FIRST_S);
	pthread_mutex_init(&k->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->cond, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&k->thread, NULL, keeper_main, k);
	if (rc != 0) {
		pthread_cond_destroy(&k->cond);
		pthread_mutex_destroy(&k->lock);
		free(k);
		return err_set(err, ERR_FATAL, "cannot start the lease keeper thread: %s", strerror(rc));
	}
	*k_r = k;
	return 0;
}

void keeper_stop(struct keeper **kp)
{
	struct keeper *k = *kp;
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->quit = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k->v);
	free(k);
	*kp = NULL;
}
