/*
 * Growable byte buffer with a hard size cap and a sticky error: once an
 * append would pass `max`, the buffer is marked failed, later appends are
 * ignored, and the owner checks `failed` once at the end (curl's dynbuf).
 * The data is always NUL-terminated (the NUL is not counted in len).
 */
#ifndef M2T_BUF_H
#define M2T_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;     /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;     /* largest len allowed */
	bool failed;    /* an append was refused because of max */
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Empties the buffer but keeps its memory and its cap. */
void buf_reset(struct buf *b);
int buf_add(struct buf *b, const void *p, size_t len);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for `len` more bytes without changing len; -1 past max. */
int buf_reserve(struct buf *b, size_t len);
/* Hands the data to the caller (free() it) and resets the buffer. Never NULL. */
char *buf_detach(struct buf *b, size_t *len_r);
/* Returns the data, "" when empty; owned by the buffer. */
const char *buf_str(const struct buf *b);

#endif
