/*
 * The POP3 response parser: each response whole, in every two-piece split,
 * and one byte at a time (a "." line split across reads), dot-unstuffing,
 * extended response codes, SASL continuations, limits, garbage and NUL.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/pop3_parse.h"
#include "engine/util/buf.h"
#include "tests/unit/test.h"

/* One parsed response, copied out of the parser. */
struct got {
	int result;             /* POP3_PARSE_* of the last feed */
	enum pop3_parse_error error;
	enum pop3_status status;
	char code[64];
	char text[256];
	bool multiline;
	struct buf body;
	bool truncated;
	uint64_t total;
	size_t used;            /* bytes consumed in all */
};

static void got_copy(struct got *g, const struct pop3_response *r)
{
	g->status = r->status;
	snprintf(g->code, sizeof(g->code), "%.*s", (int)r->code.len, r->code.p);
	snprintf(g->text, sizeof(g->text), "%.*s", (int)r->text.len, r->text.p);
	g->multiline = r->multiline;
	buf_reset(&g->body);
	if (r->body)
		buf_add(&g->body, r->body, r->body_len);
	g->truncated = r->truncated;
	g->total = r->body_total;
}

/*
 * Feeds in[0..len) in pieces of `step` bytes (the split at `first` first,
 * when not 0) until one response is done or an error; pieces that were not
 * consumed are fed again, as a caller's buffer would be.
 */
static void parse(struct pop3_parser *p, enum pop3_expect e, uint64_t max_body, const char *in,
		  size_t len, size_t step, size_t first, struct got *g)
{
	memset(g, 0, sizeof(*g));
	buf_init(&g->body, (size_t)1 << 30);
	g->result = POP3_PARSE_MORE;
	pop3_parser_expect(p, e, max_body);
	size_t pos = 0;
	while (pos < len) {
		size_t n = first && pos == 0 ? first : step;
		if (n > len - pos)
			n = len - pos;
		size_t used;
		const struct pop3_response *r;
		int res = pop3_parser_feed(p, in + pos, n, &used, &r);
		pos += used;
		g->result = res;
		if (res == POP3_PARSE_ERROR) {
			g->error = pop3_parser_error(p);
			break;
		}
		if (res == POP3_PARSE_DONE) {
			got_copy(g, r);
			break;
		}
		if (used != n) {
			fprintf(stderr, "  MORE consumed %zu of %zu\n", used, n);
			test_failed_now = 1;
			break;
		}
	}
	g->used = pos;
}

static void got_free(struct got *g)
{
	buf_release(&g->body);
}

/* The same result whole, in every two-piece split and one byte at a time. */
static void same_every_way(enum pop3_expect e, uint64_t max_body, const char *in, size_t len,
			   struct got *whole)
{
	struct pop3_parser *p = pop3_parser_new(NULL);
	parse(p, e, max_body, in, len, len, 0, whole);
	for (size_t cut = 0; cut <= len; cut++) {
		struct got g;
		if (cut == 0)
			parse(p, e, max_body, in, len, 1, 0, &g);
		else
			parse(p, e, max_body, in, len, len, cut, &g);
		/* an error is an error wherever the input was cut */
		bool same = whole->result == POP3_PARSE_ERROR
			? g.result == POP3_PARSE_ERROR && g.error == whole->error
			: g.result == whole->result && g.status == whole->status &&
			    g.used == whole->used && g.body.len == whole->body.len &&
			    (g.body.len == 0 || memcmp(g.body.data, whole->body.data, g.body.len) == 0) &&
			    strcmp(g.text, whole->text) == 0 && strcmp(g.code, whole->code) == 0 &&
			    g.truncated == whole->truncated && g.total == whole->total;
		if (!same) {
			fprintf(stderr, "  differs when cut at %zu%s: result %d/%d status %d/%d "
				"used %zu/%zu text \"%s\"/\"%s\"\n", cut,
				cut == 0 ? " (byte at a time)" : "", g.result, whole->result,
				g.status, whole->status, g.used, whole->used, g.text, whole->text);
			test_failed_now = 1;
		}
		got_free(&g);
		pop3_parser_reset(p);
	}
	pop3_parser_free(&p);
}

#define S(lit) lit, sizeof(lit) - 1

