/*
 * IMAP response parser: every input is fed whole, in 7-byte pieces and one
 * byte at a time; all three must give the same responses (Dovecot's habit).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/imap_parse.h"
#include "engine/util/buf.h"
#include "tests/unit/test.h"

static void dump_args(struct buf *o, const struct imap_arg *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(o, ' ');
		switch (a[i].type) {
		case IMAP_ARG_NIL: buf_adds(o, "NIL"); break;
		case IMAP_ARG_ATOM: buf_add(o, a[i].str, a[i].len); break;
		case IMAP_ARG_STRING:
			buf_addc(o, '"');
			buf_add(o, a[i].str, a[i].len);
			buf_addc(o, '"');
			break;
		case IMAP_ARG_LITERAL:
			if (a[i].skipped)
				buf_addf(o, "{dropped %llu}", (unsigned long long)a[i].declared);
			buf_addf(o, "{%zu}", a[i].len);
			buf_add(o, a[i].str, a[i].len);
			break;
		case IMAP_ARG_LIST:
			buf_addc(o, '(');
			dump_args(o, a[i].list, a[i].count);
			buf_addc(o, ')');
			break;
		}
	}
}

static void dump(struct buf *o, const struct imap_response *r)
{
	static const char *st[] = {"", "OK", "NO", "BAD", "BYE", "PREAUTH"};
	buf_adds(o, r->kind == IMAP_RESP_UNTAGGED ? "*" : r->kind == IMAP_RESP_TAGGED ? "T" : "+");
	buf_addf(o, "|%.*s|", (int)r->tag.len, r->tag.p);
	if (r->kind == IMAP_RESP_CONTINUE || r->status != IMAP_STATUS_NONE) {
		buf_addf(o, "%s[%.*s|%.*s]%.*s", st[r->status], (int)r->code.len, r->code.p,
			 (int)r->code_args.len, r->code_args.p, (int)r->text.len, r->text.p);
	} else {
		if (r->has_number)
			buf_addf(o, "%u ", r->number);
		buf_addf(o, "%.*s:", (int)r->name.len, r->name.p);
		dump_args(o, r->args, r->nargs);
	}
	buf_addc(o, '\n');
}

/* Parses all of in, `step` bytes per feed; returns the dump (caller frees). */
static char *parse_steps(const struct imap_parse_limits *lim, const char *in, size_t len,
			 size_t step)
{
	struct imap_parser *p = imap_parser_new(lim);
	struct buf o;
	buf_init(&o, 1 << 24);
	size_t pos = 0;
	size_t guard = 0;
	while (pos < len && guard++ < 10 * len + 10) {
		size_t n = len - pos < step ? len - pos : step;
		size_t used;
		const struct imap_response *r = NULL;
		enum imap_parse_result res = imap_parser_feed(p, in + pos, n, &used, &r);
		CHECK(used <= n);
		pos += used;
		if (res == IMAP_PARSE_ERROR) {
			buf_addf(&o, "ERR %d\n", (int)imap_parser_error(p));
			break;
		}
		if (res == IMAP_PARSE_DONE)
			dump(&o, r);
		else
			CHECK(used == n);
	}
	if (pos == len && buf_str(&o)[0] == '\0')
		buf_adds(&o, "MORE\n");
	imap_parser_free(&p);
	CHECK(p == NULL);
	return buf_detach(&o, NULL);
}

static struct imap_parse_limits small_lim = {
	.max_line = 200, .max_literal = 100, .max_depth = 4, .max_elements = 50,
};

/* Feeds whole, by 7 and by 1; all must equal want. */
static void check_parse_lim(const struct imap_parse_limits *lim, const char *in, size_t len,
			    const char *want)
{
	static const size_t steps[] = {(size_t)-1, 7, 1};
	for (size_t i = 0; i < 3; i++) {
		char *got = parse_steps(lim, in, len, steps[i]);
		CHECK_STR(got, want);
		free(got);
	}
}

