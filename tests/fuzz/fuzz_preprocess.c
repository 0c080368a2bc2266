/*
 * libFuzzer target over the message model and the default preprocessing
 * pipeline. The first byte picks mail or plain text; the result must be
 * valid, NUL-free UTF-8 of the stated length (for mail: the model promises
 * valid UTF-8), no longer than the text it came from, and every removal
 * must lie inside that text. A rule error must be ERR_MESSAGE.
 *   make build/fuzz/fuzz_preprocess && build/fuzz/fuzz_preprocess -max_total_time=60 DIR
 * (seeds: the golden mails of the packs, with a first byte 0 for mail, 1 for text)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/mime/message.h"
#include "engine/mime/mime_internal.h"
#include "rules/preprocess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct preprocess *pp;

static void check_result(const struct preprocess_result *res, bool utf8)
{
	if (!res->text || strlen(res->text) != res->len || res->len > res->base_len)
		abort();
	if (utf8 && !mime_utf8_valid(res->text, res->len))
		abort();
	for (size_t i = 0; i < res->nremoved; i++) {
		const struct preprocess_removal *x = &res->removed[i];
		if (x->start >= x->end || x->end > res->base_len || x->len > x->end - x->start ||
		    !x->stage || !x->rule || !x->file || !x->line)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!pp) {
		struct err err;
		mime_global_init();
		if (preprocess_default(&pp, &err) < 0)
			abort();
	}
	if (size < 1)
		return 0;
	bool text = data[0] & 1;
	struct mime_options mopt = {.limits = {
		.max_size = 1 << 20,
		.max_parts = 40,
		.max_depth = 6,
		.max_header_bytes = 16 * 1024,
		.max_text_bytes = 64 * 1024,
	}};
	struct arena *a = arena_new();
	struct message *m = NULL;
	struct preprocess_result res;
	struct err err;
	const char *p = (const char *)data + 1;
	if (text)
		m = preprocess_text_message(a, p, size - 1);
	else if (mime_parse(p, size - 1, &mopt, a, &m, &err) < 0)
		m = NULL;
	if (m) {
		if (preprocess_run(pp, m, a, &res, &err) == 0)
			check_result(&res, !text);
		else if (err.cls != ERR_MESSAGE)
			abort();
	}
	arena_free(&a);
	return 0;
}
