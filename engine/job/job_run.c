/*
 * The whole way of one job run (DESIGN.md, "One message's way").
 *
 * Effectively once: a message is disposed on the server (moved to the
 * archive or badmail folder) only after the transaction that recorded it
 * has committed. A crash after COMMIT and before the move leaves the
 * message in the mailbox with its processed_messages row; the next run
 * finds the row and only moves it. A crash before COMMIT leaves nothing in
 * the database and the message in the mailbox: it is simply done again.
 *
 * Each message is decided by the job's rules (rules/decide.h: statements,
 * follow-up detection and loop protection; without rules the built-in
 * default with the same follow-up detection and loop protection). A rule
 * that fails on a message (a pattern over its limits, the time budget)
 * sends that message to badmail with the reason.
 *
 * Messages are fetched a batch at a time (one UID FETCH per batch) and
 * parsed one at a time inside the callback; the store copies what it needs
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

#include "engine/fetch/imap.h"
#include "engine/job/dispose.h"
#include "engine/mime/message.h"
#include "engine/util/arena.h"
#include "engine/util/fault.h"
#include "engine/util/str.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"
#include "rules/decide.h"
#include "rules/plan.h"
#include "rules/rx.h"

/* Committed messages gathered before one MOVE (see run_batch). */
#define DISPOSE_CHUNK 5000

struct run_state {
	const struct config_job *job;
	struct store *store;
	struct imap_client *imap;
	char *mailbox;      /* the server's name, resolved with LIST */
	struct dispose out; /* where committed messages go */
	struct rules_env env;
	struct rx_matcher *matcher;  /* this run's (this thread's) match data */
	uint32_t uidvalidity;
	int64_t run_id;
	struct run_counts counts;
	struct imap_limits lim;
	struct arena *arena;
	double fetch_s;             /* wall time in FETCH (parse and queueing included) */
	double commit_s;            /* in COMMIT (the store's flush included) */
	double move_s;              /* in MOVE */
	struct store_item *items;   /* the current batch, results filled at COMMIT */
	uint16_t *item_folder;      /* per item: dispose_folder_of its move_to */
	size_t nitems;
	size_t items_cap;
};

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

/* Moves what has been committed; only ever called after COMMIT. */
static int dispose_committed(struct run_state *st, struct err *err)
{
	double t0 = now_seconds();
	int rc = dispose_run(&st->out, st->imap, err);
	st->move_s += now_seconds() - t0;
	return rc;
}

static void item_identity(const struct run_state *st, uint32_t uid, struct store_item *item)
{
	memset(item, 0, sizeof(*item));
	item->account = st->job->account->name;
	item->mailbox = st->mailbox;
	item->uidvalidity = st->uidvalidity;
	item->uid = uid;
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
		free(st->item_folder);
		st->items = xcalloc(n, sizeof(*st->items));
		st->item_folder = xcalloc(n, sizeof(*st->item_folder));
		st->items_cap = n;
	}
}

/* A new item of the current batch (batch_reserve made room for it). */
static struct store_item *batch_item(struct run_state *st, uint32_t uid)
{
	if (st->nitems >= st->items_cap)
		abort(); /* a bug: the server returned more UIDs than asked, and imap_fetch checks that */
	st->item_folder[st->nitems] = 0;
	struct store_item *item = &st->items[st->nitems++];
	item_identity(st, uid, item);
	return item;
}

