/*
 * Push (schedule: idle): the idler, one thread that waits on every IMAP
 * IDLE connection of the daemon at once (epoll), so that thousands of
 * idling jobs cost one thread, not thousands. It only reads what is there
 * and writes a few bytes (imap_idle.h never waits), so a stalled or hostile
 * server cannot delay another job's IDLE. What it learns goes to the
 * scheduler as events ("mail arrived", "connection over"); the scheduler
 * hands the run to a worker, which opens its own connection as any run
 * does: the IDLE connection keeps idling meanwhile, so mail arriving during
 * a run is seen too (the job runs again after).
 *
 * Connecting and logging in wait on the network, so they happen in a
 * worker (idle_connect), with the account's timeouts, before the connection
 * is handed here.
 *
 * Cost: each pass scans the connections for the nearest deadline (linear;
 * a few microseconds per thousand) and finds an event's connection by id.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine/sched/daemon_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define IDLER_MAX_EVENTS 256
#define IDLER_MAX_SLEEP_MS 1000

struct ientry {
	uint64_t id;
	char *job;
	struct imap_idle *idle;
};

struct icmd {
	uint64_t id;
	char *job;
	struct imap_idle *idle;   /* add; NULL: remove */
};

struct idler {
	struct daemon *d;
	pthread_t thread;
	int epfd, wakefd;
	uint64_t next_id;         /* main thread */
	pthread_mutex_t lock;
	struct icmd *cmds;
	size_t ncmds, ccap;
	bool quit;
	struct ientry *v;         /* idler thread only */
	size_t n, cap;
};

static void post(struct daemon *d, uint64_t id, bool mail, const struct err *err)
{
	pthread_mutex_lock(&d->rlock);
	if (d->nievents == d->icap) {
		d->icap = d->icap ? d->icap * 2 : 64;
		d->ievents = xreallocarray(d->ievents, d->icap, sizeof(*d->ievents));
	}
	struct idle_event *e = &d->ievents[d->nievents++];
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->mail = mail;
	if (err)
		e->err = *err;
	pthread_mutex_unlock(&d->rlock);
	uint64_t one = 1;
	(void)!write(d->evfd, &one, sizeof(one));
}

void idle_events_take(struct daemon *d, struct idle_event **v_r, size_t *n_r)
{
	pthread_mutex_lock(&d->rlock);
	*v_r = d->ievents;
	*n_r = d->nievents;
	d->ievents = NULL;
	d->nievents = 0;
	d->icap = 0;
	pthread_mutex_unlock(&d->rlock);
}

static void entry_end(struct idler *x, size_t k)
{
	struct ientry *e = &x->v[k];
	epoll_ctl(x->epfd, EPOLL_CTL_DEL, imap_idle_fd(e->idle), NULL);
	log_ctx_set(e->job, NULL);
	imap_idle_free(&e->idle);
	log_ctx_set(NULL, NULL);
	free(e->job);
	x->v[k] = x->v[--x->n];
}

static void take_cmds(struct idler *x)
{
	pthread_mutex_lock(&x->lock);
	struct icmd *cmds = x->cmds;
	size_t n = x->ncmds;
	x->cmds = NULL;
	x->ncmds = x->ccap = 0;
	pthread_mutex_unlock(&x->lock);
	for (size_t i = 0; i < n; i++) {
		if (!cmds[i].idle) {
			for (size_t k = 0; k < x->n; k++)
				if (x->v[k].id == cmds[i].id) {
					entry_end(x, k);
					break;
				}
			continue;
		}
		if (x->n == x->cap) {
			x->cap = x->cap ? x->cap * 2 : 64;
			x->v = xreallocarray(x->v, x->cap, sizeof(*x->v));
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = cmds[i].id};
		x->v[x->n++] = (struct ientry){cmds[i].id, cmds[i].job, cmds[i].idle};
		if (epoll_ctl(x->epfd, EPOLL_CTL_ADD, imap_idle_fd(cmds[i].idle), &ev) < 0) {
			struct err err;
			err_set(&err, ERR_TRANSIENT, "epoll: %s", strerror(errno));
			post(x->d, cmds[i].id, false, &err);
			entry_end(x, x->n - 1);
		}
	}
	free(cmds);
}

/* Reads, answers, times; posts what happened. Ends the entry on failure. */
static void step(struct idler *x, size_t k, uint64_t now)
{
	struct ientry *e = &x->v[k];
	struct err err = {0};
	bool mail = false;
	log_ctx_set(e->job, NULL);
	int rc = imap_idle_step(e->idle, now, &mail, &err);
	if (mail) {
		log_debug("job.idle_mail", "note=\"new mail reported\"");
		post(x->d, e->id, true, NULL);
	}
	log_ctx_set(NULL, NULL);
	if (rc < 0) {
		post(x->d, e->id, false, &err);
		entry_end(x, k);
	}
}

