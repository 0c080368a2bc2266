/*
 * Job runs (and pruning the old empty ones), the processed UIDs and source keys a fetcher skips, and
 * UIDVALIDITY tracking per mailbox. Small statements, each its own round
 * trip; none of them is on the per-message path.
 */
#include "storage/store.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"
#include "storage/store_cols.h"
#include "storage/store_int.h"

void store_run_context_set(struct store *store, const struct store_run_context *ctx)
{
	free(store->ctx_host);
	free(store->ctx_daemon_id);
	store->ctx_host = ctx && ctx->host ? xstrdup(ctx->host) : NULL;
	store->ctx_daemon_id = ctx && ctx->daemon_id ? xstrdup(ctx->daemon_id) : NULL;
	store->ctx_pid = ctx ? ctx->pid : 0;
	store->ctx_slot = ctx ? ctx->slot : 0;
}

int store_job_run_start(struct store *store, const char *job, const char *account,
			const char *mailbox, int64_t *id_r, struct err *err)
{
	*id_r = 0;
	char pid[16], slot[24];
	snprintf(pid, sizeof(pid), "%d", store->ctx_pid);
	snprintf(slot, sizeof(slot), "%" PRId64, store->ctx_slot);
	const char *params[7] = { job ? job : "", account ? account : "", mailbox ? mailbox : "",
				  store->ctx_host, store->ctx_host ? pid : NULL,
				  store->ctx_daemon_id, store->ctx_slot ? slot : NULL };
	PGresult *res;
	/* The lease row points at the run while it goes on, so a daemon that
	 * takes the lease over from a dead one can mark the run abandoned. */
	if (store_exec(store,
		       "WITH r AS (INSERT INTO job_runs (job, account, mailbox, daemon_host, daemon_pid,"
		       "                             daemon_id, slot)"
		       "           VALUES ($1, $2, $3, $4, $5::integer, $6, to_timestamp($7::bigint))"
		       "           RETURNING id),"
		       " l AS (UPDATE job_leases SET run_id = r.id FROM r"
		       "        WHERE job = $1 AND holder_id = $6 RETURNING 1)"
		       " SELECT id FROM r",
		       7, params, PGRES_TUPLES_OK, &res, "start job run", err) < 0)
		return -1;
	int rc = PQntuples(res) == 1 ? store_get_i64(res, 0, 0, id_r, err)
				     : err_set(err, ERR_FATAL, "start job run: no id returned");
	PQclear(res);
	return rc;
}

int store_job_run_finish(struct store *store, int64_t id, const struct run_counts *counts,
			 const char *status, const char *error, struct err *err)
{
	char num[8][24];
	const uint64_t v[7] = { counts->fetched, counts->tickets, counts->appended, counts->ignored,
				counts->badmail, counts->already_done, counts->bytes };
	snprintf(num[0], sizeof(num[0]), "%" PRId64, id);
	for (size_t i = 0; i < 7; i++)
		snprintf(num[i + 1], sizeof(num[0]), "%" PRIu64, v[i] > INT64_MAX ? (uint64_t)INT64_MAX : v[i]);
	/* The error may quote mail text: keep it valid UTF-8 without NUL. */
	char *owned = NULL;
	const char *error_clean = NULL;
	if (error) {
		size_t len;
		error_clean = store_utf8_clean(error, strlen(error), &owned, &len);
	}
	const char *params[10] = { num[0], status ? status : "ok", error_clean, num[1], num[2],
				   num[3], num[4], num[5], num[6], num[7] };
	PGresult *res;
	int rc = store_exec(store,
			    "UPDATE job_runs SET finished_at = now(), status = $2, error = $3,"
			    " fetched = $4, tickets = $5, appended = $6, ignored = $7, badmail = $8,"
			    " already_done = $9, bytes = $10 WHERE id = $1",
			    10, params, PGRES_COMMAND_OK, &res, "finish job run", err);
	free(owned);
	if (rc < 0)
		return -1;
	if (strcmp(PQcmdTuples(res), "1") != 0)
		rc = err_set(err, ERR_FATAL, "finish job run: job run %" PRId64 " not found", id);
	PQclear(res);
	return rc;
}

int store_job_runs_prune(struct store *store, uint64_t keep_s, unsigned limit,
			 unsigned *deleted_r, struct err *err)
{
	char keep[24], lim[16];
	*deleted_r = 0;
	snprintf(keep, sizeof(keep), "%" PRIu64, keep_s);
	snprintf(lim, sizeof(lim), "%u", limit ? limit : 1);
	const char *params[2] = { keep, lim };
	PGresult *res;
	if (store_exec(store, "SELECT m2t_prune_job_runs(make_interval(secs => $1::bigint), $2)",
		       2, params, PGRES_TUPLES_OK, &res, "prune job runs", err) < 0)
		return -1;
	int64_t n = 0;
	int rc = PQntuples(res) == 1 ? store_get_i64(res, 0, 0, &n, err)
				     : err_set(err, ERR_FATAL, "prune job runs: no count returned");
	PQclear(res);
	if (rc == 0)
		*deleted_r = n < 0 ? 0 : (unsigned)n;
	return rc;
}

