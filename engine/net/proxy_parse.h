/*
 * Parsers for what a proxy answers during the tunnel handshake: the SOCKS5
 * method choice, user/password status and CONNECT reply (RFC 1928, 1929),
 * and the HTTP CONNECT response head (RFC 9110 9.3.6). They do no I/O
 * (DESIGN.md): bytes go in piece by piece, any split is fine, and a reply
 * is done exactly at its last byte, so whatever follows (the mail server's
 * first bytes through the tunnel) is never taken.
 *
 * SECURITY: replies are untrusted input. SOCKS5 replies are at most 262
 * bytes by their format; HTTP heads are held to limits (a line, the whole
 * head, a number of lines), NUL bytes are refused, and only the status
 * code and a cleaned, cut reason phrase are kept. Every violation is
 * ERR_SOURCE: a proxy that talks nonsense will not be fixed by retrying.
 */
#ifndef M2T_PROXY_PARSE_H
#define M2T_PROXY_PARSE_H

#include <stddef.h>

#include "engine/util/err.h"

enum proxy_reply_kind {
	PROXY_REPLY_SOCKS5_METHOD,      /* VER METHOD */
	PROXY_REPLY_SOCKS5_AUTH,        /* VER STATUS (RFC 1929) */
	PROXY_REPLY_SOCKS5_CONNECT,     /* VER REP RSV ATYP BND.ADDR BND.PORT */
	PROXY_REPLY_HTTP_CONNECT,       /* status line, header lines, empty line */
};

/* 0 in a field means its default. */
struct proxy_parse_limits {
	size_t max_line;        /* HTTP: one line without CRLF; default 8 KB */
	size_t max_head;        /* HTTP: the whole head; default 64 KB */
	unsigned max_lines;     /* HTTP: header lines after the status line; default 100 */
};

struct proxy_reply {
	unsigned version;       /* SOCKS: the VER byte; HTTP: the minor version (0 or 1) */
	unsigned code;          /* METHOD, STATUS, REP, or the HTTP status code */
	char reason[128];       /* HTTP reason phrase, cleaned and cut; "" for SOCKS */
	char bound[80];         /* SOCKS5 CONNECT: BND.ADDR port BND.PORT, cleaned */
};

struct proxy_parser;

struct proxy_parser *proxy_parser_new(enum proxy_reply_kind kind,
				      const struct proxy_parse_limits *lim);
/* Sets *p to NULL. */
void proxy_parser_free(struct proxy_parser **p);

/*
 * Takes bytes of the reply from data[0..len). *used_r is how many belong
 * to it. Returns 1 when the reply is complete (bytes after *used_r are not
 * the proxy's), 0 when more are needed (all of data was used), -1 on a
 * malformed reply or a passed limit (ERR_SOURCE); feeding after 1 or -1 is
 * an error.
 */
int proxy_parser_feed(struct proxy_parser *p, const char *data, size_t len, size_t *used_r,
		      struct err *err);
/* The parsed reply; complete only after feed returned 1. Owned by p. */
const struct proxy_reply *proxy_parser_reply(const struct proxy_parser *p);

#endif
