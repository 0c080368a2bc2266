/*
 * libFuzzer target for the OAuth2 token and device endpoint reply reader.
 * The first byte picks the reply kind and the HTTP status; a parsed
 * success must hold tokens of printable ASCII without spaces.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/auth/oauth_int.h"
#include "engine/util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void token_ok(const char *t)
{
	for (; t && *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 400, 401, 500};
	if (size < 1)
		return 0;
	enum oauth_reply_kind kind = data[0] & 1 ? OAUTH_REPLY_DEVICE : OAUTH_REPLY_TOKEN;
	struct oauth_reply r;
	struct err err = {0};
	if (oauth_reply_parse(kind, (const char *)data + 1, size - 1, statuses[(data[0] >> 1) & 3],
			      &r, &err) == 0) {
		token_ok(r.access_token);
		token_ok(r.refresh_token);
		token_ok(r.device_code);
		token_ok(r.user_code);
		oauth_reply_release(&r);
	}
	/* the parser registers tokens as log secrets: keep that table small */
	log_clear_secrets();
	return 0;
}