TEST(status_lines)
{
	struct got g;
	same_every_way(POP3_EXPECT_SINGLE, 0, S("+OK Dovecot ready. <1.2@host>\r\n"), &g);
	CHECK_INT(g.result, POP3_PARSE_DONE);
	CHECK_INT(g.status, POP3_OK);
	CHECK_STR(g.text, "Dovecot ready. <1.2@host>");
	CHECK_STR(g.code, "");
	CHECK(!g.multiline);
	got_free(&g);

	same_every_way(POP3_EXPECT_SINGLE, 0, S("-ERR [IN-USE] Mailbox locked\r\n"), &g);
	CHECK_INT(g.status, POP3_ERR);
	CHECK_STR(g.code, "IN-USE");
	CHECK_STR(g.text, "Mailbox locked");
	got_free(&g);

	same_every_way(POP3_EXPECT_SINGLE, 0, S("-ERR [SYS/TEMP]\r\n"), &g);
	CHECK_STR(g.code, "SYS/TEMP");
	CHECK_STR(g.text, "");
	got_free(&g);

	/* leniency: no text, lower case, bare LF; brackets that are no code */
	same_every_way(POP3_EXPECT_SINGLE, 0, S("+OK\r\n"), &g);
	CHECK_INT(g.status, POP3_OK);
	CHECK_STR(g.text, "");
	got_free(&g);
	same_every_way(POP3_EXPECT_SINGLE, 0, S("+ok fine\n"), &g);
	CHECK_INT(g.status, POP3_OK);
	CHECK_STR(g.text, "fine");
	got_free(&g);
	same_every_way(POP3_EXPECT_SINGLE, 0, S("-ERR [no end\r\n"), &g);
	CHECK_STR(g.code, "");
	CHECK_STR(g.text, "[no end");
	got_free(&g);
	same_every_way(POP3_EXPECT_SINGLE, 0, S("-ERR [] empty\r\n"), &g);
	CHECK_STR(g.code, "");
	CHECK_STR(g.text, "[] empty");
	got_free(&g);
}

TEST(multi_line_unstuffed)
{
	static const char in[] =
		"+OK 60 octets\r\n"
		"Subject: dots\r\n"
		"\r\n"
		"..leading dot\r\n"
		"...two\r\n"
		"..\r\n"
		"not.a.terminator.\r\n"
		" .\r\n"
		".\r\n";
	static const char want[] =
		"Subject: dots\r\n"
		"\r\n"
		".leading dot\r\n"
		"..two\r\n"
		".\r\n"
		"not.a.terminator.\r\n"
		" .\r\n";
	struct got g;
	same_every_way(POP3_EXPECT_MULTI, 0, S(in), &g);
	CHECK_INT(g.result, POP3_PARSE_DONE);
	CHECK_INT(g.status, POP3_OK);
	CHECK(g.multiline);
	CHECK_STR(g.text, "60 octets");
	CHECK_INT(g.body.len, sizeof(want) - 1);
	CHECK_STR(buf_str(&g.body), want);
	CHECK_INT(g.total, sizeof(want) - 1);
	CHECK_INT(g.used, sizeof(in) - 1);
	got_free(&g);

	/* empty body; bare LF line ends kept as sent; ".\rX" is a stuffed line */
	same_every_way(POP3_EXPECT_MULTI, 0, S("+OK\r\n.\r\n"), &g);
	CHECK_INT(g.result, POP3_PARSE_DONE);
	CHECK_INT(g.body.len, 0);
	got_free(&g);
	same_every_way(POP3_EXPECT_MULTI, 0, S("+OK\nline\n..x\n.\n"), &g);
	CHECK_STR(buf_str(&g.body), "line\n.x\n");
	got_free(&g);
	same_every_way(POP3_EXPECT_MULTI, 0, S("+OK\r\n.\rX\r\n.\r\n"), &g);
	CHECK_STR(buf_str(&g.body), "\rX\r\n");
	got_free(&g);
}

TEST(multi_line_err_is_one_line)
{
	struct got g;
	same_every_way(POP3_EXPECT_MULTI, 0, S("-ERR no such message\r\n"), &g);
	CHECK_INT(g.result, POP3_PARSE_DONE);
	CHECK_INT(g.status, POP3_ERR);
	CHECK(!g.multiline);
	got_free(&g);
}

TEST(binary_body_kept)
{
	static const char in[] = "+OK\r\nA\0B\xff\r\n.\r\n";
	struct got g;
	same_every_way(POP3_EXPECT_MULTI, 0, in, sizeof(in) - 1, &g);
	CHECK_INT(g.body.len, 6);
	CHECK(g.body.len == 6 && memcmp(g.body.data, "A\0B\xff\r\n", 6) == 0);
	got_free(&g);
}

