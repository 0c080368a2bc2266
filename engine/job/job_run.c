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
 * Messages are fetched a batch at a time (one UID FETCH per batch) and
 * parsed and preprocessed one at a time inside the callback; the store copies what it needs
 * into its queue (at most 128 messages or ~16 MB before it sends), so
 * memory is bounded whatever the size of the mailbox.
 */
#include "engine/job/job_run.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/fetch/source.h"
#include "engine/job/uid_list.h"
#include "engine/mime/message.h"
#include "engine/util/arena.h"
#include "engine/util/fault.h"
#include "engine/util/str.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"
#include "rules/plan.h"
#include "rules/preprocess.h"

/* Committed messages gathered before one MOVE (see run_batch). */
#define DISPOSE_CHUNK 5000

struct run_state {
	const struct config_job *job;
	struct store *store;
	struct source *src;
	const struct source_info *info;  /* the source's, valid while it is open */
	const struct source_msg *msgs;   /* the listing (SOURCE_ID_KEY: by id - 1) */
	size_t nmsgs;
	int64_t run_id;
	struct run_counts counts;
	struct uid_list to_archive;      /* source ids, committed, not yet disposed */
	struct uid_list to_badmail;
	struct mime_options mopt;  /* limits, the account's fallback charset, attach_html */
	bool have_outcome;
	enum outcome last_outcome;       /* recorded for the last message (deliver) */
	struct arena *arena;
	/* the job's preprocessing stages; the shipped default until rule files
	 * come with the statement rules */
	struct preprocess *pp;
	double fetch_s;             /* wall time in FETCH (parse and queueing included) */
	double commit_s;            /* in COMMIT (the store's flush included) */
	double move_s;              /* in MOVE */
	struct store_item *items;   /* the current batch, results filled at COMMIT */
	size_t nitems;
	size_t items_cap;
	const atomic_bool *stop;    /* job_run_ctl.stop; NULL: never */
	bool stopped;
};

/*
 * Between two messages: has the caller asked the run to stop? One relaxed
 * atomic load per message, free on the hot path; the flag only ever goes
 * from false to true during a run, so seeing it a message late is fine.
 */
static bool stop_requested(struct run_state *st)
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

/*
 * Queues a committed message for its dispose, unless it stays where it is:
 * a job that keeps its mail on the server, or badmail on a source without
 * folders (POP3). Those are remembered by their identity and skipped by
 * every later run without a word. Returns whether it was queued.
 */
static bool queue_dispose(struct run_state *st, uint32_t id, enum outcome o)
{
	if (st->job->keep_on_server || (o == OUTCOME_BADMAIL && st->info->badmail_stays))
		return false;
	if (o == OUTCOME_BADMAIL)
		uid_list_push(&st->to_badmail, id);
	else
		uid_list_push(&st->to_archive, id);
	return true;
}

/* Disposes what has been committed; only ever called after COMMIT. */
static int dispose_lists(struct run_state *st, struct err *err)
{
	if (source_dispose(st->src, st->to_archive.v, st->to_archive.n, SOURCE_ARCHIVE, err) < 0 ||
	    source_dispose(st->src, st->to_badmail.v, st->to_badmail.n, SOURCE_BADMAIL, err) < 0)
		return -1;
	uid_list_clear(&st->to_archive);
	uid_list_clear(&st->to_badmail);
	return 0;
}

static int dispose_committed(struct run_state *st, struct err *err)
{
	double t0 = now_seconds();
	int rc = dispose_lists(st, err);
	st->move_s += now_seconds() - t0;
	return rc;
}

/* `id` is the source's: the IMAP UID, else the position in the listing. */
static void item_identity(const struct run_state *st, uint32_t id, struct store_item *item)
{
	memset(item, 0, sizeof(*item));
	item->account = st->job->account->name;
	item->mailbox = st->info->mailbox;
	item->uid = id;
	switch (st->info->identity) {
	case SOURCE_ID_UID:
		item->identity = STORE_ID_UID;
		item->uidvalidity = st->info->uidvalidity;
		break;
	case SOURCE_ID_KEY:
		item->identity = STORE_ID_KEY;
		item->source_key = id >= 1 && id <= st->nmsgs ? st->msgs[id - 1].key : NULL;
		break;
	case SOURCE_ID_CONTENT:
		item->identity = STORE_ID_CONTENT;
		break;
	}
}

