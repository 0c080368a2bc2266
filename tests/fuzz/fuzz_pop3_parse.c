/*
 * libFuzzer target for the POP3 response parser. Besides crashes and
 * sanitizer reports it checks one property: feeding the input whole and in
 * small pieces gives the same responses (a digest of each), so the state
 * kept across feeds (a "." line split between reads) is exercised. The
 * first byte picks the piece size and which responses are expected to be
 * multi-line or SASL, as a client's commands would.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/pop3_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t mix(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < len; i++)
		h = (h ^ s[i]) * 1099511628211u;
	return h;
}

static uint64_t digest(uint64_t h, const struct pop3_response *r)
{
	h = mix(h, &r->status, sizeof(r->status));
	h = mix(h, r->code.p, r->code.len);
	h = mix(h, "|", 1);
	h = mix(h, r->text.p, r->text.len);
	h = mix(h, &r->multiline, sizeof(r->multiline));
	h = mix(h, &r->truncated, sizeof(r->truncated));
	h = mix(h, &r->body_total, sizeof(r->body_total));
	if (r->multiline) {
		if (!r->body || r->body[r->body_len] != '\0')
			abort();
		if (!r->truncated && r->body_len != r->body_total)
			abort();
		h = mix(h, r->body, r->body_len);
	}
	return h;
}

static uint64_t run(const char *in, size_t len, size_t step, unsigned modes, int *nresp_r)
{
	struct pop3_parse_limits lim = {.max_line = 256, .max_body = 2048, .max_discard = 1024};
	struct pop3_parser *p = pop3_parser_new(&lim);
	uint64_t h = 14695981039346656037u;
	size_t pos = 0;
	unsigned k = 0;
	*nresp_r = 0;
	pop3_parser_expect(p, (enum pop3_expect)(modes % 3), 0);
	while (pos < len) {
		size_t n = len - pos < step ? len - pos : step;
		size_t used;
		const struct pop3_response *r;
		enum pop3_parse_result res = pop3_parser_feed(p, in + pos, n, &used, &r);
		if (used > n)
			abort();
		pos += used;
		if (res == POP3_PARSE_ERROR) {
			int e = (int)pop3_parser_error(p);
			h = mix(h, &e, sizeof(e));
			break;
		}
		if (res == POP3_PARSE_DONE) {
			h = digest(h, r);
			(*nresp_r)++;
			k++;
			pop3_parser_expect(p, (enum pop3_expect)((modes >> (k % 8)) % 3),
					   (modes & 0x80) ? 64 : 0);
		} else if (used != n) {
			abort();
		}
	}
	pop3_parser_free(&p);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t step = (size_t)(data[0] % 13) + 1;
	unsigned modes = data[1];
	const char *in = (const char *)data + 2;
	int n1, n2;
	uint64_t a = run(in, size - 2, (size_t)-1, modes, &n1);
	uint64_t b = run(in, size - 2, step, modes, &n2);
	if (a != b || n1 != n2)
		abort();
	return 0;
}