TEST(pipelined_responses_stop_at_the_first)
{
	static const char in[] = "+OK 1\r\n+OK 2\r\n.\r\n-ERR 3\r\n";
	struct pop3_parser *p = pop3_parser_new(NULL);
	size_t used, pos = 0;
	const struct pop3_response *r;
	CHECK_INT(pop3_parser_feed(p, in, sizeof(in) - 1, &used, &r), POP3_PARSE_DONE);
	CHECK_INT(used, 7);
	CHECK(r && r->text.len == 1 && r->text.p[0] == '1');
	pos += used;
	pop3_parser_expect(p, POP3_EXPECT_MULTI, 0);
	CHECK_INT(pop3_parser_feed(p, in + pos, sizeof(in) - 1 - pos, &used, &r), POP3_PARSE_DONE);
	CHECK(r && r->multiline && r->body_len == 0);
	pos += used;
	/* no expect(): a plain status line again */
	CHECK_INT(pop3_parser_feed(p, in + pos, sizeof(in) - 1 - pos, &used, &r), POP3_PARSE_DONE);
	CHECK(r && r->status == POP3_ERR);
	CHECK_INT(pos + used, sizeof(in) - 1);
	pop3_parser_free(&p);
	CHECK(p == NULL);
}

TEST(sasl_continuations)
{
	struct got g;
	same_every_way(POP3_EXPECT_SASL, 0, S("+ VXNlcm5hbWU6\r\n"), &g);
	CHECK_INT(g.status, POP3_CONT);
	CHECK_STR(g.text, "VXNlcm5hbWU6");
	got_free(&g);
	same_every_way(POP3_EXPECT_SASL, 0, S("+\r\n"), &g);
	CHECK_INT(g.status, POP3_CONT);
	CHECK_STR(g.text, "");
	got_free(&g);
	same_every_way(POP3_EXPECT_SASL, 0, S("+OK Logged in.\r\n"), &g);
	CHECK_INT(g.status, POP3_OK);
	got_free(&g);
	/* outside AUTH a continuation is a protocol violation */
	same_every_way(POP3_EXPECT_SINGLE, 0, S("+ VXNlcm5hbWU6\r\n"), &g);
	CHECK_INT(g.result, POP3_PARSE_ERROR);
	CHECK_INT(g.error, POP3_PERR_SYNTAX);
	got_free(&g);
}