static enum outcome outcome_of_plan(const struct plan *plan)
{
	switch (plan->action) {
	case PLAN_CREATE_TICKET: return OUTCOME_TICKET;
	case PLAN_APPEND: return OUTCOME_APPENDED;
	case PLAN_IGNORE: return OUTCOME_IGNORED;
	case PLAN_REJECT: return OUTCOME_BADMAIL;
	}
	return OUTCOME_BADMAIL;
}

/*
 * Sends one item in the batch's pipeline (the server stores it while we
 * fetch and parse the next). Its results are filled at COMMIT. A message
 * the store refuses as it is (ERR_MESSAGE) is stored as badmail instead.
 */
static int store_item(struct run_state *st, struct store_item *item, struct err *err)
{
	struct err serr = {0};
	if (store_apply_async(st->store, st->run_id, item, &serr) == 0)
		return 0;
	if (serr.cls != ERR_MESSAGE) {
		*err = serr;
		return -1;
	}
	log_warn("message.badmail", "reason=\"%s\"", serr.msg);
	item->msg = NULL;
	item->plan = NULL;
	item->pre = NULL;
	item->outcome = OUTCOME_BADMAIL;
	item->reason = serr.msg;
	return store_apply_async(st->store, st->run_id, item, err);
}

/*
 * Room for a whole batch, made before it starts: the store fills queued
 * items' results at COMMIT, so they must never move during a batch.
 */
static void batch_reserve(struct run_state *st, size_t n)
{
	st->nitems = 0;
	if (n > st->items_cap) {
		free(st->items);
		st->items = xcalloc(n, sizeof(*st->items));
		st->items_cap = n;
	}
}

/* A new item of the current batch (batch_reserve made room for it). */
static struct store_item *batch_item(struct run_state *st, uint32_t uid)
{
	if (st->nitems >= st->items_cap)
		abort(); /* a bug: a source delivered more messages than asked; each driver checks */
	struct store_item *item = &st->items[st->nitems++];
	item_identity(st, uid, item);
	return item;
}

