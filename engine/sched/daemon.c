/*
 * The daemon's scheduler loop (daemon.h): one thread that waits in poll()
 * for the next due time, a signal (signalfd) or a worker's result
 * (eventfd), and never on the network or the database. That is also where
 * push (IMAP IDLE) fits without a thread per idle connection: the idle
 * connections become more descriptors in this poll set (or an epoll set
 * beside it), and a connection reporting new mail marks its job due now —
 * the workers do the work either way.
 *
 * Time: slots are wall-clock times (time(NULL)); each pass recomputes what
 * is due, so a clock step or a suspend only makes jobs due sooner or later,
 * and a job late by many slots runs once (due.h).
 */
#include "engine/sched/daemon.h"

#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "engine/http/http_server.h"
#include "engine/mime/message.h"
#include "engine/sched/daemon_int.h"
#include "engine/sched/sd_notify.h"
#include "engine/util/log.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"

/* Longest sleep of the loop: the health check wants a recent pass. */
#define LOOP_MAX_SLEEP_MS 5000
/* /healthz calls the scheduler stalled after this long without a pass. */
#define HEALTH_STALE_S 30
/* After a refused claim that our own clock still calls due: look again in. */
#define RECHECK_SKEW_S 5
#define NEVER INT64_MAX

static uint64_t env_duration_ms(const char *name, uint64_t def, uint64_t min)
{
	const char *v = getenv(name);
	uint64_t ms;
	if (!v || !v[0])
		return def;
	if (str_parse_duration_ms(v, &ms) < 0 || ms < min) {
		log_warn("daemon.bad_env", "name=%s default_ms=%" PRIu64, name, def);
		return def;
	}
	return ms;
}

static void apply_log_settings(const struct daemon *d, const struct config *cfg)
{
	if (!d->opts.log_level_from_cli) {
		int lv = log_level_parse(cfg->log_level ? cfg->log_level : "info");
		if (lv >= 0)
			log_set_level((enum log_level)lv);
	}
	int fmt = cfg->log_format ? log_format_parse(cfg->log_format) : LOG_FORMAT_KV;
	if (fmt >= 0)
		log_set_format((enum log_format)fmt);
}

/* The pool's size: --workers and --max-workers, else the configuration's,
 * else the defaults; a maximum below the minimum is raised to it. */
static void pool_limits(const struct daemon *d, const struct config *cfg, unsigned *min_r,
			unsigned *max_r)
{
	unsigned min = d->opts.workers ? d->opts.workers
		     : cfg->workers ? cfg->workers : DAEMON_WORKERS_DEFAULT;
	unsigned max = d->opts.max_workers ? d->opts.max_workers
		     : cfg->max_workers ? cfg->max_workers : DAEMON_MAX_WORKERS_DEFAULT;
	*min_r = min;
	*max_r = max < min ? min : max;
}

/* ---- dispatch ------------------------------------------------------------ */

static void dispatch_one(struct daemon *d, struct djob *j, time_t slot, bool force)
{
	struct dtask t = { .job = j, .cfg = j->cfg, .conf = d->conf, .slot = slot, .force = force };
	dacct_take(j, &t);
	d->conf->refs++;
	j->running = true;
	j->next = 0;
	atomic_store(&j->stop, false);
	atomic_store(&j->lease_lost, false);
	d->running++;
	log_ctx_set(j->name, NULL);
	log_debug("job.due", "slot=%" PRId64 "%s", (int64_t)slot, force ? " force=yes" : "");
	log_ctx_set(NULL, NULL);
	workers_push(d, &t);
	metrics_job_state(d->metrics, j->name, j->failures, j->disabled, true, 0);
}

