/*
 * SECURITY: the device code is a secret (whoever holds it gets the tokens
 * once the admin signs in): registered with log_add_secret() by the reply
 * parser, never printed. The user code is shown to the admin (that is its
 * purpose) but registered too, so no log line carries it.
 *
 * The device-code flow (RFC 8628) for headless servers, and the import of
 * a refresh token obtained elsewhere. Polling follows 3.5: the interval the
 * device endpoint gave (default 5 s), 5 s more after each slow_down, no
 * poll after the code expired, and never more than OAUTH_POLL_MAX polls.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/auth/oauth_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"
#include "storage/store.h"

#define DEFAULT_INTERVAL_S 5
#define MAX_INTERVAL_S 60
#define DEFAULT_EXPIRES_S 900
#define MAX_EXPIRES_S 3600

enum oauth_poll_step oauth_poll_decide(struct oauth_poll *p, const struct oauth_reply *r,
				       int64_t now, struct err *err)
{
	p->polls++;
	if (!r->error[0])
		return OAUTH_POLL_DONE;
	if (strcmp(r->error, "authorization_pending") == 0 || strcmp(r->error, "slow_down") == 0) {
		if (strcmp(r->error, "slow_down") == 0 && p->interval_s < MAX_INTERVAL_S)
			p->interval_s += 5;
		if (now + p->interval_s >= p->deadline) {
			err_set(err, ERR_SOURCE, "nobody signed in before the code expired");
			return OAUTH_POLL_FAILED;
		}
		if (p->polls >= OAUTH_POLL_MAX) {
			err_set(err, ERR_SOURCE, "gave up after %u polls", p->polls);
			return OAUTH_POLL_FAILED;
		}
		return OAUTH_POLL_AGAIN;
	}
	if (strcmp(r->error, "access_denied") == 0)
		err_set(err, ERR_SOURCE, "the sign-in was declined");
	else if (strcmp(r->error, "expired_token") == 0)
		err_set(err, ERR_SOURCE, "the code expired before anyone signed in");
	else
		err_set(err, oauth_error_class(r), "the token endpoint refused: %s%s%s", r->error,
			r->error_description[0] ? ": " : "", r->error_description);
	return OAUTH_POLL_FAILED;
}

static void sleep_s(int64_t s)
{
	struct timespec ts = {(time_t)s, 0};
	while (nanosleep(&ts, &ts) < 0)
		;
}

/* Saves a refresh token (and the access token that came with it) as the
 * account's, whatever was stored before. */
static int save_tokens(const struct config_account *acc, const char *refresh,
		       const char *access, int64_t expires_in, struct err *err)
{
	struct store *store = NULL;
	struct store_oauth_row row;
	int rc = -1;
	if (store_open(acc->oauth2.database_url, &store, err) < 0)
		return -1;
	if (store_oauth_lock(store, acc->name, 2 * oauth_http_budget_ms(acc) + 5000, &row,
			     err) == 0) {
		struct store_oauth_update u = {
			.client_id = acc->oauth2.client_id, .refresh_token = refresh,
			.access_token = access, .expires_in = expires_in,
		};
		rc = store_oauth_update(store, acc->name, row.generation, &u, err);
		if (rc == 0)
			rc = store_commit(store, err);
		store_rollback(store);
		store_oauth_row_release(&row);
	}
	store_free(&store);
	oauth_cache_clear();
	return rc;
}

static int device_start(const struct config_account *acc, struct oauth_reply *r,
			struct err *err)
{
	const struct oauth_settings *o = &acc->oauth2;
	struct oauth_field f[3] = {
		{"client_id", o->client_id}, {"scope", o->scope},
		/* Google wants the secret here too; Microsoft ignores it */
		{"client_secret", o->client_secret},
	};
	struct buf body;
	long status;
	buf_init(&body, OAUTH_MAX_REPLY);
	int rc = oauth_http_post(acc, o->device_code_url, f, 3, &status, &body, err);
	if (rc == 0)
		rc = oauth_reply_parse(OAUTH_REPLY_DEVICE, buf_str(&body), body.len, status, r, err);
	buf_release(&body);
	if (rc == 0 && r->error[0]) {
		err_set(err, oauth_error_class(r), "the device endpoint refused: %s%s%s", r->error,
			r->error_description[0] ? ": " : "", r->error_description);
		oauth_reply_release(r);
		return -1;
	}
	return rc;
}