int store_processed_uids(struct store *store, const char *account, const char *mailbox,
			 uint32_t uidvalidity, const uint32_t *uids, size_t n,
			 struct processed_uid **v_r, size_t *n_r, struct err *err)
{
	*v_r = NULL;
	*n_r = 0;
	if (n == 0)
		return 0;
	/* Queued messages first, as store_exec does: they may be among them. */
	if (store_queue_len(store) && store_queue_send(store, err) < 0)
		return -1;
	/* The listed UIDs as one array, and their lowest and highest: the
	 * planner sees the exact count (so the estimate is right whatever the
	 * table's size) and the identity index is read only between the two.
	 * A join against ranges of UIDs was tried and refused: the planner
	 * cannot know how many rows a range holds, guessed thousands per range,
	 * and on a table of 500,000 rows chose a nested loop that filtered
	 * every row against every range (minutes for 5,000 ranges). */
	struct store_col col;
	store_col_init(&col, STORE_OID_INT8, ((size_t)1 << 30) - 64);
	int rc = -1;
	PGresult *res = NULL;
	struct processed_uid *v = NULL;
	for (size_t i = 0; i < n; i++) {
		if (i && uids[i] <= uids[i - 1]) {
			err_set(err, ERR_FATAL, "list processed uids: uids not ascending (bug)");
			goto out;
		}
		store_col_add_i64(&col, uids[i]);
	}
	if (store_col_failed(&col)) {
		err_set(err, ERR_FATAL, "list processed uids: too many uids");
		goto out;
	}
	char uv[16], lo[16], hi[16];
	snprintf(uv, sizeof(uv), "%" PRIu32, uidvalidity);
	snprintf(lo, sizeof(lo), "%" PRIu32, uids[0]);
	snprintf(hi, sizeof(hi), "%" PRIu32, uids[n - 1]);
	const char *values[6] = {account, mailbox, uv, lo, hi, NULL};
	int lengths[6] = {0, 0, 0, 0, 0, 0}, formats[6] = {0, 0, 0, 0, 0, 1};
	store_col_finish(&col, &values[5], &lengths[5]);
	res = PQexecParams(store->conn,
			   "SELECT uid, outcome, plan->>'move_to' FROM processed_messages"
			   " WHERE account = $1 AND mailbox = $2 AND uidvalidity = $3"
			   "   AND uid BETWEEN $4 AND $5 AND uid = ANY ($6::bigint[])"
			   " ORDER BY uid",
			   6, NULL, values, lengths, formats, 0);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		store_fail(store, res, "list processed uids", err);
		goto out;
	}
	int nr = PQntuples(res);
	/* one block: the entries, then the few move_to names they point to */
	size_t names = 0;
	for (int i = 0; i < nr; i++)
		if (!PQgetisnull(res, i, 2))
			names += (size_t)PQgetlength(res, i, 2) + 1;
	v = nr ? xcalloc(1, (size_t)nr * sizeof(*v) + names) : NULL;
	char *pool = v ? (char *)(v + nr) : NULL;
	for (int i = 0; i < nr; i++) {
		int64_t uid;
		int o = PQgetisnull(res, i, 1) ? -1 : outcome_parse(PQgetvalue(res, i, 1));
		if (store_get_i64(res, i, 0, &uid, err) < 0 || uid > UINT32_MAX || o < 0) {
			err_set(err, ERR_FATAL, "processed_messages holds an invalid uid or outcome");
			free(v);
			v = NULL;
			goto out;
		}
		v[i].uid = (uint32_t)uid;
		v[i].outcome = (enum outcome)o;
		if (!PQgetisnull(res, i, 2)) {
			size_t len = (size_t)PQgetlength(res, i, 2);
			memcpy(pool, PQgetvalue(res, i, 2), len + 1);
			v[i].move_to = pool;
			pool += len + 1;
		}
	}
	*v_r = v;
	*n_r = (size_t)nr;
	rc = 0;
out:
	PQclear(res);
	store_col_release(&col);
	return rc;
}

/* Keys must be valid UTF-8 for a text array: the sources send printable
 * ASCII, so anything else is refused here rather than by the server. */
static bool key_ok(const char *k)
{
	size_t n = strlen(k);
	char *owned = NULL;
	size_t len;
	store_utf8_clean(k, n, &owned, &len);
	free(owned);
	return owned == NULL && n > 0;
}

