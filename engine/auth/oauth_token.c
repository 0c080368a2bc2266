/*
 * SECURITY: handles refresh and access tokens and the client secret. They
 * go into form bodies (oauth_http.c), statement parameters (storage) and
 * the caller's struct oauth_token; copies are wiped when freed, and each
 * is registered with log_add_secret() as it appears (a replaced one is
 * removed again). Log lines name the account and what happened, never a
 * token; the endpoint's error text is cleaned by oauth_json.c.
 *
 * Access tokens per account: an in-process cache (one entry and one mutex
 * per account, so a slow token endpoint of one account never holds up
 * another), then the database row, then the token endpoint under the
 * row's lock (see oauth.h for the order of things).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/auth/oauth_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"
#include "storage/store.h"

struct cache_entry {
	char *account;
	char *client_id;
	pthread_mutex_t lock;   /* held while this account's token is fetched */
	char *token;            /* guarded by lock */
	int64_t expires_at;     /* local Unix time */
	struct cache_entry *next;
};

static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry *g_cache;

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static void wipe_free(char **s)
{
	if (!*s)
		return;
	explicit_bzero(*s, strlen(*s));
	free(*s);
	*s = NULL;
}

/* The entry of acc, created on first use; entries live as long as the
 * process (one per configured account) unless oauth_cache_clear(). */
static struct cache_entry *cache_entry(const struct config_account *acc)
{
	struct cache_entry *e;
	pthread_mutex_lock(&g_cache_lock);
	for (e = g_cache; e; e = e->next)
		if (strcmp(e->account, acc->name) == 0 &&
		    strcmp(e->client_id, acc->oauth2.client_id) == 0)
			break;
	if (!e) {
		e = xcalloc(1, sizeof(*e));
		e->account = xstrdup(acc->name);
		e->client_id = xstrdup(acc->oauth2.client_id);
		pthread_mutex_init(&e->lock, NULL);
		e->next = g_cache;
		g_cache = e;
	}
	pthread_mutex_unlock(&g_cache_lock);
	return e;
}

void oauth_cache_clear(void)
{
	pthread_mutex_lock(&g_cache_lock);
	while (g_cache) {
		struct cache_entry *e = g_cache;
		g_cache = e->next;
		pthread_mutex_lock(&e->lock);
		wipe_free(&e->token);
		pthread_mutex_unlock(&e->lock);
		pthread_mutex_destroy(&e->lock);
		free(e->account);
		free(e->client_id);
		free(e);
	}
	pthread_mutex_unlock(&g_cache_lock);
}

/* Replaces the cached token (entry lock held). */
static void cache_set(struct cache_entry *e, const char *token, int64_t expires_at)
{
	if (e->token && (!token || strcmp(e->token, token) != 0))
		log_remove_secret(e->token);
	wipe_free(&e->token);
	if (token) {
		e->token = xstrdup(token);
		log_add_secret(e->token);
	}
	e->expires_at = expires_at;
}

static void token_out(struct oauth_token *tok, const char *value, int64_t expires_at,
		      bool refreshed)
{
	tok->value = xstrdup(value);
	tok->expires_at = expires_at;
	tok->refreshed = refreshed;
}

void oauth_token_release(struct oauth_token *tok)
{
	wipe_free(&tok->value);
	tok->expires_at = 0;
	tok->refreshed = false;
}

int oauth_token_request(const struct config_account *acc, const struct oauth_field *grant,
			size_t ngrant, struct oauth_reply *r, struct err *err)
{
	const struct oauth_settings *o = &acc->oauth2;
	struct oauth_field f[8];
	size_t n = 0;
	for (size_t i = 0; i < ngrant && n < 5; i++)
		f[n++] = grant[i];
	f[n++] = (struct oauth_field){"client_id", o->client_id};
	f[n++] = (struct oauth_field){"client_secret", o->client_secret};
	struct buf body;
	long status;
	buf_init(&body, OAUTH_MAX_REPLY);
	int rc = oauth_http_post(acc, o->token_url, f, n, &status, &body, err);
	if (rc == 0)
		rc = oauth_reply_parse(OAUTH_REPLY_TOKEN, buf_str(&body), body.len, status, r, err);
	if (body.data)
		explicit_bzero(body.data, body.cap);
	buf_release(&body);
	return rc;
}

static const char *grant_name(const struct oauth_settings *o)
{
	return o->flow == OAUTH_FLOW_CLIENT_CREDENTIALS ? "client_credentials" : "refresh_token";
}