/* source_body_cb: parse, decide, store one message. Runs inside the batch transaction. */
static int process_message(void *ud, uint32_t uid, const char *raw, size_t len, struct err *err)
{
	struct run_state *st = ud;
	/* asked to stop: the rest of this FETCH is read and left where it is */
	if (stop_requested(st))
		return 0;
	struct store_item *item = batch_item(st, uid);
	struct message *msg = NULL;
	struct plan plan;
	struct preprocess_result pre;
	struct err merr = {0};
	char sha[65];
	char clean[160];
	int rc;

	log_ctx_uid(uid);
	st->counts.fetched++;
	st->counts.bytes += len;
	arena_reset(st->arena);
	item->size = len;
	if (st->job->keep_raw) {
		item->raw = raw;
		item->raw_len = len;
	}

	if (mime_parse(raw, len, &st->mopt, st->arena, &msg, &merr) < 0) {
		if (merr.cls != ERR_MESSAGE) {
			*err = merr;
			return -1;
		}
		mime_sha256_hex(raw, len, sha);
		item->sha256 = sha;
		item->outcome = OUTCOME_BADMAIL;
		item->reason = merr.msg;
		log_warn("message.badmail", "reason=\"%s\"",
			 log_clean(merr.msg, strlen(merr.msg), clean, sizeof(clean)));
	} else if (preprocess_run(st->pp, msg, st->arena, &pre, &merr) < 0) {
		/* a rule that fails on this mail (a match limit, too many
		 * removals): the mail is kept whole in badmail, with the rule named
		 * in the reason (DESIGN.md, decision 2) */
		if (merr.cls != ERR_MESSAGE) {
			*err = merr;
			return -1;
		}
		item->sha256 = msg->raw_sha256;
		item->message_id = msg->message_id;
		item->outcome = OUTCOME_BADMAIL;
		item->reason = merr.msg;
		log_warn("message.badmail", "reason=\"%s\"",
			 log_clean(merr.msg, strlen(merr.msg), clean, sizeof(clean)));
	} else {
		if (pre.budget_spent)
			log_warn("message.preprocess_budget",
				 "msg=\"time budget spent, the text is stored whole\" us=%llu",
				 (unsigned long long)pre.elapsed_us);
		log_debug("message.preprocessed", "client=%s removed=%zu kept_all=%d us=%llu",
			  pre.client ? pre.client : "-", pre.nremoved, pre.kept_all,
			  (unsigned long long)pre.elapsed_us);
		plan_default(msg, &plan);
		item->msg = msg;
		item->pre = &pre;
		item->plan = &plan;
		item->message_id = msg->message_id;
		item->sha256 = msg->raw_sha256;
		item->outcome = outcome_of_plan(&plan);
		if (item->outcome == OUTCOME_BADMAIL || item->outcome == OUTCOME_IGNORED)
			item->reason = plan.reason;
	}
	rc = store_item(st, item, err);
	/* the store copied what it needs: nothing may point into this call's memory */
	item->raw = NULL;
	item->msg = NULL;
	item->plan = NULL;
	item->pre = NULL;
	item->sha256 = NULL;
	item->message_id = NULL;
	item->reason = NULL;
	log_ctx_uid(0);
	return rc;
}

/*
 * Mail over max_message_size is never fetched (or, when the source found it
 * bigger than announced while fetching, not kept): recorded as badmail by
 * its size. sha256 is known only when the source hashed it anyway (stdin).
 */
static int handle_oversized(struct run_state *st, uint32_t id, uint64_t size,
			    const char *sha256, struct err *err)
{
	char reason[160];
	char a[32], b[32];
	struct store_item *item = batch_item(st, id);

	log_ctx_uid(id);
	snprintf(reason, sizeof(reason), "message size %s exceeds max_message_size %s",
		 str_fmt_size(size, a, sizeof(a)),
		 str_fmt_size(st->job->limits.max_size, b, sizeof(b)));
	item->size = size;
	item->sha256 = sha256;
	item->outcome = OUTCOME_BADMAIL;
	item->reason = reason;
	log_warn("message.badmail", "reason=\"%s\"", reason);
	int rc = store_item(st, item, err);
	item->reason = NULL;
	item->sha256 = NULL;
	log_ctx_uid(0);
	return rc;
}

/* The fetch callback: a body goes to process_message; NULL means "too big". */
static int fetched(void *ud, uint32_t id, const char *raw, size_t len, struct err *err)
{
	if (raw)
		return process_message(ud, id, raw, len, err);
	return handle_oversized(ud, id, len, NULL, err);
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
			if (item->ticket_number[0])
				log_debug("message.stored", "outcome=%s ticket=%s",
					  outcome_name(item->done_outcome), item->ticket_number);
		}
		st->have_outcome = true;
		st->last_outcome = item->done_outcome;
		queue_dispose(st, item->uid, item->done_outcome);
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
	batch_reserve(st, n + noversized);
	if (store_begin(st->store, err) < 0)
		return -1;
	for (size_t i = 0; i < noversized; i++) {
		if (handle_oversized(st, oversized[i].id, oversized[i].size, oversized[i].sha256,
				     err) < 0)
			goto fail;
	}
	double t0 = now_seconds();
	if (n && source_fetch(st->src, ids, n, fetched, st, err) < 0)
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
	if (st->to_archive.n + st->to_badmail.n >= DISPOSE_CHUNK)
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
		 * already processed mail from becoming a second ticket */
		log_warn("job.uidvalidity_changed",
			 "mailbox=\"%s\" previous=%" PRIu32 " now=%" PRIu32, st->info->mailbox,
			 previous, now);
	return 0;
}

