/*
 * store_apply(): one message (its plan, article, attachments, raw bytes and
 * identity) in ONE round trip, a prepared call of the server-side function
 * m2t_ingest() (migrations/0001_initial.sql), inside the caller's batch
 * transaction.
 *
 * SECURITY: everything here is mail text. It travels only as parameter
 * values (never in SQL), text cleaned to valid UTF-8 without NUL, bytes and
 * arrays in binary format. Values the schema would reject (bad sha256, a
 * date out of range) are caught here first, because a server-side error
 * would abort the whole batch, not just this message.
 */
#include "storage/store.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"
#include "storage/store_int.h"

#define INGEST_STMT "m2t_ingest"
#define INGEST_NPARAMS 36
#define INGEST_SQL                                                                          \
	"SELECT already_done, outcome, ticket_id, ticket_number, article_id FROM m2t_ingest(" \
	"$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "   \
	"$19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, "    \
	"$35, $36)"

/* Parameter numbers (0-based) of m2t_ingest(), in declaration order. */
enum {
	P_JOB_RUN_ID, P_ACCOUNT, P_MAILBOX, P_UIDVALIDITY, P_UID, P_MESSAGE_ID, P_SHA256,
	P_SIZE, P_OUTCOME, P_REASON, P_RAW, P_TICKET_ID, P_SUBJECT, P_QUEUE, P_PRIORITY,
	P_STATUS, P_REQ_NAME, P_REQ_EMAIL, P_IN_REPLY_TO, P_REFERENCES, P_FROM_NAME,
	P_FROM_EMAIL, P_TO_NAMES, P_TO_EMAILS, P_CC_NAMES, P_CC_EMAILS, P_ART_SUBJECT,
	P_BODY_TEXT, P_BODY_HTML, P_SENT_AT, P_ATT_FILENAMES, P_ATT_TYPES, P_ATT_CIDS,
	P_ATT_INLINE, P_ATT_SHA256, P_ATT_CONTENTS,
};

/* Scratch buffers (struct store.scratch) for the array parameters. */
enum { S_TO_NAMES, S_TO_EMAILS, S_CC_NAMES, S_CC_EMAILS, S_FILENAMES, S_TYPES, S_CIDS,
       S_INLINE, S_SHA256, S_CONTENTS };

/* Dates the timestamptz type and to_timestamp() accept comfortably:
 * 1900-01-01 .. 9999-12-31. A Date header outside is stored as NULL. */
#define SENT_AT_MIN INT64_C(-2208988800)
#define SENT_AT_MAX INT64_C(253402300799)

struct params {
	const char *values[INGEST_NPARAMS];
	int lengths[INGEST_NPARAMS];
	int formats[INGEST_NPARAMS];
	char num[6][24];     /* decimal renderings of the integer parameters */
	size_t nnum;
	char **owned;        /* cleaned copies to free */
	size_t nowned, capowned;
};

static void params_own(struct params *p, char *s)
{
	if (p->nowned == p->capowned) {
		p->capowned = p->capowned ? p->capowned * 2 : 8;
		p->owned = xreallocarray(p->owned, p->capowned, sizeof(*p->owned));
	}
	p->owned[p->nowned++] = s;
}

static void params_release(struct params *p)
{
	for (size_t i = 0; i < p->nowned; i++)
		free(p->owned[i]);
	free(p->owned);
}

/* Cleaned text (binary format: the bytes, no terminator needed); NULL stays NULL. */
static const char *clean_text(struct params *p, const char *s, size_t len, size_t *len_r)
{
	char *owned;
	const char *c = store_utf8_clean(s, len, &owned, len_r);
	if (owned)
		params_own(p, owned);
	return c;
}

static void set_text_len(struct params *p, int i, const char *s, size_t len)
{
	if (!s) {
		p->values[i] = NULL;
		return;
	}
	size_t n;
	p->values[i] = clean_text(p, s, len, &n);
	p->lengths[i] = (int)n; /* < 1 GB: checked by the caller for bodies */
	p->formats[i] = 1;
}

static void set_text(struct params *p, int i, const char *s)
{
	set_text_len(p, i, s, s ? strlen(s) : 0);
}

