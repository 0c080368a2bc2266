/*
 * Private to engine/auth: the session struct shared by the GNU SASL side
 * (sasl.c) and the OAuth mechanisms (sasl_oauth.c).
 */
#ifndef M2T_SASL_INT_H
#define M2T_SASL_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/auth/sasl.h"

enum sasl_kind {
	SASL_KIND_GSASL,
	SASL_KIND_XOAUTH2,
	SASL_KIND_OAUTHBEARER,
};

struct sasl {
	enum sasl_kind kind;
	char mech[32];
	void *gctx;             /* Gsasl *, one per session: handles are not shared */
	void *gsess;            /* Gsasl_session * */
	char *user;
	char *secret;
	char *host;
	unsigned port;
	unsigned steps;
	bool done;
	char server_error[256]; /* cleaned; "" when none */
};

/* sasl_oauth.c: one step of XOAUTH2 / OAUTHBEARER. */
int sasl_oauth_step(struct sasl *s, const char *in, size_t inlen, char **out_r,
		    struct err *err);

/* Copies a response into a fresh malloc'd string (wiped on free). */
char *sasl_out_dup(const char *b64, size_t len);

#endif