/* Hands every due job to the workers; sets each other job's next look. */
static void dispatch(struct daemon *d, time_t now)
{
	for (size_t i = 0; i < d->njobs; i++) {
		struct djob *j = d->jobs[i];
		time_t slot, next;
		j->held = false;   /* this pass says again */
		if (j->running || j->disabled || j->removed || j->once_done)
			continue;
		if (!d->opts.once && (djob_is_idle(j) || j->lease_held)) {
			if (djob_is_idle(j))
				push_dispatch(d, j, now);
			else
				push_end(d, j, "no longer an idle job", now);
			continue;
		}
		if (d->opts.once) {
			if (!dacct_turn(j))
				continue;
			j->once_done = true;
			if (d->opts.all || cron_kind(j->cfg->cron) == CRON_IDLE) {
				/* a one-shot pass cannot wait for push: idle jobs run too */
				dispatch_one(d, j, now, d->opts.all);
				continue;
			}
		} else if (j->next > now || !dacct_turn(j)) {
			continue;
		}
		/* what is not known yet (first pass, new job) is claimed as if never
		 * run: the lease row in the database then says what really is */
		struct due_state st = j->known ? j->due : (struct due_state){0};
		int rc = due_check(j->cfg->cron, j->cfg->tz, &st, now, &slot, &next);
		if (rc == 1) {
			dispatch_one(d, j, slot, false);
		} else {
			j->next = rc == 0 ? next : NEVER;
			if (d->opts.once) {
				char when[TZ_ISO_MAX] = "never";
				if (rc == 0)
					tz_format_iso(j->cfg->tz, next, when, sizeof(when));
				log_ctx_set(j->name, NULL);
				log_info("job.not_due", "next=%s", when);
				log_ctx_set(NULL, NULL);
			}
		}
	}
	d->nheld = 0;
	for (size_t i = 0; i < d->njobs; i++)
		d->nheld += d->jobs[i]->held;
}

static bool once_finished(const struct daemon *d)
{
	if (!d->opts.once)
		return false;
	for (size_t i = 0; i < d->njobs; i++)
		if (!d->jobs[i]->once_done && !d->jobs[i]->disabled && !d->jobs[i]->removed)
			return false;
	return true;
}

/* ---- results ------------------------------------------------------------- */

static void result_error(struct daemon *d, struct djob *j, const struct dresult *r, time_t now)
{
	/* no claim, so no database row to count in: count here */
	j->failures++;
	uint64_t ms = due_backoff_ms(j->failures, d->retry_min_ms, d->retry_max_ms,
				     (double)arc4random() / 4294967296.0);
	j->due.retry_at = now + (time_t)((ms + 999) / 1000);
	j->next = j->due.retry_at;
	daemon_note_failure(d, r->err.cls);
	djob_log_retry(j, (int64_t)ms, r->err.cls, r->err.msg);
}

static void result_lost(struct daemon *d, struct djob *j, const struct dresult *r, time_t now)
{
	const struct store_lease *l = &r->lease;
	time_t slot, next;
	j->known = true;
	j->due.last_slot = l->last_slot;
	j->due.retry_at = l->retry_at;
	j->failures = l->failures;
	if (l->held && strcmp(l->holder_id, d->id) != 0 && l->last_slot < r->task.slot) {
		/* running elsewhere, an older slot: ours may be due when it ends */
		j->next = now + (time_t)(d->ttl_ms / 2000 ? d->ttl_ms / 2000 : 1);
		if (d->opts.once)
			log_info("job.held_elsewhere", "holder=%s pid=%d daemon=%s", l->holder_host,
				 l->holder_pid, l->holder_id);
		else
			log_debug("job.held_elsewhere", "holder=%s pid=%d daemon=%s", l->holder_host,
				  l->holder_pid, l->holder_id);
		return;
	}
	/* else this slot is (being) run by another daemon: on to the next one */
	int rc = due_check(j->cfg->cron, j->cfg->tz, &j->due, now, &slot, &next);
	if (rc == 1)
		j->next = now + RECHECK_SKEW_S;  /* our clock and the database's disagree */
	else
		j->next = rc == 0 ? next : NEVER;
	if (d->opts.once) {
		char when[TZ_ISO_MAX] = "never";
		if (rc == 0)
			tz_format_iso(j->cfg->tz, next, when, sizeof(when));
		log_info("job.not_due", "next=%s", when);
	} else {
		log_debug("job.slot_taken", "last_slot=%" PRId64 " retry_at=%" PRId64,
			  (int64_t)l->last_slot, (int64_t)l->retry_at);
	}
}

