/*
 * SECURITY: parses untrusted bytes from an IMAP server. Nothing here trusts
 * a count from the wire: literal sizes go through str_parse_u64 against
 * max_literal before any allocation, text is capped by max_line before it is
 * buffered (over-long lines fail as soon as they pass the cap, not at their
 * end), and nesting and element counts are capped. No recursion.
 *
 * How it works: text is collected one "segment" at a time (up to LF, memchr
 * per chunk) and tokenised once complete. A segment that ends in "{N}" is
 * followed by N literal bytes, copied straight into the string buffer; then
 * the next segment continues the same response (list nesting is kept on an
 * explicit stack across segments). Elements are recorded in parse order
 * with parent links and laid out into contiguous arrays when the response
 * is complete, so the caller sees plain arrays.
 */
#include "engine/fetch/imap_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/util/buf.h"
#include "engine/util/xalloc.h"

#define NO_PARENT ((size_t)-1)
#define NO_OFF ((size_t)-1)

enum parser_state {
	ST_START,       /* nothing of a response read yet */
	ST_LINE,        /* collecting a text segment */
	ST_LITERAL,     /* copying literal bytes */
	ST_DONE,        /* a response was returned; the next feed starts anew */
	ST_ERROR,
};

struct node {
	enum imap_arg_type type;
	size_t off;             /* into data */
	size_t len;
	size_t parent;          /* node index, NO_PARENT for top level */
	size_t sib;             /* index among its parent's elements */
	size_t count;           /* LIST: elements so far */
	uint64_t declared;      /* LITERAL dropped for its size (max_skip): the size */
	size_t start;           /* LIST: where its elements go in the final array */
};

struct span {
	size_t off;
	size_t len;
};

struct imap_parser {
	struct imap_parse_limits lim;
	enum parser_state state;
	enum imap_parse_error error;

	struct buf line;        /* a segment split across feeds */
	size_t text_total;      /* text bytes of this response so far */
	struct buf data;        /* every string of the response, NUL-separated */

	struct node *nodes;
	size_t nnodes, nodes_cap;
	size_t *stack;          /* open lists (node indexes) */
	size_t depth;
	size_t top_count;
	bool header_done;       /* tag and name of this response parsed */

	uint64_t lit_size, lit_left, lit_total;
	bool lit_skip;          /* the literal being read is dropped, not kept */
	uint64_t skip_total;    /* bytes dropped in this response */

	struct span tag, name, code, code_args, text;
	struct imap_response resp;
	struct imap_arg *final;
	size_t final_cap;
};

static size_t sat_add(size_t a, size_t b)
{
	return a > (size_t)-1 - b ? (size_t)-1 : a + b;
}

void imap_parse_limits_default(struct imap_parse_limits *lim)
{
	if (!lim->max_line)
		lim->max_line = 64 * 1024;
	if (!lim->max_literal)
		lim->max_literal = 64 * 1024 * 1024;
	if (!lim->max_depth)
		lim->max_depth = 16;
	if (!lim->max_elements)
		lim->max_elements = 100000;
}

struct imap_parser *imap_parser_new(const struct imap_parse_limits *lim)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));
	if (lim)
		p->lim = *lim;
	imap_parse_limits_default(&p->lim);
	/* The buffer caps are a second guard; the limits are checked first. */
	if (p->lim.max_literal > (uint64_t)((size_t)-1 / 4))
		p->lim.max_literal = (size_t)-1 / 4;
	if (p->lim.max_line > (size_t)-1 / 4)
		p->lim.max_line = (size_t)-1 / 4;
	buf_init(&p->line, p->lim.max_line + 2);
	size_t cap = sat_add(p->lim.max_line, p->lim.max_line);
	cap = sat_add(cap, (size_t)p->lim.max_literal);
	cap = sat_add(cap, sat_add(p->lim.max_elements, 64));
	buf_init(&p->data, cap);
	buf_reserve(&p->data, 256);
	p->stack = xcalloc(p->lim.max_depth, sizeof(*p->stack));
	imap_parser_reset(p);
	return p;
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;
	if (!p)
		return;
	buf_release(&p->line);
	buf_release(&p->data);
	free(p->nodes);
	free(p->stack);
	free(p->final);
	free(p);
	*pp = NULL;
}

