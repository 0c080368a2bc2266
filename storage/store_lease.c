/*
 * Job leases: claim, heartbeat, release (the rules are SQL functions of
 * migrations/0005_leases.sql, so that each step is one statement that works
 * through a pooler in transaction mode), and the status of each job.
 *
 * None of this is on the per-message path: one claim and one release per
 * run, one heartbeat per daemon every few seconds.
 */
#include "storage/store.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/buf.h"
#include "engine/util/log.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"
#include "storage/store_int.h"

/* Job lists as one text[] parameter: at most this many bytes. */
#define NAME_ARRAY_MAX (16u * 1024 * 1024)

static void copy_field(const PGresult *res, int row, int col, char *out, size_t outlen)
{
	out[0] = '\0';
	if (PQgetisnull(res, row, col) || outlen == 0)
		return;
	/* from the database, but written by other daemons or people: keep it printable */
	log_clean(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), out, outlen);
}

/* A possibly negative bigint field (0 when NULL). */
static int get_int(const PGresult *res, int row, int col, int64_t *v_r, struct err *err)
{
	*v_r = 0;
	if (PQgetisnull(res, row, col))
		return 0;
	const char *s = PQgetvalue(res, row, col);
	size_t neg = s[0] == '-';
	uint64_t u;
	if (str_parse_u64(s + neg, strlen(s + neg), INT64_MAX, &u) < 0)
		return err_set(err, ERR_FATAL, "unexpected value \"%.40s\" in column %d", s, col);
	*v_r = neg ? -(int64_t)u : (int64_t)u;
	return 0;
}

/* '{"a","b"}': a text[] literal; names are quoted and escaped whatever they hold. */
static int name_array(const char *const *names, size_t n, struct buf *b, struct err *err)
{
	buf_addc(b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(b, ',');
		buf_addc(b, '"');
		for (const char *p = names[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_addc(b, '\\');
			buf_addc(b, *p);
		}
		buf_addc(b, '"');
	}
	buf_addc(b, '}');
	if (b->failed)
		return err_set(err, ERR_FATAL, "too many job names for one statement");
	return 0;
}

/* Columns r_holder_host .. r_last_success_at of m2t_lease_claim, from col. */
static int lease_from_row(const PGresult *res, int row, int col, int64_t db_now,
			  struct store_lease *l, struct err *err)
{
	int64_t v;
	memset(l, 0, sizeof(*l));
	copy_field(res, row, col, l->holder_host, sizeof(l->holder_host));
	if (get_int(res, row, col + 1, &v, err) < 0)
		return -1;
	l->holder_pid = (int)v;
	copy_field(res, row, col + 2, l->holder_id, sizeof(l->holder_id));
	if (get_int(res, row, col + 3, &l->expires_at, err) < 0 ||
	    get_int(res, row, col + 4, &l->last_slot, err) < 0 ||
	    get_int(res, row, col + 5, &v, err) < 0 ||
	    get_int(res, row, col + 6, &l->retry_at, err) < 0 ||
	    get_int(res, row, col + 7, &l->last_success_at, err) < 0)
		return -1;
	l->failures = v < 0 ? 0 : (unsigned)v;
	l->held = l->holder_id[0] && l->expires_at > db_now;
	return 0;
}

int store_lease_claim(struct store *store, const char *job, int64_t slot, bool force,
		      const struct store_run_context *who, uint64_t ttl_ms, bool *won_r,
		      struct store_lease *lease_r, struct err *err)
{
	char s_slot[24], s_pid[16], s_ttl[24];
	*won_r = false;
	memset(lease_r, 0, sizeof(*lease_r));
	snprintf(s_slot, sizeof(s_slot), "%" PRId64, slot);
	snprintf(s_pid, sizeof(s_pid), "%d", who->pid);
	snprintf(s_ttl, sizeof(s_ttl), "%" PRIu64, ttl_ms);
	const char *params[7] = { job, s_slot, force ? "true" : "false", who->host, s_pid,
				  who->daemon_id, s_ttl };
	PGresult *res;
	if (store_exec(store,
		       "SELECT c.*, m2t_epoch(now()) FROM m2t_lease_claim($1, $2::bigint, $3::boolean,"
		       " $4, $5::integer, $6, $7::bigint) c",
		       7, params, PGRES_TUPLES_OK, &res, "claim job lease", err) < 0)
		return -1;
	int rc = 0;
	int64_t db_now;
	if (PQntuples(res) != 1 || PQnfields(res) != 10)
		rc = err_set(err, ERR_FATAL, "claim job lease: unexpected result");
	else if (get_int(res, 0, 9, &db_now, err) < 0 ||
		 lease_from_row(res, 0, 1, db_now, lease_r, err) < 0)
		rc = -1;
	else
		*won_r = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return rc;
}

int store_lease_renew(struct store *store, const char *daemon_id, const char *const *jobs,
		      size_t n, uint64_t ttl_ms, bool *held_r, struct err *err)
{
	struct buf arr;
	char s_ttl[24];
	int rc = -1;
	PGresult *res = NULL;
	for (size_t i = 0; i < n; i++)
		held_r[i] = false;
	if (n == 0)
		return 0;
	buf_init(&arr, NAME_ARRAY_MAX);
	if (name_array(jobs, n, &arr, err) < 0)
		goto out;
	snprintf(s_ttl, sizeof(s_ttl), "%" PRIu64, ttl_ms);
	const char *params[3] = { daemon_id, buf_str(&arr), s_ttl };
	if (store_exec(store,
		       "UPDATE job_leases SET renewed_at = now(),"
		       " expires_at = now() + $3::bigint * interval '1 millisecond'"
		       " WHERE holder_id = $1 AND job = ANY ($2::text[]) RETURNING job",
		       3, params, PGRES_TUPLES_OK, &res, "renew job leases", err) < 0)
		goto out;
	/* n is small (the running jobs of one daemon): a nested scan is fine */
	for (int r = 0; r < PQntuples(res); r++) {
		const char *name = PQgetvalue(res, r, 0);
		for (size_t i = 0; i < n; i++)
			if (strcmp(jobs[i], name) == 0)
				held_r[i] = true;
	}
	rc = 0;
out:
	PQclear(res);
	buf_release(&arr);
	return rc;
}

int store_lease_release(struct store *store, const char *job, const char *daemon_id,
			const struct store_lease_end *end, unsigned *failures_r, bool *held_r,
			struct err *err)
{
	char s_run[24], s_retry[24];
	char *owned = NULL;
	const char *error = NULL;
	*failures_r = 0;
	*held_r = false;
	snprintf(s_run, sizeof(s_run), "%" PRId64, end->run_id);
	snprintf(s_retry, sizeof(s_retry), "%" PRId64, end->retry_ms);
	if (end->error) {
		size_t len;
		error = store_utf8_clean(end->error, strlen(end->error), &owned, &len);
	}
	const char *params[7] = { job, daemon_id, end->run_id ? s_run : NULL, end->status,
				  end->error_class, error, end->retry_ms >= 0 ? s_retry : NULL };
	PGresult *res;
	int rc = store_exec(store,
			    "SELECT m2t_lease_release($1, $2, $3::bigint, $4, $5, $6, $7::bigint)",
			    7, params, PGRES_TUPLES_OK, &res, "release job lease", err);
	free(owned);
	if (rc < 0)
		return -1;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		int64_t f;
		if (get_int(res, 0, 0, &f, err) < 0)
			rc = -1;
		else {
			*failures_r = f < 0 ? 0 : (unsigned)f;
			*held_r = true;
		}
	}
	PQclear(res);
	return rc;
}

