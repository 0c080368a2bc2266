/*
 * SECURITY: the form carries secrets (refresh token, client secret, device
 * code): it is encoded into one buffer that is wiped after the request,
 * and never logged (curl's verbose mode stays off). The reply is capped at
 * OAUTH_MAX_REPLY bytes while it arrives. Redirects are not followed (a
 * token endpoint has no business sending us elsewhere with the secrets),
 * only http and https are allowed, certificates are verified.
 *
 * POSTs to OAuth2 endpoints with libcurl, the one place that includes it:
 * HTTP/1.1, TLS, proxies (SOCKS5 with remote DNS, HTTP CONNECT) and
 * timeouts are all curl's, which we would not write again by hand.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/auth/oauth_int.h"
#include "engine/util/log.h"
#include "engine/util/waitmark.h"
#include "engine/util/xalloc.h"

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc;

static void curl_init_once(void)
{
	g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

uint64_t oauth_http_budget_ms(const struct config_account *acc)
{
	uint64_t cto = acc->connect_timeout_ms ? acc->connect_timeout_ms : acc->timeout_ms;
	uint64_t io = acc->io_timeout_ms ? acc->io_timeout_ms : acc->timeout_ms;
	if (!cto)
		cto = 30000;
	if (!io)
		io = 30000;
	return cto + io;
}

struct sink {
	struct buf *body;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;
	if (buf_add(s->body, p, len) < 0) {
		s->too_big = true;
		return 0;  /* curl stops with CURLE_WRITE_ERROR */
	}
	return len;
}

/* name=value&... with curl's escaping, into b (which is wiped by the caller). */
static int form_encode(CURL *h, const struct oauth_field *f, size_t n, struct buf *b,
		       struct err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!f[i].value)
			continue;
		char *v = curl_easy_escape(h, f[i].value, (int)strlen(f[i].value));
		if (!v)
			return err_set(err, ERR_FATAL, "out of memory encoding a form");
		buf_addf(b, "%s%s=%s", b->len ? "&" : "", f[i].name, v);
		explicit_bzero(v, strlen(v));
		curl_free(v);
	}
	return b->failed ? err_set(err, ERR_FATAL, "token request too large") : 0;
}

static int set_proxy(CURL *h, const struct proxy_settings *p)
{
	char url[600];
	if (p->kind == PROXY_NONE)
		return curl_easy_setopt(h, CURLOPT_PROXY, "") == CURLE_OK ? 0 : -1;
	/* socks5h: the proxy resolves the name, as for the mail connection */
	bool v6 = strchr(p->host, ':') != NULL;
	snprintf(url, sizeof(url), "%s://%s%s%s:%u", p->kind == PROXY_SOCKS5 ? "socks5h" : "http",
		 v6 ? "[" : "", p->host, v6 ? "]" : "", p->port);
	CURLcode rc = curl_easy_setopt(h, CURLOPT_PROXY, url);
	/* a tunnel (CONNECT) also for http:// endpoints, as for mail */
	if (rc == CURLE_OK && p->kind == PROXY_HTTP)
		rc = curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);
	if (rc == CURLE_OK && p->username) {
		rc = curl_easy_setopt(h, CURLOPT_PROXYUSERNAME, p->username);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(h, CURLOPT_PROXYPASSWORD, p->password ? p->password : "");
		if (rc == CURLE_OK && p->kind == PROXY_HTTP)
			rc = curl_easy_setopt(h, CURLOPT_PROXYAUTH, (long)CURLAUTH_BASIC);
	}
	return rc == CURLE_OK ? 0 : -1;
}

int oauth_http_post(const struct config_account *acc, const char *url,
		    const struct oauth_field *fields, size_t nfields, long *status_r,
		    struct buf *body, struct err *err)
{
	struct buf form;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct sink sink = {.body = body};
	int rc = -1;
	*status_r = 0;
	pthread_once(&g_curl_once, curl_init_once);
	if (g_curl_init_rc != CURLE_OK)
		return err_set(err, ERR_FATAL, "libcurl: %s", curl_easy_strerror(g_curl_init_rc));
	CURL *h = curl_easy_init();
	if (!h)
		return err_set(err, ERR_FATAL, "libcurl: cannot create a handle");
	buf_init(&form, 256 * 1024);
	if (form_encode(h, fields, nfields, &form, err) < 0)
		goto out;
	uint64_t cto = acc->connect_timeout_ms ? acc->connect_timeout_ms : acc->timeout_ms;
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	bool ok =
		curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, buf_str(&form)) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)form.len) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_USERAGENT, "mail2ticket") == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(cto ? cto : 30000)) ==
			CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)oauth_http_budget_ms(acc)) ==
			CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
		set_proxy(h, &acc->proxy) == 0;
	if (!ok) {
		err_set(err, ERR_FATAL, "libcurl refused an option (built without a feature?)");
		goto out;
	}
	waitmark_begin();   /* the token endpoint's turn (waitmark.h) */
	CURLcode cr = curl_easy_perform(h);
	waitmark_end();
	if (sink.too_big) {
		err_set(err, ERR_SOURCE, "token endpoint %s: reply larger than %d bytes", url,
			OAUTH_MAX_REPLY);
		goto out;
	}
	if (cr != CURLE_OK) {
		char clean[CURL_ERROR_SIZE];
		const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cr);
		log_clean(why, strlen(why), clean, sizeof(clean));
		err_set(err, cr == CURLE_UNSUPPORTED_PROTOCOL || cr == CURLE_URL_MALFORMAT
				     ? ERR_FATAL : ERR_TRANSIENT,
			"token endpoint %s: %s", url, clean);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status_r);
	rc = 0;
out:
	if (form.data)
		explicit_bzero(form.data, form.cap);
	buf_release(&form);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rc;
}
