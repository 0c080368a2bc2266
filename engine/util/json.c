#include "engine/util/json.h"

#include <inttypes.h>
#include <string.h>

void json_add_string(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	if (!s) {
		buf_adds(b, "null");
		return;
	}
	buf_addc(b, '"');
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		/* copy the plain run before this character in one go */
		buf_add(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\r': buf_adds(b, "\\r"); break;
		case '\t': buf_adds(b, "\\t"); break;
		default: {
			/* \u0000 is refused by PostgreSQL's jsonb: a NUL becomes U+FFFD */
			if (c == 0) {
				buf_adds(b, "\\ufffd");
				break;
			}
			char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
			buf_adds(b, u);
		}
		}
	}
	buf_add(b, s + run, len - run);
	buf_addc(b, '"');
}

void json_add_str(struct buf *b, const char *s)
{
	json_add_string(b, s, s ? strlen(s) : 0);
}

void json_add_key(struct buf *b, const char *key, int first)
{
	if (!first)
		buf_addc(b, ',');
	json_add_str(b, key);
	buf_addc(b, ':');
}

void json_add_i64(struct buf *b, int64_t v)
{
	buf_addf(b, "%" PRId64, v);
}