/* "invalid_grant: AADSTS70008: The refresh token has expired ..." */
static void reply_error_text(const struct oauth_reply *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s%s", r->error, r->error_description[0] ? ": " : "",
		 r->error_description);
}

/* Asks the endpoint (row locked by the caller) and saves what it said. */
static int refresh_locked(const struct config_account *acc, struct store *store,
			  const struct store_oauth_row *row, struct cache_entry *e,
			  struct oauth_token *tok, struct err *err)
{
	const struct oauth_settings *o = &acc->oauth2;
	struct oauth_reply r;
	struct oauth_field grant[3];
	size_t n = 0;
	char text[400];
	struct err ignored;
	if (o->flow == OAUTH_FLOW_REFRESH_TOKEN) {
		if (!row->refresh_token)
			return err_set(err, ERR_SOURCE, "account \"%s\" has no OAuth2 refresh token "
				       "yet: run `mail2ticket oauth login %s`", acc->name, acc->name);
		if (row->client_id && strcmp(row->client_id, o->client_id) != 0)
			return err_set(err, ERR_SOURCE, "the stored OAuth2 refresh token of \"%s\" "
				       "was issued to another client id: run `mail2ticket oauth "
				       "login %s` again", acc->name, acc->name);
		grant[n++] = (struct oauth_field){"grant_type", "refresh_token"};
		grant[n++] = (struct oauth_field){"refresh_token", row->refresh_token};
	} else {
		grant[n++] = (struct oauth_field){"grant_type", "client_credentials"};
	}
	grant[n++] = (struct oauth_field){"scope", o->scope};
	if (oauth_token_request(acc, grant, n, &r, err) < 0) {
		struct store_oauth_update u = {.error = err->msg, .keep_access = true};
		log_warn("oauth.refresh_failed", "account=%s grant=%s error=\"%s\"", acc->name,
			 grant_name(o), err->msg);
		if (store_oauth_update(store, acc->name, row->generation, &u, &ignored) == 0)
			store_commit(store, &ignored);
		return -1;
	}
	if (r.error[0]) {
		reply_error_text(&r, text, sizeof(text));
		enum err_class cls = oauth_error_class(&r);
		struct store_oauth_update u = {.error = text, .keep_access = true};
		log_warn("oauth.refresh_failed", "account=%s grant=%s error=\"%s\"", acc->name,
			 grant_name(o), text);
		if (store_oauth_update(store, acc->name, row->generation, &u, &ignored) == 0)
			store_commit(store, &ignored);
		err_set(err, cls, "OAuth2 token request for \"%s\" refused: %s%s", acc->name, text,
			strcmp(r.error, "invalid_grant") == 0 && o->flow == OAUTH_FLOW_REFRESH_TOKEN
				? " (the refresh token expired or was revoked: run `mail2ticket "
				  "oauth login ACCOUNT`)" : "");
		oauth_reply_release(&r);
		return -1;
	}
	/* the rotated refresh token is committed before the access token is used */
	struct store_oauth_update u = {
		.client_id = o->client_id, .refresh_token = r.refresh_token,
		.access_token = r.access_token, .expires_in = r.expires_in,
	};
	if (store_oauth_update(store, acc->name, row->generation, &u, err) < 0 ||
	    store_commit(store, err) < 0) {
		log_error("oauth.save_failed", "account=%s rotated=%s error=\"%s\"", acc->name,
			  r.refresh_token ? "yes" : "no", err->msg);
		oauth_reply_release(&r);
		return err_prefix(err, "saving the new OAuth2 tokens of \"%s\"", acc->name);
	}
	if (r.refresh_token && row->refresh_token)
		log_remove_secret(row->refresh_token);
	int64_t expires_at = now_s() + r.expires_in;
	cache_set(e, r.access_token, expires_at);
	token_out(tok, r.access_token, expires_at, true);
	log_info("oauth.refresh", "account=%s grant=%s expires_in=%lld rotated=%s", acc->name,
		 grant_name(o), (long long)r.expires_in, r.refresh_token ? "yes" : "no");
	oauth_reply_release(&r);
	return 0;
}

/* The row's access token when it is still good (its own clock decides). */
static bool row_token_usable(const struct config_account *acc,
			     const struct store_oauth_row *row)
{
	return row->access_token && row->access_expires_at - row->now > OAUTH_MARGIN_S &&
	       (!row->client_id || strcmp(row->client_id, acc->oauth2.client_id) == 0);
}

