/*
 * The daemon's job table and configuration generations (main thread only).
 *
 * A reload must not pull a configuration from under a running job: each
 * loaded configuration (struct dconf) is counted by the daemon and by every
 * task that uses one of its jobs, and freed when the last one lets go. Jobs
 * are matched by name across a reload; what the scheduler knows of a kept
 * job (last slot, backoff, failures) stays, since the database row is the
 * same; a changed schedule only means computing the next time anew.
 *
 * Accounts' shares (struct dacct) are found by name, so that a job keeps
 * counting against its account across a reload; the list is scanned only
 * when jobs are (re)built, never per dispatch.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/sched/daemon_int.h"
#include "engine/util/log.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"

void dconf_unref(struct daemon *d, struct dconf **cp)
{
	struct dconf *c = *cp;
	(void)d;
	*cp = NULL;
	if (!c || --c->refs > 0)
		return;
	config_free(&c->cfg);
	free(c);
}

struct dacct *dacct_get(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->naccts; i++)
		if (strcmp(d->accts[i]->name, name) == 0)
			return d->accts[i];
	d->accts = xreallocarray(d->accts, d->naccts + 1, sizeof(*d->accts));
	struct dacct *a = xcalloc(1, sizeof(*a));
	a->name = xstrdup(name);
	d->accts[d->naccts++] = a;
	return a;
}

void daccts_free(struct daemon *d)
{
	for (size_t i = 0; i < d->naccts; i++) {
		free(d->accts[i]->name);
		free(d->accts[i]);
	}
	free(d->accts);
	d->accts = NULL;
	d->naccts = 0;
}

/*
 * The account's turn: its jobs have at most max_concurrent_runs tasks out
 * at once, so that a dead server holds that many workers at most. False
 * when none is left: the job is held (its next pass comes with a result).
 */
bool dacct_turn(struct djob *j)
{
	unsigned lim = j->cfg->account->max_concurrent_runs;
	if (lim && j->acct->inflight >= lim) {
		j->held = true;
		return false;
	}
	return true;
}

/* A task of j takes one of its account's runs; the result gives it back. */
void dacct_take(struct djob *j, struct dtask *t)
{
	t->acct = j->acct;
	j->acct->inflight++;
}

void dacct_give(struct dtask *t)
{
	if (t->acct && t->acct->inflight)
		t->acct->inflight--;
	t->acct = NULL;
}

void djob_log_retry(const struct djob *j, int64_t retry_ms, enum err_class cls, const char *why)
{
	char in[32], clean[300];
	str_fmt_duration_ms(retry_ms < 0 ? 0 : (uint64_t)retry_ms, in, sizeof(in));
	log_warn("job.retry", "in=%s failures=%u class=%s reason=\"%s\"", in, j->failures,
		 err_class_name(cls), log_clean(why, strlen(why), clean, sizeof(clean)));
}

static struct djob *djob_new(struct daemon *d, const struct config_job *cfg, struct dconf *conf)
{
	struct djob *j = xcalloc(1, sizeof(*j));
	j->name = xstrdup(cfg->name);
	j->cfg = cfg;
	j->conf = conf;
	j->acct = dacct_get(d, cfg->account->name);
	atomic_init(&j->stop, false);
	atomic_init(&j->lease_lost, false);
	return j;
}

static void djob_free(struct djob *j)
{
	free(j->name);
	free(j);
}

void djobs_init(struct daemon *d)
{
	const struct config *cfg = d->conf->cfg;
	d->jobs = xcalloc(cfg->njobs ? cfg->njobs : 1, sizeof(*d->jobs));
	for (size_t i = 0; i < cfg->njobs; i++)
		d->jobs[d->njobs++] = djob_new(d, &cfg->jobs[i], d->conf);
}

static struct djob *find_live(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->njobs; i++)
		if (!d->jobs[i]->removed && strcmp(d->jobs[i]->name, name) == 0)
			return d->jobs[i];
	return NULL;
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

void djobs_apply(struct daemon *d, struct dconf *next)
{
	const struct config *cfg = next->cfg;
	size_t cap = d->njobs + cfg->njobs;
	struct djob **v = xcalloc(cap ? cap : 1, sizeof(*v));
	size_t n = 0;
	size_t added = 0, changed = 0, removed = 0;

	for (size_t i = 0; i < cfg->njobs; i++) {
		const struct config_job *jc = &cfg->jobs[i];
		struct djob *j = find_live(d, jc->name);
		if (!j) {
			j = djob_new(d, jc, next);
			added++;
			log_info("job.added", "job=%s schedule=\"%s\"", jc->name, jc->schedule);
		} else {
			if (!same_text(j->cfg->schedule, jc->schedule) ||
			    !same_text(tz_name(j->cfg->tz), tz_name(jc->tz))) {
				changed++;
				log_info("job.rescheduled", "job=%s schedule=\"%s\" timezone=%s", jc->name,
					 jc->schedule, tz_name(jc->tz));
			}
			/* a running job finishes with the configuration it started with */
			j->cfg = jc;
			j->conf = next;
			j->acct = dacct_get(d, jc->account->name);
			j->next = 0;
			if (j->disabled)
				log_info("job.enabled", "job=%s reason=\"configuration reloaded\"", jc->name);
			j->disabled = false;
		}
		v[n++] = j;
	}
	for (size_t i = 0; i < d->njobs; i++) {
		struct djob *j = d->jobs[i];
		bool kept = false;
		for (size_t k = 0; k < n && !kept; k++)
			kept = v[k] == j;
		if (kept)
			continue;
		if (!j->removed) {
			removed++;
			log_info("job.removed", "job=%s running=%s", j->name, j->running ? "yes" : "no");
		}
		if (j->running || j->lease_held) {
			/* stops at the next message (or its IDLE ends and the lease
			 * goes back); freed when its result comes */
			j->removed = true;
			atomic_store(&j->stop, true);
			v[n++] = j;
		} else {
			djob_free(j);
		}
	}
	free(d->jobs);
	d->jobs = v;
	d->njobs = n;
	log_info("config.applied", "jobs=%zu added=%zu removed=%zu rescheduled=%zu", cfg->njobs, added,
		 removed, changed);
}

void djobs_sweep(struct daemon *d)
{
	size_t n = 0;
	for (size_t i = 0; i < d->njobs; i++) {
		struct djob *j = d->jobs[i];
		if (j->removed && !j->running && !j->lease_held)
			djob_free(j);
		else
			d->jobs[n++] = j;
	}
	d->njobs = n;
}

void djobs_free(struct daemon *d)
{
	for (size_t i = 0; i < d->njobs; i++)
		djob_free(d->jobs[i]);
	free(d->jobs);
	d->jobs = NULL;
	d->njobs = 0;
}

void djobs_publish(struct daemon *d)
{
	const char **names = xcalloc(d->njobs ? d->njobs : 1, sizeof(*names));
	size_t n = 0;
	for (size_t i = 0; i < d->njobs; i++)
		if (!d->jobs[i]->removed)
			names[n++] = d->jobs[i]->name;
	metrics_set_jobs(d->metrics, names, n);
	free(names);
	for (size_t i = 0; i < d->njobs; i++) {
		const struct djob *j = d->jobs[i];
		if (!j->removed)
			metrics_job_state(d->metrics, j->name, j->failures, j->disabled, j->running, 0);
	}
}
