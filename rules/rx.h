/*
 * A narrow PCRE2 wrapper for the statement rules (conditions, fields,
 * follow-up formats). PCRE2 itself is included only in rx.c.
 *
 * Patterns are compiled once (UTF, invalid UTF in the subject tolerated,
 * Unicode properties for \w \d \b), JIT-compiled when the platform allows,
 * else run by the interpreter. A compiled pattern is immutable and may be
 * shared by threads; matching needs a struct rx_matcher, one per thread,
 * which holds the match data, the match context with its limits and the
 * JIT stack.
 *
 * SECURITY: patterns are admin input, subjects are mail text. Every match
 * runs under a match limit, a depth limit and a heap limit, and sees at
 * most lim.max_subject bytes of the subject (cut at a UTF-8 boundary): a
 * pathological pattern costs one badmail entry, never the run. A PCRE2
 * error other than "no match" is an error (ERR_MESSAGE), never "no match".
 */
#ifndef M2T_RX_H
#define M2T_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/util/err.h"

struct rx;
struct rx_matcher;

/* Compile flags. */
#define RX_CASELESS 1u   /* Unicode case-insensitive */
#define RX_LITERAL 2u    /* the pattern is plain text */
#define RX_ANCHORED 4u   /* match only at the start */
#define RX_MULTILINE 8u  /* ^ and $ at every line */
#define RX_ENDANCHORED 16u /* the match must end at the end of the subject */

#define RX_MAX_PATTERN 65536   /* bytes of one pattern */

struct rx_limits {
	uint32_t match_limit;    /* PCRE2 match limit (backtracking steps) */
	uint32_t depth_limit;    /* PCRE2 depth limit */
	uint32_t heap_limit_kb;  /* PCRE2 heap limit, KiB */
	size_t max_subject;      /* bytes of subject a pattern sees */
};

/* 1,000,000 steps, depth 10,000, 20 MB heap, 1 MB of subject. */
void rx_limits_default(struct rx_limits *lim);

/*
 * Compiles pattern[0..len). On failure returns -1 with ERR_FATAL
 * "<PCRE2's message> at offset N" and *offset_r = N (the byte offset in
 * the pattern where PCRE2 stopped); callers add the file position.
 */
int rx_compile(const char *pattern, size_t len, unsigned flags, struct rx **rx_r,
	       size_t *offset_r, struct err *err);
void rx_free(struct rx **rx);

/* Capturing groups (not counting group 0). */
uint32_t rx_group_count(const struct rx *rx);
/* Named groups: how many, and the i-th name (owned by rx) with its number. */
size_t rx_name_count(const struct rx *rx);
const char *rx_name_at(const struct rx *rx, size_t i, uint32_t *group_r);
/* The number of the group called name, 0 when there is none. */
uint32_t rx_group_number(const struct rx *rx, const char *name);
/* The pattern as given (for traces). */
const char *rx_pattern(const struct rx *rx);

/* lim NULL: the defaults. Never NULL. */
struct rx_matcher *rx_matcher_new(const struct rx_limits *lim);
void rx_matcher_free(struct rx_matcher **m);
const struct rx_limits *rx_matcher_limits(const struct rx_matcher *m);

/*
 * Looks for rx in s[start..len) (len is cut to max_subject first). 1 on a
 * match (the groups are then readable with rx_group until the next match
 * on this matcher), 0 when none, -1 with ERR_MESSAGE when PCRE2 gave up
 * ("match limit exceeded").
 */
int rx_match(struct rx_matcher *m, const struct rx *rx, const char *s, size_t len, size_t start,
	     struct err *err);
/* Span of group i of the last match; false when the group did not take part. */
bool rx_group(const struct rx_matcher *m, uint32_t i, size_t *start_r, size_t *len_r);

#endif
