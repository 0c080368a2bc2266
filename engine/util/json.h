/*
 * The small part of JSON that logs, `status --json` and metrics labels need:
 * strings escaped so that any bytes (mail text included) give valid JSON.
 */
#ifndef M2T_JSON_H
#define M2T_JSON_H

#include <stddef.h>

#include "engine/util/buf.h"

/*
 * Appends s[0..len) as a JSON string, quotes included: '"', '\' and control
 * characters escaped (\n, \t, \u0001, ...), invalid UTF-8 bytes replaced by
 * U+FFFD, so that the result is always valid UTF-8 JSON.
 */
void json_add_string(struct buf *b, const char *s, size_t len);
/* json_add_string of a NUL-terminated string; NULL gives null. */
void json_add_str(struct buf *b, const char *s);

#endif
