/*
 * The migration runner: applies migrations/NNNN_name.sql compiled into the
 * binary (m2t_migrations[]), forward only, each in its own transaction, and
 * refuses a database that is newer than the binary.
 *
 * The migration files are ours and contain several statements, so they go
 * through PQexec (the simple protocol); no mail text is ever part of them.
 */
#include "storage/store.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"
#include "storage/migrations.h"
#include "storage/store_int.h"

/* Session advisory lock key: "m2t!" as an integer. Two processes
 * migrating at once queue behind it instead of racing. */
#define MIGRATE_LOCK_KEY "1832023073"

static unsigned newest_version(void)
{
	unsigned v = 0;
	for (unsigned i = 0; i < m2t_migrations_count; i++)
		if (m2t_migrations[i].version > v)
			v = m2t_migrations[i].version;
	return v;
}

/* Versions recorded in schema_migrations, ascending, in *v_r (malloc'd). */
static int applied_versions(struct store *store, unsigned **v_r, size_t *n_r, struct err *err)
{
	*v_r = NULL;
	*n_r = 0;
	PGresult *res;
	if (store_exec(store, "SELECT version FROM schema_migrations ORDER BY version", 0, NULL,
		       PGRES_TUPLES_OK, &res, "read schema_migrations", err) < 0)
		return -1;
	int n = PQntuples(res);
	unsigned *v = xcalloc(n ? (size_t)n : 1, sizeof(*v));
	for (int i = 0; i < n; i++) {
		int64_t x;
		if (store_get_i64(res, i, 0, &x, err) < 0 || x > UINT32_MAX) {
			PQclear(res);
			free(v);
			return err_set(err, ERR_FATAL, "schema_migrations holds an invalid version");
		}
		v[i] = (unsigned)x;
	}
	PQclear(res);
	*v_r = v;
	*n_r = (size_t)n;
	return 0;
}

static bool has_version(const unsigned *v, size_t n, unsigned version)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == version)
			return true;
	return false;
}

static int apply_one(struct store *store, const struct migration *m, struct err *err)
{
	if (store_begin(store, err) < 0)
		return -1;
	PGresult *res = PQexec(store->conn, m->sql);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		/* An empty file gives PGRES_EMPTY_QUERY: harmless. */
		if (!res || PQresultStatus(res) != PGRES_EMPTY_QUERY) {
			store_fail(store, res, "apply migration", err);
			PQclear(res);
			store_rollback(store);
			return err_prefix(err, "%s", m->name);
		}
	}
	PQclear(res);
	char ver[16];
	snprintf(ver, sizeof(ver), "%u", m->version);
	const char *params[2] = { ver, m->name };
	if (store_exec(store, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
		       params, PGRES_COMMAND_OK, NULL, "record migration", err) < 0) {
		store_rollback(store);
		return err_prefix(err, "%s", m->name);
	}
	if (store_commit(store, err) < 0)
		return err_prefix(err, "%s", m->name);
	return 0;
}

static int migrate_locked(struct store *store, FILE *report, struct err *err)
{
	/* The runner owns this table, so it exists before migration 0001. */
	if (store_exec(store,
		       "CREATE TABLE IF NOT EXISTS schema_migrations ("
		       " version integer PRIMARY KEY, name text NOT NULL,"
		       " applied_at timestamptz NOT NULL DEFAULT now())",
		       0, NULL, PGRES_COMMAND_OK, NULL, "create schema_migrations", err) < 0)
		return -1;
	unsigned *have;
	size_t nhave;
	if (applied_versions(store, &have, &nhave, err) < 0)
		return -1;
	unsigned newest = newest_version();
	unsigned db_newest = nhave ? have[nhave - 1] : 0;
	int rc = 0;
	if (db_newest > newest) {
		rc = err_set(err, ERR_FATAL,
			     "database schema version %u is newer than this binary's newest migration %u; "
			     "use a newer mail2ticket", db_newest, newest);
		goto out;
	}
	unsigned applied = 0;
	for (unsigned i = 0; i < m2t_migrations_count; i++) {
		const struct migration *m = &m2t_migrations[i];
		if (has_version(have, nhave, m->version))
			continue;
		if (apply_one(store, m, err) < 0) {
			rc = -1;
			goto out;
		}
		applied++;
		if (report)
			fprintf(report, "applied %s\n", m->name);
	}
	if (applied == 0 && report)
		fprintf(report, "schema is up to date (version %u)\n", newest);
out:
	free(have);
	return rc;
}

int store_migrate(struct store *store, FILE *report, struct err *err)
{
	if (store->in_txn)
		return err_set(err, ERR_FATAL, "store_migrate: a transaction is open");
	const char *key[1] = { MIGRATE_LOCK_KEY };
	if (store_exec(store, "SELECT pg_advisory_lock($1::bigint)", 1, key, PGRES_TUPLES_OK, NULL,
		       "take the migration lock", err) < 0)
		return -1;
	int rc = migrate_locked(store, report, err);
	/* Released explicitly: a pooled or reused session must not keep it. */
	if (PQstatus(store->conn) == CONNECTION_OK) {
		struct err ignored;
		err_clear(&ignored);
		store_exec(store, "SELECT pg_advisory_unlock($1::bigint)", 1, key, PGRES_TUPLES_OK,
			   NULL, "release the migration lock", &ignored);
	}
	return rc;
}

int store_schema_version(struct store *store, unsigned *version_r, struct err *err)
{
	*version_r = 0;
	PGresult *res = PQexecParams(store->conn, "SELECT max(version) FROM schema_migrations", 0,
				     NULL, NULL, NULL, NULL, 0);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		bool missing = state && strcmp(state, "42P01") == 0; /* undefined_table */
		store_fail(store, res, "read schema version", err);
		PQclear(res);
		if (!missing)
			return -1;
		err_clear(err); /* no table: version 0, the caller decides */
		return 0;
	}
	int64_t v = 0;
	int rc = PQntuples(res) == 1 ? store_get_i64(res, 0, 0, &v, err) : 0;
	PQclear(res);
	if (rc < 0)
		return -1;
	*version_r = v > UINT32_MAX ? UINT32_MAX : (unsigned)v;
	return 0;
}

int store_check_schema(struct store *store, struct err *err)
{
	unsigned have;
	if (store_schema_version(store, &have, err) < 0)
		return -1;
	unsigned want = newest_version();
	if (have == 0)
		return err_set(err, ERR_FATAL,
			       "database has no mail2ticket schema (this binary needs version %u); "
			       "run `mail2ticket migrate`", want);
	if (have > want)
		return err_set(err, ERR_FATAL,
			       "database schema version %u is newer than this binary's version %u; "
			       "use a newer mail2ticket", have, want);
	if (have < want)
		return err_set(err, ERR_FATAL,
			       "database schema version %u is older than this binary's version %u; "
			       "run `mail2ticket migrate`", have, want);
	return 0;
}