static void result_ran(struct daemon *d, struct djob *j, const struct dresult *r, time_t now)
{
	const char *status = r->rc < 0 ? "failed" : r->res.stopped ? "stopped" : "ok";
	j->known = true;
	j->due.last_slot = r->lease.last_slot > r->task.slot ? r->lease.last_slot : r->task.slot;
	j->failures = r->failures;
	metrics_run_done(d->metrics, j->name, &r->res.counts, r->res.seconds, status, now);
	if (r->lease_lost) {
		/* another daemon has the job now; a failure at the end of this run
		 * (say, a MOVE of mail it moved first) is not the job's to back off */
		j->due.retry_at = 0;
		j->next = now + (time_t)(d->ttl_ms / 2000 ? d->ttl_ms / 2000 : 1);
		log_info("job.taken_over", "status=%s note=\"the lease was lost: another daemon runs "
			 "this job now\"", status);
		return;
	}
	if (r->rc < 0) {
		daemon_note_failure(d, r->err.cls);
		if (r->err.cls == ERR_FATAL) {
			char clean[300];
			j->disabled = true;
			j->due.retry_at = now;  /* as released: due at once after a reload */
			log_error("job.disabled", "class=fatal reason=\"%s\" until=reload",
				  log_clean(r->err.msg, strlen(r->err.msg), clean, sizeof(clean)));
			return;
		}
		j->due.retry_at = now + (time_t)((r->retry_ms + 999) / 1000);
		djob_log_retry(j, r->retry_ms, r->err.cls, r->err.msg);
		return;
	}
	if (r->res.stopped) {
		j->due.retry_at = now;   /* what is left is due at once (release said so too) */
		return;
	}
	j->due.retry_at = 0;
}

static void handle_result(struct daemon *d, struct dresult *r, time_t now)
{
	struct djob *j = r->task.job;
	j->running = false;
	d->running--;
	dacct_give(&r->task);
	log_ctx_set(j->name, NULL);
	if (r->task.kind != TASK_RUN) {
		push_result(d, j, r, now);
		log_ctx_set(NULL, NULL);
		/* whatever the run's outcome: a held lease that should not be goes back */
		if (j->lease_held && !j->running && (d->stopping || j->removed || !djob_is_idle(j)))
			push_end(d, j, d->stopping ? "stopping" : j->removed ? "removed from the "
				 "configuration" : "no longer an idle job", now);
		if (!j->removed)
			metrics_job_state(d->metrics, j->name, j->failures, j->disabled, false, 0);
		dconf_unref(d, &r->task.conf);
		return;
	}
	switch (r->kind) {
	case DRESULT_ERROR:
		result_error(d, j, r, now);
		break;
	case DRESULT_LOST:
		result_lost(d, j, r, now);
		break;
	case DRESULT_RAN:
		result_ran(d, j, r, now);
		break;
	}
	/* a run by time that ended after a reload made the job an idle one:
	 * its schedule has no times, so idling starts now */
	if (!d->opts.once && djob_is_idle(j) && !j->disabled)
		j->next = j->next == NEVER ? 0 : j->next;
	log_ctx_set(NULL, NULL);
	if (!j->removed)
		metrics_job_state(d->metrics, j->name, j->failures, j->disabled, false,
				  r->lease.last_success_at);
	/* last: a removed job's configuration may go with this reference */
	dconf_unref(d, &r->task.conf);
}

static void drain_results(struct daemon *d)
{
	uint64_t v;
	struct dresult *rs;
	size_t n;
	(void)!read(d->evfd, &v, sizeof(v));
	results_take(d, &rs, &n);
	time_t now = time(NULL);
	for (size_t i = 0; i < n; i++)
		handle_result(d, &rs[i], now);
	free(rs);
	push_events(d, now);
	djobs_sweep(d);
}

/* ---- signals ------------------------------------------------------------- */

