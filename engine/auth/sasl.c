/*
 * SECURITY: the server's challenges are untrusted: each is length-checked
 * before GNU SASL sees it, and a challenge after the mechanism finished is
 * refused. Secrets are handed to GNU SASL as properties and wiped (ours
 * and its output copies) when the session ends.
 *
 * The mechanism-independent exchange: a GNU SASL client session per login
 * (a Gsasl handle is not meant to be shared between threads, and creating
 * one costs microseconds), base64 in and out.
 */
#include "engine/auth/sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsasl.h>

#include "engine/auth/sasl_int.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"

/* Strongest first: what `auth: auto` prefers. */
static const char *const auto_order[] = {
	"SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN", "LOGIN", NULL,
};

static const struct {
	const char *name;
	enum sasl_kind kind;
	bool plaintext;         /* the secret itself goes over the wire */
	bool client_first;
} mechs[] = {
	{"PLAIN", SASL_KIND_GSASL, true, true},
	{"LOGIN", SASL_KIND_GSASL, true, false},
	{"CRAM-MD5", SASL_KIND_GSASL, false, false},
	{"SCRAM-SHA-1", SASL_KIND_GSASL, false, true},
	{"SCRAM-SHA-256", SASL_KIND_GSASL, false, true},
	/* client-first in theory; servers differ on an initial response, so
	 * NTLM always waits for the server's empty challenge */
	{"NTLM", SASL_KIND_GSASL, false, false},
	{"XOAUTH2", SASL_KIND_XOAUTH2, true, true},
	{"OAUTHBEARER", SASL_KIND_OAUTHBEARER, true, true},
};
#define NMECHS (sizeof(mechs) / sizeof(mechs[0]))

static int mech_index(const char *mech)
{
	for (size_t i = 0; i < NMECHS; i++)
		if (str_ieq(mechs[i].name, mech))
			return (int)i;
	return -1;
}

bool sasl_mech_supported(const char *mech)
{
	return mech_index(mech) >= 0;
}

bool sasl_mech_is_plaintext(const char *mech)
{
	int i = mech_index(mech);
	return i < 0 || mechs[i].plaintext;  /* unknown: assume the worst */
}

bool sasl_mech_client_first(const char *mech)
{
	int i = mech_index(mech);
	return i >= 0 && mechs[i].client_first;
}

const char *sasl_pick(const char *const *offered, size_t n, bool plaintext_ok)
{
	for (size_t k = 0; auto_order[k]; k++) {
		if (!plaintext_ok && sasl_mech_is_plaintext(auto_order[k]))
			continue;
		for (size_t i = 0; i < n; i++)
			if (str_ieq(offered[i], auto_order[k]))
				return auto_order[k];
	}
	return NULL;
}

const char *sasl_pick_bearer(const char *const *offered, size_t n)
{
	/* the standard (RFC 7628) before the vendor mechanism it replaced */
	static const char *const order[] = {"OAUTHBEARER", "XOAUTH2", NULL};
	for (size_t k = 0; order[k]; k++)
		for (size_t i = 0; i < n; i++)
			if (str_ieq(offered[i], order[k]))
				return order[k];
	return NULL;
}

static void secret_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

char *sasl_out_dup(const char *b64, size_t len)
{
	return xmemdup0(b64 ? b64 : "", b64 ? len : 0);
}

void sasl_out_free(char **out)
{
	secret_free(*out);
	*out = NULL;
}

/* NTLM takes the Windows domain apart from the user: "DOMAIN\user". */
static int gsasl_props(struct sasl *s, const struct sasl_params *p, struct err *err)
{
	Gsasl_session *g = s->gsess;
	const char *user = p->username ? p->username : "";
	const char *bs = strchr(user, '\\');
	int rc = GSASL_OK;
	if (str_ieq(s->mech, "NTLM") && bs) {
		char *domain = xstrndup(user, (size_t)(bs - user));
		rc = gsasl_property_set(g, GSASL_REALM, domain);
		free(domain);
		user = bs + 1;
	}
	if (rc == GSASL_OK)
		rc = gsasl_property_set(g, GSASL_AUTHID, user);
	if (rc == GSASL_OK)
		rc = gsasl_property_set(g, GSASL_PASSWORD, p->secret ? p->secret : "");
	if (rc == GSASL_OK && p->service)
		rc = gsasl_property_set(g, GSASL_SERVICE, p->service);
	if (rc == GSASL_OK && p->host)
		rc = gsasl_property_set(g, GSASL_HOSTNAME, p->host);
	if (rc != GSASL_OK)
		return err_set(err, ERR_FATAL, "SASL %s: %s", s->mech, gsasl_strerror(rc));
	return 0;
}

