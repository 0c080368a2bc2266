/*
 * rules/regex: the one PCRE2 wrapper. Errors with the offset, named groups
 * (count, names, numbers), caseless Unicode literals with anchors, Unicode
 * classes only when asked (REGEX_UCP), the subject cap (never inside a
 * UTF-8 sequence), invalid UTF-8 in the subject, the match limit as an
 * error, not "no match", the pattern length cap, and groups beyond what a
 * match keeps.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/regex.h"
#include "tests/unit/test.h"

static struct regex *compile(const char *p, unsigned flags)
{
	struct regex *re = NULL;
	size_t off;
	struct err err = {0};
	if (regex_compile(p, strlen(p), flags, &re, &off, &err) < 0)
		fprintf(stderr, "  compile %s: %s\n", p, err.msg);
	return re;
}

static int match(const struct regex *re, const char *s, size_t len, size_t from,
		 const struct regex_limits *lim, struct regex_match *m)
{
	struct err err = {0};
	return regex_match(re, s, len, from, lim, m, &err);
}

TEST(compile_error_names_offset)
{
	struct regex *re = NULL;
	size_t off = 0;
	struct err err = {0};
	CHECK_INT(regex_compile("ab(c", 4, 0, &re, &off, &err), -1);
	CHECK(re == NULL);
	CHECK_INT(off, 4);
	CHECK_STR(err.msg, "bad regex at offset 4: missing closing parenthesis");
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK_INT(regex_compile("a{2,1}", 6, 0, &re, &off, &err), -1);
	CHECK_INT(off, 5);
	/* the offset is optional */
	CHECK_INT(regex_compile("[", 1, 0, &re, NULL, &err), -1);
	CHECK(strstr(err.msg, "at offset 1") != NULL);
}

TEST(pattern_length_cap)
{
	size_t n = REGEX_MAX_PATTERN + 1;
	char *p = malloc(n);
	memset(p, 'a', n);
	struct regex *re = NULL;
	struct err err = {0};
	CHECK_INT(regex_compile(p, n, 0, &re, NULL, &err), -1);
	CHECK(strstr(err.msg, "longer than") != NULL);
	CHECK(re == NULL);
	CHECK_INT(regex_compile(p, 1000, 0, &re, NULL, &err), 0);
	regex_free(&re);
	free(p);
}

TEST(groups_and_names)
{
	struct regex *re = compile("(?<year>\\d{4})-(\\d{2})-(?<day>\\d{2})", 0);
	struct regex_limits lim;
	struct regex_match m;
	regex_limits_default(&lim);
	CHECK_INT(regex_groups(re), 3);
	CHECK_INT(regex_name_count(re), 2);
	uint32_t g = 0;
	/* the name table is sorted by name */
	CHECK_STR(regex_name_at(re, 0, &g), "day");
	CHECK_INT(g, 3);
	CHECK_STR(regex_name_at(re, 1, &g), "year");
	CHECK_INT(g, 1);
	CHECK_INT(regex_group_index(re, "year"), 1);
	CHECK_INT(regex_group_index(re, "nope"), -1);
	const char *s = "due 2026-11-21 ok";
	CHECK_INT(match(re, s, strlen(s), 0, &lim, &m), 1);
	size_t st, len;
	CHECK(regex_match_group(&m, 2, &st, &len));
	CHECK_INT(st, 9);
	CHECK_INT(len, 2);
	CHECK(regex_match_group(&m, 0, &st, &len));
	CHECK_INT(st, 4);
	CHECK_INT(len, 10);
	CHECK(!regex_match_group(&m, 7, &st, &len));
	CHECK_INT(match(re, s, strlen(s), 10, &lim, &m), 0);
	regex_free(&re);

	/* an optional group that did not take part */
	re = compile("a(x)?b", 0);
	CHECK_INT(match(re, "ab", 2, 0, &lim, &m), 1);
	CHECK(!regex_match_group(&m, 1, &st, &len));
	regex_free(&re);
}

TEST(groups_beyond_the_kept_ones)
{
	/* 40 groups: a match keeps the first REGEX_MAX_GROUPS */
	char p[256] = "";
	for (int i = 0; i < 40; i++)
		memcpy(p + 3 * i, "(a)", 4);  /* with its NUL, overwritten by the next */
	struct regex *re = compile(p, 0);
	struct regex_limits lim;
	struct regex_match m;
	char s[41];
	memset(s, 'a', 40);
	s[40] = '\0';
	regex_limits_default(&lim);
	CHECK_INT(regex_groups(re), 40);
	CHECK_INT(match(re, s, 40, 0, &lim, &m), 1);
	size_t st, len;
	CHECK(regex_match_group(&m, REGEX_MAX_GROUPS, &st, &len));
	CHECK_INT(st, REGEX_MAX_GROUPS - 1);
	CHECK(!regex_match_group(&m, REGEX_MAX_GROUPS + 1, &st, &len));
	regex_free(&re);
}

