/*
 * The whole way of one job run (DESIGN.md, "One message's way"), for any
 * source behind engine/fetch/source.h (IMAP, POP3, Maildir, stdin).
 *
 * Effectively once: a message is disposed on the server (moved to the
 * archive or badmail folder, or deleted by POP3) only after the transaction
 * that recorded it has committed. A crash after COMMIT and before the
 * dispose leaves the message in the mailbox with its processed_messages
 * row; the next run finds the row (by UID, or by the POP3 UIDL / Maildir
 * name) and only disposes it. A crash before COMMIT leaves nothing in the
 * database and the message in the mailbox: it is simply done again.
 *
 * Each message is parsed, preprocessed (the stages of the job's rule files,
 * else the shipped default pipeline) and decided by the job's rules
 * (rules/decide.h: statements, follow-up detection and loop protection;
 * without rules the built-in default with the same follow-up detection and
 * loop protection). A rule that fails on a message (a pattern over its
 * limits, the time budget) sends that message to badmail with the reason.
 * A plan's move_to folder is made ready before the first batch
 * (engine/job/dispose.h), so the dispose after COMMIT finds it.
 *
 * Messages are fetched a batch at a time (one UID FETCH per batch) and
 * handled one at a time inside the callback; the store copies what it
 * needs into its queue (at most 128 messages or ~16 MB before it sends),
 * so memory is bounded whatever the size of the mailbox.
 */
#include "engine/job/job_run.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/job/job_int.h"
#include "engine/util/fault.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"
#include "rules/ruleset.h"

/* Committed messages gathered before one MOVE (see run_batch). */
#define DISPOSE_CHUNK 5000