static void response_clear(struct imap_parser *p)
{
	buf_reset(&p->line);
	buf_reset(&p->data);
	p->text_total = 0;
	p->nnodes = 0;
	p->depth = 0;
	p->top_count = 0;
	p->header_done = false;
	p->lit_size = p->lit_left = p->lit_total = 0;
	p->skip_total = 0;
	p->lit_skip = false;
	p->tag.off = p->name.off = p->code.off = p->code_args.off = p->text.off = NO_OFF;
	memset(&p->resp, 0, sizeof(p->resp));
}

void imap_parser_reset(struct imap_parser *p)
{
	response_clear(p);
	p->state = ST_START;
	p->error = IMAP_PERR_NONE;
}

static int fail(struct imap_parser *p, enum imap_parse_error e)
{
	p->state = ST_ERROR;
	p->error = e;
	return -1;
}

/* Appends s[0..len) plus a NUL to data; the span records where. */
static int data_add(struct imap_parser *p, const char *s, size_t len, struct span *sp)
{
	if (sp) {
		sp->off = p->data.len;
		sp->len = len;
	}
	if (buf_reserve(&p->data, len + 1) < 0)
		return fail(p, IMAP_PERR_TOO_MANY);
	memcpy(p->data.data + p->data.len, s, len);
	p->data.len += len;
	p->data.data[p->data.len++] = '\0';
	return 0;
}

static int node_add(struct imap_parser *p, enum imap_arg_type type, size_t *idx_r)
{
	if (p->nnodes >= p->lim.max_elements)
		return fail(p, IMAP_PERR_TOO_MANY);
	if (p->nnodes == p->nodes_cap) {
		size_t ncap = p->nodes_cap ? p->nodes_cap * 2 : 16;
		p->nodes = xreallocarray(p->nodes, ncap, sizeof(*p->nodes));
		p->nodes_cap = ncap;
	}
	struct node *n = &p->nodes[p->nnodes];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->off = NO_OFF;
	if (p->depth) {
		n->parent = p->stack[p->depth - 1];
		n->sib = p->nodes[n->parent].count++;
	} else {
		n->parent = NO_PARENT;
		n->sib = p->top_count++;
	}
	*idx_r = p->nnodes++;
	return 0;
}

static int node_add_str(struct imap_parser *p, enum imap_arg_type type, const char *s,
			size_t len)
{
	size_t idx;
	if (node_add(p, type, &idx) < 0)
		return -1;
	struct span sp;
	if (data_add(p, s, len, &sp) < 0)
		return -1;
	p->nodes[idx].off = sp.off;
	p->nodes[idx].len = sp.len;
	return 0;
}

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* Where an atom starting at s[i] ends. A '[' inside an atom runs to the
 * next ']' (BODY[HEADER.FIELDS (FROM TO)] is one atom). -1 on bad bytes. */
static long atom_end(const char *s, size_t len, size_t i)
{
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '(' || c == ')' || c == '"')
			break;
		if (is_ctl(c))
			return -1;
		if (c == '[') {
			const char *close = memchr(s + i, ']', len - i);
			if (!close)
				return -1;
			for (const char *q = s + i; q < close; q++)
				if (is_ctl((unsigned char)*q))
					return -1;
			i = (size_t)(close - s);
		}
		i++;
	}
	return (long)i;
}

