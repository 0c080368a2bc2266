/*
 * Writing JSON text into a buf (records of plans and traces). Only what we
 * write: strings, numbers, and the punctuation the caller adds itself.
 */
#ifndef M2T_JSON_H
#define M2T_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "engine/util/buf.h"

/* s[0..len) as a quoted JSON string: '"' and '\' escaped, control
 * characters as \u00XX. Bytes >= 0x80 are copied: the caller passes UTF-8
 * (storage cleans what is not). A NULL s writes null. */
void json_add_string(struct buf *b, const char *s, size_t len);
/* json_add_string of a NUL-terminated string (NULL: null). */
void json_add_str(struct buf *b, const char *s);
/* "key": with the comma before it unless first. */
void json_add_key(struct buf *b, const char *key, int first);
void json_add_i64(struct buf *b, int64_t v);

#endif