static void set_i64(struct params *p, int i, int64_t v)
{
	char *b = p->num[p->nnum++];
	snprintf(b, sizeof(p->num[0]), "%" PRId64, v);
	p->values[i] = b;
}

static void set_bytes(struct params *p, int i, const char *data, size_t len)
{
	p->values[i] = data ? data : "";
	p->lengths[i] = (int)len;
	p->formats[i] = 1;
}

static void set_array(struct params *p, int i, const struct buf *b)
{
	p->values[i] = b->data;
	p->lengths[i] = (int)b->len;
	p->formats[i] = 1;
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

/* Names and emails of an address list as two parallel text arrays. */
static int encode_addresses(struct store *store, struct params *p,
			    const struct address_list *l, int pnames, int pemails, int snames,
			    int semails)
{
	size_t n = l ? l->n : 0;
	const char **names = xcalloc(n ? n : 1, sizeof(*names));
	const char **emails = xcalloc(n ? n : 1, sizeof(*emails));
	size_t *nlens = xcalloc(n ? n : 1, sizeof(*nlens));
	size_t *elens = xcalloc(n ? n : 1, sizeof(*elens));
	for (size_t i = 0; i < n; i++) {
		const char *nm = l->v[i].name ? l->v[i].name : "";
		const char *em = l->v[i].email ? l->v[i].email : "";
		names[i] = clean_text(p, nm, strlen(nm), &nlens[i]);
		emails[i] = clean_text(p, em, strlen(em), &elens[i]);
	}
	int rc = 0;
	if (store_array_encode(&store->scratch[snames], STORE_OID_TEXT, n, names, nlens) < 0 ||
	    store_array_encode(&store->scratch[semails], STORE_OID_TEXT, n, emails, elens) < 0)
		rc = -1;
	free(names);
	free(emails);
	free(nlens);
	free(elens);
	if (rc == 0) {
		set_array(p, pnames, &store->scratch[snames]);
		set_array(p, pemails, &store->scratch[semails]);
	}
	return rc;
}

static int encode_attachments(struct store *store, struct params *p, const struct message *msg,
			      struct err *err)
{
	size_t n = msg->nattachments;
	const char **fn = xcalloc(n ? n : 1, sizeof(*fn));
	const char **ct = xcalloc(n ? n : 1, sizeof(*ct));
	const char **cid = xcalloc(n ? n : 1, sizeof(*cid));
	const char **inl = xcalloc(n ? n : 1, sizeof(*inl));
	const char **sha = xcalloc(n ? n : 1, sizeof(*sha));
	const char **data = xcalloc(n ? n : 1, sizeof(*data));
	size_t *lfn = xcalloc(n ? n : 1, sizeof(*lfn));
	size_t *lct = xcalloc(n ? n : 1, sizeof(*lct));
	size_t *lcid = xcalloc(n ? n : 1, sizeof(*lcid));
	size_t *linl = xcalloc(n ? n : 1, sizeof(*linl));
	size_t *lsha = xcalloc(n ? n : 1, sizeof(*lsha));
	size_t *ldata = xcalloc(n ? n : 1, sizeof(*ldata));
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		const struct attachment *a = &msg->attachments[i];
		if (!is_sha256_hex(a->sha256)) {
			rc = err_set(err, ERR_FATAL, "attachment %zu: sha256 is not 64 lower-case hex digits", i);
			goto out;
		}
		const char *f = a->filename ? a->filename : "";
		const char *t = a->content_type ? a->content_type : "application/octet-stream";
		fn[i] = clean_text(p, f, strlen(f), &lfn[i]);
		ct[i] = clean_text(p, t, strlen(t), &lct[i]);
		cid[i] = a->content_id ? clean_text(p, a->content_id, strlen(a->content_id), &lcid[i])
				       : NULL;
		/* bool's binary form is one byte, 1 or 0 */
		inl[i] = a->is_inline ? "\1" : "\0";
		linl[i] = 1;
		sha[i] = a->sha256;
		lsha[i] = 64;
		data[i] = a->data ? (const char *)a->data : "";
		ldata[i] = a->data ? a->size : 0;
	}
	if (store_array_encode(&store->scratch[S_FILENAMES], STORE_OID_TEXT, n, fn, lfn) < 0 ||
	    store_array_encode(&store->scratch[S_TYPES], STORE_OID_TEXT, n, ct, lct) < 0 ||
	    store_array_encode(&store->scratch[S_CIDS], STORE_OID_TEXT, n, cid, lcid) < 0 ||
	    store_array_encode(&store->scratch[S_INLINE], STORE_OID_BOOL, n, inl, linl) < 0 ||
	    store_array_encode(&store->scratch[S_SHA256], STORE_OID_TEXT, n, sha, lsha) < 0 ||
	    store_array_encode(&store->scratch[S_CONTENTS], STORE_OID_BYTEA, n, data, ldata) < 0) {
		rc = err_set(err, ERR_MESSAGE, "attachments too large to store (1 GB per message)");
		goto out;
	}
	set_array(p, P_ATT_FILENAMES, &store->scratch[S_FILENAMES]);
	set_array(p, P_ATT_TYPES, &store->scratch[S_TYPES]);
	set_array(p, P_ATT_CIDS, &store->scratch[S_CIDS]);
	set_array(p, P_ATT_INLINE, &store->scratch[S_INLINE]);
	set_array(p, P_ATT_SHA256, &store->scratch[S_SHA256]);
	set_array(p, P_ATT_CONTENTS, &store->scratch[S_CONTENTS]);
out:
	free(fn); free(ct); free(cid); free(inl); free(sha); free(data);
	free(lfn); free(lct); free(lcid); free(linl); free(lsha); free(ldata);
	return rc;
}