static int parse_quoted(struct imap_parser *p, const char *s, size_t len, size_t *pos)
{
	size_t i = *pos + 1;
	size_t idx;
	if (node_add(p, IMAP_ARG_STRING, &idx) < 0)
		return -1;
	size_t off = p->data.len;
	/* Quoted strings are at most a line long, already capped. */
	if (buf_reserve(&p->data, len - *pos + 1) < 0)
		return fail(p, IMAP_PERR_TOO_MANY);
	char *out = p->data.data + p->data.len;
	size_t o = 0;
	for (;;) {
		if (i >= len)
			return fail(p, IMAP_PERR_SYNTAX);
		unsigned char c = (unsigned char)s[i++];
		if (c == '"')
			break;
		if (c == '\\') {
			if (i >= len || (s[i] != '\\' && s[i] != '"'))
				return fail(p, IMAP_PERR_SYNTAX);
			c = (unsigned char)s[i++];
		} else if (c == '\r' || c == '\n' || c == '\0') {
			return fail(p, IMAP_PERR_SYNTAX);
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	p->data.len += o + 1;
	p->nodes[idx].off = off;
	p->nodes[idx].len = o;
	*pos = i;
	return 0;
}

/* "{N}" or "{N+}" at s[*pos] that must end the segment. 1: literal follows. */
static int parse_literal_start(struct imap_parser *p, const char *s, size_t len, size_t pos)
{
	size_t i = pos + 1, d = i;
	while (d < len && s[d] >= '0' && s[d] <= '9')
		d++;
	size_t digits = d - i;
	if (d < len && s[d] == '+')
		d++;
	if (digits == 0 || d + 1 != len || s[d] != '}')
		return fail(p, IMAP_PERR_SYNTAX);
	uint64_t n, cap = p->lim.max_literal > p->lim.max_skip ? p->lim.max_literal
								  : p->lim.max_skip;
	if (str_parse_u64(s + i, digits, cap, &n) < 0)
		return fail(p, IMAP_PERR_LITERAL_TOO_BIG);
	size_t idx;
	if (n > p->lim.max_literal - p->lit_total) {
		/* too big to keep: drop it when within max_skip (the response's
		 * dropped literals together), so the session goes on */
		if (n > p->lim.max_skip - p->skip_total)
			return fail(p, IMAP_PERR_LITERAL_TOO_BIG);
		if (node_add(p, IMAP_ARG_LITERAL, &idx) < 0)
			return -1;
		if (buf_reserve(&p->data, 1) < 0)  /* its terminating NUL */
			return fail(p, IMAP_PERR_LITERAL_TOO_BIG);
		p->nodes[idx].off = p->data.len;
		p->nodes[idx].len = 0;
		p->nodes[idx].declared = n;
		p->skip_total += n;
		p->lit_skip = true;
		p->lit_size = p->lit_left = n;
		return 1;
	}
	if (node_add(p, IMAP_ARG_LITERAL, &idx) < 0)
		return -1;
	/* n is within max_literal: reserving it now means the literal is
	 * copied once, never moved by a growing buffer. */
	if (buf_reserve(&p->data, (size_t)n + 1) < 0)
		return fail(p, IMAP_PERR_LITERAL_TOO_BIG);
	p->nodes[idx].off = p->data.len;
	p->nodes[idx].len = (size_t)n;
	p->lit_total += n;
	p->lit_size = p->lit_left = n;
	return 1;
}

/*
 * Arguments from s[pos..len). 0: the response ends with this segment,
 * 1: a literal follows, -1: error.
 */
static int parse_args(struct imap_parser *p, const char *s, size_t len, size_t pos)
{
	while (pos < len) {
		char c = s[pos];
		if (c == ' ') {
			pos++;
		} else if (c == '(') {
			if (p->depth >= p->lim.max_depth)
				return fail(p, IMAP_PERR_TOO_DEEP);
			size_t idx;
			if (node_add(p, IMAP_ARG_LIST, &idx) < 0)
				return -1;
			p->stack[p->depth++] = idx;
			pos++;
		} else if (c == ')') {
			if (p->depth == 0)
				return fail(p, IMAP_PERR_SYNTAX);
			p->depth--;
			pos++;
		} else if (c == '"') {
			if (parse_quoted(p, s, len, &pos) < 0)
				return -1;
		} else if (c == '{') {
			return parse_literal_start(p, s, len, pos);
		} else {
			long end = atom_end(s, len, pos);
			if (end < 0 || (size_t)end == pos)
				return fail(p, IMAP_PERR_SYNTAX);
			size_t alen = (size_t)end - pos;
			if (alen == 3 && strncasecmp(s + pos, "NIL", 3) == 0) {
				if (node_add_str(p, IMAP_ARG_NIL, "", 0) < 0)
					return -1;
			} else if (node_add_str(p, IMAP_ARG_ATOM, s + pos, alen) < 0) {
				return -1;
			}
			pos = (size_t)end;
		}
	}
	if (p->depth)
		return fail(p, IMAP_PERR_SYNTAX);
	return 0;
}

/* "[CODE args] text" or "text" (resp-text; never holds literals). */
static int parse_resp_text(struct imap_parser *p, const char *s, size_t len, size_t pos)
{
	for (size_t i = pos; i < len; i++)
		if (s[i] == '\0' || s[i] == '\r')
			return fail(p, IMAP_PERR_SYNTAX);
	if (pos < len && s[pos] == '[') {
		const char *close = memchr(s + pos, ']', len - pos);
		if (close) {
			size_t cs = pos + 1, ce = (size_t)(close - s);
			size_t sp = cs;
			while (sp < ce && s[sp] != ' ')
				sp++;
			if (data_add(p, s + cs, sp - cs, &p->code) < 0)
				return -1;
			size_t as = sp < ce ? sp + 1 : ce;
			if (data_add(p, s + as, ce - as, &p->code_args) < 0)
				return -1;
			pos = ce + 1;
			if (pos < len && s[pos] == ' ')
				pos++;
		}
	}
	return data_add(p, s + pos, len - pos, &p->text);
}

static enum imap_status status_of(const char *w, size_t n)
{
	static const struct {
		const char *name;
		enum imap_status st;
	} tab[] = {
		{"OK", IMAP_STATUS_OK},   {"NO", IMAP_STATUS_NO},
		{"BAD", IMAP_STATUS_BAD}, {"BYE", IMAP_STATUS_BYE},
		{"PREAUTH", IMAP_STATUS_PREAUTH},
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].name) == n && strncasecmp(w, tab[i].name, n) == 0)
			return tab[i].st;
	return IMAP_STATUS_NONE;
}

