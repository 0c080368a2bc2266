/*
 * JSON text into a buf (see json.h). The escaper validates UTF-8 itself,
 * so whatever bytes it is given, the output is valid JSON.
 */
#include "engine/util/json.h"
#include "engine/util/utf8.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

void json_add_string(struct buf *b, const char *str, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;

	if (!str) {
		buf_adds(b, "null");
		return;
	}
	buf_addc(b, '"');
	while (i < len) {
		unsigned char c = s[i];
		size_t n = utf8_decode(s + i, len - i, NULL);
		/* DEL too: a log line read in a terminal should not carry it raw */
		bool plain = n > 1 || (n == 1 && c >= 0x20 && c != 0x7f && c != '"' && c != '\\');
		/* U+2028 and U+2029: E2 80 A8 / E2 80 A9 */
		if (n == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9))
			plain = false;
		if (plain) {
			i += n;
			run += n;
			continue;
		}
		buf_add(b, s + i - run, run);
		run = 0;
		if (n == 0) {
			buf_adds(b, "\\ufffd");
			i++;
			continue;
		}
		if (n == 3) {
			buf_adds(b, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029");
			i += 3;
			continue;
		}
		switch (c) {
		case '"': buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\r': buf_adds(b, "\\r"); break;
		case '\t': buf_adds(b, "\\t"); break;
		case '\b': buf_adds(b, "\\b"); break;
		case '\f': buf_adds(b, "\\f"); break;
		case 0:
			/* PostgreSQL's jsonb refuses \u0000: stored records must load */
			buf_adds(b, "\\ufffd");
			break;
		default: {
			char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
			buf_adds(b, u);
		}
		}
		i++;
	}
	buf_add(b, s + i - run, run);
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