/* imap_body_cb: parse, decide, store one message. Runs inside the batch transaction. */
static int process_message(void *ud, uint32_t uid, const char *raw, size_t len, struct err *err)
{
	struct run_state *st = ud;
	struct store_item *item = batch_item(st, uid);
	struct message *msg = NULL;
	struct plan plan;
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

	if (mime_parse(raw, len, &st->job->limits, st->arena, &msg, &merr) < 0) {
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
	} else if (rules_decide(&st->env, st->matcher, msg, NULL, 0, st->arena, &plan, NULL,
				&merr) < 0) {
		if (merr.cls != ERR_MESSAGE) {
			*err = merr;
			return -1;
		}
		/* a rule gave up on this mail: badmail, with the rule's position */
		item->message_id = msg->message_id;
		item->sha256 = msg->raw_sha256;
		item->outcome = OUTCOME_BADMAIL;
		item->reason = merr.msg;
		log_warn("message.badmail", "reason=\"%s\"",
			 log_clean(merr.msg, strlen(merr.msg), clean, sizeof(clean)));
	} else {
		item->msg = msg;
		item->plan = &plan;
		item->message_id = msg->message_id;
		item->sha256 = msg->raw_sha256;
		item->outcome = outcome_of_plan(&plan);
		if (item->outcome == OUTCOME_BADMAIL || item->outcome == OUTCOME_IGNORED)
			item->reason = plan.reason;
		st->item_folder[st->nitems - 1] = (uint16_t)dispose_folder_of(st->job, plan.move_to);
		if (plan.nstatements || plan.loop)
			/* the loop text quotes the sender: mail text, cleaned */
			log_debug("message.decided", "action=%s statements=%zu last=\"%s\"%s%s%s",
				  plan_action_name(plan.action), plan.nstatements,
				  plan.nstatements ? plan.statements[plan.nstatements - 1] : "",
				  plan.loop ? " loop=\"" : "",
				  plan.loop ? log_clean(plan.loop, strlen(plan.loop), clean,
							sizeof(clean)) : "",
				  plan.loop ? "\"" : "");
	}
	rc = store_item(st, item, err);
	/* the store copied what it needs: nothing may point into this call's memory */
	item->raw = NULL;
	item->msg = NULL;
	item->plan = NULL;
	item->sha256 = NULL;
	item->message_id = NULL;
	item->reason = NULL;
	log_ctx_uid(0);
	return rc;
}

/* Mail over max_message_size is never fetched: recorded as badmail by its size. */
static int handle_oversized(struct run_state *st, const struct imap_msg_info *info,
			    struct err *err)
{
	char reason[160];
	char a[32], b[32];
	struct store_item *item = batch_item(st, info->uid);

	log_ctx_uid(info->uid);
	snprintf(reason, sizeof(reason), "message size %s exceeds max_message_size %s",
		 str_fmt_size(info->size, a, sizeof(a)),
		 str_fmt_size(st->job->limits.max_size, b, sizeof(b)));
	item->size = info->size;
	item->outcome = OUTCOME_BADMAIL;
	item->reason = reason;
	log_warn("message.badmail", "reason=\"%s\"", reason);
	int rc = store_item(st, item, err);
	item->reason = NULL;
	log_ctx_uid(0);
	return rc;
}

/* After COMMIT: count each item by the outcome recorded and queue its move. */
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
		/* a mail found done earlier in this batch (same identity): the archive */
		dispose_queue(&st->out, item->uid, item->done_outcome,
			      item->already_done ? 0 : st->item_folder[i]);
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

/* One transaction around a batch: store everything, COMMIT, then move. */
static int run_batch(struct run_state *st, const uint32_t *uids, size_t n,
		     const struct imap_msg_info *oversized, size_t noversized, struct err *err)
{
	batch_reserve(st, n + noversized);
	if (store_begin(st->store, err) < 0)
		return -1;
	for (size_t i = 0; i < noversized; i++) {
		if (handle_oversized(st, &oversized[i], err) < 0)
			goto fail;
	}
	double t0 = now_seconds();
	if (n && imap_fetch_bodies(st->imap, uids, n, process_message, st, err) < 0)
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
	 * Moves are gathered over several batches: on a Maildir-backed server
	 * every MOVE rescans the mailbox's file list, so one MOVE per batch
	 * makes a large mailbox quadratic. What is committed but not yet moved
	 * is safe: the next run finds its processed record and only moves it.
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
	 * to move them (the server may be fine when the database was not).
	 */
	st->nitems = 0;
	return -1;
}

static int open_mailboxes(struct run_state *st, struct err *err)
{
	const struct config_job *job = st->job;
	uint32_t exists = 0;

	if (imap_resolve_mailbox(st->imap, job->mailbox, false, &st->mailbox, err) < 0)
		return -1;
	if (dispose_open(&st->out, st->imap, job, err) < 0)
		return -1;
	if (imap_select(st->imap, st->mailbox, false, &st->uidvalidity, &exists, err) < 0)
		return -1;
	log_info("job.selected", "mailbox=\"%s\" uidvalidity=%" PRIu32 " exists=%" PRIu32,
		 st->mailbox, st->uidvalidity, exists);

	bool known = false;
	uint32_t previous = 0;
	if (store_uidvalidity_record(st->store, job->account->name, st->mailbox, st->uidvalidity,
				     &known, &previous, err) < 0)
		return -1;
	if (known && previous != st->uidvalidity)
		/* every UID is new now; the (Message-ID, sha256) identity keeps
		 * already processed mail from becoming a second ticket */
		log_warn("job.uidvalidity_changed",
			 "mailbox=\"%s\" previous=%" PRIu32 " now=%" PRIu32, st->mailbox, previous,
			 st->uidvalidity);
	return 0;
}