/* A word up to the next space (or the end); fails when empty or bad. */
static int parse_word(struct imap_parser *p, const char *s, size_t len, size_t *pos,
		      size_t *ws_r, size_t *wl_r)
{
	size_t i = *pos;
	while (i < len && s[i] != ' ') {
		if (is_ctl((unsigned char)s[i]) || s[i] == '(' || s[i] == ')' || s[i] == '"' ||
		    s[i] == '{')
			return fail(p, IMAP_PERR_SYNTAX);
		i++;
	}
	if (i == *pos)
		return fail(p, IMAP_PERR_SYNTAX);
	*ws_r = *pos;
	*wl_r = i - *pos;
	*pos = i < len ? i + 1 : i;
	return 0;
}

/* The first segment: tag, then status + resp-text, or number/name + args. */
static int parse_first(struct imap_parser *p, const char *s, size_t len)
{
	struct imap_response *r = &p->resp;
	size_t pos = 0, ws, wl;
	p->header_done = true;
	if (len >= 1 && s[0] == '+') {
		r->kind = IMAP_RESP_CONTINUE;
		pos = (len >= 2 && s[1] == ' ') ? 2 : 1;
		if (data_add(p, "+", 1, &p->tag) < 0)
			return -1;
		return parse_resp_text(p, s, len, pos);
	}
	if (parse_word(p, s, len, &pos, &ws, &wl) < 0)
		return -1;
	if (wl == 1 && s[ws] == '*') {
		r->kind = IMAP_RESP_UNTAGGED;
	} else {
		r->kind = IMAP_RESP_TAGGED;
		for (size_t i = ws; i < ws + wl; i++)
			if (s[i] == '+' || s[i] == '[' || s[i] == ']' || s[i] == '%' ||
			    s[i] == '*' || s[i] == '\\')
				return fail(p, IMAP_PERR_SYNTAX);
	}
	if (data_add(p, s + ws, wl, &p->tag) < 0)
		return -1;
	if (parse_word(p, s, len, &pos, &ws, &wl) < 0)
		return -1;
	if (r->kind == IMAP_RESP_UNTAGGED && s[ws] >= '0' && s[ws] <= '9') {
		uint64_t n;
		if (str_parse_u64(s + ws, wl, UINT32_MAX, &n) < 0)
			return fail(p, IMAP_PERR_SYNTAX);
		r->has_number = true;
		r->number = (uint32_t)n;
		if (parse_word(p, s, len, &pos, &ws, &wl) < 0)
			return -1;
	}
	if (data_add(p, s + ws, wl, &p->name) < 0)
		return -1;
	r->status = r->has_number ? IMAP_STATUS_NONE : status_of(s + ws, wl);
	if (r->status != IMAP_STATUS_NONE) {
		if (r->kind == IMAP_RESP_TAGGED && r->status != IMAP_STATUS_OK &&
		    r->status != IMAP_STATUS_NO && r->status != IMAP_STATUS_BAD)
			return fail(p, IMAP_PERR_SYNTAX);
		return parse_resp_text(p, s, len, pos);
	}
	if (r->kind == IMAP_RESP_TAGGED)
		return fail(p, IMAP_PERR_SYNTAX);
	/* The name must be an atom word: ws..ws+wl was checked by parse_word. */
	return parse_args(p, s, len, pos);
}