/* The article's and ticket's parameters; only for ticket and appended. */
static int encode_article(struct store *store, struct params *p, const struct store_item *item,
			  struct err *err)
{
	const struct message *m = item->msg;
	const struct plan *pl = item->plan;
	if (item->outcome == OUTCOME_APPENDED) {
		if (pl->ticket_id <= 0)
			return err_set(err, ERR_FATAL, "append without a ticket id");
		set_i64(p, P_TICKET_ID, pl->ticket_id);
	}
	set_text(p, P_SUBJECT, pl->subject ? pl->subject : "(no subject)");
	set_text(p, P_QUEUE, pl->queue);
	set_text(p, P_PRIORITY, pl->priority);
	set_text(p, P_STATUS, pl->status);
	set_text(p, P_REQ_NAME, pl->requester.name);
	set_text(p, P_REQ_EMAIL, pl->requester.email);
	set_text(p, P_IN_REPLY_TO, m->in_reply_to);
	set_text(p, P_REFERENCES, m->references);
	set_text(p, P_FROM_NAME, m->from.name);
	set_text(p, P_FROM_EMAIL, m->from.email);
	set_text(p, P_ART_SUBJECT, m->subject);
	if (m->text_len > ((size_t)1 << 30) || m->html_len > ((size_t)1 << 30))
		return err_set(err, ERR_MESSAGE, "body too large to store (1 GB)");
	set_text_len(p, P_BODY_TEXT, m->text ? m->text : "", m->text ? m->text_len : 0);
	set_text_len(p, P_BODY_HTML, m->html, m->html_len);
	int64_t date = (int64_t)m->date;
	if (date != 0 && date >= SENT_AT_MIN && date <= SENT_AT_MAX)
		set_i64(p, P_SENT_AT, date);
	if (encode_addresses(store, p, &m->to, P_TO_NAMES, P_TO_EMAILS, S_TO_NAMES, S_TO_EMAILS) < 0 ||
	    encode_addresses(store, p, &m->cc, P_CC_NAMES, P_CC_EMAILS, S_CC_NAMES, S_CC_EMAILS) < 0)
		return err_set(err, ERR_MESSAGE, "address lists too large to store");
	if (m->nattachments)
		return encode_attachments(store, p, m, err);
	return 0;
}

static int ingest_prepare(struct store *store, struct err *err)
{
	if (store->ingest_prepared)
		return 0;
	/* Types come from the function's signature. */
	PGresult *res = PQprepare(store->conn, INGEST_STMT, INGEST_SQL, INGEST_NPARAMS, NULL);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		store_fail(store, res, "prepare ingest", err);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	store->ingest_prepared = true;
	return 0;
}