static int process_mailbox(struct run_state *st, struct err *err)
{
	struct imap_msg_info *infos = NULL;
	struct processed_uid *done = NULL;
	struct imap_msg_info *oversized = NULL;
	uint32_t *pending = NULL;
	size_t ninfos = 0, ndone = 0, noversized = 0, npending = 0;
	int rc = -1;

	if (imap_list_messages(st->imap, &infos, &ninfos, err) < 0)
		goto out;
	if (store_processed_uids(st->store, st->job->account->name, st->mailbox, st->uidvalidity,
				 &done, &ndone, err) < 0)
		goto out;
	/* store_processed_uids returns them ascending by UID: bsearch-ready */

	pending = xcalloc(ninfos ? ninfos : 1, sizeof(*pending));
	oversized = xcalloc(ninfos ? ninfos : 1, sizeof(*oversized));
	for (size_t i = 0; i < ninfos; i++) {
		const struct processed_uid *p = find_processed(done, ndone, infos[i].uid);
		if (p) {
			/* committed earlier, but the move did not happen: only dispose */
			st->counts.already_done++;
			dispose_queue(&st->out, infos[i].uid, p->outcome,
				      dispose_folder_of(st->job, p->move_to));
		} else if (infos[i].size > st->job->limits.max_size) {
			oversized[noversized++] = infos[i];
		} else {
			pending[npending++] = infos[i].uid;
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
	for (size_t off = 0; off < npending; off += batch) {
		size_t n = npending - off < batch ? npending - off : batch;
		if (run_batch(st, pending + off, n, NULL, 0, err) < 0)
			goto out;
	}
	rc = dispose_committed(st, err);
out:
	free(infos);
	free(done);
	free(pending);
	free(oversized);
	return rc;
}

int job_run(const struct config_job *job, struct store *store, struct job_run_result *res,
	    struct err *err)
{
	struct run_state st = {.job = job, .store = store};
	st.lim.max_line = 64 * 1024;
	st.lim.max_literal = job->limits.max_size;
	double start = now_seconds();
	int rc = -1;

	memset(res, 0, sizeof(*res));
	log_ctx_set(job->name, job->account->name);
	st.env.rules = job->rules;
	st.env.policy = &job->policy;
	st.env.account = job->account->name;
	st.env.job = job->name;
	st.env.budget_ms = job->rules_budget_ms;
	if (store_job_run_start(store, job->name, job->account->name, job->mailbox, &st.run_id,
				err) < 0)
		goto out_noctx;
	st.arena = arena_new();
	st.matcher = rx_matcher_new(NULL);
	if (imap_connect(job->account, &st.lim, &st.imap, err) < 0)
		goto out;
	if (open_mailboxes(&st, err) < 0)
		goto out;
	if (process_mailbox(&st, err) < 0) {
		/* committed earlier in this run, not yet moved: try now, once */
		struct err derr = {0};
		if (st.imap && dispose_pending(&st.out) && dispose_committed(&st, &derr) < 0)
			log_warn("job.dispose_failed", "error=\"%s\"", derr.msg);
		goto out;
	}
	rc = 0;
out:
	imap_client_free(&st.imap);
	res->counts = st.counts;
	res->seconds = now_seconds() - start;
	res->run_id = st.run_id;
	{
		struct err ferr = {0};
		if (store_job_run_finish(store, st.run_id, &st.counts, rc == 0 ? "ok" : "failed",
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
	free(st.mailbox);
	arena_free(&st.arena);
	free(st.items);
	free(st.item_folder);
	rx_matcher_free(&st.matcher);
	dispose_release(&st.out);
out_noctx:
	log_ctx_set(NULL, NULL);
	return rc;
}
