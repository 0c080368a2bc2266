/*
 * A job's `search:` key: an IMAP SEARCH query written by an admin and sent
 * as it is (after "UID SEARCH"). Only a small, safe grammar passes: it can
 * never end the command early (no CR/LF), never make the client wait for a
 * continuation (no literals), and never change the charset under us.
 * The server still judges the search keys themselves (a BAD fails the run).
 */
#include "engine/config/config_internal.h"

#include <string.h>
#include <strings.h>

#define SEARCH_MAX_LEN 1024
#define SEARCH_MAX_DEPTH 16

static bool atom_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("-.:,*<>_/@+=", c) != NULL;
}

static int fail(size_t pos, const char *why, size_t *pos_r, const char **why_r)
{
	*pos_r = pos;
	*why_r = why;
	return -1;
}

int config_search_check(const char *q, bool *utf8_r, size_t *pos_r, const char **why_r)
{
	size_t len = strlen(q), i = 0;
	int depth = 0;
	size_t nkeys = 0;
	*utf8_r = false;
	if (len > SEARCH_MAX_LEN)
		return fail(SEARCH_MAX_LEN, "longer than 1024 bytes", pos_r, why_r);
	while (i < len) {
		unsigned char c = (unsigned char)q[i];
		if (c == ' ') {
			i++;
		} else if (c == '(') {
			if (++depth > SEARCH_MAX_DEPTH)
				return fail(i, "parentheses nested more than 16 deep", pos_r, why_r);
			i++;
		} else if (c == ')') {
			if (--depth < 0)
				return fail(i, "')' without '('", pos_r, why_r);
			i++;
		} else if (c == '"') {
			size_t start = i++;
			while (i < len && q[i] != '"') {
				unsigned char d = (unsigned char)q[i];
				if (d < 0x20 || d == 0x7f)
					return fail(i, "control character in a quoted string", pos_r,
						    why_r);
				if (d >= 0x80)
					*utf8_r = true;
				if (d == '\\') {
					if (i + 1 >= len || (q[i + 1] != '"' && q[i + 1] != '\\'))
						return fail(i, "only \\\" and \\\\ may be escaped",
							    pos_r, why_r);
					i++;
				}
				i++;
			}
			if (i >= len)
				return fail(start, "quoted string without its closing '\"'", pos_r,
					    why_r);
			i++;
			nkeys++;
		} else if (atom_char(c)) {
			size_t start = i;
			while (i < len && atom_char((unsigned char)q[i]))
				i++;
			if (i - start == 7 && strncasecmp(q + start, "CHARSET", 7) == 0)
				return fail(start, "CHARSET is added when needed; leave it out", pos_r,
					    why_r);
			nkeys++;
		} else if (c == '{') {
			return fail(i, "literals are not allowed; write a quoted string", pos_r,
				    why_r);
		} else if (c == '\r' || c == '\n') {
			return fail(i, "line breaks are not allowed", pos_r, why_r);
		} else {
			return fail(i, "character not allowed here (atoms, \"quoted strings\", "
				    "numbers and parentheses only)", pos_r, why_r);
		}
		/* an atom or string runs into the next token only through a space or ')' */
		if (i < len && nkeys && (q[i - 1] == '"' || atom_char((unsigned char)q[i - 1])) &&
		    (q[i] == '"' || q[i] == '(' || atom_char((unsigned char)q[i])))
			return fail(i, "a space is needed between two search keys", pos_r, why_r);
	}
	if (depth > 0)
		return fail(len, "'(' without ')'", pos_r, why_r);
	if (nkeys == 0)
		return fail(0, "empty query", pos_r, why_r);
	return 0;
}