/* One complete segment without its line end. 0 done, 1 literal, -1 error. */
static int parse_segment(struct imap_parser *p, const char *s, size_t len)
{
	if (!p->header_done)
		return parse_first(p, s, len);
	return parse_args(p, s, len, 0);
}

static struct slice span_slice(const struct imap_parser *p, struct span sp)
{
	struct slice sl = {"", 0};
	if (sp.off != NO_OFF) {
		sl.p = p->data.data + sp.off;
		sl.len = sp.len;
	}
	return sl;
}

/* Lays the parse-order nodes out as contiguous arrays (parents come before
 * their elements in parse order, so each list's place is known in time). */
static void response_finish(struct imap_parser *p)
{
	if (p->nnodes > p->final_cap) {
		free(p->final);
		p->final = xcalloc(p->nnodes, sizeof(*p->final));
		p->final_cap = p->nnodes;
	}
	size_t next = p->top_count;
	for (size_t k = 0; k < p->nnodes; k++) {
		struct node *n = &p->nodes[k];
		size_t base = n->parent == NO_PARENT ? 0 : p->nodes[n->parent].start;
		struct imap_arg *a = &p->final[base + n->sib];
		memset(a, 0, sizeof(*a));
		a->type = n->type;
		if (n->type == IMAP_ARG_LIST) {
			n->start = next;
			a->str = "";
			a->list = p->final + next;
			a->count = n->count;
			next += n->count;
		} else {
			a->str = p->data.data + n->off;
			a->len = n->len;
			a->skipped = n->declared > 0;
			a->declared = n->declared;
		}
	}
	struct imap_response *r = &p->resp;
	r->args = p->nnodes ? p->final : NULL;
	r->nargs = p->top_count;
	r->tag = span_slice(p, p->tag);
	r->name = span_slice(p, p->name);
	r->code = span_slice(p, p->code);
	r->code_args = span_slice(p, p->code_args);
	r->text = span_slice(p, p->text);
}

/* Handles one complete segment; sets the state that follows. */
static int segment_done(struct imap_parser *p, const char *s, size_t len)
{
	/* drop the LF and an optional CR before it */
	len--;
	if (len && s[len - 1] == '\r')
		len--;
	int r = parse_segment(p, s, len);
	if (r < 0)
		return -1;
	if (r == 0) {
		response_finish(p);
		p->state = ST_DONE;
		return 1;
	}
	p->state = ST_LITERAL;
	return 0;
}