static int read_result(const PGresult *res, struct store_item *item, struct err *err)
{
	if (PQntuples(res) != 1 || PQnfields(res) != 5)
		return err_set(err, ERR_FATAL, "ingest: expected one row of 5 columns, got %d rows",
			       PQntuples(res));
	item->already_done = !PQgetisnull(res, 0, 0) && PQgetvalue(res, 0, 0)[0] == 't';
	int o = PQgetisnull(res, 0, 1) ? -1 : outcome_parse(PQgetvalue(res, 0, 1));
	if (o < 0)
		return err_set(err, ERR_FATAL, "ingest: unknown outcome in the database");
	item->done_outcome = (enum outcome)o;
	if (store_get_i64(res, 0, 2, &item->ticket_id, err) < 0 ||
	    store_get_i64(res, 0, 4, &item->article_id, err) < 0)
		return -1;
	item->ticket_number[0] = '\0';
	if (!PQgetisnull(res, 0, 3))
		snprintf(item->ticket_number, sizeof(item->ticket_number), "%s",
			 PQgetvalue(res, 0, 3));
	return 0;
}

/* Records a failed ingest call; a unique violation on the identity is transient. */
static int ingest_fail(struct store *store, const PGresult *res, struct err *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
	store_fail(store, res, "store message", err);
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

/* Past this many unread results a pipeline is drained early, so neither
 * side's socket buffer can fill up and stall the other. */
#define PIPELINE_MAX_PENDING 128

static int ingest_call(struct store *store, int64_t job_run_id, struct store_item *item, bool async,
		       struct err *err)
{
	item->already_done = false;
	item->done_outcome = item->outcome;
	item->ticket_id = 0;
	item->ticket_number[0] = '\0';
	item->article_id = 0;

	if (!store->in_txn)
		return err_set(err, ERR_FATAL, "store_apply: no transaction is open");
	if (store->txn_failed)
		return err_set(err, store->txn_err_cls,
			       "store_apply: the transaction was aborted by an earlier error");
	if (!item->account || !item->mailbox)
		return err_set(err, ERR_FATAL, "store_apply: account and mailbox are required");
	bool with_article = item->outcome == OUTCOME_TICKET || item->outcome == OUTCOME_APPENDED;
	if (with_article && (!item->msg || !item->plan))
		return err_set(err, ERR_FATAL, "store_apply: outcome %s needs a message and a plan",
			       outcome_name(item->outcome));
	const char *sha = item->sha256;
	if (!sha && item->msg && item->msg->raw_sha256[0])
		sha = item->msg->raw_sha256;
	if (sha && !is_sha256_hex(sha))
		return err_set(err, ERR_FATAL, "store_apply: sha256 is not 64 lower-case hex digits");
	if (item->raw && item->raw_len > ((size_t)1 << 30))
		return err_set(err, ERR_MESSAGE, "message too large to store (1 GB)");
	if (!async && store->npending && store_pipeline_drain(store, err) < 0)
		return -1;
	if (ingest_prepare(store, err) < 0)
		return -1;

	struct params p;
	memset(&p, 0, sizeof(p));
	int rc = -1;
	PGresult *res = NULL;

	if (job_run_id > 0)
		set_i64(&p, P_JOB_RUN_ID, job_run_id);
	set_text(&p, P_ACCOUNT, item->account);
	set_text(&p, P_MAILBOX, item->mailbox);
	set_i64(&p, P_UIDVALIDITY, item->uidvalidity);
	set_i64(&p, P_UID, item->uid);
	const char *mid = item->message_id;
	if (!mid && item->msg)
		mid = item->msg->message_id;
	set_text(&p, P_MESSAGE_ID, mid);
	set_text(&p, P_SHA256, sha);
	uint64_t size = item->size ? item->size : item->raw_len;
	set_i64(&p, P_SIZE, size > INT64_MAX ? INT64_MAX : (int64_t)size);
	set_text(&p, P_OUTCOME, outcome_name(item->outcome));
	const char *reason = item->reason;
	if (!reason && item->plan)
		reason = item->plan->reason;
	set_text(&p, P_REASON, reason);
	if (item->raw)
		set_bytes(&p, P_RAW, item->raw, item->raw_len);
	if (with_article && encode_article(store, &p, item, err) < 0)
		goto out;

	if (async) {
		/* libpq copies the parameters into its output buffer here, so
		 * they may be freed right after; PQflush puts them on the wire
		 * so the server works while the caller parses the next mail. */
		if ((PQpipelineStatus(store->conn) == PQ_PIPELINE_OFF &&
		     PQenterPipelineMode(store->conn) != 1) ||
		    PQsendQueryPrepared(store->conn, INGEST_STMT, INGEST_NPARAMS, p.values, p.lengths,
					p.formats, 0) != 1 ||
		    PQflush(store->conn) != 0) {
			store_fail(store, NULL, "send message", err);
			goto out;
		}
		if (store->npending == store->cappending) {
			store->cappending = store->cappending ? store->cappending * 2 : 32;
			store->pending = xreallocarray(store->pending, store->cappending,
						       sizeof(*store->pending));
		}
		store->pending[store->npending++] = item;
		rc = 0;
		if (store->npending >= PIPELINE_MAX_PENDING)
			rc = store_pipeline_drain(store, err);
		goto out;
	}
	res = PQexecPrepared(store->conn, INGEST_STMT, INGEST_NPARAMS, p.values, p.lengths,
			     p.formats, 0);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		ingest_fail(store, res, err);
		goto out;
	}
	if (read_result(res, item, err) < 0)
		goto out;
	rc = 0;
out:
	PQclear(res);
	params_release(&p);
	return rc;
}

