/*
 * libFuzzer target for the winmail.dat unpacker: the checks in front of
 * libytnef and the extraction after it. Every name and text must be valid,
 * NUL-free UTF-8; the file count must respect the cap.
 *   make build/fuzz/fuzz_tnef && build/fuzz/fuzz_tnef -max_total_time=60
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
	/* the signature is fixed: start most inputs with it so records get parsed */
	uint8_t *buf = malloc(size + 6);
	size_t n = size;
	if (size > 0 && data[0] & 1) {
		memcpy(buf, "\x78\x9f\x3e\x22\x01\x00", 6);
		memcpy(buf + 6, data + 1, size - 1);
		n = size + 5;
	} else if (size) {
		memcpy(buf, data, size);
	}
	struct arena *a = arena_new();
	struct tnef_result r;
	int rc = mime_tnef_unpack(a, buf, n, 8, 4096, &r);
	if (rc == 0) {
		if (r.nfiles > 8)
			abort();
		for (size_t i = 0; i < r.nfiles; i++) {
			text_check(r.files[i].filename, strlen(r.files[i].filename));
			text_check(r.files[i].content_type, strlen(r.files[i].content_type));
			if (r.files[i].content_id)
				text_check(r.files[i].content_id, strlen(r.files[i].content_id));
		}
		if (r.text)
			text_check(r.text, r.text_len);
		if (r.html)
			text_check(r.html, r.html_len);
	} else if (rc != -1 && rc != -2) {
		abort();
	}
	arena_free(&a);
	free(buf);
	return 0;
}