static int fetch(const struct config_account *acc, struct cache_entry *e,
		 struct oauth_token *tok, struct err *err)
{
	struct store *store = NULL;
	struct store_oauth_row row;
	int rc = -1;
	if (!acc->oauth2.database_url)
		return err_set(err, ERR_FATAL, "account \"%s\": no database for OAuth2 tokens",
			       acc->name);
	if (store_open(acc->oauth2.database_url, &store, err) < 0)
		return err_prefix(err, "OAuth2 tokens of \"%s\"", acc->name);
	/* a waiter gives up when the holder takes longer than a request could */
	if (store_oauth_lock(store, acc->name, 2 * oauth_http_budget_ms(acc) + 5000, &row,
			     err) < 0) {
		err_prefix(err, "OAuth2 tokens of \"%s\"", acc->name);
		goto out;
	}
	if (row.refresh_token)
		log_add_secret(row.refresh_token);
	if (row_token_usable(acc, &row)) {
		/* another process (or an earlier run) refreshed: take its token */
		int64_t expires_at = now_s() + (row.access_expires_at - row.now);
		store_commit(store, err);
		cache_set(e, row.access_token, expires_at);
		token_out(tok, row.access_token, expires_at, false);
		rc = 0;
		goto out;
	}
	rc = refresh_locked(acc, store, &row, e, tok, err);
out:
	store_rollback(store);
	store_oauth_row_release(&row);
	store_free(&store);
	return rc;
}

int oauth_token_get(const struct config_account *acc, struct oauth_token *tok,
		    struct err *err)
{
	memset(tok, 0, sizeof(*tok));
	if (!acc->oauth2.enabled)
		return err_set(err, ERR_FATAL, "account \"%s\" has no oauth2 settings", acc->name);
	struct cache_entry *e = cache_entry(acc);
	pthread_mutex_lock(&e->lock);
	int rc = 0;
	if (e->token && e->expires_at - now_s() > OAUTH_MARGIN_S)
		token_out(tok, e->token, e->expires_at, false);
	else
		rc = fetch(acc, e, tok, err);
	pthread_mutex_unlock(&e->lock);
	return rc;
}

void oauth_token_rejected(const struct config_account *acc, const struct oauth_token *tok)
{
	struct store *store = NULL;
	struct store_oauth_row row;
	struct err err = {0};
	if (!acc->oauth2.enabled || !tok->value)
		return;
	struct cache_entry *e = cache_entry(acc);
	pthread_mutex_lock(&e->lock);
	if (e->token && strcmp(e->token, tok->value) == 0)
		cache_set(e, NULL, 0);
	log_warn("oauth.token_refused", "account=%s msg=\"the mail server refused the access "
		 "token before its expiry; it will be refreshed\"", acc->name);
	/* only when it is still the one stored: a newer one may be fine */
	if (store_open(acc->oauth2.database_url, &store, &err) == 0 &&
	    store_oauth_lock(store, acc->name, oauth_http_budget_ms(acc), &row, &err) == 0) {
		if (row.access_token && strcmp(row.access_token, tok->value) == 0) {
			struct store_oauth_update u = {.error = "the mail server refused the access "
							       "token"};
			if (store_oauth_update(store, acc->name, row.generation, &u, &err) == 0)
				store_commit(store, &err);
		}
		store_rollback(store);
		store_oauth_row_release(&row);
	}
	store_free(&store);
	pthread_mutex_unlock(&e->lock);
}

int oauth_status_read(const struct config_account *acc, struct oauth_status *st,
		      struct err *err)
{
	struct store *store = NULL;
	struct store_oauth_row row;
	memset(st, 0, sizeof(*st));
	if (!acc->oauth2.database_url)
		return err_set(err, ERR_FATAL, "no database for OAuth2 tokens");
	if (store_open(acc->oauth2.database_url, &store, err) < 0)
		return -1;
	int rc = store_oauth_read(store, acc->name, &row, err);
	store_free(&store);
	if (rc < 0)
		return -1;
	st->stored = row.found;
	st->have_refresh = row.refresh_token != NULL;
	st->have_access = row.access_token != NULL;
	st->other_client = row.client_id && strcmp(row.client_id, acc->oauth2.client_id) != 0;
	st->access_expires_at = row.access_expires_at;
	st->last_refresh_at = row.last_refresh_at;
	st->last_error_at = row.last_error_at;
	st->updated_at = row.updated_at;
	st->now = row.now;
	if (row.last_error)
		log_clean(row.last_error, strlen(row.last_error), st->last_error,
			  sizeof(st->last_error));
	store_oauth_row_release(&row);
	return 0;
}
