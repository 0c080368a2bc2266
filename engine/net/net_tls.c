/*
 * SECURITY: TLS contexts decide what the client accepts. Defaults are
 * strict: SSL_VERIFY_PEER, TLS 1.2 minimum, OpenSSL's default security
 * level. Only an admin's explicit min_version 1.0/1.1 lowers the level
 * (for that context alone, logged), because OpenSSL 3 otherwise refuses
 * those versions whatever the version range says.
 *
 * One SSL_CTX per distinct settings, shared: loading a CA bundle costs
 * milliseconds and memory per context, and many accounts use the same
 * settings. The registry is a short list under one mutex (there are as
 * many entries as distinct account settings); the SSL_CTX itself is
 * thread-safe once built. The last reference frees it, so a changed CA file
 * is read again by the next connection after all old ones closed.
 */
#include "engine/net/net.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "engine/net/net_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct net_tls *registry;

static const char *ossl_reason(char *out, size_t outlen)
{
	unsigned long e = ERR_peek_last_error();
	if (!e)
		return "unknown error";
	ERR_error_string_n(e, out, outlen);
	return out;
}

static int tls_version(int v, int *ossl_r)
{
	switch (v) {
	case 10: *ossl_r = TLS1_VERSION; return 0;
	case 11: *ossl_r = TLS1_1_VERSION; return 0;
	case 12: *ossl_r = TLS1_2_VERSION; return 0;
	case 13: *ossl_r = TLS1_3_VERSION; return 0;
	}
	return -1;
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_settings(const struct net_tls *t, const struct tls_settings *ts)
{
	return t->verify == ts->verify && t->min_version == ts->min_version &&
	       t->max_version == ts->max_version && str_same(t->ca_file, ts->ca_file) &&
	       str_same(t->ca_path, ts->ca_path) && str_same(t->server_name, ts->server_name) &&
	       str_same(t->ciphers, ts->ciphers) && str_same(t->ciphersuites, ts->ciphersuites) &&
	       t->npins == ts->npins && memcmp(t->pins, ts->pins, sizeof(t->pins)) == 0;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void tls_destroy(struct net_tls *t)
{
	SSL_CTX_free(t->ctx);
	free(t->ca_file);
	free(t->ca_path);
	free(t->server_name);
	free(t->ciphers);
	free(t->ciphersuites);
	free(t);
}

static int ctx_versions(SSL_CTX *ctx, const struct tls_settings *ts, struct err *err)
{
	char why[256];
	int minv = TLS1_2_VERSION, maxv = 0;
	if (ts->min_version && tls_version(ts->min_version, &minv) < 0)
		return err_set(err, ERR_FATAL, "tls min_version %d: use 10, 11, 12 or 13",
			       ts->min_version);
	if (ts->max_version && tls_version(ts->max_version, &maxv) < 0)
		return err_set(err, ERR_FATAL, "tls max_version %d: use 10, 11, 12 or 13",
			       ts->max_version);
	if (maxv && maxv < minv)
		return err_set(err, ERR_FATAL, "tls max_version is below min_version");
	if (!SSL_CTX_set_min_proto_version(ctx, minv) ||
	    !SSL_CTX_set_max_proto_version(ctx, maxv))
		return err_set(err, ERR_FATAL, "tls versions: %s", ossl_reason(why, sizeof(why)));
	if (minv < TLS1_2_VERSION) {
		/* level 1 and up refuse TLS < 1.2 and SHA-1 signatures (OpenSSL 3) */
		SSL_CTX_set_security_level(ctx, 0);
		log_warn("net.tls_legacy", "min_version=1.%d msg=\"TLS 1.0/1.1 allowed: OpenSSL "
			 "security level lowered to 0 for this account's connections\"",
			 ts->min_version - 10);
	}
	return 0;
}

static int ctx_ciphers(SSL_CTX *ctx, const struct tls_settings *ts, struct err *err)
{
	char clean[200];
	if (ts->ciphers && !SSL_CTX_set_cipher_list(ctx, ts->ciphers))
		return err_set(err, ERR_FATAL, "tls ciphers \"%s\": OpenSSL knows no cipher "
			       "in this list", log_clean(ts->ciphers, strlen(ts->ciphers), clean,
							 sizeof(clean)));
	if (ts->ciphersuites && !SSL_CTX_set_ciphersuites(ctx, ts->ciphersuites))
		return err_set(err, ERR_FATAL, "tls ciphersuites \"%s\": not a list of TLS 1.3 "
			       "suites such as TLS_AES_256_GCM_SHA384",
			       log_clean(ts->ciphersuites, strlen(ts->ciphersuites), clean,
					 sizeof(clean)));
	return 0;
}

static int ctx_build(const struct tls_settings *ts, SSL_CTX **ctx_r, struct err *err)
{
	char why[256];
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return err_set(err, ERR_FATAL, "SSL_CTX_new: %s", ossl_reason(why, sizeof(why)));
	if (ctx_versions(ctx, ts, err) < 0 || ctx_ciphers(ctx, ts, err) < 0)
		goto fail;
	if (ts->ca_file || ts->ca_path) {
		if (!SSL_CTX_load_verify_locations(ctx, ts->ca_file, ts->ca_path)) {
			err_set(err, ERR_FATAL, "cannot load CA \"%s\": %s",
				ts->ca_file ? ts->ca_file : ts->ca_path,
				ossl_reason(why, sizeof(why)));
			goto fail;
		}
	} else if (!SSL_CTX_set_default_verify_paths(ctx)) {
		err_set(err, ERR_FATAL, "cannot load the system CA certificates: %s",
			ossl_reason(why, sizeof(why)));
		goto fail;
	}
	/*
	 * verify:false still lets OpenSSL check the chain and the name, so the
	 * warning can say what is wrong; only the handshake goes on anyway.
	 */
	SSL_CTX_set_verify(ctx, ts->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	/* a retried SSL_write may come from a moved buffer (we never do, but
	 * partial retries after WANT_WRITE must not fail on it) */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	*ctx_r = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return -1;
}

int net_tls_new(const struct tls_settings *ts, struct net_tls **tls_r, struct err *err)
{
	int rc = -1;
	*tls_r = NULL;
	pthread_mutex_lock(&registry_lock);
	for (struct net_tls *t = registry; t; t = t->next) {
		if (same_settings(t, ts)) {
			t->refs++;
			*tls_r = t;
			rc = 0;
			goto out;
		}
	}
	SSL_CTX *ctx = NULL;
	if (ctx_build(ts, &ctx, err) < 0)
		goto out;
	struct net_tls *t = xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	t->verify = ts->verify;
	t->min_version = ts->min_version;
	t->max_version = ts->max_version;
	t->ca_file = dup_or_null(ts->ca_file);
	t->ca_path = dup_or_null(ts->ca_path);
	t->server_name = dup_or_null(ts->server_name);
	t->ciphers = dup_or_null(ts->ciphers);
	t->ciphersuites = dup_or_null(ts->ciphersuites);
	memcpy(t->pins, ts->pins, sizeof(t->pins));
	t->npins = ts->npins;
	t->refs = 1;
	t->next = registry;
	registry = t;
	*tls_r = t;
	rc = 0;
out:
	pthread_mutex_unlock(&registry_lock);
	return rc;
}

void net_tls_free(struct net_tls **tp)
{
	struct net_tls *t = *tp;
	if (!t)
		return;
	*tp = NULL;
	pthread_mutex_lock(&registry_lock);
	if (--t->refs == 0) {
		for (struct net_tls **pp = &registry; *pp; pp = &(*pp)->next) {
			if (*pp == t) {
				*pp = t->next;
				break;
			}
		}
		tls_destroy(t);
	}
	pthread_mutex_unlock(&registry_lock);
}
