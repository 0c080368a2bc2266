/*
 * I/O-free IMAP response parser (RFC 3501 section 7, in the style of
 * Dovecot's lib-imap): the caller feeds bytes as they arrive, the parser
 * says "need more" or hands back one complete response.
 *
 * SECURITY: the input is untrusted network data. Every count from the wire
 * (literal sizes) is parsed with overflow checks and compared with the
 * limits before anything is allocated; line length, list depth, element
 * count and total response size are capped. Memory use is bounded by
 * max_line + max_literal plus the element array.
 *
 * Memory: a response's strings live in one buffer owned by the parser, so a
 * FETCH BODY[] literal is copied exactly once (from the caller's read
 * buffer into that buffer) and handed out in place. Everything a response
 * points to stays valid until the next imap_parser_feed() or _reset().
 */
#ifndef M2T_IMAP_PARSE_H
#define M2T_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/util/str.h"

struct imap_parser;

struct imap_parse_limits {
	size_t max_line;        /* text of one response, literals excluded (default 64 KB) */
	uint64_t max_literal;   /* one literal, and all literals of a response together */
	/*
	 * A literal over max_literal but at most max_skip bytes is read and
	 * dropped rather than refused: the session stays in step and the
	 * response shows it as `skipped` with its declared size (a server that
	 * sends more for a message than it listed: that message goes to
	 * badmail, not the whole mailbox). 0 (default): refused.
	 */
	uint64_t max_skip;
	unsigned max_depth;     /* nested parenthesised lists (default 16) */
	size_t max_elements;    /* atoms, strings, lists of one response (default 100000) */
};

enum imap_arg_type {
	IMAP_ARG_NIL,
	IMAP_ARG_ATOM,          /* also numbers, flags (\Seen) and BODY[...]<n> */
	IMAP_ARG_STRING,        /* quoted string, unescaped */
	IMAP_ARG_LITERAL,       /* {N} or {N+}; may contain NUL bytes */
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	/* ATOM, STRING, LITERAL: the bytes, NUL-terminated (the NUL not counted). */
	const char *str;
	size_t len;
	/* LITERAL over max_literal, read and dropped (max_skip): str is "" and
	 * len 0; `declared` is the size the server announced. */
	bool skipped;
	uint64_t declared;
	/* LIST: the elements. */
	const struct imap_arg *list;
	size_t count;
};

enum imap_resp_kind {
	IMAP_RESP_UNTAGGED,     /* "* ..." */
	IMAP_RESP_TAGGED,       /* "A0001 OK ..." */
	IMAP_RESP_CONTINUE,     /* "+ ..." */
};

enum imap_status {
	IMAP_STATUS_NONE,       /* untagged data ("* 3 EXISTS", "* LIST ...") */
	IMAP_STATUS_OK,
	IMAP_STATUS_NO,
	IMAP_STATUS_BAD,
	IMAP_STATUS_BYE,
	IMAP_STATUS_PREAUTH,
};

/*
 * One response. Slices point into the parser's buffer and are also
 * NUL-terminated. For status responses (OK/NO/BAD/BYE/PREAUTH, tagged or
 * not) and continuations, `code`/`code_args` hold "[CODE args]" (empty when
 * absent; code_args is the raw text up to ']') and `text` the rest of the
 * line. For untagged data, `number` is set when the response starts with
 * one ("* 3 FETCH"), `name` is the keyword and `args` what follows it.
 */
struct imap_response {
	enum imap_resp_kind kind;
	enum imap_status status;
	struct slice tag;
	bool has_number;
	uint32_t number;
	struct slice name;
	const struct imap_arg *args;
	size_t nargs;
	struct slice code;
	struct slice code_args;
	struct slice text;
};

enum imap_parse_result {
	IMAP_PARSE_MORE = 0,    /* all input consumed, the response is not complete */
	IMAP_PARSE_DONE = 1,    /* a response is complete; input after it is not consumed */
	IMAP_PARSE_ERROR = -1,  /* see imap_parser_error(); the stream cannot be resumed */
};

enum imap_parse_error {
	IMAP_PERR_NONE,
	IMAP_PERR_SYNTAX,
	IMAP_PERR_LINE_TOO_LONG,
	IMAP_PERR_LITERAL_TOO_BIG,
	IMAP_PERR_TOO_DEEP,
	IMAP_PERR_TOO_MANY,
};

/* Fills unset (zero) fields of *lim with the defaults. */
void imap_parse_limits_default(struct imap_parse_limits *lim);

/* Zero fields of *lim take the defaults. Never NULL. */
struct imap_parser *imap_parser_new(const struct imap_parse_limits *lim);
void imap_parser_free(struct imap_parser **p);
/* Forgets any partial response and error; keeps memory for reuse. */
void imap_parser_reset(struct imap_parser *p);

/*
 * Consumes bytes of data[0..len) and stores the count in *used_r. On DONE,
 * *resp_r points to the response (owned by the parser, valid until the next
 * feed or reset) and the next feed starts a new response. After ERROR,
 * every feed returns ERROR until _reset.
 */
enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
					size_t *used_r, const struct imap_response **resp_r);

enum imap_parse_error imap_parser_error(const struct imap_parser *p);
/* A short, constant description of the error ("literal too big"). */
const char *imap_parser_error_str(const struct imap_parser *p);
/*
 * While a literal is being read: its declared size (0 otherwise). Lets the
 * caller see the size of a big literal as it starts.
 */
uint64_t imap_parser_literal_size(const struct imap_parser *p);

/* Helpers over parsed arguments. */
/* Case-insensitive compare of an ATOM with a literal string. */
bool imap_arg_atom_is(const struct imap_arg *a, const char *lit);
/* ATOM, STRING or LITERAL (an "astring" or "nstring" that is not NIL). */
bool imap_arg_is_string(const struct imap_arg *a);
/* ATOM holding a decimal number <= max. 0 ok, -1 otherwise. */
int imap_arg_number(const struct imap_arg *a, uint64_t max, uint64_t *n_r);

#endif
