/*
 * Metrics registry (metrics.h). Jobs are found by name with a linear scan:
 * updates come a few per run, and a scrape walks them all anyway.
 */
#include "engine/sched/metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"

/* Upper bounds of the run duration histogram, seconds. */
static const double buckets[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
/* ... and of the time a task waits for a worker: fine below a second. */
static const double wait_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
				       10, 30 };
#define NWAIT_BUCKETS (sizeof(wait_buckets) / sizeof(wait_buckets[0]))

enum { M_TICKET, M_APPENDED, M_IGNORED, M_BADMAIL, M_ALREADY_DONE, M_NOUTCOMES };
static const char *const outcome_label[M_NOUTCOMES] = {
	"ticket", "appended", "ignored", "badmail", "already_done",
};
enum { R_OK, R_FAILED, R_STOPPED, R_NSTATUS };
static const char *const status_label[R_NSTATUS] = { "ok", "failed", "stopped" };

struct mjob {
	char *name;
	uint64_t messages[M_NOUTCOMES];
	uint64_t runs[R_NSTATUS];
	uint64_t bucket[NBUCKETS];    /* not cumulative; summed when rendered */
	uint64_t count;
	double sum;
	time_t last_success;
	unsigned failures;
	bool disabled, running, held;
};

struct metrics {
	pthread_mutex_t lock;
	char *daemon_id, *host, *version;
	struct metrics_pool pool;
	uint64_t started_total;       /* workers started beyond --workers */
	uint64_t wait_bucket[NWAIT_BUCKETS];   /* not cumulative */
	uint64_t wait_count;
	double wait_sum;
	time_t start;
	time_t last_loop;
	bool db_ok;
	time_t db_since;              /* when db_ok last changed (or start) */
	uint64_t reloads_ok, reloads_failed;
	struct mjob *jobs;
	size_t njobs;
	struct store_oauth_state *oauth;  /* token states, by account */
	size_t noauth;
};

struct metrics *metrics_new(const char *daemon_id, const char *host, const char *version,
			    unsigned workers)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->daemon_id = xstrdup(daemon_id);
	m->host = xstrdup(host);
	m->version = xstrdup(version);
	m->pool.workers = m->pool.min = m->pool.max = workers;
	m->start = time(NULL);
	m->last_loop = m->start;
	m->db_ok = true;
	m->db_since = m->start;
	return m;
}

void metrics_free(struct metrics **mp)
{
	struct metrics *m = *mp;
	if (!m)
		return;
	for (size_t i = 0; i < m->njobs; i++)
		free(m->jobs[i].name);
	free(m->jobs);
	free(m->oauth);
	free(m->daemon_id);
	free(m->host);
	free(m->version);
	pthread_mutex_destroy(&m->lock);
	free(m);
	*mp = NULL;
}

static struct mjob *find(struct metrics *m, const char *name)
{
	for (size_t i = 0; i < m->njobs; i++)
		if (m->jobs[i].name && strcmp(m->jobs[i].name, name) == 0)
			return &m->jobs[i];
	return NULL;
}

void metrics_set_jobs(struct metrics *m, const char *const *names, size_t n)
{
	struct mjob *v = xcalloc(n ? n : 1, sizeof(*v));
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < n; i++) {
		struct mjob *old = find(m, names[i]);
		if (old) {
			v[i] = *old;
			old->name = NULL;  /* moved */
		} else {
			v[i].name = xstrdup(names[i]);
		}
		if (!v[i].name)
			v[i].name = xstrdup(names[i]);  /* a name listed twice */
	}
	for (size_t i = 0; i < m->njobs; i++)
		free(m->jobs[i].name);
	free(m->jobs);
	m->jobs = v;
	m->njobs = n;
	pthread_mutex_unlock(&m->lock);
}

