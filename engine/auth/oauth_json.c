/*
 * SECURITY: a token endpoint's reply is untrusted input (the endpoint, or
 * whatever answers in its place). The body is at most OAUTH_MAX_REPLY
 * bytes; jansson parses it (duplicate keys refused, its nesting depth is
 * capped at 2048); only known fields of the top-level object are read.
 * Tokens and codes must be printable ASCII without spaces and at most
 * OAUTH_MAX_TOKEN bytes: a CR or LF in one could inject lines into the
 * SASL exchange or the next request. Error codes and descriptions are
 * cleaned and cut before they reach a message. Nothing here does I/O.
 *
 * Reads token and device authorization replies (RFC 6749 5.1/5.2, RFC
 * 8628 3.2) with jansson: the project writes its own JSON, but reading it
 * from a server needs a real parser (escapes, numbers, nesting) that we
 * would not write by hand.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/auth/oauth_int.h"
#include "engine/util/log.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"

/* Ten years: longer "lifetimes" are nonsense and are refused. */
#define MAX_EXPIRES_IN (10LL * 366 * 24 * 3600)

static void wipe_free(char **s)
{
	if (!*s)
		return;
	explicit_bzero(*s, strlen(*s));
	free(*s);
	*s = NULL;
}

void oauth_reply_release(struct oauth_reply *r)
{
	wipe_free(&r->access_token);
	wipe_free(&r->refresh_token);
	wipe_free(&r->device_code);
	wipe_free(&r->user_code);
	free(r->verification_uri);
	free(r->message);
	memset(r, 0, sizeof(*r));
}

static bool token_chars_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* A token-like string field: absent (NULL, 0), or valid (1), or bad (-1). */
static int token_field(json_t *obj, const char *key, char **out, struct err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return err_set(err, ERR_SOURCE, "token endpoint reply: \"%s\" is not a string", key);
	size_t len = json_string_length(v);
	const char *s = json_string_value(v);
	if (len == 0 || len > OAUTH_MAX_TOKEN || !token_chars_ok(s, len))
		return err_set(err, ERR_SOURCE, "token endpoint reply: \"%s\" is empty, too long "
			       "or holds characters a token cannot have", key);
	*out = xmemdup0(s, len);
	/* registered before anything could log it */
	log_add_secret(*out);
	return 1;
}

/* A text field, cleaned and cut into out; "" when absent. */
static void text_field(json_t *obj, const char *key, char *out, size_t outlen)
{
	json_t *v = json_object_get(obj, key);
	out[0] = '\0';
	if (json_is_string(v))
		log_clean(json_string_value(v), json_string_length(v), out, outlen);
}

/* A number of seconds: a JSON integer, or a string of digits (some
 * endpoints quote it). -1 when bad, 0 when absent. */
static int seconds_field(json_t *obj, const char *key, int64_t *out, struct err *err)
{
	json_t *v = json_object_get(obj, key);
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	uint64_t n;
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) <= MAX_EXPIRES_IN) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && str_parse_u64(json_string_value(v), json_string_length(v),
					       MAX_EXPIRES_IN, &n) == 0 && n > 0) {
		*out = (int64_t)n;
		return 0;
	}
	return err_set(err, ERR_SOURCE, "token endpoint reply: \"%s\" is not a number of seconds",
		       key);
}

static int parse_object(enum oauth_reply_kind kind, json_t *obj, struct oauth_reply *r,
			struct err *err)
{
	text_field(obj, "error", r->error, sizeof(r->error));
	text_field(obj, "error_description", r->error_description,
		   sizeof(r->error_description));
	if (r->error[0])
		return 0;
	if (r->http_status < 200 || r->http_status > 299)
		return err_set(err, r->http_status >= 500 ? ERR_TRANSIENT : ERR_SOURCE,
			       "token endpoint answered HTTP %ld without an OAuth error",
			       r->http_status);
	if (kind == OAUTH_REPLY_DEVICE) {
		if (token_field(obj, "device_code", &r->device_code, err) < 0 ||
		    token_field(obj, "user_code", &r->user_code, err) < 0)
			return -1;
		json_t *u = json_object_get(obj, "verification_uri");
		if (!u)
			u = json_object_get(obj, "verification_url");  /* Google's name */
		if (json_is_string(u) && json_string_length(u) < 512 &&
		    token_chars_ok(json_string_value(u), json_string_length(u)))
			r->verification_uri = xstrdup(json_string_value(u));
		char msg[512];
		text_field(obj, "message", msg, sizeof(msg));
		r->message = xstrdup(msg);
		if (!r->device_code || !r->user_code || !r->verification_uri)
			return err_set(err, ERR_SOURCE, "device authorization reply without "
				       "device_code, user_code or verification_uri");
		if (seconds_field(obj, "expires_in", &r->expires_in, err) < 0 ||
		    seconds_field(obj, "interval", &r->interval, err) < 0)
			return -1;
		return 0;
	}
	if (token_field(obj, "access_token", &r->access_token, err) < 0 ||
	    token_field(obj, "refresh_token", &r->refresh_token, err) < 0)
		return -1;
	if (!r->access_token)
		return err_set(err, ERR_SOURCE, "token endpoint reply without access_token");
	json_t *type = json_object_get(obj, "token_type");
	if (type && (!json_is_string(type) || strcasecmp(json_string_value(type), "Bearer") != 0))
		return err_set(err, ERR_SOURCE, "token endpoint reply: token_type is not Bearer");
	if (seconds_field(obj, "expires_in", &r->expires_in, err) < 0)
		return -1;
	if (!r->expires_in)
		r->expires_in = 3600;  /* RFC 6749 only recommends it; an hour is the norm */
	return 0;
}

int oauth_reply_parse(enum oauth_reply_kind kind, const char *body, size_t len,
		      long http_status, struct oauth_reply *r, struct err *err)
{
	memset(r, 0, sizeof(*r));
	r->http_status = http_status;
	if (len > OAUTH_MAX_REPLY)
		return err_set(err, ERR_SOURCE, "token endpoint reply larger than %d bytes",
			       OAUTH_MAX_REPLY);
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		/* an HTML page from a proxy is worth quoting; broken JSON is not (it
		 * may start with a token) */
		char clean[80] = "";
		if (len && body[0] != '{')
			log_clean(body, len < 60 ? len : 60, clean, sizeof(clean));
		return err_set(err, http_status >= 500 ? ERR_TRANSIENT : ERR_SOURCE,
			       "token endpoint answered HTTP %ld with no JSON object%s%s%s",
			       http_status, clean[0] ? " (\"" : "", clean, clean[0] ? "\")" : "");
	}
	int rc = parse_object(kind, root, r, err);
	json_decref(root);
	if (rc < 0)
		oauth_reply_release(r);
	return rc;
}

enum err_class oauth_error_class(const struct oauth_reply *r)
{
	static const char *const transient[] = {
		"temporarily_unavailable", "server_error", "slow_down", "authorization_pending",
		NULL,
	};
	for (const char *const *t = transient; *t; t++)
		if (strcmp(r->error, *t) == 0)
			return ERR_TRANSIENT;
	return r->http_status >= 500 ? ERR_TRANSIENT : ERR_SOURCE;
}
