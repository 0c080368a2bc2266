/*
 * Private to engine/auth's OAuth2 files: the token endpoint's reply
 * (oauth_json.c, no I/O), HTTP form posts (oauth_http.c, libcurl), the
 * device-code polling rules (oauth_device.c) and the token store
 * (oauth_store.c).
 */
#ifndef M2T_OAUTH_INT_H
#define M2T_OAUTH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/auth/oauth.h"
#include "engine/util/buf.h"

/* A token endpoint reply is at most this big; longer ones are refused. */
#define OAUTH_MAX_REPLY (64 * 1024)
/* A token (access, refresh, device code) is at most this long. */
#define OAUTH_MAX_TOKEN (16 * 1024)

/*
 * One reply of a token or device authorization endpoint (RFC 6749 5.1 and
 * 5.2, RFC 8628 3.2). Strings are malloc'd; tokens and codes are printable
 * ASCII without spaces (they go into SASL messages and form bodies).
 */
struct oauth_reply {
	long http_status;
	/* success */
	char *access_token;
	char *refresh_token;    /* NULL: not rotated */
	int64_t expires_in;     /* seconds; 3600 when the reply has none */
	/* device authorization */
	char *device_code;
	char *user_code;
	char *verification_uri; /* RFC 8628 verification_uri, Google's verification_url */
	char *message;          /* cleaned */
	int64_t interval;       /* 0 when absent */
	/* error */
	char error[64];         /* "invalid_grant", cleaned; "" on success */
	char error_description[256];  /* cleaned and cut */
};

enum oauth_reply_kind {
	OAUTH_REPLY_TOKEN,
	OAUTH_REPLY_DEVICE,
};

/*
 * Reads a reply body (JSON) given its HTTP status. 0 with r filled: a
 * success, or an OAuth error (r->error set). -1 when the reply is neither
 * (not JSON, a success without the fields it needs, a field too long or
 * with bytes a token cannot have): ERR_SOURCE, or ERR_TRANSIENT for a 5xx.
 */
int oauth_reply_parse(enum oauth_reply_kind kind, const char *body, size_t len,
		      long http_status, struct oauth_reply *r, struct err *err);
/* Wipes and frees the strings. */
void oauth_reply_release(struct oauth_reply *r);
/* The error class of an OAuth error code: a refused grant, client or
 * scope is ERR_SOURCE; temporarily_unavailable and the like ERR_TRANSIENT. */
enum err_class oauth_error_class(const struct oauth_reply *r);

/* Form fields of a POST (application/x-www-form-urlencoded). */
struct oauth_field {
	const char *name;
	const char *value;      /* NULL: the field is left out */
};

/*
 * POSTs the fields to url through acc's proxy with acc's timeouts. The body
 * (at most OAUTH_MAX_REPLY) goes into *body, the status into *status_r.
 * Transport failures are ERR_TRANSIENT. The encoded form (secrets) is wiped.
 */
int oauth_http_post(const struct config_account *acc, const char *url,
		    const struct oauth_field *fields, size_t nfields, long *status_r,
		    struct buf *body, struct err *err);
/* connect + each wait of one request, for lock timeouts. */
uint64_t oauth_http_budget_ms(const struct config_account *acc);

/* Device-code polling (RFC 8628 3.5): what to do after a token reply. */
struct oauth_poll {
	int64_t interval_s;     /* current polling interval */
	int64_t deadline;       /* Unix time the code expires */
	unsigned polls;
};
enum oauth_poll_step {
	OAUTH_POLL_DONE,        /* tokens came: store them */
	OAUTH_POLL_AGAIN,       /* wait interval_s (maybe raised), ask again */
	OAUTH_POLL_FAILED,      /* err says why */
};
#define OAUTH_POLL_MAX 1000
enum oauth_poll_step oauth_poll_decide(struct oauth_poll *p, const struct oauth_reply *r,
				       int64_t now, struct err *err);

/* A token request with the grant's fields, read as a token reply. */
int oauth_token_request(const struct config_account *acc, const struct oauth_field *grant,
			size_t ngrant, struct oauth_reply *r, struct err *err);

#endif
