/*
 * SECURITY: the bearer token is a secret like a password: it is built into
 * one wiped buffer, never logged. The server's error challenge is
 * untrusted JSON: it is only decoded (bounded by SASL_MAX_CHALLENGE) and
 * cleaned for the error message, never parsed into structures.
 *
 * XOAUTH2 (Google's and Microsoft's format) and OAUTHBEARER (RFC 7628).
 * Both send the token in the first message. On failure the server sends
 * one challenge with a JSON error; the client answers it with an empty
 * response (XOAUTH2) or a single 0x01 (RFC 7628 3.2.3), and the server then
 * refuses the command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/auth/sasl_int.h"
#include "engine/util/base64.h"
#include "engine/util/buf.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

static char *encode_wipe(struct buf *b)
{
	char *out = xmalloc(base64_encoded_size(b->len));
	base64_encode(b->data, b->len, out);
	explicit_bzero(b->data, b->cap);
	buf_release(b);
	return out;
}

static int initial_response(struct sasl *s, char **out_r, struct err *err)
{
	struct buf b;
	/* user, token and host are each at most 64 KB (config limits) */
	buf_init(&b, 256 * 1024);
	if (s->kind == SASL_KIND_XOAUTH2) {
		buf_addf(&b, "user=%s\001auth=Bearer %s\001\001", s->user, s->secret);
	} else {
		/* gs2 header: no channel binding; the authzid is the user, with
		 * ',' and '=' escaped (RFC 5801 5.1) */
		buf_adds(&b, "n,a=");
		for (const char *p = s->user; *p; p++) {
			if (*p == ',')
				buf_adds(&b, "=2C");
			else if (*p == '=')
				buf_adds(&b, "=3D");
			else
				buf_addc(&b, *p);
		}
		buf_addf(&b, ",\001host=%s\001port=%u\001auth=Bearer %s\001\001", s->host, s->port,
			 s->secret);
	}
	if (b.failed) {
		explicit_bzero(b.data, b.cap);
		buf_release(&b);
		return err_set(err, ERR_FATAL, "SASL %s: user name or token too long", s->mech);
	}
	*out_r = encode_wipe(&b);
	s->done = true;
	return 0;
}

int sasl_oauth_step(struct sasl *s, const char *in, size_t inlen, char **out_r,
		    struct err *err)
{
	if (s->steps == 1) {
		if (in && inlen)
			return err_set(err, ERR_SOURCE, "SASL %s: the server sent a challenge "
				       "before the client's first message", s->mech);
		return initial_response(s, out_r, err);
	}
	if (s->steps > 2)
		return err_set(err, ERR_SOURCE, "SASL %s: more than one error challenge",
			       s->mech);
	/* the server refused the token and says why (a JSON object) */
	unsigned char *json = xmalloc(inlen / 4 * 3 + 1);
	size_t jlen = 0;
	if (base64_decode(in ? in : "", in ? inlen : 0, json, &jlen) < 0) {
		free(json);
		return err_set(err, ERR_SOURCE, "SASL %s: the server's challenge is not base64",
			       s->mech);
	}
	log_clean((const char *)json, jlen, s->server_error, sizeof(s->server_error));
	if (!s->server_error[0])
		snprintf(s->server_error, sizeof(s->server_error), "(no details)");
	free(json);
	*out_r = xstrdup(s->kind == SASL_KIND_XOAUTH2 ? "" : "AQ==");
	return 0;
}
