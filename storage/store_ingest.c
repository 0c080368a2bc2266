/*
 * Batch ingest. store_apply_async() only queues a message: it checks it,
 * then copies what the database needs (identity, plan, article, addresses,
 * attachments, preprocessing, raw bytes) into columnar buffers, one
 * PostgreSQL array per column (store_cols.c; the article's columns in
 * store_article.c, the plan's in store_plan.c). store_flush() sends the
 * whole queue as ONE call of the server function m2t_ingest_batch()
 * (migrations/0007_keep.sql), which stores it with one statement per
 * table, and fills each item from the row returned for it. The server's cost per message is then a share of
 * ~15 statements per batch instead of ~10 statements per message.
 *
 * SECURITY: everything here is mail text. It travels only as parameter
 * values (never in SQL), text cleaned to valid UTF-8 without NUL, bytes and
 * arrays in binary format. Values the schema would reject (bad sha256, a
 * date out of range) are caught here first, because a server-side error
 * would abort the whole batch, not just this message.
 */
#include "storage/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"
#include "storage/store_cols.h"
#include "storage/store_ingest.h"
#include "storage/store_int.h"

#define INGEST_STMT "m2t_ingest_batch"
#define INGEST_RESULT "idx, already_done, outcome, ticket_id, ticket_number, article_id, " \
		      "matched_by, move_to"
#define INGEST_NRESULT 8

static const unsigned COL_OID[C_COUNT] = {
	[C_JOB_RUN_ID] = STORE_OID_INT8, [C_UIDVALIDITY] = STORE_OID_INT8,
	[C_UID] = STORE_OID_INT8, [C_SIZE] = STORE_OID_INT8, [C_RAW] = STORE_OID_BYTEA,
	[C_TICKET_ID] = STORE_OID_INT8, [C_SENT_AT] = STORE_OID_INT8,
	[C_ADDR_MSG] = STORE_OID_INT4, [C_ADDR_CC] = STORE_OID_BOOL,
	[C_ATT_MSG] = STORE_OID_INT4, [C_ATT_INLINE] = STORE_OID_BOOL,
	[C_ATT_CONTENT] = STORE_OID_BYTEA,
	[C_TR_MSG] = STORE_OID_INT4, [C_TR_START] = STORE_OID_INT8, [C_TR_END] = STORE_OID_INT8,
	[C_FOLLOWUP] = STORE_OID_BOOL, [C_SENDER_CAP] = STORE_OID_INT4,
	[C_REF_MSG] = STORE_OID_INT4,
	/* every other column: text (0 below) */
};

/*
 * When the queue is sent before flush: at this many messages, or when the
 * next message would take the encoded bytes past the cap. Bigger batches
 * save little more server time (the per-call cost is already spread thin)
 * but hold more client memory and make the server wait longer for work.
 */
#define QUEUE_MAX_ITEMS 128
#define QUEUE_MAX_BYTES ((size_t)16 << 20)
/* PostgreSQL's limit for one parameter value. */
#define COL_MAX_BYTES (((size_t)1 << 30) - 64)


static struct store_queue *queue_new(void)
{
	struct store_queue *q = xcalloc(1, sizeof(*q));
	for (int i = 0; i < C_COUNT; i++)
		store_col_init(&q->col[i], COL_OID[i] ? COL_OID[i] : STORE_OID_TEXT, COL_MAX_BYTES);
	return q;
}

static struct store_queue *queue_get(struct store *store)
{
	if (!store->queue)
		store->queue = queue_new();
	return store->queue;
}

static void queue_reset(struct store_queue *q)
{
	for (int i = 0; i < C_COUNT; i++)
		store_col_reset(&q->col[i]);
	q->n = 0;
	ingest_keys_reset(q);
}

static void queue_free(struct store_queue **qp)
{
	struct store_queue *q = *qp;
	if (!q)
		return;
	for (int i = 0; i < C_COUNT; i++)
		store_col_release(&q->col[i]);
	free(q->items);
	free(q);
	*qp = NULL;
}

void store_queue_free(struct store *store)
{
	queue_free(&store->queue);
	queue_free(&store->inflight);
}

