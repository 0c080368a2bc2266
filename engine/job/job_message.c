/*
 * One message's way inside a batch (see job_int.h): parse (GMime), the
 * job's preprocessing stages, the decision of its rules, and the store
 * item queued in the batch's transaction. A message that fails on the way
 * (unparsable, a rule that gave up on it, refused by the store as it is)
 * is queued as badmail with the reason, never dropped.
 *
 * SECURITY: raw bytes are mail; every step has its own limits (the message
 * model's, the regex limits and time budgets of the rules). Text from mail
 * reaches a log line only cleaned and cut (log_clean).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/job/job_int.h"
#include "engine/util/log.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"
#include "rules/plan.h"

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
	char clean[160];
	log_warn("message.badmail", "reason=\"%s\"",
		 log_clean(serr.msg, strlen(serr.msg), clean, sizeof(clean)));
	item->msg = NULL;
	item->plan = NULL;
	item->pre = NULL;
	item->outcome = OUTCOME_BADMAIL;
	item->reason = serr.msg;
	return store_apply_async(st->store, st->run_id, item, err);
}

void job_batch_reserve(struct run_state *st, size_t n)
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

/* A new item of the current batch (job_batch_reserve made room for it). */
static struct store_item *batch_item(struct run_state *st, uint32_t uid)
{
	if (st->nitems >= st->items_cap)
		abort(); /* a bug: a source delivered more messages than asked; each driver checks */
	st->item_folder[st->nitems] = 0;
	struct store_item *item = &st->items[st->nitems++];
	item_identity(st, uid, item);
	return item;
}

/*
 * A mail that cannot go the whole way (unparsable, a preprocessing rule or
 * a statement that failed on it): kept whole in badmail, with the reason
 * naming the rule and its position (DESIGN.md, decision 2).
 */
static void item_badmail(struct store_item *item, const struct message *msg, const char *sha,
			 const char *reason)
{
	char clean[160];
	item->sha256 = msg ? msg->raw_sha256 : sha;
	item->message_id = msg ? msg->message_id : NULL;
	item->outcome = OUTCOME_BADMAIL;
	item->reason = reason;
	log_warn("message.badmail", "reason=\"%s\"",
		 log_clean(reason, strlen(reason), clean, sizeof(clean)));
}

static void log_decided(const struct plan *plan, const struct preprocess_result *pre)
{
	char clean[160];
	log_debug("message.preprocessed", "client=%s removed=%zu kept_all=%d us=%llu",
		  pre->client ? pre->client : "-", pre->nremoved, pre->kept_all,
		  (unsigned long long)pre->elapsed_us);
	if (plan->nstatements || plan->loop)
		/* the loop text quotes the sender: mail text, cleaned */
		log_debug("message.decided", "action=%s statements=%zu last=\"%s\"%s%s%s",
			  plan_action_name(plan->action), plan->nstatements,
			  plan->nstatements ? plan->statements[plan->nstatements - 1] : "",
			  plan->loop ? " loop=\"" : "",
			  plan->loop ? log_clean(plan->loop, strlen(plan->loop), clean, sizeof(clean))
				     : "",
			  plan->loop ? "\"" : "");
}

/*
 * source_body_cb: parse, preprocess, decide, store one message. Runs inside
 * the batch transaction. Statements see the cleaned text as `body` and the
 * whole text as `body_original`; the article keeps both, with the trace.
 */
static int process_message(void *ud, uint32_t uid, const char *raw, size_t len, struct err *err)
{
	struct run_state *st = ud;
	struct store_item *item = batch_item(st, uid);
	struct message *msg = NULL;
	struct plan plan;
	struct preprocess_result pre;
	struct err merr = {0};
	char sha[65];
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
		if (merr.cls != ERR_MESSAGE)
			goto fail;
		mime_raw_sha256_hex(raw, len, sha);
		item_badmail(item, NULL, sha, merr.msg);
	} else if (preprocess_run(st->pp, msg, st->arena, &pre, &merr) < 0 ||
		   rules_decide(&st->env, msg, &pre, st->arena, &plan, NULL, &merr) < 0) {
		/* a rule that fails on this mail (a match limit, too many removals,
		 * the time budget) */
		if (merr.cls != ERR_MESSAGE)
			goto fail;
		item_badmail(item, msg, NULL, merr.msg);
	} else {
		if (pre.budget_spent)
			log_warn("message.preprocess_budget",
				 "msg=\"time budget spent, the text is stored whole\" us=%llu",
				 (unsigned long long)pre.elapsed_us);
		log_decided(&plan, &pre);
		item->msg = msg;
		item->pre = &pre;
		item->plan = &plan;
		item->message_id = msg->message_id;
		item->sha256 = msg->raw_sha256;
		item->outcome = outcome_of_plan(&plan);
		if (item->outcome == OUTCOME_BADMAIL || item->outcome == OUTCOME_IGNORED)
			item->reason = plan.reason;
		st->item_folder[st->nitems - 1] = (uint16_t)dispose_folder_of(&st->out, plan.move_to);
	}
	rc = store_item(st, item, err);
	goto out;
fail:
	*err = merr;
	rc = -1;
out:
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

int job_oversized(struct run_state *st, uint32_t id, uint64_t size, const char *sha256,
		  struct err *err)
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

int job_fetched(void *ud, uint32_t id, const char *raw, size_t len, struct err *err)
{
	/* asked to stop: the rest of this FETCH is read and left where it is */
	if (job_stop_requested(ud))
		return 0;
	if (raw)
		return process_message(ud, id, raw, len, err);
	return job_oversized(ud, id, len, NULL, err);
}