static void *idler_main(void *arg)
{
	struct idler *x = arg;
	struct epoll_event evs[IDLER_MAX_EVENTS];
	for (;;) {
		pthread_mutex_lock(&x->lock);
		bool quit = x->quit;
		pthread_mutex_unlock(&x->lock);
		if (quit)
			break;
		take_cmds(x);
		uint64_t now = imap_idle_now_ms();
		int64_t wait = IDLER_MAX_SLEEP_MS;
		for (size_t k = 0; k < x->n; k++) {
			uint64_t dl = imap_idle_deadline(x->v[k].idle);
			int64_t w = dl <= now ? 0 : (int64_t)(dl - now);
			if (w < wait)
				wait = w;
		}
		int n = epoll_wait(x->epfd, evs, IDLER_MAX_EVENTS, (int)wait);
		now = imap_idle_now_ms();
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == 0) {
				uint64_t v;
				(void)!read(x->wakefd, &v, sizeof(v));
				continue;
			}
			for (size_t k = 0; k < x->n; k++)
				if (x->v[k].id == evs[i].data.u64) {
					step(x, k, now);
					break;
				}
		}
		/* the timers: re-issue, NOOP, answers overdue */
		for (size_t k = 0; k < x->n;) {
			size_t before = x->n;
			if (imap_idle_deadline(x->v[k].idle) <= now)
				step(x, k, now);
			if (x->n == before)
				k++;
		}
	}
	take_cmds(x);
	while (x->n)
		entry_end(x, x->n - 1);
	return NULL;
}

int idler_start(struct daemon *d, struct idler **x_r, struct err *err)
{
	struct idler *x = xcalloc(1, sizeof(*x));
	x->d = d;
	x->next_id = 1;
	pthread_mutex_init(&x->lock, NULL);
	x->epfd = epoll_create1(EPOLL_CLOEXEC);
	x->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
	if (x->epfd < 0 || x->wakefd < 0 ||
	    epoll_ctl(x->epfd, EPOLL_CTL_ADD, x->wakefd, &ev) < 0 ||
	    pthread_create(&x->thread, NULL, idler_main, x) != 0) {
		if (x->epfd >= 0)
			close(x->epfd);
		if (x->wakefd >= 0)
			close(x->wakefd);
		pthread_mutex_destroy(&x->lock);
		free(x);
		return err_set(err, ERR_FATAL, "cannot start the IDLE loop: %s", strerror(errno));
	}
	*x_r = x;
	return 0;
}

static void wake(struct idler *x)
{
	uint64_t one = 1;
	(void)!write(x->wakefd, &one, sizeof(one));
}

static void push_cmd(struct idler *x, uint64_t id, const char *job, struct imap_idle *idle)
{
	pthread_mutex_lock(&x->lock);
	if (x->ncmds == x->ccap) {
		x->ccap = x->ccap ? x->ccap * 2 : 16;
		x->cmds = xreallocarray(x->cmds, x->ccap, sizeof(*x->cmds));
	}
	x->cmds[x->ncmds++] = (struct icmd){id, job ? xstrdup(job) : NULL, idle};
	pthread_mutex_unlock(&x->lock);
	wake(x);
}

uint64_t idler_add(struct idler *x, const char *job, struct imap_idle *idle)
{
	uint64_t id = x->next_id++;
	push_cmd(x, id, job, idle);
	return id;
}

void idler_remove(struct idler *x, uint64_t id)
{
	push_cmd(x, id, NULL, NULL);
}

void idler_stop(struct idler **xp)
{
	struct idler *x = *xp;
	if (!x)
		return;
	pthread_mutex_lock(&x->lock);
	x->quit = true;
	pthread_mutex_unlock(&x->lock);
	wake(x);
	pthread_join(x->thread, NULL);
	close(x->epfd);
	close(x->wakefd);
	pthread_mutex_destroy(&x->lock);
	free(x->v);
	free(x->cmds);
	free(x);
	*xp = NULL;
}

int idle_connect(struct daemon *d, const struct config_job *job, struct imap_idle **idle_r,
		 struct err *err)
{
	struct imap_client *c = NULL;
	char *mailbox = NULL;
	uint32_t uv, exists;
	int rc = -1;
	*idle_r = NULL;
	if (job->account->protocol != PROTO_IMAP) {
		err_set(err, ERR_FATAL, "schedule: idle needs an IMAP account (push is IMAP IDLE); "
			"use a cron schedule for this job");
		goto out;
	}
	if (imap_connect(job->account, NULL, &c, err) < 0 ||
	    imap_resolve_mailbox(c, job->mailbox, false, &mailbox, err) < 0 ||
	    /* EXAMINE: idling must not take \Recent or change anything */
	    imap_select(c, mailbox, true, &uv, &exists, err) < 0)
		goto out;
	rc = imap_idle_new(&c, &d->idle_opts, imap_idle_now_ms(), idle_r, err);
out:
	imap_client_free(&c);
	free(mailbox);
	return rc;
}
