/*
 * Text for PostgreSQL: mail text made acceptable to the UTF-8 text type
 * (the binary arrays it travels in are store_cols.c).
 *
 * SECURITY: the input is mail text. Nothing here builds SQL; it only
 * replaces bytes the server would reject.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/utf8.h"
#include "engine/util/xalloc.h"
#include "storage/store_int.h"

/* Length of the valid UTF-8 sequence at p, 0 when invalid. NUL counts as
 * invalid: PostgreSQL text cannot hold it. */
static size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
	return p[0] ? utf8_decode(p, avail, NULL) : 0;
}

const char *store_utf8_clean(const char *s, size_t len, char **owned_r, size_t *len_r)
{
	*owned_r = NULL;
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		size_t n = p[i] < 0x80 && p[i] ? 1 : utf8_seq_len(p + i, len - i);
		if (!n)
			break;
		i += n;
	}
	*len_r = len;
	if (i == len)
		return s;

	/* Slow path: each bad byte becomes U+FFFD (3 bytes), so at most 3x. */
	if (len > (SIZE_MAX - 1) / 3)
		len = (SIZE_MAX - 1) / 3;
	char *out = xmalloc(len * 3 + 1);
	size_t o = i;
	memcpy(out, s, i);
	while (i < len) {
		size_t n = utf8_seq_len(p + i, len - i);
		if (n) {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	*owned_r = out;
	*len_r = o;
	return out;
}
