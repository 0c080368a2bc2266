/*
 * SECURITY: see proxy_parse.h. Every byte is looked at once; nothing is
 * allocated by a size the proxy sends (a SOCKS5 domain length is one byte,
 * an HTTP line is cut off at the limit before its end is seen).
 */
#include "engine/net/proxy_parse.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define DEFAULT_MAX_LINE (8 * 1024)
#define DEFAULT_MAX_HEAD (64 * 1024)
#define DEFAULT_MAX_LINES 100
/* VER REP RSV ATYP + a domain of 255 bytes (with its length byte) + port */
#define SOCKS_MAX 262

struct proxy_parser {
	enum proxy_reply_kind kind;
	struct proxy_parse_limits lim;
	int state;                      /* 0 going on, 1 done, -1 failed */
	struct proxy_reply reply;
	/* SOCKS: the reply so far */
	unsigned char sb[SOCKS_MAX];
	size_t sn;
	/* HTTP */
	size_t head;                    /* bytes of the head so far */
	size_t line_len;                /* of the current line, CR included */
	char line_first;                /* its first byte */
	unsigned lines;                 /* header lines seen */
	bool status_seen;
	char *status;                   /* the status line (max_line + 1 bytes) */
};

struct proxy_parser *proxy_parser_new(enum proxy_reply_kind kind,
				      const struct proxy_parse_limits *lim)
{
	struct proxy_parser *p = xcalloc(1, sizeof(*p));
	p->kind = kind;
	if (lim)
		p->lim = *lim;
	if (!p->lim.max_line)
		p->lim.max_line = DEFAULT_MAX_LINE;
	if (!p->lim.max_head)
		p->lim.max_head = DEFAULT_MAX_HEAD;
	if (!p->lim.max_lines)
		p->lim.max_lines = DEFAULT_MAX_LINES;
	return p;
}

void proxy_parser_free(struct proxy_parser **pp)
{
	struct proxy_parser *p = *pp;
	if (!p)
		return;
	free(p->status);
	free(p);
	*pp = NULL;
}

const struct proxy_reply *proxy_parser_reply(const struct proxy_parser *p)
{
	return &p->reply;
}

static int fail(struct proxy_parser *p, struct err *err, const char *what)
{
	p->state = -1;
	return err_set(err, ERR_SOURCE, "malformed proxy reply: %s", what);
}

/* Bytes the SOCKS reply needs in all, as far as the bytes so far tell. */
static size_t socks_need(const struct proxy_parser *p)
{
	if (p->kind != PROXY_REPLY_SOCKS5_CONNECT)
		return 2;
	if (p->sn < 4)
		return 4;
	switch (p->sb[3]) {
	case 1: return 4 + 4 + 2;
	case 4: return 4 + 16 + 2;
	case 3: return p->sn < 5 ? 5 : 5 + (size_t)p->sb[4] + 2;
	}
	return 0;  /* unknown ATYP: checked by the caller */
}

static void socks_bound(struct proxy_parser *p)
{
	char addr[INET6_ADDRSTRLEN + 1] = "?";
	size_t n = p->sn;
	unsigned port = (unsigned)p->sb[n - 2] << 8 | p->sb[n - 1];
	if (p->sb[3] == 1)
		inet_ntop(AF_INET, p->sb + 4, addr, sizeof(addr));
	else if (p->sb[3] == 4)
		inet_ntop(AF_INET6, p->sb + 4, addr, sizeof(addr));
	else
		log_clean((const char *)p->sb + 5, p->sb[4], addr, sizeof(addr));
	snprintf(p->reply.bound, sizeof(p->reply.bound), "%s port %u", addr, port);
}

