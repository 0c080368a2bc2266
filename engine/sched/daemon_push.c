/*
 * Push (schedule: idle) in the scheduler (main thread only): when an idle
 * job claims its lease and opens its IDLE connection, runs after new mail,
 * reconnects after a backoff, and gives its lease back. The connections
 * themselves wait in the idler (daemon_idle.c); the work is done by the
 * workers, as for any run, and counts against the account's
 * max_concurrent_runs (releasing a lease does not: no server is involved).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sched/daemon_int.h"
#include "engine/util/log.h"
#include "engine/util/str.h"

static void push_idle_task(struct daemon *d, struct djob *j, enum dtask_kind kind, bool claim,
			   time_t now)
{
	struct dtask t = { .job = j, .cfg = j->cfg, .conf = d->conf, .slot = now, .kind = kind,
			   .claim = claim };
	if (kind != TASK_IDLE_RELEASE)   /* giving a lease back is the database's work */
		dacct_take(j, &t);
	d->conf->refs++;
	j->running = true;
	j->next = 0;
	/* lease_lost is the keeper's word on a lease held across runs: kept */
	atomic_store(&j->stop, false);
	if (claim)
		atomic_store(&j->lease_lost, false);
	d->running++;
	workers_push(d, &t);
	metrics_job_state(d->metrics, j->name, j->failures, j->disabled, true, 0);
}

/* Stops idling on j: the connection ends (DONE, LOGOUT) and the lease goes back. */
void push_end(struct daemon *d, struct djob *j, const char *why, time_t now)
{
	if (j->idle_id)
		idler_remove(d->idler, j->idle_id);
	j->idle_id = 0;
	j->mail_pending = false;
	if (!j->lease_held)
		return;
	log_ctx_set(j->name, NULL);
	log_info("job.idle_end", "reason=\"%s\"", why);
	log_ctx_set(NULL, NULL);
	push_idle_task(d, j, TASK_IDLE_RELEASE, false, now);
}

static uint64_t idle_backoff(struct daemon *d, unsigned fails)
{
	return due_backoff_ms(fails, 1000, d->idle_backoff_max_ms,
			      (double)arc4random() / 4294967296.0);
}

/* Connecting failed (or the database did): again after a backoff, capped. */
static void idle_retry(struct daemon *d, struct djob *j, const struct err *e, time_t now)
{
	uint64_t ms = idle_backoff(d, ++j->idle_fails);
	j->next = now + (time_t)((ms + 999) / 1000);
	djob_log_retry(j, (int64_t)ms, e->cls, e->msg);
}

void push_dispatch(struct daemon *d, struct djob *j, time_t now)
{
	if (j->lease_held && atomic_load(&j->lease_lost)) {
		/* another daemon has it now: stop idling here, look again later */
		keeper_remove(d->keeper, j);
		if (j->idle_id)
			idler_remove(d->idler, j->idle_id);
		j->idle_id = 0;
		j->lease_held = false;
		j->mail_pending = false;
		j->next = now + (time_t)(d->ttl_ms / 2000 ? d->ttl_ms / 2000 : 1);
		log_ctx_set(j->name, NULL);
		log_info("job.taken_over", "note=\"the lease was lost: another daemon idles on this "
			 "job now\"");
		log_ctx_set(NULL, NULL);
		return;
	}
	if (j->next > now)
		return;
	if ((!j->lease_held || !j->idle_id || j->mail_pending) && !dacct_turn(j))
		return;
	if (!j->lease_held)
		push_idle_task(d, j, TASK_IDLE_OPEN, true, now);
	else if (!j->idle_id)
		push_idle_task(d, j, TASK_IDLE_OPEN, false, now);   /* reconnect, then run */
	else if (j->mail_pending) {
		j->mail_pending = false;
		push_idle_task(d, j, TASK_IDLE_RUN, false, now);
	}
}

void push_result(struct daemon *d, struct djob *j, struct dresult *r, time_t now)
{
	if (r->task.kind == TASK_IDLE_RELEASE) {
		j->lease_held = false;
		j->next = 0;
		return;
	}
	if (r->kind == DRESULT_ERROR) {
		idle_retry(d, j, &r->err, now);
		return;
	}
	if (r->kind == DRESULT_LOST) {
		const struct store_lease *l = &r->lease;
		j->next = now + (l->held && strcmp(l->holder_id, d->id) != 0
				 ? (time_t)(d->ttl_ms / 2000 ? d->ttl_ms / 2000 : 1) : 1);
		log_debug("job.held_elsewhere", "holder=%s pid=%d daemon=%s", l->holder_host,
			  l->holder_pid, l->holder_id);
		return;
	}
	j->lease_held = true;
	if (r->task.kind == TASK_IDLE_OPEN) {
		if (r->idle_failed) {
			if (r->idle_err.cls == ERR_FATAL) {
				char clean[300];
				j->disabled = true;
				log_error("job.disabled", "class=fatal reason=\"%s\" until=reload",
					  log_clean(r->idle_err.msg, strlen(r->idle_err.msg), clean,
						    sizeof(clean)));
				push_end(d, j, "disabled", now);
				return;
			}
			idle_retry(d, j, &r->idle_err, now);
			return;
		}
		j->idle_fails = 0;
		j->idle_id = idler_add(d->idler, j->name, r->idle);
		log_info("job.idle", "mode=%s", imap_idle_polling(r->idle) ? "noop-poll" : "idle");
		r->idle = NULL;
	}
	const char *status = r->rc < 0 ? "failed" : r->res.stopped ? "stopped" : "ok";
	metrics_run_done(d->metrics, j->name, &r->res.counts, r->res.seconds, status, now);
	if (r->rc < 0) {
		/* the mail is still there: run again after a backoff */
		j->failures++;
		daemon_note_failure(d, r->err.cls);
		uint64_t ms = due_backoff_ms(j->failures, d->retry_min_ms, d->retry_max_ms,
					     (double)arc4random() / 4294967296.0);
		j->mail_pending = true;
		j->next = now + (time_t)((ms + 999) / 1000);
		djob_log_retry(j, (int64_t)ms, r->err.cls, r->err.msg);
	} else {
		j->failures = 0;
		if (r->res.stopped)
			j->mail_pending = true;
	}
}

/* Events from the idler: new mail, or a connection over (reconnect with backoff). */
void push_events(struct daemon *d, time_t now)
{
	struct idle_event *ev;
	size_t n;
	idle_events_take(d, &ev, &n);
	for (size_t i = 0; i < n; i++) {
		struct djob *j = NULL;
		for (size_t k = 0; k < d->njobs && !j; k++)
			if (d->jobs[k]->idle_id == ev[i].id)
				j = d->jobs[k];
		if (!j)
			continue;  /* removed meanwhile */
		if (ev[i].mail) {
			j->mail_pending = true;
			continue;
		}
		j->idle_id = 0;
		j->idle_fails++;
		uint64_t ms = idle_backoff(d, j->idle_fails);
		j->next = now + (time_t)((ms + 999) / 1000);
		char in[32], clean[300];
		str_fmt_duration_ms(ms, in, sizeof(in));
		log_ctx_set(j->name, NULL);
		log_warn("job.idle_lost", "reconnect_in=%s failures=%u reason=\"%s\"", in,
			 j->idle_fails, log_clean(ev[i].err.msg, strlen(ev[i].err.msg), clean,
						   sizeof(clean)));
		log_ctx_set(NULL, NULL);
	}
	free(ev);
}
