/*
 * SECURITY: parses untrusted bytes from a POP3 server. A status line is
 * capped by max_line before it is complete (an endless line fails as soon
 * as it passes the cap), NUL bytes in it are refused, and a body is kept
 * only up to this response's max_body; past it, bytes are counted and
 * dropped up to max_discard, then refused. No count from the wire is ever
 * used to allocate: POP3 has none, and LIST sizes are the client's business.
 *
 * How it works: the status line is collected up to LF (memchr per chunk)
 * and split into status, [code] and text. A body is a state machine over
 * line starts, so that a "." line split across reads — even one byte per
 * feed — is recognised: at a line start a "." is either the terminator
 * (".\r\n", or ".\n" from a lenient server) or byte-stuffing, and is
 * dropped; anything else is copied through to the next LF in one go.
 *
 * Leniency (written down, as mblaze does): "+ok"/"-err" in any case; a bare
 * LF ends a line as CRLF does; "+" alone is a SASL continuation.
 */
#include "engine/fetch/pop3_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/util/buf.h"
#include "engine/util/xalloc.h"

#define DEFAULT_MAX_LINE (8 * 1024)
#define DEFAULT_MAX_BODY ((uint64_t)64 * 1024 * 1024)
#define CODE_MAX 128    /* "[...]" longer than this is text, not a code */

enum state {
	ST_STATUS,      /* collecting the status line */
	ST_LINE_START,  /* body: at the first byte of a line */
	ST_DOT,         /* body: a line started with "." */
	ST_DOT_CR,      /* body: a line started with ".\r" */
	ST_MID,         /* body: inside a line */
	ST_DONE,        /* a response was returned; the next feed starts anew */
	ST_ERROR,
};

struct pop3_parser {
	struct pop3_parse_limits lim;
	enum state state;
	enum pop3_parse_error error;
	enum pop3_expect expect;
	uint64_t max_body;      /* this response's */

	struct buf line;        /* the status line (max_line + CRLF) */
	struct buf body;
	uint64_t body_total;
	bool truncated;
	struct pop3_response resp;
};

struct pop3_parser *pop3_parser_new(const struct pop3_parse_limits *lim)
{
	struct pop3_parser *p = xcalloc(1, sizeof(*p));
	if (lim)
		p->lim = *lim;
	if (!p->lim.max_line)
		p->lim.max_line = DEFAULT_MAX_LINE;
	if (!p->lim.max_body)
		p->lim.max_body = DEFAULT_MAX_BODY;
	/* CRLF is collected too, and cut before the line is parsed */
	buf_init(&p->line, p->lim.max_line + 2);
	/* this response's max_body is enforced here, not by the buffer */
	buf_init(&p->body, ((size_t)-1) / 2);
	pop3_parser_reset(p);
	return p;
}

void pop3_parser_free(struct pop3_parser **pp)
{
	struct pop3_parser *p = *pp;
	if (!p)
		return;
	buf_release(&p->line);
	buf_release(&p->body);
	free(p);
	*pp = NULL;
}

static void start_response(struct pop3_parser *p)
{
	buf_reset(&p->line);
	buf_reset(&p->body);
	p->body_total = 0;
	p->truncated = false;
	memset(&p->resp, 0, sizeof(p->resp));
	p->state = ST_STATUS;
}

void pop3_parser_reset(struct pop3_parser *p)
{
	p->error = POP3_PERR_NONE;
	p->expect = POP3_EXPECT_SINGLE;
	p->max_body = p->lim.max_body;
	start_response(p);
}

void pop3_parser_expect(struct pop3_parser *p, enum pop3_expect e, uint64_t max_body)
{
	if (p->state == ST_ERROR)
		return;
	start_response(p);
	p->expect = e;
	p->max_body = max_body ? max_body : p->lim.max_body;
}

enum pop3_parse_error pop3_parser_error(const struct pop3_parser *p)
{
	return p->error;
}

const char *pop3_parser_error_str(const struct pop3_parser *p)
{
	switch (p->error) {
	case POP3_PERR_NONE: return "no error";
	case POP3_PERR_SYNTAX: return "response is neither +OK nor -ERR";
	case POP3_PERR_NUL: return "NUL byte in a status line";
	case POP3_PERR_LINE_TOO_LONG: return "status line too long";
	case POP3_PERR_TOO_BIG: return "multi-line response too big";
	}
	return "unknown error";
}

uint64_t pop3_parser_body_seen(const struct pop3_parser *p)
{
	return p->body_total;
}

static enum pop3_parse_result fail(struct pop3_parser *p, enum pop3_parse_error e)
{
	p->state = ST_ERROR;
	p->error = e;
	return POP3_PARSE_ERROR;
}

/* Starts with `word` (any case), followed by the end or a space. */
static bool status_is(const char *s, size_t len, const char *word, size_t *after_r)
{
	size_t n = strlen(word);
	if (len < n || strncasecmp(s, word, n) != 0 || (len > n && s[n] != ' '))
		return false;
	*after_r = len > n ? n + 1 : n;
	return true;
}

