/*
 * JSON output, written by hand in this one place: the project only ever
 * writes JSON (command output, log lines, traces, records stored as jsonb),
 * never reads it, so an escaper and a few helpers are all it takes. The
 * caller adds the punctuation of objects and arrays itself.
 */
#ifndef M2T_JSON_H
#define M2T_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "engine/util/buf.h"

/*
 * Appends s[0..len) as a JSON string, quotes included: '"', '\\' and
 * control characters and DEL are escaped (\n, \t, \u001b ...), U+2028/U+2029 too
 * (they end lines in JavaScript); valid UTF-8 is copied as it is, every
 * invalid byte becomes U+FFFD, and so does NUL (PostgreSQL's jsonb refuses
 * \u0000). A NULL s writes null.
 */
void json_add_string(struct buf *b, const char *s, size_t len);
/* json_add_string of a NUL-terminated string (NULL: null). */
void json_add_str(struct buf *b, const char *s);
/* "key": with the comma before it unless first. */
void json_add_key(struct buf *b, const char *key, int first);
void json_add_i64(struct buf *b, int64_t v);

#endif