int oauth_device_login(const struct config_account *acc, oauth_prompt_cb prompt, void *ud,
		       struct err *err)
{
	const struct oauth_settings *o = &acc->oauth2;
	struct oauth_reply dev, r;
	if (!o->enabled || o->flow != OAUTH_FLOW_REFRESH_TOKEN)
		return err_set(err, ERR_FATAL, "account \"%s\" does not sign in with the device "
			       "code flow (flow: refresh_token)", acc->name);
	if (!o->device_code_url)
		return err_set(err, ERR_FATAL, "account \"%s\": no device_code_url", acc->name);
	if (device_start(acc, &dev, err) < 0)
		return -1;
	struct oauth_device_prompt pr = {0};
	snprintf(pr.user_code, sizeof(pr.user_code), "%s", dev.user_code);
	snprintf(pr.verification_uri, sizeof(pr.verification_uri), "%s", dev.verification_uri);
	snprintf(pr.message, sizeof(pr.message), "%s", dev.message ? dev.message : "");
	int64_t expires = dev.expires_in ? dev.expires_in : DEFAULT_EXPIRES_S;
	if (expires > MAX_EXPIRES_S)
		expires = MAX_EXPIRES_S;
	pr.expires_in = expires;
	struct oauth_poll poll = {
		.interval_s = dev.interval > 0 && dev.interval <= MAX_INTERVAL_S ? dev.interval
										 : DEFAULT_INTERVAL_S,
		.deadline = (int64_t)time(NULL) + expires,
	};
	log_info("oauth.device", "account=%s expires_in=%lld interval=%lld msg=\"waiting for "
		 "the sign-in\"", acc->name, (long long)expires, (long long)poll.interval_s);
	prompt(ud, &pr);
	int rc = -1;
	unsigned transport_failures = 0;
	for (;;) {
		sleep_s(poll.interval_s);
		struct oauth_field grant[2] = {
			{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
			{"device_code", dev.device_code},
		};
		if (oauth_token_request(acc, grant, 2, &r, err) < 0) {
			/* a lost request is retried a few times while the code is valid */
			if (err->cls == ERR_TRANSIENT && ++transport_failures < 4 &&
			    (int64_t)time(NULL) + poll.interval_s < poll.deadline)
				continue;
			break;
		}
		enum oauth_poll_step step = oauth_poll_decide(&poll, &r, (int64_t)time(NULL), err);
		if (step == OAUTH_POLL_AGAIN) {
			oauth_reply_release(&r);
			continue;
		}
		if (step == OAUTH_POLL_DONE) {
			if (!r.refresh_token)
				err_set(err, ERR_SOURCE, "the sign-in gave no refresh token (is "
					"offline_access in the scope?)");
			else
				rc = save_tokens(acc, r.refresh_token, r.access_token, r.expires_in,
						 err);
		}
		oauth_reply_release(&r);
		break;
	}
	if (rc == 0)
		log_info("oauth.login", "account=%s polls=%u msg=\"refresh token stored\"",
			 acc->name, poll.polls);
	oauth_reply_release(&dev);
	return rc;
}

int oauth_refresh_token_import(const struct config_account *acc, const char *refresh_token,
			       struct oauth_token *tok, struct err *err)
{
	size_t len = strlen(refresh_token);
	memset(tok, 0, sizeof(*tok));
	if (!acc->oauth2.enabled || acc->oauth2.flow != OAUTH_FLOW_REFRESH_TOKEN)
		return err_set(err, ERR_FATAL, "account \"%s\" does not use refresh tokens",
			       acc->name);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)refresh_token[i] <= 0x20 || (unsigned char)refresh_token[i] >= 0x7f)
			return err_set(err, ERR_FATAL, "a refresh token is one line of printable "
				       "characters");
	if (len == 0 || len > OAUTH_MAX_TOKEN)
		return err_set(err, ERR_FATAL, "a refresh token is 1 to %d characters",
			       OAUTH_MAX_TOKEN);
	log_add_secret(refresh_token);
	/* stored without an access token: the check below refreshes with it */
	if (save_tokens(acc, refresh_token, NULL, 0, err) < 0)
		return -1;
	return oauth_token_get(acc, tok, err);
}
