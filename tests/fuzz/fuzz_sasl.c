/*
 * libFuzzer target for what a server can send into a SASL login: the
 * first byte picks the mechanism, the rest is split at newlines into the
 * server's challenges, each handed to sasl_step in turn (as IMAP's "+"
 * lines would be). Checks besides crashes: a response is always valid
 * base64 text, and nothing is accepted after the mechanism finished
 * (except the one OAuth error challenge).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/auth/sasl.h"
#include "engine/util/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const mechs[] = {
	"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "NTLM", "XOAUTH2",
	"OAUTHBEARER",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *mech = mechs[data[0] % (sizeof(mechs) / sizeof(mechs[0]))];
	struct sasl_params p = {
		.service = "imap", .host = "imap.example.com", .port = 993,
		.username = "EXAMPLE\\alice", .secret = "correct horse",
	};
	struct sasl *s = NULL;
	struct err err;
	if (sasl_new(mech, &p, &s, &err) < 0)
		abort();
	const char *in = (const char *)data + 1, *end = (const char *)data + size;
	for (int steps = 0; steps < 8; steps++) {
		const char *nl = memchr(in, '\n', (size_t)(end - in));
		size_t len = nl ? (size_t)(nl - in) : (size_t)(end - in);
		char *out = NULL;
		bool was_done = sasl_done(s);
		if (sasl_step(s, in, len, &out, &err) < 0)
			break;
		size_t olen = strlen(out);
		unsigned char *raw = malloc(olen / 4 * 3 + 1);
		size_t rlen;
		if (base64_decode(out, olen, raw, &rlen) < 0)
			abort();
		free(raw);
		sasl_out_free(&out);
		if (was_done && !sasl_server_error(s))
			abort();  /* a challenge after the end was accepted */
		if (!nl)
			break;
		in = nl + 1;
	}
	sasl_free(&s);
	return 0;
}
