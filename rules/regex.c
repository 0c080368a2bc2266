/*
 * PCRE2 behind a small interface (rules/regex.h).
 *
 * SECURITY: subjects are mail text, patterns are admin text. Why each
 * guard: without JIT, a pattern such as a*a*c ran ~45 s on a 100 KB body
 * whatever the match limit (STYLE.md, library notes), so patterns are JIT
 * compiled where possible, and every subject is cut to max_subject bytes.
 * PCRE2_MATCH_INVALID_UTF lets broken UTF-8 from mail be searched safely:
 * invalid sequences simply never match. The depth limit bounds the
 * interpreter's recursion where JIT is not available.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rules/regex.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "engine/util/xalloc.h"

struct regex {
	pcre2_code *code;
	char *pattern;
	bool jit;
	uint32_t groups;
	uint32_t names;
	uint32_t name_entry;     /* bytes per entry of the name table */
	PCRE2_SPTR name_table;   /* owned by code */
};

/* Per-thread match state: match data sized for the largest pattern seen. */
struct regex_tls {
	pcre2_match_data *md;
	uint32_t pairs;
	pcre2_match_context *mc;
	pcre2_jit_stack *js;
	bool registered;
};

static _Thread_local struct regex_tls tls;
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_clear(struct regex_tls *t)
{
	pcre2_match_data_free(t->md);
	pcre2_match_context_free(t->mc);
	pcre2_jit_stack_free(t->js);
	t->md = NULL;
	t->mc = NULL;
	t->js = NULL;
	t->pairs = 0;
}

static void tls_destroy(void *p)
{
	tls_clear(p);
}

static void tls_key_make(void)
{
	(void)pthread_key_create(&tls_key, tls_destroy);
}

void regex_thread_release(void)
{
	tls_clear(&tls);
}

/* JIT stack: 32 KiB to start, up to 1 MiB (deep patterns fail with an
 * error, they do not overflow the thread's own stack). */
#define JIT_STACK_START (32u * 1024)
#define JIT_STACK_MAX (1024u * 1024)

static struct regex_tls *tls_get(uint32_t pairs)
{
	struct regex_tls *t = &tls;
	if (!t->registered) {
		pthread_once(&tls_once, tls_key_make);
		(void)pthread_setspecific(tls_key, t);
		t->registered = true;
	}
	if (!t->mc) {
		t->mc = pcre2_match_context_create(NULL);
		t->js = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, NULL);
		if (!t->mc || !t->js)
			abort(); /* out of memory: fatal, as xmalloc */
		pcre2_jit_stack_assign(t->mc, NULL, t->js);
	}
	if (pairs > t->pairs) {
		pcre2_match_data_free(t->md);
		t->md = pcre2_match_data_create(pairs, NULL);
		if (!t->md)
			abort();
		t->pairs = pairs;
	}
	return t;
}

void regex_limits_default(struct regex_limits *lim)
{
	lim->match_limit = 1000000;
	lim->depth_limit = 10000;
	lim->heap_limit_kib = 20 * 1024;
	lim->max_subject = 256 * 1024;
}

int regex_compile(const char *pattern, size_t len, unsigned flags, struct regex **re_r,
		  size_t *offset_r, struct err *err)
{
	uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	int ec = 0;
	PCRE2_SIZE off = 0;

	*re_r = NULL;
	if (offset_r)
		*offset_r = 0;
	if (len > REGEX_MAX_PATTERN)
		return err_set(err, ERR_FATAL, "bad regex: longer than %d bytes", REGEX_MAX_PATTERN);
	if (flags & REGEX_CASELESS)
		opts |= PCRE2_CASELESS;
	if (flags & REGEX_ANCHORED)
		opts |= PCRE2_ANCHORED;
	if (flags & REGEX_ENDANCHORED)
		opts |= PCRE2_ENDANCHORED;
	/* PCRE2 refuses UCP and MULTILINE meanings with LITERAL; a caseless
	 * UTF literal folds Unicode anyway */
	if (flags & REGEX_LITERAL) {
		opts |= PCRE2_LITERAL;
	} else {
		if (flags & REGEX_MULTILINE)
			opts |= PCRE2_MULTILINE;
		if (flags & REGEX_UCP)
			opts |= PCRE2_UCP;
	}
	pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
	if (!cc)
		abort(); /* out of memory: fatal, as xmalloc */
	pcre2_set_max_pattern_length(cc, REGEX_MAX_PATTERN);
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &ec, &off, cc);
	pcre2_compile_context_free(cc);
	if (!code) {
		PCRE2_UCHAR msg[160];
		if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "unknown error");
		if (offset_r)
			*offset_r = off;
		return err_set(err, ERR_FATAL, "bad regex at offset %zu: %s", (size_t)off,
			       (const char *)msg);
	}
	struct regex *re = xcalloc(1, sizeof(*re));
	re->code = code;
	re->pattern = xmemdup0(pattern, len);
	/* no JIT on this platform or for this pattern: the interpreter runs it,
	 * under the same limits */
	re->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
	pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &re->groups);
	pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &re->names);
	pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &re->name_entry);
	pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &re->name_table);
	*re_r = re;
	return 0;
}