static void literal_done(struct imap_parser *p)
{
	p->data.data[p->data.len++] = '\0';
	p->lit_size = 0;
	p->lit_skip = false;
	p->state = ST_LINE;
}

enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
					size_t *used_r, const struct imap_response **resp_r)
{
	size_t used = 0;
	*used_r = 0;
	if (p->state == ST_ERROR)
		return IMAP_PARSE_ERROR;
	if (p->state == ST_DONE || p->state == ST_START) {
		response_clear(p);
		p->state = ST_LINE;
	}
	while (used < len) {
		if (p->state == ST_LITERAL) {
			size_t n = len - used;
			if ((uint64_t)n > p->lit_left)
				n = (size_t)p->lit_left;
			/* room was reserved when the literal started */
			if (!p->lit_skip) {
				memcpy(p->data.data + p->data.len, data + used, n);
				p->data.len += n;
			}
			p->lit_left -= n;
			used += n;
			if (p->lit_left == 0)
				literal_done(p);
			continue;
		}
		const char *nl = memchr(data + used, '\n', len - used);
		size_t chunk = nl ? (size_t)(nl - (data + used)) + 1 : len - used;
		size_t have = p->line.len;
		/* Reject an over-long line as soon as it passes the cap. */
		if (sat_add(sat_add(p->text_total, have), chunk) > p->lim.max_line + 2) {
			fail(p, IMAP_PERR_LINE_TOO_LONG);
			*used_r = used;
			return IMAP_PARSE_ERROR;
		}
		int r;
		if (nl && have == 0) {
			/* whole segment in the input: parse it in place */
			r = segment_done(p, data + used, chunk);
		} else {
			buf_add(&p->line, data + used, chunk);
			if (!nl) {
				used += chunk;
				continue;
			}
			r = segment_done(p, p->line.data, p->line.len);
		}
		used += chunk;
		p->text_total += have + chunk;
		buf_reset(&p->line);
		if (r < 0) {
			*used_r = used;
			return IMAP_PARSE_ERROR;
		}
		if (r == 1) {
			*used_r = used;
			*resp_r = &p->resp;
			return IMAP_PARSE_DONE;
		}
		if (p->state == ST_LITERAL && p->lit_left == 0)
			literal_done(p);
	}
	*used_r = used;
	return IMAP_PARSE_MORE;
}

enum imap_parse_error imap_parser_error(const struct imap_parser *p)
{
	return p->error;
}

const char *imap_parser_error_str(const struct imap_parser *p)
{
	switch (p->error) {
	case IMAP_PERR_NONE: return "no error";
	case IMAP_PERR_SYNTAX: return "syntax error in server response";
	case IMAP_PERR_LINE_TOO_LONG: return "server response line too long";
	case IMAP_PERR_LITERAL_TOO_BIG: return "literal too big";
	case IMAP_PERR_TOO_DEEP: return "lists nested too deeply";
	case IMAP_PERR_TOO_MANY: return "too many elements in server response";
	}
	return "unknown error";
}

uint64_t imap_parser_literal_size(const struct imap_parser *p)
{
	return p->state == ST_LITERAL ? p->lit_size : 0;
}

bool imap_arg_atom_is(const struct imap_arg *a, const char *lit)
{
	size_t n = strlen(lit);
	return a->type == IMAP_ARG_ATOM && a->len == n && strncasecmp(a->str, lit, n) == 0;
}

bool imap_arg_is_string(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_STRING ||
	       a->type == IMAP_ARG_LITERAL;
}

int imap_arg_number(const struct imap_arg *a, uint64_t max, uint64_t *n_r)
{
	if (a->type != IMAP_ARG_ATOM)
		return -1;
	return str_parse_u64(a->str, a->len, max, n_r);
}