#define CHECK_PARSE(in, want) check_parse_lim(NULL, in, sizeof(in) - 1, want)
#define CHECK_PARSE_LIM(lim, in, want) check_parse_lim(lim, in, sizeof(in) - 1, want)

TEST(greeting_and_tagged)
{
	CHECK_PARSE("* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n",
		    "*|*|OK[CAPABILITY|IMAP4rev1 LITERAL+ AUTH=PLAIN]Dovecot ready.\n");
	CHECK_PARSE("A0001 OK Logged in\r\n", "T|A0001|OK[|]Logged in\n");
	CHECK_PARSE("A0002 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
		    "T|A0002|NO[AUTHENTICATIONFAILED|]Authentication failed.\n");
	CHECK_PARSE("a3 bad\r\n", "T|a3|BAD[|]\n");
	CHECK_PARSE("* PREAUTH hi\r\n* BYE shutting down\r\n",
		    "*|*|PREAUTH[|]hi\n*|*|BYE[|]shutting down\n");
	/* resp-text is text: parens, quotes and braces are not parsed */
	CHECK_PARSE("* OK hello (world \"x {5}\r\n", "*|*|OK[|]hello (world \"x {5}\n");
	CHECK_PARSE("* OK [UIDVALIDITY 1700000000] UIDs valid\r\n",
		    "*|*|OK[UIDVALIDITY|1700000000]UIDs valid\n");
	CHECK_PARSE("* OK [PERMANENTFLAGS (\\Answered \\Deleted \\*)] Flags\r\n",
		    "*|*|OK[PERMANENTFLAGS|(\\Answered \\Deleted \\*)]Flags\n");
	CHECK_PARSE("* OK [READ-WRITE]\r\n", "*|*|OK[READ-WRITE|]\n");
	/* bare LF accepted */
	CHECK_PARSE("A1 OK done\n", "T|A1|OK[|]done\n");
}

TEST(continuation)
{
	CHECK_PARSE("+ \r\n", "+|+|[|]\n");
	CHECK_PARSE("+\r\n", "+|+|[|]\n");
	CHECK_PARSE("+ Ready for literal data\r\n", "+|+|[|]Ready for literal data\n");
	CHECK_PARSE("+ [ALERT] x\r\n", "+|+|[ALERT|]x\n");
}

TEST(untagged_data)
{
	CHECK_PARSE("* 23 EXISTS\r\n* 0 RECENT\r\n", "*|*|23 EXISTS:\n*|*|0 RECENT:\n");
	CHECK_PARSE("* CAPABILITY IMAP4rev1 MOVE UIDPLUS\r\n",
		    "*|*|CAPABILITY:IMAP4rev1 MOVE UIDPLUS\n");
	CHECK_PARSE("* LIST (\\HasNoChildren) \"/\" INBOX\r\n",
		    "*|*|LIST:(\\HasNoChildren) \"/\" INBOX\n");
	CHECK_PARSE("* LIST () NIL \"a \\\"b\\\" \\\\c\"\r\n",
		    "*|*|LIST:() NIL \"a \"b\" \\c\"\n");
	CHECK_PARSE("* LIST (\\Noselect) \".\" \"\"\r\n", "*|*|LIST:(\\Noselect) \".\" \"\"\n");
	CHECK_PARSE("* 1 FETCH (UID 5 RFC822.SIZE 1234 FLAGS (\\Seen \\Deleted))\r\n",
		    "*|*|1 FETCH:(UID 5 RFC822.SIZE 1234 FLAGS (\\Seen \\Deleted))\n");
	CHECK_PARSE("* SEARCH\r\n", "*|*|SEARCH:\n");
	CHECK_PARSE("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n",
		    "*|*|NAMESPACE:((\"\" \"/\")) NIL NIL\n");
	/* NIL is an atom; a quoted "NIL" stays a string */
	CHECK_PARSE("* X nil \"NIL\" NILS\r\n", "*|*|X:NIL \"NIL\" NILS\n");
	/* section with a list inside the brackets is one atom */
	CHECK_PARSE("* 2 FETCH (BODY[HEADER.FIELDS (FROM TO)] {4}\r\nab\r\n UID 9)\r\n",
		    "*|*|2 FETCH:(BODY[HEADER.FIELDS (FROM TO)] {4}ab\r\n UID 9)\n");
	/* 8-bit in a quoted string (UTF8=ACCEPT) */
	CHECK_PARSE("* LIST () \"/\" \"Gr\xc3\xbc\xc3\x9f\x65\"\r\n",
		    "*|*|LIST:() \"/\" \"Gr\xc3\xbc\xc3\x9f\x65\"\n");
}