/*
 * The outcome recorded earlier for each listed message, or -1 when it is
 * new: by UID (one query for the mailbox, then a binary search per
 * message), by source key (one query for exactly the listed keys), or not
 * at all for piped mail (the ingest itself finds a duplicate).
 */
static int find_done(struct run_state *st, int *done, struct err *err)
{
	const struct source_msg *m = st->msgs;
	size_t n = st->nmsgs;
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		done[i] = -1;
	if (st->info->identity == SOURCE_ID_UID) {
		struct processed_uid *v = NULL;
		size_t nv = 0;
		if (store_processed_uids(st->store, st->job->account->name, st->info->mailbox,
					 st->info->uidvalidity, &v, &nv, err) < 0)
			return -1;
		/* store_processed_uids returns them ascending by UID: bsearch-ready */
		for (size_t i = 0; i < n; i++) {
			const struct processed_uid *p = find_processed(v, nv, m[i].id);
			if (p)
				done[i] = (int)p->outcome;
		}
		free(v);
	} else if (st->info->identity == SOURCE_ID_KEY && n) {
		const char **keys = xcalloc(n, sizeof(*keys));
		for (size_t i = 0; i < n; i++)
			keys[i] = m[i].key;
		rc = store_processed_keys(st->store, st->job->account->name, keys, n, done, err);
		free(keys);
	}
	return rc;
}

static int process_mailbox(struct run_state *st, struct err *err)
{
	int *done = NULL;
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
		if (done[i] >= 0) {
			/* committed earlier, but not disposed: only dispose */
			if (queue_dispose(st, st->msgs[i].id, (enum outcome)done[i]))
				st->counts.already_done++;
		} else if (st->msgs[i].size > st->job->limits.max_size) {
			oversized[noversized++] = st->msgs[i];
		} else {
			pending[npending++] = st->msgs[i].id;
		}
	}
	if (st->to_archive.n || st->to_badmail.n) {
		log_info("job.redispose", "count=%zu",
			 st->to_archive.n + st->to_badmail.n);
		if (dispose_committed(st, err) < 0)
			goto out;
	}

	/* the config allows 1..1000; never loop on a zero */
	size_t batch = st->job->batch_size ? st->job->batch_size : 1;
	if (noversized && run_batch(st, NULL, 0, oversized, noversized, err) < 0)
		goto out;
	for (size_t off = 0; off < npending && !stop_requested(st); off += batch) {
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
	if (preprocess_default(&st.pp, err) < 0)
		goto out;
	if (!st.src) {
		struct source_limits lim = {.max_message = job->limits.max_size};
		if (source_open(job, SOURCE_READ_WRITE, &lim, &st.src, err) < 0)
			goto out;
	}
	st.info = source_info(st.src);
	if (st.info->identity == SOURCE_ID_UID && check_uidvalidity(&st, err) < 0)
		goto out;
	if (process_mailbox(&st, err) < 0) {
		/* committed earlier in this run, not yet disposed: try now, once */
		struct err derr = {0};
		if ((st.to_archive.n || st.to_badmail.n) && dispose_committed(&st, &derr) < 0)
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
		 "fetched=%" PRIu64 " tickets=%" PRIu64 " appended=%" PRIu64 " ignored=%" PRIu64
		 " badmail=%" PRIu64 " already_done=%" PRIu64 " bytes=%" PRIu64 " seconds=%.3f"
		 " fetch_s=%.3f commit_s=%.3f move_s=%.3f",
		 st.counts.fetched, st.counts.tickets, st.counts.appended, st.counts.ignored,
		 st.counts.badmail, st.counts.already_done, st.counts.bytes, res->seconds,
		 st.fetch_s, st.commit_s, st.move_s);
	arena_free(&st.arena);
	preprocess_free(&st.pp);
	free(st.items);
	uid_list_release(&st.to_archive);
	uid_list_release(&st.to_badmail);
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
