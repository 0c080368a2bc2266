/*
 * I/O-free POP3 response parser (RFC 1939, RFC 2449 extended response
 * codes, RFC 5034 SASL continuations), in the style of imap_parse.h: the
 * caller says what the next response may be, feeds bytes as they arrive,
 * and the parser answers "need more" or hands back one complete response.
 *
 * SECURITY: the input is untrusted network data. A status line is capped
 * at max_line before its end arrives; a multi-line body is kept up to
 * max_body and, past it, read on and dropped up to max_discard more bytes
 * (so a server that announced a small message and sends a big one costs
 * one badmail entry, not the session), then refused. Memory use is bounded
 * by max_line + max_body.
 *
 * Memory: a response (its text and body) lives in buffers owned by the
 * parser and stays valid until the next pop3_parser_feed(), _expect() or
 * _reset(). A body is copied exactly once, from the caller's read buffer.
 */
#ifndef M2T_POP3_PARSE_H
#define M2T_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/util/str.h"

struct pop3_parser;

struct pop3_parse_limits {
	size_t max_line;        /* a status line without CRLF (default 8 KB; RFC 2449 says 512) */
	uint64_t max_body;      /* bytes of a multi-line body kept (default 64 MB) */
	uint64_t max_discard;   /* bytes past max_body read and dropped before the parser
				   gives up (default 0: fail at max_body) */
};

/* What the next response may be; set before each command's response. */
enum pop3_expect {
	POP3_EXPECT_SINGLE,     /* one status line (the default after each response) */
	POP3_EXPECT_MULTI,      /* +OK starts a body of lines ended by "." (RETR, UIDL, ...) */
	POP3_EXPECT_SASL,       /* a status line or a "+ " continuation (AUTH) */
};

enum pop3_status {
	POP3_OK,                /* "+OK" */
	POP3_ERR,               /* "-ERR" */
	POP3_CONT,              /* "+ challenge" (POP3_EXPECT_SASL only) */
};

struct pop3_response {
	enum pop3_status status;
	struct slice code;      /* RFC 2449 code without brackets ("IN-USE", "SYS/TEMP");
				   empty when none */
	struct slice text;      /* the rest of the status line (a CONT's base64) */
	bool multiline;         /* a body follows the status (+OK to POP3_EXPECT_MULTI) */
	const char *body;       /* dot-unstuffed bytes, line ends as sent, without the
				   final ".": NUL-terminated (the NUL not counted) */
	size_t body_len;
	bool truncated;         /* the body passed max_body: body is empty, and ... */
	uint64_t body_total;    /* ... this many bytes (unstuffed) were read in all */
};

enum pop3_parse_result {
	POP3_PARSE_MORE = 0,    /* all input consumed, the response is not complete */
	POP3_PARSE_DONE = 1,    /* a response is complete; input after it is not consumed */
	POP3_PARSE_ERROR = -1,  /* see pop3_parser_error(); the stream cannot be resumed */
};

enum pop3_parse_error {
	POP3_PERR_NONE,
	POP3_PERR_SYNTAX,       /* neither +OK nor -ERR (nor an allowed "+ ") */
	POP3_PERR_NUL,          /* a NUL byte in a status line */
	POP3_PERR_LINE_TOO_LONG,
	POP3_PERR_TOO_BIG,      /* a body past max_body + max_discard */
};

/* Zero fields of *lim take the defaults; lim may be NULL. Never returns NULL. */
struct pop3_parser *pop3_parser_new(const struct pop3_parse_limits *lim);
void pop3_parser_free(struct pop3_parser **p);
/* Forgets any partial response and error; keeps memory for reuse. */
void pop3_parser_reset(struct pop3_parser *p);

/*
 * Sets what the next response may be. max_body (0: the limits' value)
 * caps this one body: a UIDL listing is sized by the message count, a
 * RETR by the job's message size limit.
 */
void pop3_parser_expect(struct pop3_parser *p, enum pop3_expect e, uint64_t max_body);

/*
 * Consumes bytes of data[0..len) and stores the count in *used_r. On DONE,
 * *resp_r points to the response (owned by the parser) and the next
 * response is expected as POP3_EXPECT_SINGLE unless _expect() says
 * otherwise. After ERROR, every feed returns ERROR until _reset.
 */
enum pop3_parse_result pop3_parser_feed(struct pop3_parser *p, const char *data, size_t len,
					size_t *used_r, const struct pop3_response **resp_r);

enum pop3_parse_error pop3_parser_error(const struct pop3_parser *p);
/* A short, constant description of the error ("status line too long"). */
const char *pop3_parser_error_str(const struct pop3_parser *p);
/* Body bytes read so far in the response being parsed (progress, logs). */
uint64_t pop3_parser_body_seen(const struct pop3_parser *p);

#endif