static int socks_feed(struct proxy_parser *p, const char *data, size_t len, size_t *used_r,
		      struct err *err)
{
	size_t used = 0;
	for (;;) {
		size_t need = socks_need(p);
		*used_r = used;
		if (need == 0)
			return fail(p, err, "SOCKS5 reply with an unknown address type");
		if (p->sn == need)
			break;
		if (used == len) {
			*used_r = used;
			return 0;
		}
		size_t take = need - p->sn < len - used ? need - p->sn : len - used;
		/* the version byte alone first: it is judged the moment it arrives */
		if (p->sn == 0)
			take = 1;
		memcpy(p->sb + p->sn, data + used, take);
		p->sn += take;
		used += take;
		/* the first byte decides whether this is SOCKS at all */
		unsigned want = p->kind == PROXY_REPLY_SOCKS5_AUTH ? 1 : 5;
		if (p->sb[0] != want) {
			*used_r = used;
			return fail(p, err, p->sb[0] == 'H' ? "an HTTP answer to SOCKS5 (is this "
				    "an HTTP proxy?)" : "wrong SOCKS version byte");
		}
		if (p->kind == PROXY_REPLY_SOCKS5_CONNECT && p->sn == 5 && p->sb[3] == 3 &&
		    p->sb[4] == 0) {
			*used_r = used;
			return fail(p, err, "SOCKS5 reply with an empty domain name");
		}
	}
	*used_r = used;
	p->reply.version = p->sb[0];
	p->reply.code = p->sb[1];
	if (p->kind == PROXY_REPLY_SOCKS5_CONNECT)
		socks_bound(p);
	p->state = 1;
	return 1;
}

/* "HTTP/1.1 200 Connection established" */
static int http_status(struct proxy_parser *p, size_t len, struct err *err)
{
	const char *s = p->status;
	if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') ||
	    s[8] != ' ')
		return fail(p, err, "not an HTTP/1.x status line");
	for (int i = 9; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return fail(p, err, "HTTP status code is not three digits");
	if (len > 12 && s[12] != ' ')
		return fail(p, err, "HTTP status code is not three digits");
	p->reply.version = (unsigned)(s[7] - '0');
	p->reply.code = (unsigned)((s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0'));
	if (p->reply.code < 100)
		return fail(p, err, "HTTP status code below 100");
	if (len > 13)
		log_clean(s + 13, len - 13, p->reply.reason, sizeof(p->reply.reason));
	return 0;
}

static int http_feed(struct proxy_parser *p, const char *data, size_t len, size_t *used_r,
		     struct err *err)
{
	if (!p->status)
		p->status = xmalloc(p->lim.max_line + 2);
	for (size_t i = 0; i < len; i++) {
		char ch = data[i];
		*used_r = i + 1;
		if (++p->head > p->lim.max_head)
			return fail(p, err, "HTTP response head too long");
		if (ch == '\0')
			return fail(p, err, "NUL byte in the HTTP response head");
		if (ch != '\n') {
			/* room for max_line bytes and a CR before the LF */
			if (p->line_len >= p->lim.max_line + 1)
				return fail(p, err, "HTTP response line too long");
			if (!p->status_seen)
				p->status[p->line_len] = ch;
			if (p->line_len == 0)
				p->line_first = ch;
			p->line_len++;
			continue;
		}
		size_t n = p->line_len;
		p->line_len = 0;
		if (!p->status_seen) {
			if (n && p->status[n - 1] == '\r')
				n--;
			if (n > p->lim.max_line)
				return fail(p, err, "HTTP response line too long");
			p->status[n] = '\0';
			p->status_seen = true;
			if (http_status(p, n, err) < 0)
				return -1;
			continue;
		}
		/* an empty line (CRLF or LF) ends the head */
		if (n == 0 || (n == 1 && p->line_first == '\r')) {
			p->state = 1;
			return 1;
		}
		if (++p->lines > p->lim.max_lines)
			return fail(p, err, "too many HTTP header lines");
	}
	*used_r = len;
	return 0;
}

int proxy_parser_feed(struct proxy_parser *p, const char *data, size_t len, size_t *used_r,
		      struct err *err)
{
	*used_r = 0;
	if (p->state != 0)
		return err_set(err, ERR_FATAL, "proxy reply parser used after its end (bug)");
	if (p->kind == PROXY_REPLY_HTTP_CONNECT)
		return http_feed(p, data, len, used_r, err);
	return socks_feed(p, data, len, used_r, err);
}
