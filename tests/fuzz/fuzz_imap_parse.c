/*
 * libFuzzer target for the IMAP response parser. Besides crashes and
 * sanitizer reports it checks one property: feeding the input whole and in
 * small pieces gives the same responses (a digest of each), so state kept
 * across feeds is exercised.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t mix(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < len; i++)
		h = (h ^ s[i]) * 1099511628211u;
	return h;
}

static uint64_t digest_args(uint64_t h, const struct imap_arg *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h = mix(h, &a[i].type, sizeof(a[i].type));
		if (a[i].type == IMAP_ARG_LIST) {
			h = mix(h, "(", 1);
			h = digest_args(h, a[i].list, a[i].count);
			h = mix(h, ")", 1);
		} else {
			if (a[i].str[a[i].len] != '\0')
				abort();
			h = mix(h, a[i].str, a[i].len);
		}
	}
	return h;
}

static uint64_t digest(uint64_t h, const struct imap_response *r)
{
	h = mix(h, &r->kind, sizeof(r->kind));
	h = mix(h, &r->status, sizeof(r->status));
	h = mix(h, r->tag.p, r->tag.len);
	h = mix(h, r->name.p, r->name.len);
	h = mix(h, r->code.p, r->code.len);
	h = mix(h, r->code_args.p, r->code_args.len);
	h = mix(h, r->text.p, r->text.len);
	if (r->has_number)
		h = mix(h, &r->number, sizeof(r->number));
	return digest_args(h, r->args, r->nargs);
}

static uint64_t run(const char *in, size_t len, size_t step, int *nresp_r)
{
	struct imap_parse_limits lim = {
		.max_line = 1024, .max_literal = 4096, .max_skip = 16384, .max_depth = 8,
		.max_elements = 256,
	};
	struct imap_parser *p = imap_parser_new(&lim);
	uint64_t h = 14695981039346656037u;
	size_t pos = 0;
	*nresp_r = 0;
	while (pos < len) {
		size_t n = len - pos < step ? len - pos : step;
		size_t used;
		const struct imap_response *r;
		enum imap_parse_result res = imap_parser_feed(p, in + pos, n, &used, &r);
		if (used > n)
			abort();
		pos += used;
		if (res == IMAP_PARSE_ERROR) {
			int e = (int)imap_parser_error(p);
			h = mix(h, &e, sizeof(e));
			break;
		}
		if (res == IMAP_PARSE_DONE) {
			h = digest(h, r);
			(*nresp_r)++;
		} else if (used != n) {
			abort();
		}
	}
	imap_parser_free(&p);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)(data[0] % 13) + 1;
	const char *in = (const char *)data + 1;
	int n1, n2;
	uint64_t a = run(in, size - 1, (size_t)-1, &n1);
	uint64_t b = run(in, size - 1, step, &n2);
	if (a != b || n1 != n2)
		abort();
	return 0;
}
