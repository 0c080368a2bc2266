/*
 * Storage internals shared by the storage .c files only: the connection, result
 * checking with error classes, and parameter encoding. Nothing outside
 * storage/ includes this (or libpq).
 */
#ifndef M2T_STORE_INT_H
#define M2T_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "engine/util/buf.h"
#include "engine/util/err.h"

struct store_queue;

struct store {
	PGconn *conn;
	bool in_txn;          /* BEGIN sent, no COMMIT/ROLLBACK yet */
	bool txn_failed;      /* an error aborted the open transaction */
	enum err_class txn_err_cls;
	bool ingest_prepared; /* PQprepare of the ingest call done on this connection */
	/* Messages queued by store_apply_async, not yet sent (store_ingest.c);
	 * NULL until the first one. */
	struct store_queue *queue;
	/* Messages sent in one ingest call whose results are not read yet: the
	 * server stores them while the caller parses the next ones. */
	struct store_queue *inflight;
	/* store_run_context_set(): written into job_runs by store_job_run_start */
	char *ctx_host;       /* NULL: not set */
	char *ctx_daemon_id;
	int ctx_pid;
	int64_t ctx_slot;
};

/* The ingest queue (store_ingest.c). */
/* Messages queued or in flight: non-zero means "store_queue_send first". */
size_t store_queue_len(const struct store *store);
/* Waits for the call in flight, sends every queued message in one call and
 * fills their items: afterwards nothing is pending on the connection. */
int store_queue_send(struct store *store, struct err *err);
/* Forgets the queued messages and drains the call in flight (their
 * transaction is being rolled back). */
void store_queue_discard(struct store *store);
void store_queue_free(struct store *store);

/*
 * Classifies a failed result (or a failed connection when res is NULL) into
 * err: lost connections, serialization failures, deadlocks, shutdowns and
 * lock/statement timeouts are ERR_TRANSIENT; everything else is ERR_FATAL
 * (a bug or a schema problem). `what` names the operation. Returns -1.
 */
int store_fail(struct store *store, const PGresult *res, const char *what, struct err *err);

/*
 * Runs one statement with text parameters (values may be NULL for SQL NULL)
 * and checks it returned `want` (PGRES_COMMAND_OK or PGRES_TUPLES_OK). On
 * success *res_r owns the result (caller PQclear()s it; pass NULL to have it
 * cleared here). On failure nothing is left to clear.
 */
int store_exec(struct store *store, const char *sql, int nparams, const char *const *values,
	       ExecStatusType want, PGresult **res_r, const char *what, struct err *err);

/* Parses a non-negative decimal field of a result (0 when NULL). */
int store_get_i64(const PGresult *res, int row, int col, int64_t *v_r, struct err *err);

/*
 * Makes text acceptable to PostgreSQL's UTF-8 text type: invalid sequences
 * and NUL bytes become U+FFFD. Returns s itself when it is already clean
 * (the common case, no copy), else a malloc'd copy stored in *owned_r that
 * the caller frees. *len_r is the resulting length.
 */
const char *store_utf8_clean(const char *s, size_t len, char **owned_r, size_t *len_r);

#endif
