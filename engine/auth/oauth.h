/*
 * OAuth2 access tokens for accounts with `oauth2:` (README "OAuth2"): the
 * one API the mail clients (IMAP, POP3) call to get the bearer token for
 * XOAUTH2 / OAUTHBEARER, and what `mail2ticket oauth` uses to sign in.
 * The token endpoint is spoken to with libcurl and its JSON read with
 * jansson, both included only in engine/auth (DESIGN.md).
 *
 * Tokens live in PostgreSQL (oauth_tokens, migration 0006) and, per
 * process, in memory until shortly before they expire (OAUTH_MARGIN_S). A
 * refresh happens under the account's row lock: a daemon that waited for
 * another one's refresh takes the token that one saved instead of
 * refreshing again, and a rotated refresh token is committed before the
 * new access token is handed out. Accounts never wait for each other: the
 * locks are per account.
 *
 * Errors: the token endpoint or database unreachable, a timeout, a 5xx or
 * temporarily_unavailable: ERR_TRANSIENT (retry later). A refused refresh
 * token (invalid_grant: expired or revoked), a refused client or scope, no
 * token stored yet: ERR_SOURCE, with what to do ("run `mail2ticket oauth
 * login ACCOUNT`"). Failures are recorded in the table (last_error), so
 * `oauth status` and `test-connection` show them.
 *
 * SECURITY: tokens, the client secret, device codes and user codes are
 * registered with log_add_secret() before anything could log them, and
 * never put into a message. Token endpoint replies are untrusted input
 * (oauth_json.c).
 */
#ifndef M2T_OAUTH_H
#define M2T_OAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/config/config.h"
#include "engine/util/err.h"

/* An access token is used until this many seconds before it expires. */
#define OAUTH_MARGIN_S 120

struct oauth_token {
	char *value;            /* the access token; wiped by oauth_token_release */
	int64_t expires_at;     /* Unix time */
	bool refreshed;         /* fetched from the token endpoint by this call */
};

/*
 * A valid access token for acc (acc->oauth2.enabled): from memory, else
 * from the database, else from the token endpoint (refresh_token or
 * client_credentials grant). Safe to call from several threads at once.
 */
int oauth_token_get(const struct config_account *acc, struct oauth_token *tok,
		    struct err *err);
/*
 * The mail server refused tok although it had not expired (revoked, or
 * the grant changed): forget it here and in the database (if it is still
 * the one stored), so the next oauth_token_get() asks the endpoint.
 */
void oauth_token_rejected(const struct config_account *acc, const struct oauth_token *tok);
void oauth_token_release(struct oauth_token *tok);
/* Drops every access token cached in memory (tests, config reload). */
void oauth_cache_clear(void);

/* What is known about an account's tokens, for status output; no secrets. */
struct oauth_status {
	bool stored;            /* a row exists */
	bool have_refresh;
	bool have_access;
	bool other_client;      /* the stored token belongs to another client_id */
	int64_t access_expires_at, last_refresh_at, last_error_at, updated_at, now;
	char last_error[300];   /* cleaned; "" when none */
};
int oauth_status_read(const struct config_account *acc, struct oauth_status *st,
		      struct err *err);

/* Shown to the admin while the device-code flow waits (RFC 8628). */
struct oauth_device_prompt {
	char user_code[64];
	char verification_uri[512];
	char message[512];      /* the provider's own sentence, cleaned; may be "" */
	int64_t expires_in;
};
typedef void (*oauth_prompt_cb)(void *ud, const struct oauth_device_prompt *p);

/*
 * The device-code flow: asks the device endpoint for a code, calls prompt
 * once, then polls the token endpoint (its interval, slow_down adding 5 s,
 * at most until the code expires) and stores the refresh token it gets.
 */
int oauth_device_login(const struct config_account *acc, oauth_prompt_cb prompt, void *ud,
		       struct err *err);
/*
 * Stores a refresh token obtained elsewhere (e.g. a browser sign-in, where
 * a provider does not allow the device flow for mail scopes), then checks
 * it with one refresh.
 */
int oauth_refresh_token_import(const struct config_account *acc, const char *refresh_token,
			       struct oauth_token *tok, struct err *err);

#endif
