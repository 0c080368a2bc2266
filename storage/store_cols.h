/*
 * Columnar parameter buffers for the batch ingest (store_ingest.c): one
 * growing PostgreSQL binary array per column, appended to element by
 * element as messages are queued, and sent as one parameter value. Only
 * storage/ includes this.
 */
#ifndef M2T_STORE_COLS_H
#define M2T_STORE_COLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/util/buf.h"

/* OIDs of the element types we send in binary arrays (pg_type.h, stable). */
#define STORE_OID_BOOL 16
#define STORE_OID_BYTEA 17
#define STORE_OID_INT8 20
#define STORE_OID_INT4 23
#define STORE_OID_TEXT 25

struct store_col {
	unsigned oid;    /* element type */
	struct buf b;    /* header space, then each element as int32 length + bytes */
	size_t n;        /* elements */
	bool has_null;
};

/* Where a column stood, to take back a message whose encoding failed. */
struct store_col_mark {
	size_t len, n;
	bool has_null;
};

/* max: the largest encoded array (PostgreSQL takes up to 1 GB per value). */
void store_col_init(struct store_col *c, unsigned oid, size_t max);
void store_col_release(struct store_col *c);
/* Empties the column, keeping its memory. */
void store_col_reset(struct store_col *c);

/* Append one element; data NULL is an SQL NULL. A failure (over the cap)
 * is sticky: check store_col_failed() once after a message. */
void store_col_add(struct store_col *c, const void *data, size_t len);
void store_col_add_i64(struct store_col *c, int64_t v);
void store_col_add_i32(struct store_col *c, int32_t v);
void store_col_add_bool(struct store_col *c, bool v);
bool store_col_failed(const struct store_col *c);
/* Bytes encoded so far. */
size_t store_col_bytes(const struct store_col *c);

void store_col_mark(const struct store_col *c, struct store_col_mark *m);
/* Drops what was added since the mark, and a failure since then. */
void store_col_restore(struct store_col *c, const struct store_col_mark *m);

/* Writes the array header; *value_r / *len_r (owned by the column, valid
 * until the next change) is the parameter value in binary format. */
void store_col_finish(struct store_col *c, const char **value_r, int *len_r);

#endif