TEST(garbage_and_nul_refused)
{
	static const struct {
		const char *in;
		size_t len;
		enum pop3_parse_error e;
	} cases[] = {
		{S("* OK IMAP4rev1 ready\r\n"), POP3_PERR_SYNTAX},
		{S("+OKAY\r\n"), POP3_PERR_SYNTAX},
		{S("-ERROR\r\n"), POP3_PERR_SYNTAX},
		{S("\r\n"), POP3_PERR_SYNTAX},
		{"+OK a\0b\r\n", 9, POP3_PERR_NUL},
		{"\0\0\0\n", 4, POP3_PERR_NUL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct got g;
		same_every_way(POP3_EXPECT_SINGLE, 0, cases[i].in, cases[i].len, &g);
		if (g.result != POP3_PARSE_ERROR || g.error != cases[i].e) {
			fprintf(stderr, "  case %zu: result %d error %d\n", i, g.result, g.error);
			test_failed_now = 1;
		}
		got_free(&g);
	}
	/* after an error, everything is an error until reset */
	struct pop3_parser *p = pop3_parser_new(NULL);
	size_t used;
	const struct pop3_response *r;
	CHECK_INT(pop3_parser_feed(p, S("garbage\r\n"), &used, &r), POP3_PARSE_ERROR);
	CHECK(strstr(pop3_parser_error_str(p), "+OK") != NULL);
	CHECK_INT(pop3_parser_feed(p, S("+OK\r\n"), &used, &r), POP3_PARSE_ERROR);
	pop3_parser_expect(p, POP3_EXPECT_SINGLE, 0);
	CHECK_INT(pop3_parser_feed(p, S("+OK\r\n"), &used, &r), POP3_PARSE_ERROR);
	pop3_parser_reset(p);
	CHECK_INT(pop3_parser_feed(p, S("+OK\r\n"), &used, &r), POP3_PARSE_DONE);
	pop3_parser_free(&p);
}

TEST(status_line_limit_before_its_end)
{
	struct pop3_parse_limits lim = {.max_line = 16};
	struct pop3_parser *p = pop3_parser_new(&lim);
	size_t used;
	const struct pop3_response *r;
	/* exactly 16 bytes of line: fine */
	CHECK_INT(pop3_parser_feed(p, S("+OK 678901234567\r\n"), &used, &r), POP3_PARSE_DONE);
	/* an endless line fails once it passes the cap, without its end */
	char big[4096];
	memset(big, 'x', sizeof(big));
	memcpy(big, "+OK ", 4);
	CHECK_INT(pop3_parser_feed(p, big, sizeof(big), &used, &r), POP3_PARSE_ERROR);
	CHECK_INT(pop3_parser_error(p), POP3_PERR_LINE_TOO_LONG);
	pop3_parser_reset(p);
	/* 17 bytes plus CRLF: refused at its end */
	CHECK_INT(pop3_parser_feed(p, S("+OK 6789012345678\r\n"), &used, &r), POP3_PARSE_ERROR);
	CHECK_INT(pop3_parser_error(p), POP3_PERR_LINE_TOO_LONG);
	pop3_parser_free(&p);
}

TEST(body_limit_and_discard)
{
	static const char in[] = "+OK\r\n0123456789\r\n..abc\r\n.\r\n";  /* body: 18 bytes */
	struct got g;
	/* fits exactly */
	same_every_way(POP3_EXPECT_MULTI, 18, S(in), &g);
	CHECK_INT(g.result, POP3_PARSE_DONE);
	CHECK(!g.truncated);
	CHECK_INT(g.body.len, 18);
	got_free(&g);
	/* one byte over, no discard allowed: an error */
	same_every_way(POP3_EXPECT_MULTI, 17, S(in), &g);
	CHECK_INT(g.result, POP3_PARSE_ERROR);
	CHECK_INT(g.error, POP3_PERR_TOO_BIG);
	got_free(&g);

	/* with room to discard: read to the end, reported as truncated */
	struct pop3_parse_limits lim = {.max_discard = 8};
	struct pop3_parser *p = pop3_parser_new(&lim);
	for (size_t step = 1; step <= sizeof(in); step++) {
		parse(p, POP3_EXPECT_MULTI, 10, in, sizeof(in) - 1, step, 0, &g);
		CHECK_INT(g.result, POP3_PARSE_DONE);
		CHECK(g.truncated);
		CHECK_INT(g.body.len, 0);
		CHECK_INT(g.total, 18);
		CHECK_INT(g.used, sizeof(in) - 1);
		got_free(&g);
		/* past max_body + max_discard: refused */
		parse(p, POP3_EXPECT_MULTI, 9, in, sizeof(in) - 1, step, 0, &g);
		CHECK_INT(g.result, POP3_PARSE_ERROR);
		CHECK_INT(g.error, POP3_PERR_TOO_BIG);
		got_free(&g);
		pop3_parser_reset(p);
	}
	pop3_parser_free(&p);
}

/* A realistic body with dots at line starts, in random pieces. */
TEST(long_message_random_pieces)
{
	struct buf wire, want;
	buf_init(&wire, 1 << 22);
	buf_init(&want, 1 << 22);
	buf_adds(&wire, "+OK message follows\r\n");
	unsigned seed = 12345;
	for (int i = 0; i < 3000; i++) {
		seed = seed * 1103515245u + 12345u;
		char line[128];
		int n = snprintf(line, sizeof(line), "%sline %d %.*s\r\n",
				 (seed >> 16) % 5 == 0 ? "." : "", i, (int)((seed >> 8) % 60),
				 "....................................................................");
		buf_add(&want, line, (size_t)n);
		if (line[0] == '.')
			buf_addc(&wire, '.');
		buf_add(&wire, line, (size_t)n);
	}
	buf_adds(&wire, ".\r\n");
	struct pop3_parser *p = pop3_parser_new(NULL);
	for (unsigned step = 1; step < 200; step += 37) {
		struct got g;
		parse(p, POP3_EXPECT_MULTI, 0, wire.data, wire.len, step, 0, &g);
		CHECK_INT(g.result, POP3_PARSE_DONE);
		CHECK_INT(g.body.len, want.len);
		CHECK(g.body.len == want.len && memcmp(g.body.data, want.data, want.len) == 0);
		got_free(&g);
	}
	pop3_parser_free(&p);
	buf_release(&wire);
	buf_release(&want);
}

int main(void)
{
	RUN(status_lines);
	RUN(multi_line_unstuffed);
	RUN(multi_line_err_is_one_line);
	RUN(binary_body_kept);
	RUN(pipelined_responses_stop_at_the_first);
	RUN(sasl_continuations);
	RUN(garbage_and_nul_refused);
	RUN(status_line_limit_before_its_end);
	RUN(body_limit_and_discard);
	RUN(long_message_random_pieces);
	return test_summary();
}