size_t store_queue_len(const struct store *store)
{
	return (store->queue ? store->queue->n : 0) + (store->inflight ? store->inflight->n : 0);
}

/* Reads every result of the call in flight; the connection is idle after. */
static void inflight_drain(struct store *store)
{
	PGresult *res;
	while ((res = PQgetResult(store->conn)) != NULL)
		PQclear(res);
	if (store->inflight)
		queue_reset(store->inflight);
}

void store_queue_discard(struct store *store)
{
	if (store->queue)
		queue_reset(store->queue);
	if (store->inflight && store->inflight->n)
		inflight_drain(store);
}

static size_t queue_bytes(const struct store_queue *q)
{
	size_t n = 0;
	for (int i = 0; i < C_COUNT; i++)
		n += store_col_bytes(&q->col[i]);
	return n;
}

void ingest_add_text_len(struct store_col *c, const char *s, size_t len)
{
	if (!s) {
		store_col_add(c, NULL, 0);
		return;
	}
	char *owned;
	size_t n;
	const char *clean = store_utf8_clean(s, len, &owned, &n);
	store_col_add(c, clean, n);
	free(owned);
}

void ingest_add_text(struct store_col *c, const char *s)
{
	ingest_add_text_len(c, s, s ? strlen(s) : 0);
}

/* Source keys are POP3 UIDLs (RFC 1939: 1-70 of 0x21-0x7E) and Maildir
 * unique names, which the sources keep printable ASCII; anything else is a
 * bug upstream, refused before it could reach (and abort) the batch. */
#define SOURCE_KEY_MAX 1024