TEST(caseless_unicode_literal_anchors)
{
	struct regex_limits lim;
	struct regex_match m;
	regex_limits_default(&lim);
	struct regex *eq = compile("Straße (ÄÖÜ)", REGEX_LITERAL | REGEX_CASELESS | REGEX_ANCHORED |
				   REGEX_ENDANCHORED);
	CHECK_INT(match(eq, "STRAßE (äöü)", strlen("STRAßE (äöü)"), 0, &lim, &m), 1);
	CHECK_INT(match(eq, "STRAßE (äöü)!", strlen("STRAßE (äöü)!"), 0, &lim, &m), 0);
	CHECK_INT(match(eq, "x STRAßE (äöü)", strlen("x STRAßE (äöü)"), 0, &lim, &m), 0);
	struct regex *ends = compile(".PDF", REGEX_LITERAL | REGEX_CASELESS | REGEX_ENDANCHORED);
	CHECK_INT(match(ends, "a.pdf", 5, 0, &lim, &m), 1);
	CHECK_INT(match(ends, "apdf", 4, 0, &lim, &m), 0); /* '.' is literal */
	/* MULTILINE means nothing to a literal: no error */
	struct regex *lit = compile("^a$", REGEX_LITERAL | REGEX_MULTILINE);
	CHECK_INT(match(lit, "x^a$x", 5, 0, &lim, &m), 1);
	regex_free(&eq);
	regex_free(&ends);
	regex_free(&lit);
}

TEST(unicode_classes_when_asked)
{
	struct regex_limits lim;
	struct regex_match m;
	regex_limits_default(&lim);
	struct regex *ascii = compile("^\\w+$", 0);
	struct regex *ucp = compile("^\\w+$", REGEX_UCP);
	const char *s = "Größe";
	CHECK_INT(match(ascii, s, strlen(s), 0, &lim, &m), 0);
	CHECK_INT(match(ucp, s, strlen(s), 0, &lim, &m), 1);
	regex_free(&ascii);
	regex_free(&ucp);
}

TEST(subject_cap_and_invalid_utf8)
{
	struct regex_limits lim;
	struct regex_match m;
	regex_limits_default(&lim);
	lim.max_subject = 5;
	struct regex *re = compile("é$", 0);
	/* "abcdé": 'é' is bytes 4..5; a cap of 5 would split it: cut before it */
	CHECK_INT(match(re, "abcdé", 6, 0, &lim, &m), 0);
	struct regex *d = compile("d$", 0);
	CHECK_INT(match(d, "abcdé", 6, 0, &lim, &m), 1);
	regex_limits_default(&lim);
	struct regex *x = compile("x\\d", 0);
	CHECK_INT(match(x, "\xff\xfe" "x1", 4, 0, &lim, &m), 1);
	CHECK_INT(m.start, 2);
	/* no subject at all is an empty one */
	CHECK_INT(match(d, NULL, 0, 0, &lim, &m), 0);
	regex_free(&re);
	regex_free(&d);
	regex_free(&x);
}

TEST(limit_is_an_error)
{
	struct regex_limits lim;
	struct regex_match m;
	struct err err = {0};
	regex_limits_default(&lim);
	lim.match_limit = 10000;
	struct regex *re = compile("^(a|aa)+$", 0);
	char s[64];
	memset(s, 'a', 60);
	s[60] = '!';
	CHECK_INT(regex_match(re, s, 61, 0, &lim, &m, &err), -1);
	CHECK_INT(err.cls, ERR_MESSAGE);
	CHECK(strstr(err.msg, "limit") != NULL);
	regex_free(&re);
}

int main(void)
{
	RUN(compile_error_names_offset);
	RUN(pattern_length_cap);
	RUN(groups_and_names);
	RUN(groups_beyond_the_kept_ones);
	RUN(caseless_unicode_literal_anchors);
	RUN(unicode_classes_when_asked);
	RUN(subject_cap_and_invalid_utf8);
	RUN(limit_is_an_error);
	regex_thread_release();
	return test_summary();
}