void regex_free(struct regex **rep)
{
	struct regex *re = *rep;
	if (!re)
		return;
	pcre2_code_free(re->code);
	free(re->pattern);
	free(re);
	*rep = NULL;
}

const char *regex_pattern(const struct regex *re)
{
	return re->pattern;
}

bool regex_jit(const struct regex *re)
{
	return re->jit;
}

uint32_t regex_groups(const struct regex *re)
{
	return re->groups;
}

int regex_group_index(const struct regex *re, const char *name)
{
	int n = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)name);
	return n > 0 ? n : -1;
}

size_t regex_name_count(const struct regex *re)
{
	return re->names;
}

const char *regex_name_at(const struct regex *re, size_t i, uint32_t *group_r)
{
	/* each entry: the group number in 2 bytes (big endian), then the
	 * NUL-terminated name; entries are sorted by name */
	PCRE2_SPTR e = re->name_table + i * re->name_entry;
	*group_r = ((uint32_t)e[0] << 8) | e[1];
	return (const char *)(e + 2);
}

/* The largest length <= max that does not split a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	/* at most 3 continuation bytes to step back over */
	for (int i = 0; i < 3 && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80; i++)
		n--;
	return n;
}

int regex_match(const struct regex *re, const char *subject, size_t len, size_t from,
		const struct regex_limits *lim, struct regex_match *m, struct err *err)
{
	size_t n = subject ? utf8_cut(subject, len, lim->max_subject) : 0;
	if (from > n)
		return 0;
	struct regex_tls *t = tls_get(re->groups + 1);
	pcre2_set_match_limit(t->mc, lim->match_limit);
	pcre2_set_depth_limit(t->mc, lim->depth_limit);
	pcre2_set_heap_limit(t->mc, lim->heap_limit_kib);
	PCRE2_SPTR subj = (PCRE2_SPTR)(subject ? subject : "");
	int rc;
	if (re->jit)
		rc = pcre2_jit_match(re->code, subj, n, from, 0, t->md, t->mc);
	else
		rc = pcre2_match(re->code, subj, n, from, 0, t->md, t->mc);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0) {
		PCRE2_UCHAR msg[160];
		if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "unknown error");
		return err_set(err, ERR_MESSAGE, "regex match failed: %s", (const char *)msg);
	}
	const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
	uint32_t pairs = pcre2_get_ovector_count(t->md);
	m->start = ov[0];
	m->end = ov[1];
	/* \K can put the start after the end; never hand out a negative range */
	if (m->end < m->start)
		m->end = m->start;
	m->ngroups = re->groups < REGEX_MAX_GROUPS ? re->groups : REGEX_MAX_GROUPS;
	for (uint32_t g = 0; g <= m->ngroups; g++) {
		if (g < pairs && g < (uint32_t)rc && ov[2 * g] != PCRE2_UNSET) {
			m->gstart[g] = ov[2 * g];
			m->gend[g] = ov[2 * g + 1];
		} else {
			m->gstart[g] = m->gend[g] = SIZE_MAX;
		}
	}
	return 1;
}

bool regex_match_group(const struct regex_match *m, uint32_t g, size_t *start_r,
		       size_t *len_r)
{
	if (g > m->ngroups)
		return false;
	if (g == 0) {
		*start_r = m->start;
		*len_r = m->end - m->start;
		return true;
	}
	/* unset, or \K moved the start past the end */
	if (m->gstart[g] == SIZE_MAX || m->gend[g] < m->gstart[g])
		return false;
	*start_r = m->gstart[g];
	*len_r = m->gend[g] - m->gstart[g];
	return true;
}
