/*
 * libFuzzer target for the proxy reply parsers (SOCKS5 method, auth and
 * CONNECT replies, the HTTP CONNECT head). Besides crashes and sanitizer
 * reports it checks that feeding the input whole and in small pieces gives
 * the same result, the same number of bytes taken and the same reply. The
 * first byte picks the reply kind and the piece size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net/proxy_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	int rc;
	size_t used;
	struct proxy_reply reply;
};

static void run(enum proxy_reply_kind kind, const char *s, size_t len, size_t step,
		struct outcome *o)
{
	struct proxy_parse_limits lim = {.max_line = 512, .max_head = 4096, .max_lines = 16};
	struct proxy_parser *p = proxy_parser_new(kind, &lim);
	struct err err = {0};
	size_t off = 0;
	memset(o, 0, sizeof(*o));
	while (off < len) {
		size_t n = len - off < step ? len - off : step, used = 0;
		o->rc = proxy_parser_feed(p, s + off, n, &used, &err);
		if (used > n)
			abort();
		off += used;
		if (o->rc != 0)
			break;
		if (used != n)
			abort();   /* "more" must take everything */
	}
	o->used = off;
	if (o->rc == 1)
		o->reply = *proxy_parser_reply(p);
	proxy_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum proxy_reply_kind kind = (enum proxy_reply_kind)(data[0] & 3);
	size_t step = (size_t)(data[0] >> 2) + 1;
	const char *s = (const char *)data + 1;
	size_t len = size - 1;
	struct outcome whole, pieces;
	run(kind, s, len, len ? len : 1, &whole);
	run(kind, s, len, step, &pieces);
	if (whole.rc != pieces.rc || whole.used != pieces.used)
		abort();
	if (whole.rc == 1 && memcmp(&whole.reply, &pieces.reply, sizeof(whole.reply)) != 0)
		abort();
	return 0;
}