static bool source_key_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > SOURCE_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static bool is_sha256_hex(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Everything checked before anything is queued, so a refusal leaves the
 * queue and the transaction as they were. */
static int item_check(const struct store *store, const struct store_item *item,
		      const char **sha_r, struct err *err)
{
	if (!store->in_txn)
		return err_set(err, ERR_FATAL, "store_apply: no transaction is open");
	if (store->txn_failed)
		return err_set(err, store->txn_err_cls,
			       "store_apply: the transaction was aborted by an earlier error");
	if (!item->account || !item->mailbox)
		return err_set(err, ERR_FATAL, "store_apply: account and mailbox are required");
	if (item->identity == STORE_ID_KEY && !source_key_ok(item->source_key))
		return err_set(err, ERR_FATAL, "store_apply: a source key of 1 to %d printable "
			       "bytes is required", SOURCE_KEY_MAX);
	bool with_article = item->outcome == OUTCOME_TICKET || item->outcome == OUTCOME_APPENDED;
	if (with_article && (!item->msg || !item->plan))
		return err_set(err, ERR_FATAL, "store_apply: outcome %s needs a message and a plan",
			       outcome_name(item->outcome));
	if (outcome_parse(outcome_name(item->outcome)) < 0)
		return err_set(err, ERR_FATAL, "store_apply: unknown outcome");
	const char *sha = item->sha256;
	if (!sha && item->msg && item->msg->raw_sha256[0])
		sha = item->msg->raw_sha256;
	if (sha && !is_sha256_hex(sha))
		return err_set(err, ERR_FATAL, "store_apply: sha256 is not 64 lower-case hex digits");
	if (item->identity == STORE_ID_CONTENT && !sha)
		return err_set(err, ERR_FATAL, "store_apply: content identity without a sha256");
	*sha_r = sha;
	if (item->raw && item->raw_len > ((size_t)1 << 30))
		return err_set(err, ERR_MESSAGE, "message too large to store (1 GB)");
	if (!with_article)
		return 0;
	if (item->outcome == OUTCOME_APPENDED && item->plan->ticket_id <= 0 &&
	    !item->plan->followup)
		return err_set(err, ERR_FATAL, "append without a ticket id or a follow-up lookup");
	const struct message *m = item->msg;
	if (m->text_len > ((size_t)1 << 30) || m->html_len > ((size_t)1 << 30))
		return err_set(err, ERR_MESSAGE, "body too large to store (1 GB)");
	for (size_t i = 0; i < m->nattachments; i++)
		if (!is_sha256_hex(m->attachments[i].sha256))
			return err_set(err, ERR_FATAL,
				       "attachment %zu: sha256 is not 64 lower-case hex digits", i);
	return 0;
}

/* A rough upper bound of the bytes a message adds, to send before the cap. */
static size_t item_estimate(const struct store_item *item)
{
	size_t n = 4096 + (item->raw ? item->raw_len : 0);
	const struct message *m = item->msg;
	if (m && (item->outcome == OUTCOME_TICKET || item->outcome == OUTCOME_APPENDED)) {
		n += 2 * m->text_len + m->html_len;
		if (item->pre) {
			n += item->pre->len + item->pre->base_len;
			for (size_t i = 0; i < item->pre->nremoved; i++)
				n += item->pre->removed[i].len + 256;
		}
		for (size_t i = 0; i < m->nattachments; i++)
			n += m->attachments[i].size + 256;
	}
	return n;
}

static void item_results_clear(struct store_item *item)
{
	item->already_done = false;
	item->done_outcome = item->outcome;
	item->ticket_id = 0;
	item->ticket_number[0] = '\0';
	item->article_id = 0;
	item->matched_by[0] = '\0';
	item->done_move_to[0] = '\0';
}

static int queue_add(struct store *store, int64_t job_run_id, struct store_item *item,
		     const char *sha, struct err *err)
{
	struct store_queue *q = queue_get(store);
	struct store_col *c = q->col;
	struct store_col_mark mark[C_COUNT];
	for (int i = 0; i < C_COUNT; i++)
		store_col_mark(&c[i], &mark[i]);
	int32_t msg = (int32_t)q->n + 1; /* idx on the server, from 1 */
	bool with_article = item->outcome == OUTCOME_TICKET || item->outcome == OUTCOME_APPENDED;

	if (job_run_id > 0)
		store_col_add_i64(&c[C_JOB_RUN_ID], job_run_id);
	else
		store_col_add(&c[C_JOB_RUN_ID], NULL, 0);
	ingest_add_text(&c[C_ACCOUNT], item->account);
	ingest_add_text(&c[C_MAILBOX], item->mailbox);
	if (item->identity == STORE_ID_UID) {
		store_col_add_i64(&c[C_UIDVALIDITY], item->uidvalidity);
		store_col_add_i64(&c[C_UID], item->uid);
		store_col_add(&c[C_SOURCE_KEY], NULL, 0);
	} else {
		store_col_add(&c[C_UIDVALIDITY], NULL, 0);
		store_col_add(&c[C_UID], NULL, 0);
		ingest_add_text(&c[C_SOURCE_KEY],
				item->identity == STORE_ID_KEY ? item->source_key : NULL);
	}
	const char *mid = item->message_id;
	if (!mid && item->msg)
		mid = item->msg->message_id;
	ingest_add_text(&c[C_MESSAGE_ID], mid);
	ingest_add_text(&c[C_SHA256], sha);
	uint64_t size = item->size ? item->size : item->raw_len;
	store_col_add_i64(&c[C_SIZE], size > INT64_MAX ? INT64_MAX : (int64_t)size);
	ingest_add_text(&c[C_OUTCOME], outcome_name(item->outcome));
	const char *reason = item->reason;
	if (!reason && item->plan)
		reason = item->plan->reason;
	ingest_add_text(&c[C_REASON], reason);
	store_col_add(&c[C_RAW], item->raw ? item->raw : NULL, item->raw ? item->raw_len : 0);
	ingest_add_article(q, msg, item, with_article);
	ingest_add_plan(q, msg, item, with_article);

	for (int i = 0; i < C_COUNT; i++) {
		if (store_col_failed(&c[i])) {
			for (int j = 0; j < C_COUNT; j++)
				store_col_restore(&c[j], &mark[j]);
			return err_set(err, ERR_MESSAGE, "message too large to store (1 GB per value)");
		}
	}
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : QUEUE_MAX_ITEMS;
		q->items = xreallocarray(q->items, q->cap, sizeof(*q->items));
	}
	q->items[q->n++] = item;
	ingest_add_keys(q, item);
	return 0;
}