TEST(literals)
{
	CHECK_PARSE("* 1 FETCH (UID 7 BODY[] {10}\r\nhello)\r\nxx UID 8)\r\n",
		    "*|*|1 FETCH:(UID 7 BODY[] {10}hello)\r\nxx UID 8)\n");
	CHECK_PARSE("* 1 FETCH (BODY[] {0}\r\n)\r\n", "*|*|1 FETCH:(BODY[] {0})\n");
	CHECK_PARSE("* 1 FETCH (BODY[] {0}\r\n UID 3)\r\n* 2 EXISTS\r\n",
		    "*|*|1 FETCH:(BODY[] {0} UID 3)\n*|*|2 EXISTS:\n");
	/* LITERAL+ form, two literals, literal at top level and last */
	CHECK_PARSE("* LIST () \"/\" {3+}\r\na b\r\n", "*|*|LIST:() \"/\" {3}a b\n");
	CHECK_PARSE("* X {2}\r\n{}{1}\r\n)\r\n", "*|*|X:{2}{} {1})\n");
	/* a literal that looks like the end of the response */
	CHECK_PARSE("* 1 FETCH (BODY[] {15}\r\n)\r\nA0001 OK x\r\n)\r\nA0001 OK done\r\n",
		    "*|*|1 FETCH:(BODY[] {15})\r\nA0001 OK x\r\n)\nT|A0001|OK[|]done\n");
	/* leading zeros are fine */
	CHECK_PARSE("* X {003}\r\nabc\r\n", "*|*|X:{3}abc\n");
}

TEST(literal_with_nul)
{
	static const char in[] = "* 1 FETCH (BODY[] {3}\r\na\0b)\r\n";
	struct imap_parser *p = imap_parser_new(NULL);
	size_t used;
	const struct imap_response *r = NULL;
	CHECK_INT(imap_parser_feed(p, in, sizeof(in) - 1, &used, &r), IMAP_PARSE_DONE);
	CHECK_INT(used, sizeof(in) - 1);
	CHECK(r && r->nargs == 1 && r->args[0].count == 2);
	if (r && r->nargs == 1 && r->args[0].count == 2) {
		const struct imap_arg *lit = &r->args[0].list[1];
		CHECK_INT(lit->type, IMAP_ARG_LITERAL);
		CHECK_INT(lit->len, 3);
		CHECK(memcmp(lit->str, "a\0b", 4) == 0);
	}
	imap_parser_free(&p);
}

TEST(literal_size_visible)
{
	struct imap_parser *p = imap_parser_new(NULL);
	size_t used;
	const struct imap_response *r;
	static const char in[] = "* 1 FETCH (BODY[] {5000}\r\nabc";
	CHECK_INT(imap_parser_feed(p, in, sizeof(in) - 1, &used, &r), IMAP_PARSE_MORE);
	CHECK_INT(imap_parser_literal_size(p), 5000);
	imap_parser_free(&p);
}

TEST(nested_lists)
{
	CHECK_PARSE("* X (a (b (c) d) () ((e)))\r\n", "*|*|X:(a (b (c) d) () ((e)))\n");
	CHECK_PARSE("* X ((a)(b))c\r\n", "*|*|X:((a) (b)) c\n");
	/* depth 4 allowed, 5 not */
	CHECK_PARSE_LIM(&small_lim, "* X ((((a))))\r\n", "*|*|X:((((a))))\n");
	CHECK_PARSE_LIM(&small_lim, "* X (((((a)))))\r\n", "ERR 4\n");
}

