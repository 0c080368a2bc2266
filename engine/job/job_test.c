/*
 * A job test run (job_test.h): the way of job_run.c and job_message.c, with
 * the source read-only, a trace kept for every step, one transaction for
 * the whole test that is always rolled back, and no dispose.
 *
 * SECURITY: the messages are mail, with the limits of a real run (the
 * message model's, the regex limits and time budgets of the rules, the
 * job's max_message_size before anything is fetched or read). Mail text
 * reaches the callback as data; the printers escape it for their output.
 */
#include "engine/job/job_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/fetch/source.h"
#include "engine/util/arena.h"
#include "engine/util/buf.h"
#include "engine/util/log.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"
#include "rules/decide.h"
#include "rules/ruleset.h"

struct test_state {
	const struct config_job *job;
	struct store *store;
	struct source *src;
	const struct source_info *info;
	const struct source_msg *msgs;
	size_t nmsgs;
	struct mime_options mopt;
	struct rules_env env;
	const struct preprocess *pp;
	struct preprocess *own_pp;
	struct arena *arena;
	job_test_cb cb;
	void *ud;
	struct job_test_summary *sum;
	const char *label;          /* the current file's name (--file) */
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void count(struct run_counts *c, const struct store_item *item)
{
	if (item->already_done) {
		c->already_done++;
		return;
	}
	switch (item->done_outcome) {
	case OUTCOME_TICKET: c->tickets++; break;
	case OUTCOME_APPENDED: c->appended++; break;
	case OUTCOME_IGNORED: c->ignored++; break;
	case OUTCOME_BADMAIL: c->badmail++; break;
	}
}

/* As job_message.c names a message; files are content-identified, as mail
 * piped in by an MTA is. */
static void item_identity(const struct test_state *st, uint32_t id, struct store_item *item)
{
	memset(item, 0, sizeof(*item));
	item->account = st->job->account->name;
	item->uid = id;
	if (!st->info) {
		item->mailbox = "files";
		item->identity = STORE_ID_CONTENT;
		return;
	}
	item->mailbox = st->info->mailbox;
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

static const char *id_label(struct test_state *st, uint32_t id)
{
	if (st->label)
		return st->label;
	if (st->info->identity == SOURCE_ID_KEY && id >= 1 && id <= st->nmsgs)
		return st->msgs[id - 1].key;
	return arena_printf(st->arena, "uid %u", id);
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

/* Stores the item in the test's transaction (results filled on return); a
 * message the store refuses as it is becomes badmail, as in a run. */
static int store_test_item(struct test_state *st, struct store_item *item,
			   struct job_test_msg *m, struct err *err)
{
	struct err serr = {0};
	if (store_apply(st->store, 0, item, &serr) == 0)
		return 0;
	if (serr.cls != ERR_MESSAGE) {
		*err = serr;
		return -1;
	}
	m->failure = arena_strdup(st->arena, serr.msg);
	item->msg = NULL;
	item->plan = NULL;
	item->pre = NULL;
	item->outcome = OUTCOME_BADMAIL;
	item->reason = m->failure;
	return store_apply(st->store, 0, item, err);
}

/*
 * Stores the item (unless `unstored`), then hands the message to the
 * callback. unstored: a saved mail over max_message_size, which has no
 * identity without reading it whole; its outcome is the one a run gives.
 */
static int report(struct test_state *st, struct store_item *item, struct job_test_msg *m,
		  uint64_t t0, bool unstored, struct err *err)
{
	if (unstored)
		item->done_outcome = item->outcome;
	else if (store_test_item(st, item, m, err) < 0)
		return -1;
	m->index = ++st->sum->taken;
	m->item = item;
	m->elapsed_us = now_us() - t0;
	count(&st->sum->counts, item);
	st->cb(st->ud, m);
	return 0;
}

/* One fetched message: parse, preprocess, decide (with the trace), store. */
static int test_message(struct test_state *st, uint32_t id, const char *raw, size_t len,
			struct err *err)
{
	struct store_item item;
	struct job_test_msg m = {0};
	struct message *msg = NULL;
	struct preprocess_result pre;
	struct plan plan;
	struct trace *tr = NULL;
	struct err merr = {0};
	char sha[65];
	uint64_t t0 = now_us();

	arena_reset(st->arena);
	item_identity(st, id, &item);
	m.id = id_label(st, id);
	m.size = len;
	item.size = len;
	st->sum->counts.fetched++;
	st->sum->counts.bytes += len;
	if (st->job->keep_raw) {
		item.raw = raw;
		item.raw_len = len;
	}
	if (mime_parse(raw, len, &st->mopt, st->arena, &msg, &merr) < 0) {
		if (merr.cls != ERR_MESSAGE)
			goto fail;
		mime_raw_sha256_hex(raw, len, sha);
		item.sha256 = sha;
		m.failure = arena_strdup(st->arena, merr.msg);
	} else {
		m.msg = msg;
		item.sha256 = msg->raw_sha256;
		item.message_id = msg->message_id;
		if (preprocess_run(st->pp, msg, st->arena, &pre, &merr) < 0) {
			if (merr.cls != ERR_MESSAGE)
				goto fail;
			m.failure = arena_strdup(st->arena, merr.msg);
		} else {
			m.pre = &pre;
			if (rules_decide(&st->env, msg, &pre, st->arena, &plan, &tr, &merr) < 0) {
				if (merr.cls != ERR_MESSAGE)
					goto fail;
				m.failure = arena_strdup(st->arena, merr.msg);
			}
		}
	}
	if (m.failure) {
		item.outcome = OUTCOME_BADMAIL;
		item.reason = m.failure;
	} else {
		m.trace = tr;
		item.msg = msg;
		item.pre = &pre;
		item.plan = &plan;
		item.outcome = outcome_of_plan(&plan);
		if (item.outcome == OUTCOME_BADMAIL || item.outcome == OUTCOME_IGNORED)
			item.reason = plan.reason;
	}
	return report(st, &item, &m, t0, false, err);
fail:
	*err = merr;
	return -1;
}

/* Over max_message_size: never fetched, badmail by its size, as in a run. */
static int test_oversized(struct test_state *st, uint32_t id, uint64_t size, struct err *err)
{
	struct store_item item;
	struct job_test_msg m = {0};
	char a[32], b[32];
	uint64_t t0 = now_us();

	arena_reset(st->arena);
	item_identity(st, id, &item);
	m.id = id_label(st, id);
	m.size = size;
	m.failure = arena_printf(st->arena, "message size %s exceeds max_message_size %s",
				 str_fmt_size(size, a, sizeof(a)),
				 str_fmt_size(st->job->limits.max_size, b, sizeof(b)));
	item.size = size;
	item.outcome = OUTCOME_BADMAIL;
	item.reason = m.failure;
	return report(st, &item, &m, t0, st->label != NULL, err);
}

static int fetched(void *ud, uint32_t id, const char *raw, size_t len, struct err *err)
{
	if (!raw)
		return test_oversized(ud, id, len, err);
	return test_message(ud, id, raw, len, err);
}

static int cmp_uid(const void *a, const void *b)
{
	uint32_t x = ((const struct processed_uid *)a)->uid;
	uint32_t y = ((const struct processed_uid *)b)->uid;
	return (x > y) - (x < y);
}

/* done[i]: message i is recorded as processed (a run would only dispose it). */
static int find_done(struct test_state *st, bool *done, struct err *err)
{
	size_t n = st->nmsgs;
	if (st->info->identity == SOURCE_ID_UID && n) {
		struct processed_uid *v = NULL;
		size_t nv = 0;
		/* the listing is ascending by UID (source_list) */
		uint32_t *uids = xcalloc(n, sizeof(*uids));
		for (size_t i = 0; i < n; i++)
			uids[i] = st->msgs[i].id;
		int rc = store_processed_uids(st->store, st->job->account->name, st->info->mailbox,
					      st->info->uidvalidity, uids, n, &v, &nv, err);
		free(uids);
		if (rc < 0)
			return -1;
		for (size_t i = 0; i < n && nv; i++) {
			struct processed_uid key = {.uid = st->msgs[i].id};
			done[i] = bsearch(&key, v, nv, sizeof(*v), cmp_uid) != NULL;
		}
		free(v);
	} else if (st->info->identity == SOURCE_ID_KEY && n) {
		const char **keys = xcalloc(n, sizeof(*keys));
		struct processed_key *v = NULL;
		for (size_t i = 0; i < n; i++)
			keys[i] = st->msgs[i].key;
		int rc = store_processed_keys(st->store, st->job->account->name, keys, n, &v, err);
		free(keys);
		if (rc < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			done[i] = v[i].outcome >= 0;
		free(v);
	}
	return 0;
}

/* The next `limit` new messages of the source, in its order. */
static int test_source(struct test_state *st, size_t limit, struct err *err)
{
	struct source_limits lim = {.max_message = st->job->limits.max_size};
	bool *done = NULL;
	uint32_t *ids = NULL;
	size_t nids = 0;
	int rc = -1;

	if (source_open(st->job, SOURCE_READ_ONLY, &lim, &st->src, err) < 0)
		goto out;
	st->info = source_info(st->src);
	snprintf(st->sum->source, sizeof(st->sum->source), "%s", st->info->kind);
	snprintf(st->sum->mailbox, sizeof(st->sum->mailbox), "%s", st->info->mailbox);
	if (source_list(st->src, &st->msgs, &st->nmsgs, err) < 0)
		goto out;
	size_t n = st->nmsgs;
	st->sum->listed = n;
	done = xcalloc(n ? n : 1, sizeof(*done));
	ids = xcalloc(limit, sizeof(*ids));
	if (find_done(st, done, err) < 0)
		goto out;
	size_t taken = 0;
	for (size_t i = 0; i < n; i++) {
		if (done[i]) {
			st->sum->done_before++;
			continue;
		}
		if (taken == limit) {
			st->sum->left++;
			continue;
		}
		taken++;
		if (st->msgs[i].size <= st->job->limits.max_size) {
			ids[nids++] = st->msgs[i].id;
			continue;
		}
		/* in listing order: what was gathered before it first */
		if (nids && source_fetch(st->src, ids, nids, fetched, st, err) < 0)
			goto out;
		nids = 0;
		if (test_oversized(st, st->msgs[i].id, st->msgs[i].size, err) < 0)
			goto out;
	}
	if (nids && source_fetch(st->src, ids, nids, fetched, st, err) < 0)
		goto out;
	rc = 0;
out:
	free(done);
	free(ids);
	return rc;
}

/* A saved mail, read up to max_message_size (+1 to notice a longer one). */
static int test_file(struct test_state *st, const char *path, struct err *err)
{
	uint64_t max = st->job->limits.max_size;
	FILE *f = fopen(path, "rb");
	struct stat sb;
	struct buf b;
	int rc = -1;

	st->label = path;
	if (!f || fstat(fileno(f), &sb) < 0 || !S_ISREG(sb.st_mode)) {
		err_set(err, ERR_SOURCE, "cannot read \"%s\"", path);
		if (f)
			fclose(f);
		return -1;
	}
	st->sum->listed++;
	if ((uint64_t)sb.st_size > max) {
		fclose(f);
		return test_oversized(st, 0, (uint64_t)sb.st_size, err);
	}
	buf_init(&b, (size_t)max);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && !b.failed)
		buf_add(&b, chunk, n);
	if (ferror(f)) {
		err_set(err, ERR_SOURCE, "cannot read \"%s\"", path);
	} else if (b.failed) {
		/* grew while being read */
		rc = test_oversized(st, 0, max + 1, err);
	} else {
		rc = test_message(st, 0, b.data ? b.data : "", b.len, err);
	}
	fclose(f);
	buf_release(&b);
	return rc;
}

int job_test_run(const struct config_job *job, struct store *store,
		 const struct job_test_opts *opts, job_test_cb cb, void *ud,
		 struct job_test_summary *sum, struct err *err)
{
	struct test_state st = {.job = job, .store = store, .cb = cb, .ud = ud, .sum = sum};
	uint64_t t0 = now_us();
	int rc = -1;

	memset(sum, 0, sizeof(*sum));
	snprintf(sum->source, sizeof(sum->source), "files");
	st.mopt.limits = job->limits;
	st.mopt.charset_fallback = job->account->charset_fallback;
	st.mopt.attach_html = job->attach_html;
	st.env = (struct rules_env){.rules = job->rules, .policy = &job->policy,
				    .account = job->account->name, .job = job->name,
				    .budget_ms = job->rules_budget_ms};
	log_ctx_set(job->name, job->account->name);
	st.arena = arena_new();
	if (ruleset_pipeline(job->rules, &st.pp, &st.own_pp, err) < 0)
		goto out;
	/* one transaction for the whole test, so a later message sees the
	 * tickets an earlier one would have made (its follow-ups find them) */
	if (store_begin(store, err) < 0)
		goto out;
	if (opts->nfiles) {
		for (size_t i = 0; i < opts->nfiles; i++)
			if (test_file(&st, opts->files[i], err) < 0)
				goto out;
	} else if (test_source(&st, opts->limit, err) < 0) {
		goto out;
	}
	rc = 0;
out:
	store_rollback(store);
	source_close(&st.src, NULL);
	sum->seconds = (double)(now_us() - t0) / 1e6;
	log_info("job.test_done", "taken=%zu left=%zu seconds=%.3f rolled_back=1", sum->taken,
		 sum->left, sum->seconds);
	preprocess_free(&st.own_pp);
	arena_free(&st.arena);
	log_ctx_set(NULL, NULL);
	return rc;
}