/* Splits a complete status line (CRLF cut) into the response's fields. */
static enum pop3_parse_result parse_status(struct pop3_parser *p, char *s, size_t len)
{
	struct pop3_response *r = &p->resp;
	size_t at;
	if (memchr(s, '\0', len))
		return fail(p, POP3_PERR_NUL);
	if (status_is(s, len, "+OK", &at))
		r->status = POP3_OK;
	else if (status_is(s, len, "-ERR", &at))
		r->status = POP3_ERR;
	else if (p->expect == POP3_EXPECT_SASL && status_is(s, len, "+", &at))
		r->status = POP3_CONT;
	else
		return fail(p, POP3_PERR_SYNTAX);
	const char *text = s + at;
	size_t tlen = len - at;
	/* RFC 2449 section 8: "[CODE] text" right after the status */
	if (r->status != POP3_CONT && tlen > 2 && text[0] == '[') {
		const char *end = memchr(text, ']', tlen < CODE_MAX ? tlen : CODE_MAX);
		if (end && end > text + 1) {
			r->code.p = text + 1;
			r->code.len = (size_t)(end - text - 1);
			tlen -= (size_t)(end + 1 - text);
			text = end + 1;
			if (tlen && *text == ' ') {
				text++;
				tlen--;
			}
		}
	}
	r->text.p = text;
	r->text.len = tlen;
	if (r->status == POP3_OK && p->expect == POP3_EXPECT_MULTI) {
		r->multiline = true;
		p->state = ST_LINE_START;
		return POP3_PARSE_MORE;
	}
	return POP3_PARSE_DONE;
}

/* Keeps body bytes up to max_body; counts (and drops) the rest. */
static int body_add(struct pop3_parser *p, const char *data, size_t n)
{
	uint64_t limit = p->max_body;
	uint64_t cap = limit > UINT64_MAX - p->lim.max_discard ? UINT64_MAX
							       : limit + p->lim.max_discard;
	/* body_total never passes cap, so this cannot wrap */
	if (n > cap - p->body_total)
		return -1;
	p->body_total += n;
	if (p->truncated)
		return 0;
	if (p->body_total > limit) {
		/* drop what was kept: nobody gets half a message */
		p->truncated = true;
		buf_release(&p->body);
		return 0;
	}
	buf_add(&p->body, data, n);
	return 0;
}

static enum pop3_parse_result body_done(struct pop3_parser *p)
{
	struct pop3_response *r = &p->resp;
	r->body = buf_str(&p->body);
	r->body_len = p->truncated ? 0 : p->body.len;
	r->truncated = p->truncated;
	r->body_total = p->body_total;
	return POP3_PARSE_DONE;
}

enum pop3_parse_result pop3_parser_feed(struct pop3_parser *p, const char *data, size_t len,
					size_t *used_r, const struct pop3_response **resp_r)
{
	size_t i = 0;
	enum pop3_parse_result res = POP3_PARSE_MORE;
	*used_r = 0;
	*resp_r = NULL;
	if (p->state == ST_ERROR)
		return POP3_PARSE_ERROR;
	if (p->state == ST_DONE) {
		/* no _expect() since the last response: a plain status line */
		start_response(p);
		p->expect = POP3_EXPECT_SINGLE;
		p->max_body = p->lim.max_body;
	}
	while (i < len && res == POP3_PARSE_MORE) {
		switch (p->state) {
		case ST_STATUS: {
			const char *nl = memchr(data + i, '\n', len - i);
			size_t n = nl ? (size_t)(nl - (data + i)) + 1 : len - i;
			if (buf_add(&p->line, data + i, n) < 0)
				return fail(p, POP3_PERR_LINE_TOO_LONG);
			i += n;
			if (!nl)
				break;
			size_t l = p->line.len - 1;
			if (l && p->line.data[l - 1] == '\r')
				l--;
			if (l > p->lim.max_line)
				return fail(p, POP3_PERR_LINE_TOO_LONG);
			p->line.data[l] = '\0';
			res = parse_status(p, p->line.data, l);
			break;
		}
		case ST_LINE_START:
			if (data[i] == '.') {
				i++;
				p->state = ST_DOT;
			} else {
				p->state = ST_MID;
			}
			break;
		case ST_DOT:
			if (data[i] == '\n') {
				i++;
				res = body_done(p);
			} else if (data[i] == '\r') {
				i++;
				p->state = ST_DOT_CR;
			} else {
				/* byte-stuffed: the dot is gone, the rest is content */
				p->state = ST_MID;
			}
			break;
		case ST_DOT_CR:
			if (data[i] == '\n') {
				i++;
				res = body_done(p);
			} else {
				/* ".\r" + something: a stuffed line that holds a CR */
				if (body_add(p, "\r", 1) < 0)
					return fail(p, POP3_PERR_TOO_BIG);
				p->state = ST_MID;
			}
			break;
		case ST_MID: {
			const char *nl = memchr(data + i, '\n', len - i);
			size_t n = nl ? (size_t)(nl - (data + i)) + 1 : len - i;
			if (body_add(p, data + i, n) < 0)
				return fail(p, POP3_PERR_TOO_BIG);
			i += n;
			if (nl)
				p->state = ST_LINE_START;
			break;
		}
		case ST_DONE:
		case ST_ERROR:
			return fail(p, POP3_PERR_SYNTAX);  /* unreachable */
		}
		if (res == POP3_PARSE_ERROR)
			return res;
	}
	*used_r = i;
	if (res == POP3_PARSE_DONE) {
		p->state = ST_DONE;
		*resp_r = &p->resp;
	}
	return res;
}