TEST(element_limit)
{
	struct buf in;
	buf_init(&in, 4096);
	buf_adds(&in, "* X");
	for (int i = 0; i < 49; i++)
		buf_adds(&in, " a");
	buf_adds(&in, "\r\n");
	char *got = parse_steps(&small_lim, in.data, in.len, 1);
	CHECK(strncmp(got, "*|*|X:a a", 9) == 0);
	free(got);
	buf_reset(&in);
	buf_adds(&in, "* X");
	for (int i = 0; i < 51; i++)
		buf_adds(&in, " a");
	buf_adds(&in, "\r\n");
	check_parse_lim(&small_lim, in.data, in.len, "ERR 5\n");
	buf_release(&in);
}

TEST(literal_limits)
{
	CHECK_PARSE("* 1 FETCH (BODY[] {99999999999999999999}\r\n", "ERR 3\n");
	CHECK_PARSE("* 1 FETCH (BODY[] {18446744073709551616}\r\n", "ERR 3\n");
	CHECK_PARSE_LIM(&small_lim, "* X {101}\r\n", "ERR 3\n");
	CHECK_PARSE_LIM(&small_lim, "* X {100}\r\n", "MORE\n");
	/* all literals of one response together */
	CHECK_PARSE_LIM(&small_lim, "* X {60}\r\n"
		"012345678901234567890123456789012345678901234567890123456789 {41}\r\n",
		"ERR 3\n");
}

TEST(literal_over_limit_dropped)
{
	/* with max_skip, a literal over max_literal is read to its end and
	 * dropped, in any split of the input; the response goes on after it */
	struct imap_parse_limits lim = small_lim;
	lim.max_skip = 150;
	CHECK_PARSE_LIM(&lim, "* 1 FETCH (UID 7 BODY[] {120}\r\n"
		"012345678901234567890123456789012345678901234567890123456789"
		"012345678901234567890123456789012345678901234567890123456789"
		" FLAGS (\\Seen))\r\n* 2 FETCH (UID 8 BODY[] {3}\r\nabc)\r\n",
		"*|*|1 FETCH:(UID 7 BODY[] {dropped 120}{0} FLAGS (\\Seen))\n"
		"*|*|2 FETCH:(UID 8 BODY[] {3}abc)\n");
	/* beyond max_skip (one literal, or the response's together): refused */
	CHECK_PARSE_LIM(&lim, "* X {151}\r\n", "ERR 3\n");
	CHECK_PARSE_LIM(&lim, "* X {101}\r\n"
		"01234567890123456789012345678901234567890123456789"
		"01234567890123456789012345678901234567890123456789x {101}\r\n", "ERR 3\n");
}

TEST(line_limits)
{
	struct buf in;
	buf_init(&in, 4096);
	buf_adds(&in, "* OK ");
	for (int i = 0; i < 300; i++)
		buf_addc(&in, 'x');
	/* no line end yet: the error must come before the line is complete */
	check_parse_lim(&small_lim, in.data, in.len, "ERR 2\n");
	buf_reset(&in);
	/* literals do not count toward the line, segments do */
	buf_adds(&in, "* X {100}\r\n");
	for (int i = 0; i < 100; i++)
		buf_addc(&in, 'y');
	buf_adds(&in, " a\r\n");
	char *got = parse_steps(&small_lim, in.data, in.len, 1);
	CHECK(strncmp(got, "*|*|X:{100}yyy", 14) == 0);
	free(got);
	buf_release(&in);
}