void metrics_run_done(struct metrics *m, const char *job, const struct run_counts *c,
		      double seconds, const char *status, time_t now)
{
	pthread_mutex_lock(&m->lock);
	struct mjob *j = find(m, job);
	if (j) {
		j->messages[M_TICKET] += c->tickets;
		j->messages[M_APPENDED] += c->appended;
		j->messages[M_IGNORED] += c->ignored;
		j->messages[M_BADMAIL] += c->badmail;
		j->messages[M_ALREADY_DONE] += c->already_done;
		for (int s = 0; s < R_NSTATUS; s++)
			if (strcmp(status, status_label[s]) == 0)
				j->runs[s]++;
		if (strcmp(status, "ok") == 0)
			j->last_success = now;
		size_t b = 0;
		while (b < NBUCKETS && seconds > buckets[b])
			b++;
		if (b < NBUCKETS)
			j->bucket[b]++;
		j->count++;
		j->sum += seconds;
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics_job_state(struct metrics *m, const char *job, unsigned failures, bool disabled,
		       bool running, time_t last_success)
{
	pthread_mutex_lock(&m->lock);
	struct mjob *j = find(m, job);
	if (j) {
		j->failures = failures;
		j->disabled = disabled;
		j->running = running;
		if (last_success > j->last_success)
			j->last_success = last_success;
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics_lease_held(struct metrics *m, const char *job, bool held)
{
	pthread_mutex_lock(&m->lock);
	struct mjob *j = find(m, job);
	if (j)
		j->held = held;
	pthread_mutex_unlock(&m->lock);
}

void metrics_oauth(struct metrics *m, const struct store_oauth_state *v, size_t n)
{
	pthread_mutex_lock(&m->lock);
	free(m->oauth);
	m->oauth = n ? xreallocarray(NULL, n, sizeof(*v)) : NULL;
	if (n)
		memcpy(m->oauth, v, n * sizeof(*v));
	m->noauth = n;
	pthread_mutex_unlock(&m->lock);
}

void metrics_pool(struct metrics *m, const struct metrics_pool *p, unsigned started)
{
	pthread_mutex_lock(&m->lock);
	m->pool = *p;
	m->started_total += started;
	pthread_mutex_unlock(&m->lock);
}

void metrics_task_wait(struct metrics *m, double seconds)
{
	pthread_mutex_lock(&m->lock);
	size_t b = 0;
	while (b < NWAIT_BUCKETS && seconds > wait_buckets[b])
		b++;
	if (b < NWAIT_BUCKETS)
		m->wait_bucket[b]++;
	m->wait_count++;
	m->wait_sum += seconds;
	pthread_mutex_unlock(&m->lock);
}

void metrics_reload(struct metrics *m, bool ok)
{
	pthread_mutex_lock(&m->lock);
	if (ok)
		m->reloads_ok++;
	else
		m->reloads_failed++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_loop(struct metrics *m, time_t now)
{
	pthread_mutex_lock(&m->lock);
	m->last_loop = now;
	pthread_mutex_unlock(&m->lock);
}

void metrics_database(struct metrics *m, bool ok, time_t now)
{
	pthread_mutex_lock(&m->lock);
	if (ok != m->db_ok) {
		m->db_ok = ok;
		m->db_since = now;
	}
	pthread_mutex_unlock(&m->lock);
}

/* A label value: '\', '"' and newlines escaped (the exposition format's rules). */
static void add_label(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_addc(b, '\\');
		if (*s == '\n') {
			buf_adds(b, "\\n");
			continue;
		}
		buf_addc(b, *s);
	}
	buf_addc(b, '"');
}

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_addf(b, "# HELP mail2ticket_%s %s\n# TYPE mail2ticket_%s %s\n", name, help, name, type);
}

/* One sample per job: mail2ticket_<name>{job="..."} value */
static void job_gauge(struct buf *b, const struct metrics *m, const char *name, const char *help,
		      uint64_t (*get)(const struct mjob *))
{
	head(b, name, "gauge", help);
	for (size_t i = 0; i < m->njobs; i++) {
		buf_addf(b, "mail2ticket_%s{job=", name);
		add_label(b, m->jobs[i].name);
		buf_addf(b, "} %" PRIu64 "\n", get(&m->jobs[i]));
	}
}

static uint64_t get_last_success(const struct mjob *j) { return (uint64_t)(j->last_success > 0 ? j->last_success : 0); }
static uint64_t get_failures(const struct mjob *j) { return j->failures; }
static uint64_t get_disabled(const struct mjob *j) { return j->disabled; }
static uint64_t get_running(const struct mjob *j) { return j->running; }
static uint64_t get_held(const struct mjob *j) { return j->held; }

int metrics_render(struct metrics *m, struct buf *b)
{
	pthread_mutex_lock(&m->lock);
	head(b, "daemon_info", "gauge", "This daemon: its lease holder id, host and version.");
	buf_adds(b, "mail2ticket_daemon_info{daemon_id=");
	add_label(b, m->daemon_id);
	buf_adds(b, ",host=");
	add_label(b, m->host);
	buf_adds(b, ",version=");
	add_label(b, m->version);
	buf_adds(b, "} 1\n");
	head(b, "start_time_seconds", "gauge", "When the daemon started, seconds since 1970.");
	buf_addf(b, "mail2ticket_start_time_seconds %lld\n", (long long)m->start);
	head(b, "workers", "gauge", "Worker threads now.");
	buf_addf(b, "mail2ticket_workers %u\n", m->pool.workers);
	head(b, "workers_min", "gauge", "Tasks doing work at once (--workers).");
	buf_addf(b, "mail2ticket_workers_min %u\n", m->pool.min);
	head(b, "workers_max", "gauge", "Worker threads at most (--max-workers).");
	buf_addf(b, "mail2ticket_workers_max %u\n", m->pool.max);
	head(b, "workers_busy", "gauge", "Worker threads running a task.");
	buf_addf(b, "mail2ticket_workers_busy %u\n", m->pool.busy);
	head(b, "workers_waiting_network", "gauge",
	     "Busy workers in one wait on a mail server (or proxy, token endpoint, DNS) longer "
	     "than the grace: they do not count as working.");
	buf_addf(b, "mail2ticket_workers_waiting_network %u\n", m->pool.waiting);
	head(b, "workers_started_total", "counter",
	     "Worker threads started beyond --workers because the others waited on servers.");
	buf_addf(b, "mail2ticket_workers_started_total %" PRIu64 "\n", m->started_total);
	head(b, "tasks_queued", "gauge", "Due tasks (runs, IDLE connects) no worker took yet.");
	buf_addf(b, "mail2ticket_tasks_queued %zu\n", m->pool.queued);
	head(b, "tasks_queued_oldest_seconds", "gauge",
	     "How long the oldest queued task has waited for a worker; 0 when none waits.");
	buf_addf(b, "mail2ticket_tasks_queued_oldest_seconds %.3f\n", m->pool.oldest_s);
	head(b, "jobs_held_account_limit", "gauge",
	     "Due jobs waiting because their account has max_concurrent_runs tasks out.");
	buf_addf(b, "mail2ticket_jobs_held_account_limit %zu\n", m->pool.held);
	head(b, "task_wait_seconds", "histogram",
	     "Time from a task handed to the worker pool until a worker took it.");
	{
		uint64_t cum = 0;
		for (size_t k = 0; k < NWAIT_BUCKETS; k++) {
			cum += m->wait_bucket[k];
			buf_addf(b, "mail2ticket_task_wait_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
				 wait_buckets[k], cum);
		}
		buf_addf(b, "mail2ticket_task_wait_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
			 m->wait_count);
		buf_addf(b, "mail2ticket_task_wait_seconds_sum %.6f\n", m->wait_sum);
		buf_addf(b, "mail2ticket_task_wait_seconds_count %" PRIu64 "\n", m->wait_count);
	}
	head(b, "jobs", "gauge", "Jobs in the configuration.");
	buf_addf(b, "mail2ticket_jobs %zu\n", m->njobs);
	head(b, "database_up", "gauge", "1 when the lease heartbeat last reached the database.");
	buf_addf(b, "mail2ticket_database_up %d\n", m->db_ok ? 1 : 0);
	head(b, "config_reloads_total", "counter", "Configuration reloads (SIGHUP) by result.");
	buf_addf(b, "mail2ticket_config_reloads_total{result=\"ok\"} %" PRIu64 "\n", m->reloads_ok);
	buf_addf(b, "mail2ticket_config_reloads_total{result=\"failed\"} %" PRIu64 "\n",
		 m->reloads_failed);

	head(b, "messages_total", "counter",
	     "Messages by job and outcome (badmail: moved to the badmail folder), counted when a run ends.");
	for (size_t i = 0; i < m->njobs; i++)
		for (int o = 0; o < M_NOUTCOMES; o++) {
			buf_adds(b, "mail2ticket_messages_total{job=");
			add_label(b, m->jobs[i].name);
			buf_addf(b, ",outcome=\"%s\"} %" PRIu64 "\n", outcome_label[o],
				 m->jobs[i].messages[o]);
		}
	head(b, "runs_total", "counter", "Job runs by status.");
	for (size_t i = 0; i < m->njobs; i++)
		for (int s = 0; s < R_NSTATUS; s++) {
			buf_adds(b, "mail2ticket_runs_total{job=");
			add_label(b, m->jobs[i].name);
			buf_addf(b, ",status=\"%s\"} %" PRIu64 "\n", status_label[s], m->jobs[i].runs[s]);
		}
	head(b, "run_duration_seconds", "histogram", "Wall time of job runs.");
	for (size_t i = 0; i < m->njobs; i++) {
		const struct mjob *j = &m->jobs[i];
		uint64_t cum = 0;
		for (size_t k = 0; k < NBUCKETS; k++) {
			cum += j->bucket[k];
			buf_adds(b, "mail2ticket_run_duration_seconds_bucket{job=");
			add_label(b, j->name);
			buf_addf(b, ",le=\"%g\"} %" PRIu64 "\n", buckets[k], cum);
		}
		buf_adds(b, "mail2ticket_run_duration_seconds_bucket{job=");
		add_label(b, j->name);
		buf_addf(b, ",le=\"+Inf\"} %" PRIu64 "\n", j->count);
		buf_adds(b, "mail2ticket_run_duration_seconds_sum{job=");
		add_label(b, j->name);
		buf_addf(b, "} %.6f\n", j->sum);
		buf_adds(b, "mail2ticket_run_duration_seconds_count{job=");
		add_label(b, j->name);
		buf_addf(b, "} %" PRIu64 "\n", j->count);
	}
	job_gauge(b, m, "last_success_timestamp_seconds",
		  "When a run of the job last ended ok (any daemon, as far as known); 0 when never.",
		  get_last_success);
	job_gauge(b, m, "job_failures_in_row", "Failed runs in a row.", get_failures);
	job_gauge(b, m, "job_disabled", "1 when a fatal error disabled the job until a reload.",
		  get_disabled);
	job_gauge(b, m, "job_running", "1 while this daemon runs the job.", get_running);
	job_gauge(b, m, "lease_held", "1 while this daemon holds the job's lease.", get_held);
	head(b, "oauth_access_token_expiry_timestamp_seconds", "gauge",
	     "When the cached OAuth2 access token of an account expires, seconds since 1970; "
	     "0 when none is cached.");
	for (size_t i = 0; i < m->noauth; i++) {
		buf_adds(b, "mail2ticket_oauth_access_token_expiry_timestamp_seconds{account=");
		add_label(b, m->oauth[i].account);
		buf_addf(b, "} %lld\n", (long long)m->oauth[i].access_expires_at);
	}
	head(b, "oauth_refresh_failing", "gauge",
	     "1 when the account's last OAuth2 token request failed, or it has no refresh "
	     "token (see `mail2ticket oauth status`).");
	for (size_t i = 0; i < m->noauth; i++) {
		buf_adds(b, "mail2ticket_oauth_refresh_failing{account=");
		add_label(b, m->oauth[i].account);
		buf_addf(b, "} %d\n", m->oauth[i].failing || !m->oauth[i].have_refresh);
	}
	pthread_mutex_unlock(&m->lock);
	return b->failed ? -1 : 0;
}

int metrics_health(struct metrics *m, time_t now, time_t stale_s, struct buf *out)
{
	int code = 200;
	pthread_mutex_lock(&m->lock);
	if (now - m->last_loop > stale_s) {
		buf_addf(out, "scheduler stalled for %lld s\n", (long long)(now - m->last_loop));
		code = 503;
	}
	if (!m->db_ok && now - m->db_since > stale_s) {
		buf_addf(out, "database unreachable for %lld s\n", (long long)(now - m->db_since));
		code = 503;
	}
	pthread_mutex_unlock(&m->lock);
	if (code == 200)
		buf_adds(out, "ok\n");
	return code;
}