int store_job_status_read(struct store *store, const char *const *jobs, size_t n,
			  struct store_job_status *st, struct err *err)
{
	struct buf arr;
	int rc = -1;
	PGresult *res = NULL;
	memset(st, 0, n * sizeof(*st));
	if (n == 0)
		return 0;
	buf_init(&arr, NAME_ARRAY_MAX);
	if (name_array(jobs, n, &arr, err) < 0)
		goto out;
	const char *params[1] = { buf_str(&arr) };
	/* job_runs_job_started serves the latest run of each job (a backward scan) */
	if (store_exec(store,
		       "SELECT l.job IS NOT NULL, l.holder_host, l.holder_pid, l.holder_id,"
		       "  m2t_epoch(l.expires_at), m2t_epoch(l.last_slot), l.failures,"
		       "  m2t_epoch(l.retry_at), m2t_epoch(l.last_success_at),"
		       "  r.id, m2t_epoch(r.started_at), m2t_epoch(r.finished_at), r.status,"
		       "  r.fetched, r.tickets, r.appended, r.ignored, r.badmail, r.already_done,"
		       "  r.bytes, r.error, r.error_class, r.daemon_host, r.daemon_pid, r.daemon_id,"
		       "  m2t_epoch(now())"
		       " FROM unnest($1::text[]) WITH ORDINALITY AS j(name, i)"
		       " LEFT JOIN job_leases l ON l.job = j.name"
		       " LEFT JOIN LATERAL (SELECT * FROM job_runs r WHERE r.job = j.name"
		       "                    ORDER BY r.started_at DESC LIMIT 1) r ON true"
		       " ORDER BY j.i",
		       1, params, PGRES_TUPLES_OK, &res, "read job status", err) < 0)
		goto out;
	if ((size_t)PQntuples(res) != n) {
		err_set(err, ERR_FATAL, "read job status: %d rows for %zu jobs", PQntuples(res), n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_job_status *s = &st[i];
		int row = (int)i;
		int64_t v[8];
		if (get_int(res, row, 25, &s->db_now, err) < 0)
			goto out;
		s->has_lease_row = strcmp(PQgetvalue(res, row, 0), "t") == 0;
		if (s->has_lease_row && lease_from_row(res, row, 1, s->db_now, &s->lease, err) < 0)
			goto out;
		s->has_run = !PQgetisnull(res, row, 9);
		if (!s->has_run)
			continue;
		if (get_int(res, row, 9, &s->run_id, err) < 0 ||
		    get_int(res, row, 10, &s->run_started, err) < 0 ||
		    get_int(res, row, 11, &s->run_finished, err) < 0)
			goto out;
		copy_field(res, row, 12, s->run_status, sizeof(s->run_status));
		for (int k = 0; k < 7; k++)
			if (get_int(res, row, 13 + k, &v[k], err) < 0)
				goto out;
		s->run_counts.fetched = (uint64_t)v[0];
		s->run_counts.tickets = (uint64_t)v[1];
		s->run_counts.appended = (uint64_t)v[2];
		s->run_counts.ignored = (uint64_t)v[3];
		s->run_counts.badmail = (uint64_t)v[4];
		s->run_counts.already_done = (uint64_t)v[5];
		s->run_counts.bytes = (uint64_t)v[6];
		copy_field(res, row, 20, s->run_error, sizeof(s->run_error));
		copy_field(res, row, 21, s->run_error_class, sizeof(s->run_error_class));
		copy_field(res, row, 22, s->run_host, sizeof(s->run_host));
		if (get_int(res, row, 23, &v[7], err) < 0)
			goto out;
		s->run_pid = (int)v[7];
		copy_field(res, row, 24, s->run_daemon_id, sizeof(s->run_daemon_id));
	}
	rc = 0;
out:
	PQclear(res);
	buf_release(&arr);
	return rc;
}