TEST(malformed)
{
	CHECK_PARSE("\r\n", "ERR 1\n");
	CHECK_PARSE("*\r\n", "ERR 1\n");
	CHECK_PARSE("A1\r\n", "ERR 1\n");
	CHECK_PARSE("A1 FETCH x\r\n", "ERR 1\n");
	CHECK_PARSE("A1 BYE x\r\n", "ERR 1\n");
	CHECK_PARSE("A+1 OK x\r\n", "ERR 1\n");
	CHECK_PARSE("* X (a\r\n", "ERR 1\n");
	CHECK_PARSE("* X a)\r\n", "ERR 1\n");
	CHECK_PARSE("* X \"abc\r\n", "ERR 1\n");
	CHECK_PARSE("* X \"a\\qb\"\r\n", "ERR 1\n");
	CHECK_PARSE("* X {5\r\n", "ERR 1\n");
	CHECK_PARSE("* X {}\r\n", "ERR 1\n");
	CHECK_PARSE("* X {-1}\r\n", "ERR 1\n");
	CHECK_PARSE("* X {5} a\r\n", "ERR 1\n");
	CHECK_PARSE("* X a\x01z\r\n", "ERR 1\n");
	CHECK_PARSE("* X BODY[HEADER\r\n", "ERR 1\n");
	CHECK_PARSE("* 99999999999 EXISTS\r\n", "ERR 1\n");
	CHECK_PARSE("* OK a\rb\r\n", "ERR 1\n");
	/* after an error the parser keeps failing */
	struct imap_parser *p = imap_parser_new(NULL);
	size_t used;
	const struct imap_response *r;
	CHECK_INT(imap_parser_feed(p, "*\r\n", 3, &used, &r), IMAP_PARSE_ERROR);
	CHECK_INT(imap_parser_feed(p, "* OK\r\n", 6, &used, &r), IMAP_PARSE_ERROR);
	CHECK_STR(imap_parser_error_str(p), "syntax error in server response");
	imap_parser_reset(p);
	CHECK_INT(imap_parser_feed(p, "* OK\r\n", 6, &used, &r), IMAP_PARSE_DONE);
	imap_parser_free(&p);
}

TEST(stops_after_response)
{
	struct imap_parser *p = imap_parser_new(NULL);
	static const char in[] = "A1 OK a\r\nA2 OK b\r\n";
	size_t used;
	const struct imap_response *r;
	CHECK_INT(imap_parser_feed(p, in, sizeof(in) - 1, &used, &r), IMAP_PARSE_DONE);
	CHECK_INT(used, 9);
	CHECK_STR(r->tag.p, "A1");
	CHECK_INT(imap_parser_feed(p, in + 9, sizeof(in) - 10, &used, &r), IMAP_PARSE_DONE);
	CHECK_STR(r->tag.p, "A2");
	CHECK_STR(r->text.p, "b");
	imap_parser_free(&p);
}

TEST(arg_helpers)
{
	struct imap_parser *p = imap_parser_new(NULL);
	static const char in[] = "* 1 FETCH (UID 4294967295 RFC822.SIZE 42x)\r\n";
	size_t used;
	const struct imap_response *r;
	CHECK_INT(imap_parser_feed(p, in, sizeof(in) - 1, &used, &r), IMAP_PARSE_DONE);
	const struct imap_arg *l = r->args[0].list;
	uint64_t n;
	CHECK(imap_arg_atom_is(&l[0], "uid"));
	CHECK(imap_arg_number(&l[1], UINT32_MAX, &n) == 0 && n == 4294967295u);
	CHECK(imap_arg_number(&l[1], 100, &n) < 0);
	CHECK(imap_arg_number(&l[3], UINT64_MAX, &n) < 0);
	CHECK(imap_arg_is_string(&l[2]));
	imap_parser_free(&p);
}

int main(void)
{
	RUN(greeting_and_tagged);
	RUN(continuation);
	RUN(untagged_data);
	RUN(literals);
	RUN(literal_with_nul);
	RUN(literal_size_visible);
	RUN(nested_lists);
	RUN(element_limit);
	RUN(literal_limits);
	RUN(literal_over_limit_dropped);
	RUN(line_limits);
	RUN(malformed);
	RUN(stops_after_response);
	RUN(arg_helpers);
	return test_summary();
}
