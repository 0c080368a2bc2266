/*
 * format=flowed (RFC 3676) ► the lines the sender typed.
 *
 * SECURITY: the text is untrusted but already clean UTF-8 without NUL
 * (mime_text_to_utf8). The walk is one pass over the lines with no
 * recursion; the output grows by at most one byte per line (a space after
 * the quote marks) and is capped at the caller's max on a character
 * boundary.
 */
#include <string.h>

#include "engine/mime/mime_internal.h"
#include "engine/util/buf.h"

/* Quote marks rendered back as ">>> "; deeper quoting is kept as depth only. */
#define QUOTE_RENDER_MAX 64

char *mime_flowed_decode(struct arena *a, const char *s, size_t len, bool delsp, size_t max,
			 size_t *len_r, bool *truncated_r)
{
	struct buf out;
	size_t para_depth = 0;
	bool in_para = false;

	/* the slack lets the final clean cut on a character boundary at max */
	buf_init(&out, max + 16);
	for (size_t i = 0; i < len && !out.failed;) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - s) : len;
		const char *line = s + i;
		size_t n = end - i;
		i = nl ? end + 1 : len;

		size_t depth = 0;
		while (depth < n && line[depth] == '>')
			depth++;
		const char *c = line + depth;
		size_t cn = n - depth;
		if (cn && c[0] == ' ') {
			c++; /* space-stuffing (RFC 3676, 4.4) */
			cn--;
		}
		bool sig = cn == 3 && memcmp(c, "-- ", 3) == 0;
		bool flowed = !sig && cn > 0 && c[cn - 1] == ' ';
		if (flowed && delsp)
			cn--;
		if (in_para && depth != para_depth) {
			/* a quote depth change ends a paragraph whatever the sender said */
			buf_addc(&out, '\n');
			in_para = false;
		}
		if (!in_para && depth) {
			size_t r = depth < QUOTE_RENDER_MAX ? depth : QUOTE_RENDER_MAX;
			for (size_t k = 0; k < r; k++)
				buf_addc(&out, '>');
			if (cn)
				buf_addc(&out, ' ');
		}
		buf_add(&out, c, cn);
		if (flowed) {
			in_para = true;
			para_depth = depth;
		} else {
			if (nl)
				buf_addc(&out, '\n');
			in_para = false;
		}
	}
	/* a flowed last line ends the text as the sender ended it */
	if (in_para && len && s[len - 1] == '\n')
		buf_addc(&out, '\n');
	bool cut = false;
	char *res = mime_utf8_clean(a, buf_str(&out), out.len, false, max, len_r, &cut);
	if (truncated_r)
		*truncated_r = cut || out.failed;
	buf_release(&out);
	return res;
}