static void begin_stop(struct daemon *d, const char *why)
{
	if (d->stopping) {
		log_info("daemon.stopping", "reason=%s note=\"already stopping\"", why);
		return;
	}
	d->stopping = true;
	sd_notify_send("STOPPING=1");
	/* tasks no worker took yet are simply not run */
	pthread_mutex_lock(&d->lock);
	while (d->qlen) {
		struct dtask t = d->queue[d->qhead];
		d->qhead = (d->qhead + 1) % d->qcap;
		d->qlen--;
		t.job->running = false;
		d->running--;
		dacct_give(&t);
		dconf_unref(d, &t.conf);
	}
	pthread_mutex_unlock(&d->lock);
	for (size_t i = 0; i < d->njobs; i++)
		if (d->jobs[i]->running)
			atomic_store(&d->jobs[i]->stop, true);
	/* idle connections end now (DONE, LOGOUT); held leases go back */
	for (size_t i = 0; i < d->njobs; i++)
		if (!d->jobs[i]->running)
			push_end(d, d->jobs[i], "stopping", time(NULL));
	log_info("daemon.stopping", "reason=%s running=%zu", why, d->running);
}

static int metrics_handler(void *ud, const char *path, struct buf *body, const char **type);

/*
 * A reload that changes metrics_listen moves the endpoint at once. The new
 * address is opened before the old one closes, so scrapes see no gap; the
 * same port under another name ("localhost" for "127.0.0.1") is taken by
 * closing the old one first. An address that cannot be opened is logged
 * and leaves no endpoint: the next reload tries it again.
 */
static void metrics_listen_apply(struct daemon *d, const struct config *cfg)
{
	const char *want = cfg->metrics_listen;
	struct http_server *next = NULL;
	struct err err = {0};
	if (d->opts.once || (!want && !d->http_listen) ||
	    (want && d->http_listen && strcmp(want, d->http_listen) == 0))
		return;
	if (want && http_server_start(cfg->metrics_host, cfg->metrics_port, metrics_handler, d,
				      &next, &err) < 0) {
		http_server_free(&d->http);
		err_clear(&err);
		if (http_server_start(cfg->metrics_host, cfg->metrics_port, metrics_handler, d,
				      &next, &err) < 0)
			log_error("metrics.listen_failed", "listen=\"%s\" error=\"%s\"", want, err.msg);
	}
	http_server_free(&d->http);
	free(d->http_listen);
	d->http = next;
	d->http_listen = next ? xstrdup(want) : NULL;
	log_info("metrics.listen", "listen=\"%s\"", d->http_listen ? d->http_listen : "none");
}

static void reload(struct daemon *d)
{
	struct config *cfg = NULL;
	struct err err = {0};
	char clean[600];
	sd_notify_send("RELOADING=1");
	log_info("config.reloading", "file=\"%s\"", d->opts.config_path);
	if (config_load(d->opts.config_path, &cfg, &err) < 0) {
		log_error("config.reload_failed", "error=\"%s\" action=\"keeping the running configuration\"",
			  log_clean(err.msg, strlen(err.msg), clean, sizeof(clean)));
		metrics_reload(d->metrics, false);
		sd_notify_send("READY=1");
		return;
	}
	apply_log_settings(d, cfg);
	const struct config *old = d->conf->cfg;
	unsigned min, max;
	pool_limits(d, cfg, &min, &max);
	pthread_mutex_lock(&d->lock);
	d->runs_keep_s = cfg->job_runs_retention_s;
	if (min != d->min_workers || max != d->max_workers)
		log_info("config.workers", "workers=%u max_workers=%u", min, max);
	d->min_workers = min;
	d->max_workers = max;
	/* idle workers look again: beyond the new minimum they linger and go */
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	if (strcmp(cfg->database_url, old->database_url) != 0) {
		pthread_mutex_lock(&d->lock);
		free(d->db_url);
		d->db_url = xstrdup(cfg->database_url);
		d->db_gen++;
		pthread_mutex_unlock(&d->lock);
		log_info("config.database_changed", "note=\"workers reconnect before their next job\"");
	}
	metrics_listen_apply(d, cfg);
	struct dconf *next = xcalloc(1, sizeof(*next));
	next->cfg = cfg;
	next->refs = 1;
	djobs_apply(d, next);
	dconf_unref(d, &d->conf);
	d->conf = next;
	for (size_t i = 0; i < d->njobs; i++)
		if (d->jobs[i]->removed && !d->jobs[i]->running)
			push_end(d, d->jobs[i], "removed from the configuration", time(NULL));
	djobs_publish(d);
	metrics_reload(d->metrics, true);
	log_info("config.reloaded", "jobs=%zu", cfg->njobs);
	sd_notify_send("READY=1");
}

