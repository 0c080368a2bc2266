/*
 * libFuzzer target for modified UTF-7 mailbox names. Properties: whatever
 * decodes re-encodes to the same bytes (one spelling per name), and
 * whatever is valid UTF-8 encodes, then decodes back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/imap_mutf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct buf a, b;
	struct err err = {0};
	buf_init(&a, 64 * 1024);
	buf_init(&b, 64 * 1024);
	if (imap_mutf7_decode(s, size, &a, &err) == 0) {
		if (imap_mutf7_encode(a.data ? a.data : "", a.len, &b, &err) != 0 ||
		    b.len != size || memcmp(b.data ? b.data : "", s, size) != 0)
			abort();
	}
	buf_reset(&a);
	buf_reset(&b);
	if (imap_utf8_valid(s, size) && size <= IMAP_MAILBOX_MAX / 3) {
		if (imap_mutf7_encode(s, size, &a, &err) != 0)
			abort();
		if (imap_mutf7_decode(a.data ? a.data : "", a.len, &b, &err) != 0 ||
		    b.len != size || memcmp(b.data ? b.data : "", s, size) != 0)
			abort();
	}
	buf_release(&a);
	buf_release(&b);
	return 0;
}
