/*
 * Helpers shared inside engine/mime only; not part of the module's API.
 */
#ifndef M2T_MIME_INTERNAL_H
#define M2T_MIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/mime/message.h"
#include "engine/util/arena.h"
#include "engine/util/err.h"

/*
 * Refuses, with ERR_MESSAGE, a mail whose top-level header block exceeds
 * lim->max_header_bytes or whose parts could number more than about twice
 * lim->max_parts (an upper-bound estimate from boundary lines), before
 * GMime spends memory on it. Reads raw only. 0 ok, -1 refused.
 */
int mime_prescan(const char *raw, size_t len, const struct mime_limits *lim, struct err *err);

/* Offset of lit in p[0..n), ASCII case-insensitive; n when absent. */
size_t mime_find_ci(const char *p, size_t n, const char *lit);

/*
 * Copies s[0..len) into the arena as valid UTF-8: each byte of an invalid
 * sequence becomes U+FFFD, NUL bytes are dropped, CRLF and lone CR become LF
 * when `newlines` is set. The result is cut at `max` bytes on a character
 * boundary (*truncated_r says so; may be NULL). Never NULL.
 */
char *mime_utf8_clean(struct arena *a, const char *s, size_t len, bool newlines,
		      size_t max, size_t *len_r, bool *truncated_r);

/*
 * Converts text in `charset` (NULL or "" when undeclared) to clean UTF-8 in
 * the arena, as mime_utf8_clean() does. Undeclared or unknown charsets:
 * UTF-8 when the bytes are valid UTF-8, windows-1252 otherwise.
 * ISO-8859-1 and US-ASCII with 8-bit bytes are read as windows-1252 and
 * UTF-8 respectively (see LENIENCY.md). Never NULL.
 */
char *mime_text_to_utf8(struct arena *a, const char *s, size_t len, const char *charset,
			size_t max, size_t *len_r, bool *truncated_r);

/* Keep the gconv modules of common charsets loaded (mime_global_init). */
void mime_charsets_pin(void);
void mime_charsets_unpin(void);

/* True when s[0..len) is valid UTF-8 (NUL bytes allowed). */
bool mime_utf8_valid(const char *s, size_t len);

#endif