int store_apply(struct store *store, int64_t job_run_id, struct store_item *item, struct err *err)
{
	return ingest_call(store, job_run_id, item, false, err);
}

int store_apply_async(struct store *store, int64_t job_run_id, struct store_item *item,
		      struct err *err)
{
	return ingest_call(store, job_run_id, item, true, err);
}

int store_pipeline_drain(struct store *store, struct err *err)
{
	PGconn *conn = store->conn;
	int rc = 0;
	size_t n = store->npending;
	store->npending = 0;
	if (PQpipelineStatus(conn) == PQ_PIPELINE_OFF)
		return n ? err_set(err, ERR_FATAL, "pipeline: results pending, pipeline off") : 0;
	if (PQpipelineSync(conn) != 1)
		rc = store_fail(store, NULL, "pipeline sync", err);
	/* Each query yields its result (or PIPELINE_ABORTED after an earlier
	 * error) and then NULL; the sync point yields PIPELINE_SYNC. */
	for (size_t i = 0; i < n && PQstatus(conn) == CONNECTION_OK; i++) {
		PGresult *res = PQgetResult(conn);
		if (!res) {
			if (rc == 0)
				rc = store_fail(store, NULL, "pipeline: result missing", err);
			break;
		}
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_TUPLES_OK) {
			if (rc == 0 && read_result(res, store->pending[i], err) < 0) {
				rc = -1;
				store->txn_failed = store->in_txn;
				store->txn_err_cls = ERR_FATAL;
			}
		} else if (st != PGRES_PIPELINE_ABORTED && rc == 0) {
			rc = ingest_fail(store, res, err);
		}
		PQclear(res);
		while ((res = PQgetResult(conn)) != NULL)
			PQclear(res); /* the NULL that ends this query's results */
	}
	for (int guard = 0; guard < 4 && PQstatus(conn) == CONNECTION_OK; guard++) {
		PGresult *res = PQgetResult(conn);
		if (!res)
			continue;
		ExecStatusType st = PQresultStatus(res);
		PQclear(res);
		if (st == PGRES_PIPELINE_SYNC)
			break;
	}
	if (PQexitPipelineMode(conn) != 1 && rc == 0)
		rc = store_fail(store, NULL, "leave pipeline mode", err);
	if (rc < 0 && PQstatus(conn) != CONNECTION_OK && store->in_txn) {
		store->txn_failed = true;
		store->txn_err_cls = ERR_TRANSIENT;
		err->cls = ERR_TRANSIENT;
	}
	return rc;
}

int store_flush(struct store *store, struct err *err)
{
	if (!store->npending)
		return 0;
	return store_pipeline_drain(store, err);
}