bool job_stop_requested(struct run_state *st)
{
	if (!st->stopped && st->stop && atomic_load_explicit(st->stop, memory_order_relaxed)) {
		st->stopped = true;
		log_info("job.stopping", "reason=\"%s\"", "asked to stop between two messages");
	}
	return st->stopped;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count_outcome(struct run_counts *c, enum outcome o)
{
	switch (o) {
	case OUTCOME_TICKET: c->tickets++; break;
	case OUTCOME_APPENDED: c->appended++; break;
	case OUTCOME_IGNORED: c->ignored++; break;
	case OUTCOME_BADMAIL: c->badmail++; break;
	}
}

/* Disposes what has been committed; only ever called after COMMIT. A
 * message stays where it is when the job keeps its mail on the server
 * (IMAP marks it \Seen, badmail excepted), and badmail on a source without
 * folders (POP3): those are remembered by their identity and skipped by
 * every later run without a word. */
static int dispose_committed(struct run_state *st, struct err *err)
{
	double t0 = now_seconds();
	int rc = dispose_run(&st->out, err);
	st->move_s += now_seconds() - t0;
	return rc;
}

/* After COMMIT: count each item by the outcome recorded and queue its dispose. */
static void batch_committed(struct run_state *st)
{
	for (size_t i = 0; i < st->nitems; i++) {
		const struct store_item *item = &st->items[i];
		log_ctx_uid(item->uid);
		if (item->already_done) {
			st->counts.already_done++;
			log_info("message.already_done", "outcome=%s",
				 outcome_name(item->done_outcome));
		} else {
			count_outcome(&st->counts, item->done_outcome);
			/* matched_by quotes a Message-ID or subject: mail text, cleaned */
			char how[160];
			if (item->ticket_number[0])
				log_debug("message.stored", "outcome=%s ticket=%s%s%s%s",
					  outcome_name(item->done_outcome), item->ticket_number,
					  item->matched_by[0] ? " followup=\"" : "",
					  log_clean(item->matched_by, strlen(item->matched_by), how,
						    sizeof(how)),
					  item->matched_by[0] ? "\"" : "");
		}
		st->have_outcome = true;
		st->last_outcome = item->done_outcome;
		/* a mail found done (earlier in this batch, or by content under a
		 * new UID or key): where the first one's plan sent it */
		unsigned folder = st->item_folder[i];
		if (item->already_done)
			folder = dispose_folder_of(&st->out, item->done_move_to[0] ? item->done_move_to
										  : NULL);
		dispose_queue(&st->out, item->uid, item->done_outcome, folder);
	}
	log_ctx_uid(0);
	st->nitems = 0;
}

static int cmp_processed(const void *a, const void *b)
{
	uint32_t x = ((const struct processed_uid *)a)->uid;
	uint32_t y = ((const struct processed_uid *)b)->uid;
	return (x > y) - (x < y);
}

static const struct processed_uid *find_processed(const struct processed_uid *v, size_t n,
						  uint32_t uid)
{
	struct processed_uid key = {.uid = uid};
	if (n == 0)
		return NULL;
	return bsearch(&key, v, n, sizeof(*v), cmp_processed);
}

/* One transaction around a batch: store everything, COMMIT, then dispose. */
static int run_batch(struct run_state *st, const uint32_t *ids, size_t n,
		     const struct source_msg *oversized, size_t noversized, struct err *err)
{
	job_batch_reserve(st, n + noversized);
	if (store_begin(st->store, err) < 0)
		return -1;
	for (size_t i = 0; i < noversized; i++) {
		if (job_oversized(st, oversized[i].id, oversized[i].size, oversized[i].sha256,
				     err) < 0)
			goto fail;
	}
	double t0 = now_seconds();
	if (n && source_fetch(st->src, ids, n, job_fetched, st, err) < 0)
		goto fail;
	double t1 = now_seconds();
	st->fetch_s += t1 - t0;
	fault_point("before-commit");
	if (store_commit(st->store, err) < 0)
		goto fail_nodb;
	st->commit_s += now_seconds() - t1;
	fault_point("after-commit");
	batch_committed(st);
	/*
	 * Disposes are gathered over several batches: on a Maildir-backed IMAP
	 * server every MOVE rescans the mailbox's file list, so one MOVE per
	 * batch makes a large mailbox quadratic. What is committed but not yet
	 * disposed is safe: the next run finds its processed record and only
	 * disposes it.
	 */
	if (dispose_pending(&st->out) >= DISPOSE_CHUNK)
		return dispose_committed(st, err);
	return 0;
fail:
	store_rollback(st->store);
fail_nodb:
	/*
	 * Nothing of this batch is recorded: its messages stay where they are.
	 * The committed ones of earlier batches stay queued: job_run still tries
	 * to dispose them (the server may be fine when the database was not).
	 */
	st->nitems = 0;
	return -1;
}

/* IMAP: remember UIDVALIDITY per mailbox, to notice a renumbered one. */
static int check_uidvalidity(struct run_state *st, struct err *err)
{
	bool known = false;
	uint32_t previous = 0;
	uint32_t now = st->info->uidvalidity;
	if (store_uidvalidity_record(st->store, st->job->account->name, st->info->mailbox, now,
				     &known, &previous, err) < 0)
		return -1;
	if (known && previous != now)
		/* every UID is new now; the (Message-ID, sha256) identity keeps
		 * already processed mail from becoming a second ticket, and the
		 * ingest records it under its new UID: fetched this once only */
		log_warn("job.uidvalidity_changed",
			 "mailbox=\"%s\" previous=%" PRIu32 " now=%" PRIu32, st->info->mailbox,
			 previous, now);
	return 0;
}

/* A listed message recorded earlier: its outcome (-1: new) and the
 * folder its plan moved it to (dispose_folder_of). */
struct done {
	int outcome;
	unsigned folder;
};

/*
 * The record of each listed message, before any body is fetched: by UID
 * (one query for exactly the listed UIDs, then a binary search per
 * message), by source key (one query for exactly the listed keys), or not
 * at all for piped mail (the ingest itself finds a duplicate).
 */
static int find_done(struct run_state *st, struct done *done, struct err *err)
{
	const struct source_msg *m = st->msgs;
	size_t n = st->nmsgs;
	for (size_t i = 0; i < n; i++)
		done[i] = (struct done){.outcome = -1};
	if (st->info->identity == SOURCE_ID_UID && n) {
		struct processed_uid *v = NULL;
		size_t nv = 0;
		/* the listing is ascending by UID (source_list) */
		uint32_t *uids = xcalloc(n, sizeof(*uids));
		for (size_t i = 0; i < n; i++)
			uids[i] = m[i].id;
		int rc = store_processed_uids(st->store, st->job->account->name, st->info->mailbox,
					      st->info->uidvalidity, uids, n, &v, &nv, err);
		free(uids);
		if (rc < 0)
			return -1;
		/* store_processed_uids returns them ascending by UID: bsearch-ready */
		for (size_t i = 0; i < n; i++) {
			const struct processed_uid *p = find_processed(v, nv, m[i].id);
			if (p)
				done[i] = (struct done){(int)p->outcome,
							dispose_folder_of(&st->out, p->move_to)};
		}
		free(v);
	} else if (st->info->identity == SOURCE_ID_KEY && n) {
		const char **keys = xcalloc(n, sizeof(*keys));
		struct processed_key *v = NULL;
		for (size_t i = 0; i < n; i++)
			keys[i] = m[i].key;
		int rc = store_processed_keys(st->store, st->job->account->name, keys, n, &v, err);
		free(keys);
		if (rc < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			done[i] = (struct done){v[i].outcome, dispose_folder_of(&st->out, v[i].move_to)};
		free(v);
	}
	return 0;
}

static int process_mailbox(struct run_state *st, struct err *err)
{
	struct done *done = NULL;
	struct source_msg *oversized = NULL;
	uint32_t *pending = NULL;
	size_t noversized = 0, npending = 0;
	int rc = -1;

	if (source_list(st->src, &st->msgs, &st->nmsgs, err) < 0)
		goto out;
	size_t n = st->nmsgs;
	done = xcalloc(n ? n : 1, sizeof(*done));
	if (find_done(st, done, err) < 0)
		goto out;

	pending = xcalloc(n ? n : 1, sizeof(*pending));
	oversized = xcalloc(n ? n : 1, sizeof(*oversized));
	for (size_t i = 0; i < n; i++) {
		if (done[i].outcome >= 0) {
			/* committed earlier, but not disposed: only dispose, where its
			 * plan said (a rule's move_to folder, else archive or badmail);
			 * kept mail that is unread again is only marked \Seen */
			if (dispose_queue_again(&st->out, &st->msgs[i], (enum outcome)done[i].outcome,
						done[i].folder))
				st->counts.already_done++;
		} else if (st->msgs[i].size > st->job->limits.max_size) {
			oversized[noversized++] = st->msgs[i];
		} else {
			pending[npending++] = st->msgs[i].id;
		}
	}
	if (dispose_pending(&st->out)) {
		log_info("job.redispose", "count=%zu", dispose_pending(&st->out));
		if (dispose_committed(st, err) < 0)
			goto out;
	}

	/* the config allows 1..1000; never loop on a zero */
	size_t batch = st->job->batch_size ? st->job->batch_size : 1;
	if (noversized && run_batch(st, NULL, 0, oversized, noversized, err) < 0)
		goto out;
	for (size_t off = 0; off < npending && !job_stop_requested(st); off += batch) {
		size_t k = npending - off < batch ? npending - off : batch;
		if (run_batch(st, pending + off, k, NULL, 0, err) < 0)
			goto out;
	}
	rc = dispose_committed(st, err);
out:
	free(done);
	free(pending);
	free(oversized);
	return rc;
}

/*
 * Runs the job on src (opened here when NULL). The run is on record in
 * job_runs before the source is opened, so a source that cannot be reached
 * leaves a failed run behind.
 */
static int run(const struct config_job *job, struct source *given, struct store *store,
	       const struct job_run_ctl *ctl, struct job_run_result *res, struct err *err)
{
	struct run_state st = {.job = job, .store = store, .src = given,
			       .stop = ctl ? ctl->stop : NULL};
	st.mopt.limits = job->limits;
	st.mopt.charset_fallback = job->account->charset_fallback;
	st.mopt.attach_html = job->attach_html;
	double start = now_seconds();
	int rc = -1;

	memset(res, 0, sizeof(*res));
	log_ctx_set(job->name, job->account->name);
	const char *label = given ? source_info(given)->mailbox : job->mailbox;
	if (store_job_run_start(store, job->name, job->account->name, label, &st.run_id,
				err) < 0)
		goto out_noctx;
	st.arena = arena_new();
	st.env = (struct rules_env){.rules = job->rules, .policy = &job->policy,
				    .account = job->account->name, .job = job->name,
				    .budget_ms = job->rules_budget_ms};
	if (ruleset_pipeline(job->rules, &st.pp, &st.own_pp, err) < 0)
		goto out;
	if (!st.src) {
		struct source_limits lim = {.max_message = job->limits.max_size};
		if (source_open(job, SOURCE_READ_WRITE, &lim, &st.src, err) < 0)
			goto out;
	}
	st.info = source_info(st.src);
	if (dispose_open(&st.out, st.src, job, err) < 0)
		goto out;
	if (st.info->identity == SOURCE_ID_UID && check_uidvalidity(&st, err) < 0)
		goto out;
	if (process_mailbox(&st, err) < 0) {
		/* committed earlier in this run, not yet disposed: try now, once */
		struct err derr = {0};
		if (dispose_pending(&st.out) && dispose_committed(&st, &derr) < 0)
			log_warn("job.dispose_failed", "error=\"%s\"", derr.msg);
		goto out;
	}
	rc = 0;
out:
	/* promptly: a POP3 server holds the maildrop locked until QUIT */
	{
		struct err cerr = {0};
		if (source_close(&st.src, &cerr) < 0) {
			log_warn("job.close_failed", "error=\"%s\"", cerr.msg);
			if (rc == 0) {
				*err = cerr;
				rc = -1;
			}
		}
	}
	res->counts = st.counts;
	res->seconds = now_seconds() - start;
	res->run_id = st.run_id;
	res->has_outcome = st.have_outcome;
	res->last_outcome = st.last_outcome;
	res->stopped = st.stopped;
	{
		struct err ferr = {0};
		const char *status = rc < 0 ? "failed" : st.stopped ? "stopped" : "ok";
		if (store_job_run_finish(store, st.run_id, &st.counts, status,
					 rc == 0 ? NULL : err->msg, &ferr) < 0 && rc == 0) {
			*err = ferr;
			rc = -1;
		}
	}
	if (rc < 0)
		log_error("job.failed", "class=%s error=\"%s\"", err_class_name(err->cls), err->msg);
	log_info("job.done",
		 "listed=%zu fetched=%" PRIu64 " tickets=%" PRIu64 " appended=%" PRIu64 " ignored=%" PRIu64
		 " badmail=%" PRIu64 " already_done=%" PRIu64 " bytes=%" PRIu64 " seconds=%.3f"
		 " fetch_s=%.3f commit_s=%.3f move_s=%.3f",
		 st.nmsgs, st.counts.fetched, st.counts.tickets, st.counts.appended, st.counts.ignored,
		 st.counts.badmail, st.counts.already_done, st.counts.bytes, res->seconds,
		 st.fetch_s, st.commit_s, st.move_s);
	arena_free(&st.arena);
	preprocess_free(&st.own_pp);
	free(st.items);
	free(st.item_folder);
	dispose_release(&st.out);
out_noctx:
	/* a source handed in is ours to close, also when the run never started */
	source_close(&st.src, NULL);
	log_ctx_set(NULL, NULL);
	return rc;
}

int job_run(const struct config_job *job, struct store *store, struct job_run_result *res,
	    struct err *err)
{
	return run(job, NULL, store, NULL, res, err);
}

int job_run_ctl(const struct config_job *job, struct store *store, const struct job_run_ctl *ctl,
		struct job_run_result *res, struct err *err)
{
	return run(job, NULL, store, ctl, res, err);
}

int job_run_source(const struct config_job *job, struct source *src, struct store *store,
		   struct job_run_result *res, struct err *err)
{
	return run(job, src, store, NULL, res, err);
}