static void read_signals(struct daemon *d, int sigfd)
{
	struct signalfd_siginfo si;
	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (!d->stopping)
				reload(d);
		} else {
			begin_stop(d, si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
		}
	}
}

/* ---- the loop ------------------------------------------------------------ */

static int sleep_ms(const struct daemon *d, int64_t cap_ms)
{
	int64_t ms = cap_ms;
	if (d->stopping)
		return ms < 1000 ? (int)ms : 1000;
	/* in milliseconds: counted from whole seconds, a job would start up to
	 * a second after its time */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	for (size_t i = 0; i < d->njobs; i++) {
		const struct djob *j = d->jobs[i];
		/* held: waits for a result of its account's, which wakes the loop */
		if (j->running || j->disabled || j->removed || j->once_done || j->held ||
		    j->next == NEVER)
			continue;
		/* idling with nothing to do: the idler's events wake the loop */
		if (!d->opts.once && djob_is_idle(j) && j->lease_held && j->idle_id && !j->mail_pending)
			continue;
		int64_t t = (int64_t)j->next * 1000 - now_ms;
		if (t < 0)
			t = 0;
		if (t < ms)
			ms = t;
	}
	return (int)ms;
}

static int loop(struct daemon *d, int sigfd)
{
	uint64_t wd_us = sd_watchdog_usec();
	int64_t cap = LOOP_MAX_SLEEP_MS;
	if (wd_us && (int64_t)(wd_us / 2000) < cap)
		cap = (int64_t)(wd_us / 2000) > 0 ? (int64_t)(wd_us / 2000) : 1;
	for (;;) {
		time_t now = time(NULL);
		metrics_loop(d->metrics, now);
		if (wd_us)
			sd_notify_send("WATCHDOG=1");
		if (!d->stopping)
			dispatch(d, now);
		/* while tasks queue, look again soon: a worker may start waiting */
		int tick = workers_balance(d);
		if ((d->stopping || once_finished(d)) && d->running == 0)
			return 0;
		struct pollfd p[2] = { { .fd = sigfd, .events = POLLIN }, { .fd = d->evfd, .events = POLLIN } };
		int ms = sleep_ms(d, cap);
		if (tick >= 0 && tick < ms)
			ms = tick;
		int rc = poll(p, 2, ms);
		if (rc < 0)
			continue;  /* EINTR */
		if (p[0].revents & POLLIN)
			read_signals(d, sigfd);
		if (p[1].revents & POLLIN)
			drain_results(d);
	}
}

static int metrics_handler(void *ud, const char *path, struct buf *body, const char **type)
{
	struct daemon *d = ud;
	if (strcmp(path, "/metrics") == 0) {
		*type = "text/plain; version=0.0.4; charset=utf-8";
		metrics_render(d->metrics, body);
		return 200;
	}
	if (strcmp(path, "/healthz") == 0)
		return metrics_health(d->metrics, time(NULL), HEALTH_STALE_S > (time_t)(d->ttl_ms / 1000)
				      ? HEALTH_STALE_S : (time_t)(d->ttl_ms / 1000), body);
	buf_adds(body, "not found: try /metrics or /healthz\n");
	return 404;
}

static void identity(struct daemon *d)
{
	if (gethostname(d->host, sizeof(d->host) - 1) != 0 || !d->host[0])
		snprintf(d->host, sizeof(d->host), "localhost");
	d->pid = (int)getpid();
	snprintf(d->id, sizeof(d->id), "%08x%08x", arc4random(), arc4random());
}

int daemon_run(const struct daemon_opts *o, struct config *cfg, enum err_class *worst_r,
	       struct err *err)
{
	struct daemon *d = xcalloc(1, sizeof(*d));
	sigset_t set;
	int sigfd = -1, rc = -1;
	bool started = false;

