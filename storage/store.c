/*
 * Storage: the connection, transactions, and how a PostgreSQL failure maps
 * to our error classes (DESIGN.md, decision 2). The other storage files
 * build on store_exec() and store_fail() from here.
 */
#include "storage/store.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/log.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"
#include "storage/store_int.h"

const char *outcome_name(enum outcome o)
{
	switch (o) {
	case OUTCOME_TICKET: return "ticket";
	case OUTCOME_APPENDED: return "appended";
	case OUTCOME_IGNORED: return "ignored";
	case OUTCOME_BADMAIL: return "badmail";
	}
	return "unknown";
}

int outcome_parse(const char *s)
{
	static const enum outcome all[] = { OUTCOME_TICKET, OUTCOME_APPENDED, OUTCOME_IGNORED,
					    OUTCOME_BADMAIL };
	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, outcome_name(all[i])) == 0)
			return (int)all[i];
	return -1;
}

/*
 * Which failures are worth retrying later. Anything the server says about
 * our SQL or data (syntax, constraint, missing table) would fail the same
 * way again, so it is fatal: a bug or a schema that does not match.
 */
static enum err_class sqlstate_class(const char *state, bool conn_bad)
{
	if (conn_bad || !state || !*state)
		return ERR_TRANSIENT; /* no SQLSTATE: libpq's own error, i.e. the connection */
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return ERR_TRANSIENT; /* serialization failure, deadlock */
	if (strncmp(state, "08", 2) == 0)
		return ERR_TRANSIENT; /* connection exception */
	if (strncmp(state, "57P0", 4) == 0)
		return ERR_TRANSIENT; /* admin/crash shutdown, cannot connect now */
	if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0)
		return ERR_TRANSIENT; /* statement timeout / cancel, lock not available */
	if (strncmp(state, "53", 2) == 0 || strncmp(state, "58", 2) == 0)
		return ERR_TRANSIENT; /* out of resources (disk, memory, connections), I/O */
	return ERR_FATAL;
}

int store_fail(struct store *store, const PGresult *res, const char *what, struct err *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	/* The primary message only: DETAIL may quote row contents, i.e. mail text. */
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!msg || !*msg)
		msg = PQerrorMessage(store->conn);
	if (!msg || !*msg)
		msg = "unknown error";
	size_t len = strlen(msg);
	while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		len--;
	char clean[300];
	log_clean(msg, len, clean, sizeof(clean));

	enum err_class cls = sqlstate_class(state, PQstatus(store->conn) != CONNECTION_OK);
	if (store->in_txn) {
		store->txn_failed = true;
		store->txn_err_cls = cls;
	}
	if (state)
		return err_set(err, cls, "%s: %s (SQLSTATE %s)", what, clean, state);
	return err_set(err, cls, "%s: %s", what, clean);
}

int store_exec(struct store *store, const char *sql, int nparams, const char *const *values,
	       ExecStatusType want, PGresult **res_r, const char *what, struct err *err)
{
	if (res_r)
		*res_r = NULL;
	/* Queued messages go first, so statements see them in the order given. */
	if (store_queue_len(store) && store_queue_send(store, err) < 0)
		return -1;
	PGresult *res = PQexecParams(store->conn, sql, nparams, NULL, values, NULL, NULL, 0);
	if (!res || PQresultStatus(res) != want) {
		store_fail(store, res, what, err);
		PQclear(res);
		return -1;
	}
	if (res_r)
		*res_r = res;
	else
		PQclear(res);
	return 0;
}

int store_get_i64(const PGresult *res, int row, int col, int64_t *v_r, struct err *err)
{
	*v_r = 0;
	if (PQgetisnull(res, row, col))
		return 0;
	const char *s = PQgetvalue(res, row, col);
	uint64_t v;
	if (str_parse_u64(s, strlen(s), INT64_MAX, &v) < 0)
		return err_set(err, ERR_FATAL, "unexpected value \"%.40s\" in column %d", s, col);
	*v_r = (int64_t)v;
	return 0;
}

/* Server notices (e.g. "already exists, skipping") go to the log, not stderr. */
static void store_notice(void *arg, const char *message)
{
	(void)arg;
	char clean[300];
	size_t len = strlen(message);
	while (len && message[len - 1] == '\n')
		len--;
	log_clean(message, len, clean, sizeof(clean));
	log_debug("store.notice", "text=\"%s\"", clean);
}

