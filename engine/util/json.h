/*
 * JSON output, written by hand in this one place: the project only ever
 * writes JSON (command output, traces), never reads it, so a string escaper
 * is all it takes.
 */
#ifndef M2T_JSON_H
#define M2T_JSON_H

#include <stddef.h>

#include "engine/util/buf.h"

/*
 * Appends s[0..len) as a JSON string, quotes included: '"', '\' and
 * control characters are escaped (\n, \t, \u001b ...), U+2028/U+2029 too
 * (they end lines in JavaScript); valid UTF-8 is copied as it is, every
 * invalid byte becomes U+FFFD, NUL becomes \u0000.
 */
void json_add_string(struct buf *b, const char *s, size_t len);

#endif