	*worst_r = ERR_NONE;
	d->opts = *o;
	identity(d);
	d->ttl_ms = env_duration_ms("M2T_LEASE_TTL", 30000, 300);
	d->retry_min_ms = env_duration_ms("M2T_RETRY_MIN", 30000, 10);
	d->retry_max_ms = env_duration_ms("M2T_RETRY_MAX", 15 * 60000, 10);
	if (d->retry_max_ms < d->retry_min_ms)
		d->retry_max_ms = d->retry_min_ms;
	d->idle_opts.reissue_ms = env_duration_ms("M2T_IDLE_REISSUE", IMAP_IDLE_REISSUE_DEFAULT_MS, 10);
	d->idle_opts.poll_ms = env_duration_ms("M2T_IDLE_POLL", IMAP_IDLE_POLL_DEFAULT_MS, 10);
	d->idle_opts.answer_ms = env_duration_ms("M2T_IDLE_ANSWER", IMAP_IDLE_ANSWER_DEFAULT_MS, 10);
	d->idle_backoff_max_ms = env_duration_ms("M2T_IDLE_BACKOFF_MAX", 5 * 60000, 1000);
	d->prune_every_ms = env_duration_ms("M2T_RUNS_PRUNE_EVERY", 3600000, 1000);
	d->grace_ms = env_duration_ms("M2T_WORKER_GRACE", 200, 1);
	d->linger_ms = env_duration_ms("M2T_WORKER_LINGER", 60000, 10);
	pthread_mutex_init(&d->lock, NULL);
	{
		/* idle extra workers wait with a timeout: on the monotonic clock */
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&d->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_mutex_init(&d->rlock, NULL);
	d->conf = xcalloc(1, sizeof(*d->conf));
	d->conf->cfg = cfg;
	d->conf->refs = 1;
	pool_limits(d, cfg, &d->min_workers, &d->max_workers);
	d->db_url = xstrdup(cfg->database_url);
	d->runs_keep_s = cfg->job_runs_retention_s;
	d->evfd = -1;

	/* every thread started below inherits the mask: signals reach only the signalfd */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    (d->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		err_set(err, ERR_FATAL, "cannot set up signal handling");
		goto out;
	}
	/* GMime's global state, once, before any worker parses a mail */
	mime_global_init();
	started = true;
	d->metrics = metrics_new(d->id, d->host, o->version ? o->version : "unknown",
				 d->min_workers);
	djobs_init(d);
	djobs_publish(d);
	if (cfg->metrics_listen && !o->once) {
		if (http_server_start(cfg->metrics_host, cfg->metrics_port, metrics_handler, d,
				      &d->http, err) < 0)
			goto out;
		d->http_listen = xstrdup(cfg->metrics_listen);
	}
	if (keeper_start(d, &d->keeper, err) < 0)
		goto out;
	if (!o->once && idler_start(d, &d->idler, err) < 0)
		goto out;
	if (workers_start(d, err) < 0)
		goto out;
	log_info("daemon.start", "daemon_id=%s host=%s pid=%d workers=%u max_workers=%u jobs=%zu "
		 "lease_ttl_ms=%" PRIu64 "%s", d->id, d->host, d->pid, d->min_workers,
		 d->max_workers, cfg->njobs, d->ttl_ms,
		 o->once ? (o->all ? " mode=once-all" : " mode=once") : "");
	sd_notify_send("READY=1");
	rc = loop(d, sigfd);
	log_info("daemon.stopped", "daemon_id=%s", d->id);
	*worst_r = d->worst;
out:
	workers_stop(d);
	idler_stop(&d->idler);
	keeper_stop(&d->keeper);
	http_server_free(&d->http);
	free(d->http_listen);
	{
		/* results posted after the loop ended (a failed start) */
		struct dresult *rs;
		size_t n;
		results_take(d, &rs, &n);
		for (size_t i = 0; i < n; i++) {
			imap_idle_free(&rs[i].idle);
			dconf_unref(d, &rs[i].task.conf);
		}
		free(rs);
		free(d->ievents);
	}
	djobs_free(d);
	daccts_free(d);
	dconf_unref(d, &d->conf);  /* frees cfg with the last run's reference */
	metrics_free(&d->metrics);
	if (started)
		mime_global_shutdown();
	if (sigfd >= 0)
		close(sigfd);
	if (d->evfd >= 0)
		close(d->evfd);
	free(d->queue);
	free(d->db_url);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->rlock);
	free(d);
	return rc;
}
