/*
 * PCRE2, wrapped: the only place in the project that includes pcre2.h
 * (DESIGN.md). Preprocessing rules, fields, conditions, follow-up formats
 * and other systems' tags all compile their patterns here.
 *
 * SECURITY: patterns come from admins, subjects from mail. Every pattern is
 * compiled with PCRE2_UTF | PCRE2_MATCH_INVALID_UTF (invalid bytes in mail
 * never match and never fail) and at most REGEX_MAX_PATTERN bytes long,
 * JIT-compiled when the platform allows it (the interpreter otherwise, under
 * the same limits), and every match runs with a match limit, a depth limit,
 * a heap limit and a cap on the bytes it may look at. PCRE2_NO_UTF_CHECK is
 * never used. A match that hits a limit is an error, never "no match".
 *
 * Threads: a compiled struct regex is immutable and may be used by any
 * number of threads at once; match data, the match context and the JIT
 * stack are per thread (created on first use, released by
 * regex_thread_release() or at thread exit).
 */
#ifndef M2T_REGEX_H
#define M2T_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/util/err.h"

struct regex;

/* Compile options (or-ed). */
#define REGEX_MULTILINE 0x01u    /* ^ and $ at every line, not only the ends */
#define REGEX_CASELESS 0x02u     /* Unicode case-insensitive */
#define REGEX_LITERAL 0x04u      /* the pattern is plain text, no metacharacters */
#define REGEX_ANCHORED 0x08u     /* the match starts where the search starts */
#define REGEX_ENDANCHORED 0x10u  /* the match ends at the end of the subject */
#define REGEX_UCP 0x20u          /* \w \d \s \b by Unicode properties, not ASCII
				    (no effect with REGEX_LITERAL) */

#define REGEX_MAX_PATTERN 65536  /* bytes of one pattern */

/*
 * Compiles pattern[0..len). On a syntax error: -1, ERR_FATAL "bad regex at
 * offset N: reason" (N is the byte offset in the pattern), and *offset_r
 * (may be NULL) set to N. The caller prefixes its position.
 */
int regex_compile(const char *pattern, size_t len, unsigned flags, struct regex **re_r,
		  size_t *offset_r, struct err *err);
void regex_free(struct regex **re);
/* The pattern as given (owned by re). */
const char *regex_pattern(const struct regex *re);
/* Whether the JIT compiled it (false: the interpreter runs it). */
bool regex_jit(const struct regex *re);
/* Number of capture groups (not counting the whole match). */
uint32_t regex_groups(const struct regex *re);
/* Number of a named group, -1 when the pattern has no such name. */
int regex_group_index(const struct regex *re, const char *name);
/* Named groups: how many, and the i-th name (owned by re, in name order)
 * with its group number. */
size_t regex_name_count(const struct regex *re);
const char *regex_name_at(const struct regex *re, size_t i, uint32_t *group_r);

struct regex_limits {
	uint32_t match_limit;     /* PCRE2 match limit (backtracking steps) */
	uint32_t depth_limit;     /* PCRE2 depth limit (the interpreter's nesting) */
	uint32_t heap_limit_kib;  /* PCRE2 heap limit, KiB */
	size_t max_subject;       /* bytes of subject a match may look at */
};

/* 1,000,000 steps, depth 10,000, 20 MiB, 256 KiB of subject. */
void regex_limits_default(struct regex_limits *lim);

/* Capture groups of the last match, offsets into the subject; groups 1 to
 * REGEX_MAX_GROUPS are kept (rule loaders refuse to use a higher one). */
#define REGEX_MAX_GROUPS 32
struct regex_match {
	size_t start, end;              /* the whole match */
	uint32_t ngroups;               /* groups filled, at most REGEX_MAX_GROUPS */
	size_t gstart[REGEX_MAX_GROUPS + 1];   /* unset groups: SIZE_MAX */
	size_t gend[REGEX_MAX_GROUPS + 1];
};

/*
 * Looks for the first match at or after `from` in subject[0..len), seeing
 * at most lim->max_subject bytes (the subject is cut there, on a UTF-8
 * boundary). Returns 1 and fills *m on a match, 0 when there is none, -1
 * with ERR_MESSAGE "regex match failed: match limit exceeded" (or the PCRE2
 * error) when the match failed: the caller treats that as a rule error.
 */
int regex_match(const struct regex *re, const char *subject, size_t len, size_t from,
		const struct regex_limits *lim, struct regex_match *m, struct err *err);

/* Span of group g (0: the whole match) of *m; false when the group did not
 * take part in the match or is beyond what m keeps. */
bool regex_match_group(const struct regex_match *m, uint32_t g, size_t *start_r,
		       size_t *len_r);

/* Frees this thread's match data, context and JIT stack (tests, shutdown). */
void regex_thread_release(void);

#endif
