/*
 * Reply and forward prefixes of a subject ("Re:", "AW:", "Fwd:", "WG:",
 * "转发：" ...), for `only_replies` stages and rules that treat forwards
 * differently (a forward's content is the sender's message, not a quote).
 *
 * SECURITY: the subject is mail text; only its first bytes are looked at.
 */
#include "rules/preprocess_int.h"

#include <string.h>

/* ASCII-lower-cased; UTF-8 ones as written (their case does not vary). */
static const char *const REPLY[] = {
	"re", "aw", "sv", "antw", "antwort", "ref", "réf", "rif", "r", "ris", "odp", "res",
	"vs", "ynt", "cvp", "atb", "vá", "válasz", "odg", "отв", "ответ", "回复", "答复",
	"回覆", "返信", "답장", "회신", "απ", "σχετ", NULL,
};
static const char *const FORWARD[] = {
	"fwd", "fw", "wg", "tr", "rv", "enc", "i", "inoltro", "doorst", "vl", "vb", "pd",
	"tr", "fs", "ilt", "i̇lt", "továbbítás", "přep", "пересл", "переслать", "转发",
	"轉寄", "转寄", "転送", "전달", "πρθ", NULL,
};

/* The first prefix of s (before ':' or '：'), lower-cased ASCII, into out. */
static bool first_prefix(const char *s, char *out, size_t outlen)
{
	size_t n = 0;
	if (!s)
		return false;
	while (*s == ' ' || *s == '\t')
		s++;
	for (size_t i = 0; s[i] && i < 24; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ':' || (c == 0xEF && (unsigned char)s[i + 1] == 0xBC &&
				 (unsigned char)s[i + 2] == 0x9A)) {
			/* drop "[2]" / "(2)" counters and spaces before the colon */
			while (n > 0 && (out[n - 1] == ' ' || (out[n - 1] >= '0' && out[n - 1] <= '9') ||
					 out[n - 1] == ']' || out[n - 1] == ')' ||
					 out[n - 1] == '[' || out[n - 1] == '('))
				n--;
			out[n] = '\0';
			return n > 0;
		}
		if (n + 1 >= outlen)
			return false;
		out[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	return false;
}

static bool in_list(const char *w, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(w, list[i]) == 0)
			return true;
	return false;
}

bool pp_subject_is_reply(const char *subject)
{
	char w[32];
	return first_prefix(subject, w, sizeof(w)) && in_list(w, REPLY);
}

bool pp_subject_is_forward(const char *subject)
{
	char w[32];
	return first_prefix(subject, w, sizeof(w)) && in_list(w, FORWARD);
}