/* "SELECT ... FROM m2t_ingest_batch($1, ..., $N)", N = C_COUNT: one
 * placeholder per column, so the call cannot fall out of step with the
 * column list. */
static void ingest_sql(char *out, size_t outlen)
{
	size_t o = (size_t)snprintf(out, outlen, "SELECT %s FROM m2t_ingest_batch(", INGEST_RESULT);
	for (int i = 1; i <= C_COUNT && o < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, i > 1 ? ", $%d" : "$%d", i);
	if (o < outlen)
		snprintf(out + o, outlen - o, ")");
}

static int ingest_prepare(struct store *store, struct err *err)
{
	char sql[160 + 6 * C_COUNT];
	if (store->ingest_prepared)
		return 0;
	ingest_sql(sql, sizeof(sql));
	/* Types come from the function's signature. */
	PGresult *res = PQprepare(store->conn, INGEST_STMT, sql, C_COUNT, NULL);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		store_fail(store, res, "prepare ingest", err);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	store->ingest_prepared = true;
	return 0;
}

static int read_row(const PGresult *res, int row, struct store_item *item, struct err *err)
{
	item->already_done = !PQgetisnull(res, row, 1) && PQgetvalue(res, row, 1)[0] == 't';
	/* NULL: the conflicting identity row vanished before we could read it
	 * (its writer rolled back late); the retried batch will find its way. */
	if (PQgetisnull(res, row, 2))
		return err_set(err, ERR_TRANSIENT, "ingest: identity conflict not resolved");
	int o = outcome_parse(PQgetvalue(res, row, 2));
	if (o < 0)
		return err_set(err, ERR_FATAL, "ingest: unknown outcome in the database");
	item->done_outcome = (enum outcome)o;
	if (store_get_i64(res, row, 3, &item->ticket_id, err) < 0 ||
	    store_get_i64(res, row, 5, &item->article_id, err) < 0)
		return -1;
	item->ticket_number[0] = '\0';
	if (!PQgetisnull(res, row, 4))
		snprintf(item->ticket_number, sizeof(item->ticket_number), "%s",
			 PQgetvalue(res, row, 4));
	item->matched_by[0] = '\0';
	if (!PQgetisnull(res, row, 6))
		snprintf(item->matched_by, sizeof(item->matched_by), "%s", PQgetvalue(res, row, 6));
	/* a folder name longer than the buffer (never written by rules, which
	 * allow 200 characters) is dropped, not cut: a cut name could match
	 * another folder */
	item->done_move_to[0] = '\0';
	if (!PQgetisnull(res, row, 7) &&
	    (size_t)PQgetlength(res, row, 7) < sizeof(item->done_move_to))
		memcpy(item->done_move_to, PQgetvalue(res, row, 7),
		       (size_t)PQgetlength(res, row, 7) + 1);
	return 0;
}

static int read_results(const PGresult *res, struct store_queue *q, struct err *err)
{
	if (PQntuples(res) != (int)q->n || PQnfields(res) != INGEST_NRESULT)
		return err_set(err, ERR_FATAL, "ingest: expected %zu rows of %d columns, got %d rows",
			       q->n, INGEST_NRESULT, PQntuples(res));
	for (int row = 0; row < PQntuples(res); row++) {
		int64_t idx;
		if (store_get_i64(res, row, 0, &idx, err) < 0)
			return -1;
		if (idx < 1 || (uint64_t)idx > q->n)
			return err_set(err, ERR_FATAL, "ingest: result for unknown message %lld",
				       (long long)idx);
		if (read_row(res, row, q->items[idx - 1], err) < 0)
			return -1;
	}
	return 0;
}

/* Records a failed ingest call; a unique violation on the identity is transient. */
static int ingest_fail(struct store *store, const PGresult *res, struct err *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
	store_fail(store, res, "store messages", err);
	/* ON CONFLICT makes this impossible; should it happen anyway, the
	 * transaction is lost, and a retry of the batch finds the row and
	 * reports "already done". So: transient. */
	if (state && strcmp(state, "23505") == 0 && cons &&
	    strncmp(cons, "processed_messages_", 19) == 0) {
		err->cls = ERR_TRANSIENT;
		store->txn_err_cls = ERR_TRANSIENT;
	}
	return -1;
}

