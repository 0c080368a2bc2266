/*
 * oauth_tokens (migration 0006): the row lock and the compare-and-swap
 * update behind OAuth2 token refreshes (engine/auth/oauth_token.c).
 *
 * SECURITY: tokens travel only as statement parameters; store_fail() logs
 * the server's primary message, never parameters. Copies of tokens are
 * wiped when a row is released.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"
#include "storage/store.h"
#include "storage/store_int.h"

#define COLUMNS                                                                       \
	"client_id, refresh_token, access_token, last_error,"                         \
	" coalesce(extract(epoch FROM access_expires_at)::bigint, 0),"                \
	" coalesce(extract(epoch FROM last_refresh_at)::bigint, 0),"                  \
	" coalesce(extract(epoch FROM last_error_at)::bigint, 0),"                    \
	" extract(epoch FROM updated_at)::bigint, generation,"                        \
	" extract(epoch FROM now())::bigint"

static void wipe_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void store_oauth_row_release(struct store_oauth_row *row)
{
	free(row->client_id);
	wipe_free(row->refresh_token);
	wipe_free(row->access_token);
	free(row->last_error);
	memset(row, 0, sizeof(*row));
}

static char *text_or_null(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : xstrdup(PQgetvalue(res, 0, col));
}

/* Signed epoch seconds (store_get_i64 takes non-negative values only). */
static int64_t epoch(const PGresult *res, int col)
{
	if (PQgetisnull(res, 0, col))
		return 0;
	long long v = strtoll(PQgetvalue(res, 0, col), NULL, 10);
	return (int64_t)v;
}

static int row_fill(const PGresult *res, struct store_oauth_row *row)
{
	memset(row, 0, sizeof(*row));
	if (PQntuples(res) != 1 || PQnfields(res) != 10)
		return 0;
	row->found = true;
	row->client_id = text_or_null(res, 0);
	row->refresh_token = text_or_null(res, 1);
	row->access_token = text_or_null(res, 2);
	row->last_error = text_or_null(res, 3);
	row->access_expires_at = epoch(res, 4);
	row->last_refresh_at = epoch(res, 5);
	row->last_error_at = epoch(res, 6);
	row->updated_at = epoch(res, 7);
	row->generation = epoch(res, 8);
	row->now = epoch(res, 9);
	return 0;
}

int store_oauth_lock(struct store *store, const char *account, uint64_t lock_timeout_ms,
		     struct store_oauth_row *row, struct err *err)
{
	char lt[32];
	PGresult *res;
	memset(row, 0, sizeof(*row));
	snprintf(lt, sizeof(lt), "%" PRIu64 "ms", lock_timeout_ms ? lock_timeout_ms : 1);
	const char *p1[1] = {lt};
	const char *p2[1] = {account};
	if (store_begin(store, err) < 0)
		return -1;
	/* set_config(..., true) is SET LOCAL: it ends with the transaction */
	if (store_exec(store, "SELECT set_config('lock_timeout', $1, true)", 1, p1,
		       PGRES_TUPLES_OK, NULL, "set lock_timeout", err) < 0)
		goto fail;
	/* The no-op update takes the row lock (and waits for a holder); RETURNING
	 * then shows the row as its last holder committed it. */
	if (store_exec(store, "INSERT INTO oauth_tokens (account) VALUES ($1) "
		       "ON CONFLICT (account) DO UPDATE SET account = excluded.account "
		       "RETURNING " COLUMNS, 1, p2, PGRES_TUPLES_OK, &res, "lock the OAuth2 token row",
		       err) < 0)
		goto fail;
	row_fill(res, row);
	PQclear(res);
	return 0;
fail:
	store_rollback(store);
	if (strstr(err->msg, "55P03"))
		err_prefix(err, "another process is refreshing this account's token");
	return -1;
}

int store_oauth_read(struct store *store, const char *account, struct store_oauth_row *row,
		     struct err *err)
{
	PGresult *res;
	const char *p[1] = {account};
	memset(row, 0, sizeof(*row));
	if (store_exec(store, "SELECT " COLUMNS " FROM oauth_tokens WHERE account = $1", 1, p,
		       PGRES_TUPLES_OK, &res, "read the OAuth2 token row", err) < 0)
		return -1;
	row_fill(res, row);
	PQclear(res);
	return 0;
}

int store_oauth_update(struct store *store, const char *account, int64_t generation,
		       const struct store_oauth_update *u, struct err *err)
{
	char gen[32], expires[32];
	PGresult *res;
	snprintf(gen, sizeof(gen), "%" PRId64, generation);
	snprintf(expires, sizeof(expires), "%" PRId64, u->expires_in > 0 ? u->expires_in : 0);
	const char *p[8] = {
		account, gen, u->client_id, u->refresh_token, u->access_token,
		u->access_token ? expires : NULL, u->error, u->keep_access ? "t" : "f",
	};
	if (store_exec(store,
		       "UPDATE oauth_tokens SET"
		       " client_id = coalesce($3::text, client_id),"
		       " refresh_token = coalesce($4::text, refresh_token),"
		       " access_token = CASE WHEN $8::boolean THEN access_token ELSE $5::text END,"
		       " access_expires_at = CASE WHEN $8::boolean THEN access_expires_at"
		       "   WHEN $5::text IS NULL THEN NULL"
		       "   ELSE now() + make_interval(secs => $6::bigint) END,"
		       " last_refresh_at = CASE WHEN $7::text IS NULL THEN now()"
		       "   ELSE last_refresh_at END,"
		       " last_error = $7::text,"
		       " last_error_at = CASE WHEN $7::text IS NULL THEN NULL ELSE now() END,"
		       " generation = generation + 1, updated_at = now()"
		       " WHERE account = $1 AND generation = $2::bigint",
		       8, p, PGRES_COMMAND_OK, &res, "save the OAuth2 tokens", err) < 0)
		return -1;
	const char *n = PQcmdTuples(res);
	bool one = n && strcmp(n, "1") == 0;
	PQclear(res);
	if (!one)
		return err_set(err, ERR_TRANSIENT, "the OAuth2 token row of \"%s\" changed while "
			       "it was being updated", account);
	return 0;
}

int store_oauth_states(struct store *store, struct store_oauth_state *v, size_t max,
		       size_t *n_r, struct err *err)
{
	PGresult *res;
	char lim[32];
	snprintf(lim, sizeof(lim), "%zu", max);
	const char *p[1] = {lim};
	*n_r = 0;
	if (store_exec(store,
		       "SELECT account, coalesce(extract(epoch FROM access_expires_at)::bigint, 0),"
		       " refresh_token IS NOT NULL, last_error IS NOT NULL"
		       " FROM oauth_tokens ORDER BY account LIMIT $1::bigint",
		       1, p, PGRES_TUPLES_OK, &res, "read the OAuth2 token states", err) < 0)
		return -1;
	int rows = PQntuples(res);
	for (int i = 0; i < rows && (size_t)i < max; i++) {
		struct store_oauth_state *s = &v[i];
		memset(s, 0, sizeof(*s));
		snprintf(s->account, sizeof(s->account), "%s", PQgetvalue(res, i, 0));
		s->access_expires_at = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		s->have_refresh = PQgetvalue(res, i, 2)[0] == 't';
		s->failing = PQgetvalue(res, i, 3)[0] == 't';
		(*n_r)++;
	}
	PQclear(res);
	return 0;
}