/* Per-connection settings: UTF-8 both ways, timestamps printed as UTC. */
static int store_session_setup(struct store *store, struct err *err)
{
	PQsetNoticeProcessor(store->conn, store_notice, NULL);
	if (PQsetClientEncoding(store->conn, "UTF8") != 0)
		return store_fail(store, NULL, "set client encoding", err);
	if (store_exec(store, "SET TIME ZONE 'UTC'", 0, NULL, PGRES_COMMAND_OK, NULL,
		       "set time zone", err) < 0)
		return -1;
	store->ingest_prepared = false;
	return 0;
}

int store_open(const char *url, struct store **store_r, struct err *err)
{
	*store_r = NULL;
	struct store *store = xcalloc(1, sizeof(*store));
	store->conn = PQconnectdb(url ? url : "");
	if (!store->conn) {
		store_free(&store);
		return err_set(err, ERR_TRANSIENT, "connect to database: out of memory");
	}
	if (PQstatus(store->conn) != CONNECTION_OK) {
		/* PQerrorMessage names host and port, never the password. */
		store_fail(store, NULL, "connect to database", err);
		store_free(&store);
		return -1;
	}
	if (store_session_setup(store, err) < 0) {
		store_free(&store);
		return -1;
	}
	*store_r = store;
	return 0;
}

void store_free(struct store **storep)
{
	struct store *store = *storep;
	if (!store)
		return;
	if (store->conn)
		PQfinish(store->conn);
	store_queue_free(store);
	free(store->ctx_host);
	free(store->ctx_daemon_id);
	free(store);
	*storep = NULL;
}

/* A connection lost between batches is re-established once, here. */
static int store_ensure_connected(struct store *store, struct err *err)
{
	if (PQstatus(store->conn) == CONNECTION_OK)
		return 0;
	PQreset(store->conn);
	if (PQstatus(store->conn) != CONNECTION_OK)
		return store_fail(store, NULL, "reconnect to database", err);
	log_info("store.reconnected", "status=%s", "ok");
	return store_session_setup(store, err);
}

int store_begin(struct store *store, struct err *err)
{
	if (store->in_txn)
		return err_set(err, ERR_FATAL, "store_begin: a transaction is already open");
	if (store_ensure_connected(store, err) < 0)
		return -1;
	/* READ COMMITTED on purpose: ON CONFLICT then waits for a concurrent
	 * writer of the same identity and sees its row, instead of failing. */
	if (store_exec(store, "BEGIN ISOLATION LEVEL READ COMMITTED", 0, NULL, PGRES_COMMAND_OK,
		       NULL, "begin transaction", err) < 0)
		return -1;
	store->in_txn = true;
	store->txn_failed = false;
	return 0;
}

int store_commit(struct store *store, struct err *err)
{
	if (!store->in_txn)
		return err_set(err, ERR_FATAL, "store_commit: no transaction is open");
	if (store->txn_failed) {
		store_queue_discard(store);
		enum err_class cls = store->txn_err_cls;
		store_rollback(store);
		return err_set(err, cls, "commit: the transaction was aborted by an earlier error");
	}
	if (store_queue_len(store) && store_queue_send(store, err) < 0) {
		enum err_class cls = err->cls;
		store_rollback(store);
		err->cls = cls;
		return -1;
	}
	PGresult *res = PQexec(store->conn, "COMMIT");
	int rc = 0;
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		/* Lost during COMMIT the outcome is unknown; retrying is safe because
		 * every message's identity row makes a replay "already done". */
		rc = store_fail(store, res, "commit", err);
	} else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		/* The server answers ROLLBACK to COMMIT in an aborted transaction. */
		rc = err_set(err, ERR_FATAL, "commit: the server rolled the transaction back");
	}
	PQclear(res);
	store->in_txn = false;
	store->txn_failed = false;
	return rc;
}

void store_rollback(struct store *store)
{
	if (!store->in_txn)
		return;
	/* Messages never sent cost the server nothing: just forget them. */
	store_queue_discard(store);
	store->in_txn = false;
	store->txn_failed = false;
	if (PQstatus(store->conn) != CONNECTION_OK)
		return; /* the server has already dropped the transaction */
	PGresult *res = PQexec(store->conn, "ROLLBACK");
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		log_warn("store.rollback", "error=\"%s\"", "rollback failed");
	PQclear(res);
}