/* Sends the queue as one ingest call without waiting; it becomes the call in flight. */
static int queue_send_async(struct store *store, struct err *err)
{
	struct store_queue *q = store->queue;
	if (ingest_prepare(store, err) < 0)
		return -1;
	const char *values[C_COUNT];
	int lengths[C_COUNT], formats[C_COUNT];
	for (int i = 0; i < C_COUNT; i++) {
		store_col_finish(&q->col[i], &values[i], &lengths[i]);
		formats[i] = 1;
	}
	/* libpq copies the parameters into its output buffer: the columns may be
	 * refilled as soon as this returns */
	if (!PQsendQueryPrepared(store->conn, INGEST_STMT, C_COUNT, values, lengths, formats, 0)) {
		queue_reset(q);
		store->txn_failed = store->in_txn;
		store->txn_err_cls = ERR_TRANSIENT;
		return store_fail(store, NULL, "store messages", err);
	}
	/* swap: the sent queue waits for its results, the other one fills */
	store->queue = store->inflight ? store->inflight : queue_new();
	store->inflight = q;
	queue_reset(store->queue);
	return 0;
}

/* Waits for the call in flight and fills its items from the results. */
static int inflight_wait(struct store *store, struct err *err)
{
	struct store_queue *q = store->inflight;
	if (!q || q->n == 0)
		return 0;
	int rc = -1;
	PGresult *res = PQgetResult(store->conn);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		ingest_fail(store, res, err);
		store->txn_failed = store->in_txn;
		store->txn_err_cls = err->cls;
	} else if (read_results(res, q, err) < 0) {
		/* the server stored what we cannot report: the batch must not commit */
		store->txn_failed = store->in_txn;
		store->txn_err_cls = err->cls;
	} else {
		rc = 0;
	}
	PQclear(res);
	inflight_drain(store);
	return rc;
}

int store_queue_send(struct store *store, struct err *err)
{
	if (inflight_wait(store, err) < 0) {
		if (store->queue)
			queue_reset(store->queue);
		return -1;
	}
	if (!store->queue || store->queue->n == 0)
		return 0;
	if (queue_send_async(store, err) < 0)
		return -1;
	return inflight_wait(store, err);
}

/*
 * At the cap: the previous call's results first (at most one call is in
 * flight), then this queue goes out while the caller goes on.
 */
static int queue_send_next(struct store *store, struct err *err)
{
	if (inflight_wait(store, err) < 0) {
		queue_reset(store->queue);
		return -1;
	}
	return queue_send_async(store, err);
}

int store_apply_async(struct store *store, int64_t job_run_id, struct store_item *item,
		      struct err *err)
{
	item_results_clear(item);
	const char *sha = NULL;
	if (item_check(store, item, &sha, err) < 0)
		return -1;
	/* a message that refers to one still queued goes in the next call, which
	 * runs after that one is stored (and also when the queue is full) */
	if (store->queue && store->queue->n &&
	    (queue_bytes(store->queue) + item_estimate(item) > QUEUE_MAX_BYTES ||
	     ingest_needs_earlier(store->queue, item)) &&
	    queue_send_next(store, err) < 0)
		return -1;
	if (queue_add(store, job_run_id, item, sha, err) < 0)
		return -1;
	if (store->queue->n >= QUEUE_MAX_ITEMS || queue_bytes(store->queue) >= QUEUE_MAX_BYTES)
		return queue_send_next(store, err);
	return 0;
}

int store_apply(struct store *store, int64_t job_run_id, struct store_item *item, struct err *err)
{
	if (store_apply_async(store, job_run_id, item, err) < 0)
		return -1;
	return store_queue_send(store, err);
}

int store_flush(struct store *store, struct err *err)
{
	if (store->txn_failed && store_queue_len(store)) {
		store_queue_discard(store);
		return err_set(err, store->txn_err_cls,
			       "store_flush: the transaction was aborted by an earlier error");
	}
	return store_queue_send(store, err);
}
