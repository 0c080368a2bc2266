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

struct store {
	PGconn *conn;
	bool in_txn;          /* BEGIN sent, no COMMIT/ROLLBACK yet */
	bool txn_failed;      /* an error aborted the open transaction */
	enum err_class txn_err_cls;
	bool ingest_prepared; /* PQprepare of the ingest call done on this connection */
	struct buf scratch[10]; /* reused encodings of array parameters (store_ingest.c) */
	/* Pipeline mode (store_apply_async): items sent whose results are unread. */
	struct store_item **pending;
	size_t npending, cappending;
};

/* Reads every pending pipelined result into its item (store_ingest.c). */
int store_pipeline_drain(struct store *store, struct err *err);

/* OIDs of the element types we send in binary arrays (pg_type.h, stable). */
#define STORE_OID_BOOL 16
#define STORE_OID_BYTEA 17
#define STORE_OID_TEXT 25

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

/*
 * Encodes a one-dimensional array in PostgreSQL's binary array format
 * (what array_recv reads): header, then each element as int32 length and
 * bytes; a NULL element pointer is an SQL NULL. Returns -1 if the result
 * would exceed the buffer's cap or an element is over 1 GB.
 */
int store_array_encode(struct buf *out, unsigned elem_oid, size_t n,
		       const char *const *elems, const size_t *lens);

#endif
