/*
 * libFuzzer target for mime_parse() with small limits, so that limit paths
 * are reached often. Every result must be valid, NUL-free UTF-8 of the
 * stated length; anything else aborts the run.
 *   make build/fuzz/fuzz_mime && build/fuzz/fuzz_mime -max_total_time=60 tests/mail
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/mime/message.h"
#include "engine/mime/mime_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void text_check(const char *s, size_t len)
{
	if (!s || strlen(s) != len || !mime_utf8_valid(s, len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		mime_global_init();
		ready = 1;
	}
	struct mime_options opt;
	mime_options_default(&opt);
	opt.limits = (struct mime_limits){
		.max_size = 1 << 20,
		.max_parts = 40,
		.max_depth = 6,
		.max_header_bytes = 16 * 1024,
		.max_text_bytes = 32 * 1024,
	};
	/* a fallback charset on odd inputs, so both header decodings are reached */
	opt.charset_fallback = size % 2 ? "koi8-r" : NULL;
	opt.attach_html = size % 3 == 0;
	struct arena *a = arena_new();
	struct message *m = NULL;
	struct err err;
	if (mime_parse((const char *)data, size, &opt, a, &m, &err) == 0) {
		text_check(m->text, m->text_len);
		if (m->text_len > opt.limits.max_text_bytes)
			abort();
		if (m->html)
			text_check(m->html, m->html_len);
		text_check(m->subject, strlen(m->subject));
		for (size_t i = 0; i < m->nheaders; i++)
			text_check(m->headers[i].value, strlen(m->headers[i].value));
		for (size_t i = 0; i < m->nattachments; i++)
			text_check(m->attachments[i].filename, strlen(m->attachments[i].filename));
		for (size_t i = 0; i < m->nattached; i++) {
			text_check(m->attached[i].text, m->attached[i].text_len);
			text_check(m->attached[i].subject, strlen(m->attached[i].subject));
			if (m->attached[i].attachment >= m->nattachments)
				abort();
		}
		if (m->dsn_recipient)
			text_check(m->dsn_recipient, strlen(m->dsn_recipient));
		if (m->dsn_original_message_id)
			text_check(m->dsn_original_message_id, strlen(m->dsn_original_message_id));
		(void)message_header(m, "Subject");
	} else if (err.cls != ERR_MESSAGE) {
		abort();
	}
	arena_free(&a);
	return 0;
}
