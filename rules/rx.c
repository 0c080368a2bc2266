/*
 * PCRE2 for the statement rules (see rx.h). The only file of the statement
 * rules that includes PCRE2.
 *
 * SECURITY: patterns come from admins, subjects from mail. Limits on every
 * match (DESIGN.md, library notes): JIT where available, because the
 * interpreter's match limit does not bound the time of some patterns (a*a*c
 * on 100 KB ran ~45 s), plus a cap on the text a pattern sees.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rules/rx.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"

#define JIT_STACK_MIN (32 * 1024)
#define JIT_STACK_MAX (1024 * 1024)

struct rx {
	pcre2_code *code;
	bool jit;
	uint32_t groups;
	uint32_t names;
	uint32_t name_entry;     /* bytes per entry of the name table */
	PCRE2_SPTR name_table;
	char *pattern;
};

struct rx_matcher {
	struct rx_limits lim;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jstack;
	pcre2_match_data *md;
	uint32_t md_pairs;
	uint32_t set_pairs;      /* pairs of the last match that PCRE2 filled */
	bool matched;
};

void rx_limits_default(struct rx_limits *lim)
{
	lim->match_limit = 1000000;
	lim->depth_limit = 10000;
	lim->heap_limit_kb = 20 * 1024;
	lim->max_subject = 1024 * 1024;
}

int rx_compile(const char *pattern, size_t len, unsigned flags, struct rx **rx_r,
	       size_t *offset_r, struct err *err)
{
	int ecode = 0;
	PCRE2_SIZE eoff = 0;
	uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	*rx_r = NULL;
	*offset_r = 0;
	if (len > RX_MAX_PATTERN)
		return err_set(err, ERR_FATAL, "pattern longer than %d bytes", RX_MAX_PATTERN);
	if (flags & RX_CASELESS)
		opts |= PCRE2_CASELESS;
	/* UCP is refused together with LITERAL; caseless UTF literals fold
	 * Unicode anyway */
	if (flags & RX_LITERAL)
		opts |= PCRE2_LITERAL;
	else
		opts |= PCRE2_UCP;
	if (flags & RX_ANCHORED)
		opts |= PCRE2_ANCHORED;
	if (flags & RX_ENDANCHORED)
		opts |= PCRE2_ENDANCHORED;
	if ((flags & RX_MULTILINE) && !(flags & RX_LITERAL))
		opts |= PCRE2_MULTILINE;

	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	if (!cctx)
		return err_set(err, ERR_FATAL, "out of memory compiling a pattern");
	pcre2_set_max_pattern_length(cctx, RX_MAX_PATTERN);
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &ecode, &eoff, cctx);
	pcre2_compile_context_free(cctx);
	if (!code) {
		PCRE2_UCHAR msg[160];
		if (pcre2_get_error_message(ecode, msg, sizeof(msg)) < 0)
			strcpy((char *)msg, "invalid pattern");
		*offset_r = eoff;
		return err_set(err, ERR_FATAL, "%s at offset %zu", (const char *)msg, (size_t)eoff);
	}
	struct rx *rx = xcalloc(1, sizeof(*rx));
	rx->code = code;
	/* JIT fails on some platforms or under memory limits: the interpreter
	 * still works, with the same limits */
	rx->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
	pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &rx->groups);
	pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &rx->names);
	pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &rx->name_entry);
	pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &rx->name_table);
	rx->pattern = xmemdup0(pattern, len);
	*rx_r = rx;
	return 0;
}

void rx_free(struct rx **rxp)
{
	struct rx *rx = *rxp;
	if (!rx)
		return;
	pcre2_code_free(rx->code);
	free(rx->pattern);
	free(rx);
	*rxp = NULL;
}

uint32_t rx_group_count(const struct rx *rx)
{
	return rx->groups;
}

size_t rx_name_count(const struct rx *rx)
{
	return rx->names;
}

const char *rx_name_at(const struct rx *rx, size_t i, uint32_t *group_r)
{
	/* each entry: 2-byte group number (big endian), then the NUL-terminated name */
	PCRE2_SPTR e = rx->name_table + i * rx->name_entry;
	*group_r = ((uint32_t)e[0] << 8) | e[1];
	return (const char *)(e + 2);
}

uint32_t rx_group_number(const struct rx *rx, const char *name)
{
	int n = pcre2_substring_number_from_name(rx->code, (PCRE2_SPTR)name);
	return n > 0 ? (uint32_t)n : 0;
}

const char *rx_pattern(const struct rx *rx)
{
	return rx->pattern;
}

struct rx_matcher *rx_matcher_new(const struct rx_limits *lim)
{
	struct rx_matcher *m = xcalloc(1, sizeof(*m));
	if (lim)
		m->lim = *lim;
	else
		rx_limits_default(&m->lim);
	m->mctx = pcre2_match_context_create(NULL);
	if (!m->mctx)
		abort(); /* out of memory: fatal, as with xmalloc */
	pcre2_set_match_limit(m->mctx, m->lim.match_limit);
	pcre2_set_depth_limit(m->mctx, m->lim.depth_limit);
	pcre2_set_heap_limit(m->mctx, m->lim.heap_limit_kb);
	m->jstack = pcre2_jit_stack_create(JIT_STACK_MIN, JIT_STACK_MAX, NULL);
	if (m->jstack)
		pcre2_jit_stack_assign(m->mctx, NULL, m->jstack);
	return m;
}

void rx_matcher_free(struct rx_matcher **mp)
{
	struct rx_matcher *m = *mp;
	if (!m)
		return;
	pcre2_match_data_free(m->md);
	pcre2_jit_stack_free(m->jstack);
	pcre2_match_context_free(m->mctx);
	free(m);
	*mp = NULL;
}

const struct rx_limits *rx_matcher_limits(const struct rx_matcher *m)
{
	return &m->lim;
}

/* len cut to at most max, not inside a UTF-8 sequence. */
static size_t cut_utf8(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

int rx_match(struct rx_matcher *m, const struct rx *rx, const char *s, size_t len, size_t start,
	     struct err *err)
{
	m->matched = false;
	len = cut_utf8(s, len, m->lim.max_subject);
	if (start > len)
		return 0;
	if (!m->md || m->md_pairs < rx->groups + 1) {
		pcre2_match_data_free(m->md);
		m->md_pairs = rx->groups + 1 < 16 ? 16 : rx->groups + 1;
		m->md = pcre2_match_data_create(m->md_pairs, NULL);
		if (!m->md)
			abort();
	}
	int rc = pcre2_match(rx->code, (PCRE2_SPTR)(s ? s : ""), len, start, 0, m->md, m->mctx);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0) {
		PCRE2_UCHAR msg[160];
		if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
			strcpy((char *)msg, "match failed");
		return err_set(err, ERR_MESSAGE, "%s", (const char *)msg);
	}
	m->matched = true;
	m->set_pairs = (uint32_t)rc;
	return 1;
}

bool rx_group(const struct rx_matcher *m, uint32_t i, size_t *start_r, size_t *len_r)
{
	/* pairs past the last one PCRE2 set may hold an older match */
	if (!m->matched || i >= m->set_pairs)
		return false;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
	if (ov[2 * i] == PCRE2_UNSET || ov[2 * i + 1] < ov[2 * i])
		return false; /* unset, or \K moved the start past the end */
	*start_r = ov[2 * i];
	*len_r = ov[2 * i + 1] - ov[2 * i];
	return true;
}