int sasl_new(const char *mech, const struct sasl_params *p, struct sasl **s_r,
	     struct err *err)
{
	*s_r = NULL;
	int i = mech_index(mech);
	if (i < 0)
		return err_set(err, ERR_FATAL, "SASL mechanism \"%s\" is not supported", mech);
	struct sasl *s = xcalloc(1, sizeof(*s));
	s->kind = mechs[i].kind;
	snprintf(s->mech, sizeof(s->mech), "%s", mechs[i].name);
	s->user = xstrdup(p->username ? p->username : "");
	s->secret = xstrdup(p->secret ? p->secret : "");
	s->host = xstrdup(p->host ? p->host : "");
	s->port = p->port;
	if (s->kind == SASL_KIND_GSASL) {
		Gsasl *ctx = NULL;
		Gsasl_session *sess = NULL;
		int rc = gsasl_init(&ctx);
		if (rc != GSASL_OK) {
			err_set(err, ERR_FATAL, "GNU SASL: %s", gsasl_strerror(rc));
			goto fail;
		}
		s->gctx = ctx;
		rc = gsasl_client_start(ctx, s->mech, &sess);
		if (rc != GSASL_OK) {
			err_set(err, ERR_FATAL, "SASL %s: %s", s->mech, gsasl_strerror(rc));
			goto fail;
		}
		s->gsess = sess;
		if (gsasl_props(s, p, err) < 0)
			goto fail;
	}
	*s_r = s;
	return 0;
fail:
	sasl_free(&s);
	return -1;
}

void sasl_free(struct sasl **sp)
{
	struct sasl *s = *sp;
	if (!s)
		return;
	if (s->gsess)
		gsasl_finish(s->gsess);  /* frees (and wipes) its properties */
	if (s->gctx)
		gsasl_done(s->gctx);
	secret_free(s->user);
	secret_free(s->secret);
	free(s->host);
	free(s);
	*sp = NULL;
}

static int gsasl_do_step(struct sasl *s, const char *in, size_t inlen, char **out_r,
			 struct err *err)
{
	char *input = xmemdup0(in ? in : "", in ? inlen : 0);
	char *out = NULL;
	int rc = gsasl_step64(s->gsess, input, &out);
	free(input);
	if (rc == GSASL_OK || rc == GSASL_NEEDS_MORE) {
		*out_r = sasl_out_dup(out, out ? strlen(out) : 0);
		if (out) {
			explicit_bzero(out, strlen(out));
			gsasl_free(out);
		}
		if (rc == GSASL_OK)
			s->done = true;
		return 0;
	}
	if (out)
		gsasl_free(out);
	if (rc == GSASL_BASE64_ERROR)
		return err_set(err, ERR_SOURCE, "SASL %s: the server's challenge is not base64",
			       s->mech);
	if (rc == GSASL_AUTHENTICATION_ERROR)
		return err_set(err, ERR_SOURCE, "SASL %s: the server could not prove it knows "
			       "the password (its signature does not match): a wrong server, "
			       "or someone in between", s->mech);
	return err_set(err, ERR_SOURCE, "SASL %s: %s", s->mech, gsasl_strerror(rc));
}

int sasl_step(struct sasl *s, const char *in, size_t inlen, char **out_r, struct err *err)
{
	*out_r = NULL;
	if (in && inlen > SASL_MAX_CHALLENGE)
		return err_set(err, ERR_SOURCE, "SASL %s: challenge of %zu bytes is over the "
			       "limit of %d", s->mech, inlen, SASL_MAX_CHALLENGE);
	s->steps++;
	if (s->kind != SASL_KIND_GSASL)
		return sasl_oauth_step(s, in, inlen, out_r, err);
	if (s->done)
		return err_set(err, ERR_SOURCE, "SASL %s: the server sent a challenge after the "
			       "exchange had finished", s->mech);
	return gsasl_do_step(s, in, inlen, out_r, err);
}

bool sasl_done(const struct sasl *s)
{
	return s->done;
}

const char *sasl_server_error(const struct sasl *s)
{
	return s->server_error[0] ? s->server_error : NULL;
}

const char *sasl_mech(const struct sasl *s)
{
	return s->mech;
}