int store_processed_keys(struct store *store, const char *account, const char *const *keys,
			 size_t n, struct processed_key **v_r, struct err *err)
{
	*v_r = NULL;
	if (n == 0)
		return 0;
	if (n > INT32_MAX)
		return err_set(err, ERR_FATAL, "list processed keys: too many keys");
	/* Queued messages first, as store_exec does: they may be among them. */
	if (store_queue_len(store) && store_queue_send(store, err) < 0)
		return -1;
	struct store_col col;
	store_col_init(&col, STORE_OID_TEXT, ((size_t)1 << 30) - 64);
	int rc = -1;
	PGresult *res = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!keys[i] || !key_ok(keys[i])) {
			err_set(err, ERR_FATAL, "list processed keys: key %zu is empty or not UTF-8", i);
			goto out;
		}
		store_col_add(&col, keys[i], strlen(keys[i]));
	}
	if (store_col_failed(&col)) {
		err_set(err, ERR_FATAL, "list processed keys: keys too long");
		goto out;
	}
	const char *values[2];
	int lengths[2] = {0, 0}, formats[2] = {0, 1};
	values[0] = account;
	store_col_finish(&col, &values[1], &lengths[1]);
	/* The ordinality says which key a row belongs to; the partial unique
	 * index (account, source_key) answers each probe. */
	res = PQexecParams(store->conn,
			   "SELECT k.i, pm.outcome, pm.plan->>'move_to'"
			   "  FROM unnest($2::text[]) WITH ORDINALITY AS k(key, i)"
			   "  JOIN processed_messages pm"
			   "    ON pm.account = $1 AND pm.source_key = k.key"
			   "   AND pm.source_key IS NOT NULL",
			   2, NULL, values, lengths, formats, 0);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		store_fail(store, res, "list processed keys", err);
		goto out;
	}
	/* one block: the entries, then the few move_to names they point to */
	size_t names = 0;
	for (int r = 0; r < PQntuples(res); r++)
		if (!PQgetisnull(res, r, 2))
			names += (size_t)PQgetlength(res, r, 2) + 1;
	struct processed_key *v = xcalloc(1, n * sizeof(*v) + names);
	char *pool = (char *)(v + n);
	for (size_t i = 0; i < n; i++)
		v[i].outcome = -1;
	for (int r = 0; r < PQntuples(res); r++) {
		int64_t i;
		int o = PQgetisnull(res, r, 1) ? -1 : outcome_parse(PQgetvalue(res, r, 1));
		if (store_get_i64(res, r, 0, &i, err) < 0 || i < 1 || (uint64_t)i > n || o < 0) {
			err_set(err, ERR_FATAL, "processed_messages holds an invalid outcome");
			free(v);
			goto out;
		}
		v[i - 1].outcome = o;
		if (!PQgetisnull(res, r, 2)) {
			size_t len = (size_t)PQgetlength(res, r, 2);
			memcpy(pool, PQgetvalue(res, r, 2), len + 1);
			v[i - 1].move_to = pool;
			pool += len + 1;
		}
	}
	*v_r = v;
	rc = 0;
out:
	PQclear(res);
	store_col_release(&col);
	return rc;
}

int store_uidvalidity_record(struct store *store, const char *account, const char *mailbox,
			     uint32_t uidvalidity, bool *known_r, uint32_t *previous_r,
			     struct err *err)
{
	*known_r = false;
	*previous_r = 0;
	char uv[16];
	snprintf(uv, sizeof(uv), "%" PRIu32, uidvalidity);
	const char *params[3] = { account, mailbox, uv };
	PGresult *res;
	/* `old` reads the row as it was before this statement's upsert. */
	if (store_exec(store,
		       "WITH old AS (SELECT uidvalidity FROM mailbox_state"
		       "             WHERE account = $1 AND mailbox = $2),"
		       " up AS (INSERT INTO mailbox_state AS s (account, mailbox, uidvalidity)"
		       "        VALUES ($1, $2, $3)"
		       "        ON CONFLICT (account, mailbox) DO UPDATE"
		       "        SET uidvalidity = excluded.uidvalidity, updated_at = now()"
		       "        WHERE s.uidvalidity <> excluded.uidvalidity RETURNING 1)"
		       " SELECT (SELECT uidvalidity FROM old), (SELECT count(*) FROM up)",
		       3, params, PGRES_TUPLES_OK, &res, "record uidvalidity", err) < 0)
		return -1;
	int rc = 0;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		int64_t prev;
		if (store_get_i64(res, 0, 0, &prev, err) < 0 || prev > UINT32_MAX)
			rc = err_set(err, ERR_FATAL, "mailbox_state holds an invalid uidvalidity");
		else {
			*known_r = true;
			*previous_r = (uint32_t)prev;
		}
	}
	PQclear(res);
	return rc;
}
