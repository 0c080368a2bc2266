/*
 * rules/rx: the PCRE2 wrapper of the statement rules. Errors with the
 * offset, named groups, caseless literals, the subject cap (never inside a
 * UTF-8 sequence), invalid UTF-8 in the subject, and the match limit as an
 * error, not "no match".
 */
#include <stdlib.h>
#include <string.h>

#include "rules/rx.h"
#include "tests/unit/test.h"

static struct rx *compile(const char *p, unsigned flags)
{
	struct rx *rx = NULL;
	size_t off;
	struct err err = {0};
	if (rx_compile(p, strlen(p), flags, &rx, &off, &err) < 0)
		fprintf(stderr, "  compile %s: %s\n", p, err.msg);
	return rx;
}

TEST(compile_error_names_offset)
{
	struct rx *rx = NULL;
	size_t off = 0;
	struct err err = {0};
	CHECK_INT(rx_compile("ab(c", 4, 0, &rx, &off, &err), -1);
	CHECK(rx == NULL);
	CHECK_INT(off, 4);
	CHECK_STR(err.msg, "missing closing parenthesis at offset 4");
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK_INT(rx_compile("a{2,1}", 6, 0, &rx, &off, &err), -1);
	CHECK_INT(off, 5);
}

TEST(groups_and_names)
{
	struct rx *rx = compile("(?<year>\\d{4})-(\\d{2})-(?<day>\\d{2})", 0);
	struct rx_matcher *m = rx_matcher_new(NULL);
	struct err err = {0};
	CHECK_INT(rx_group_count(rx), 3);
	CHECK_INT(rx_name_count(rx), 2);
	uint32_t g = 0;
	CHECK_STR(rx_name_at(rx, 0, &g), "day");
	CHECK_INT(g, 3);
	CHECK_INT(rx_group_number(rx, "year"), 1);
	CHECK_INT(rx_group_number(rx, "nope"), 0);
	const char *s = "due 2026-11-21 ok";
	CHECK_INT(rx_match(m, rx, s, strlen(s), 0, &err), 1);
	size_t st, len;
	CHECK(rx_group(m, 2, &st, &len));
	CHECK_INT(st, 9);
	CHECK_INT(len, 2);
	CHECK(!rx_group(m, 7, &st, &len));
	CHECK_INT(rx_match(m, rx, s, strlen(s), 10, &err), 0);
	CHECK(!rx_group(m, 0, &st, &len)); /* nothing after a failed match */
	rx_free(&rx);
	rx_matcher_free(&m);
}

TEST(caseless_unicode_literal_anchors)
{
	struct rx_matcher *m = rx_matcher_new(NULL);
	struct err err = {0};
	struct rx *eq = compile("Straße (ÄÖÜ)", RX_LITERAL | RX_CASELESS | RX_ANCHORED | RX_ENDANCHORED);
	CHECK_INT(rx_match(m, eq, "STRAßE (äöü)", strlen("STRAßE (äöü)"), 0, &err), 1);
	CHECK_INT(rx_match(m, eq, "STRAßE (äöü)!", strlen("STRAßE (äöü)!"), 0, &err), 0);
	struct rx *ends = compile(".PDF", RX_LITERAL | RX_CASELESS | RX_ENDANCHORED);
	CHECK_INT(rx_match(m, ends, "a.pdf", 5, 0, &err), 1);
	CHECK_INT(rx_match(m, ends, "apdf", 4, 0, &err), 0); /* '.' is literal */
	rx_free(&eq);
	rx_free(&ends);
	rx_matcher_free(&m);
}

TEST(subject_cap_and_invalid_utf8)
{
	struct rx_limits lim;
	rx_limits_default(&lim);
	lim.max_subject = 5;
	struct rx_matcher *m = rx_matcher_new(&lim);
	struct err err = {0};
	struct rx *rx = compile("é$", 0);
	/* "abcdé": 'é' is bytes 4..5; a cap of 5 would split it: cut before it */
	CHECK_INT(rx_match(m, rx, "abcdé", 6, 0, &err), 0);
	struct rx *d = compile("d$", 0);
	CHECK_INT(rx_match(m, d, "abcdé", 6, 0, &err), 1);
	struct rx *x = compile("x\\d", 0);
	CHECK_INT(rx_match(m, x, "\xff\xfe" "x1", 4, 0, &err), 1);
	rx_free(&rx);
	rx_free(&d);
	rx_free(&x);
	rx_matcher_free(&m);
}

TEST(limit_is_an_error)
{
	struct rx_limits lim;
	rx_limits_default(&lim);
	lim.match_limit = 10000;
	struct rx_matcher *m = rx_matcher_new(&lim);
	struct err err = {0};
	struct rx *rx = compile("^(a|aa)+$", 0);
	char s[64];
	memset(s, 'a', 60);
	s[60] = '!';
	CHECK_INT(rx_match(m, rx, s, 61, 0, &err), -1);
	CHECK_INT(err.cls, ERR_MESSAGE);
	CHECK(strstr(err.msg, "limit") != NULL);
	rx_free(&rx);
	rx_matcher_free(&m);
}

int main(void)
{
	RUN(compile_error_names_offset);
	RUN(groups_and_names);
	RUN(caseless_unicode_literal_anchors);
	RUN(subject_cap_and_invalid_utf8);
	RUN(limit_is_an_error);
	return test_summary();
}
