/*
 * SECURITY: handles the password (or OAuth2 access token). It goes only into the
 * command buffer (wiped after sending, traced as "TAG VERB ***") and into
 * the SASL session (engine/auth, wiped); never into a log or an error
 * message. AUTHENTICATE lines are never logged, at any level.
 *
 * Which login: `auth: auto` takes the strongest SASL mechanism the server
 * offers (engine/auth: SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN,
 * LOGIN), else the LOGIN command. Mechanisms and commands that show the
 * secret itself are refused on an unencrypted connection unless the admin
 * chose `security: none`. A server that says "logged in" before the
 * mechanism finished (for SCRAM: before it proved it knows the password)
 * is refused. An oauth2 account takes its access token from engine/auth
 * (OAUTHBEARER when offered, else XOAUTH2, with `auth: auto`); a cached
 * token the server refuses is replaced once. Those OAuth2 rules are POP3's
 * too: they live in server_conn.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/auth/sasl.h"
#include "engine/fetch/imap_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define MAX_OFFERED 64

/* The server's AUTH= capabilities, without the prefix. */
static size_t offered_mechs(const struct imap_client *c, const char **v, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < c->ncaps && n < max; i++)
		if (str_has_iprefix(c->caps[i], "AUTH="))
			v[n++] = c->caps[i] + 5;
	return n;
}

static void offered_text(const struct imap_client *c, char *out, size_t outlen)
{
	const char *v[MAX_OFFERED];
	size_t n = offered_mechs(c, v, MAX_OFFERED);
	server_auth_offered_text(v, n, "none", out, outlen);
}

struct auth_ctx {
	struct sasl *sasl;
	bool canceled;
};

/* Answers each "+ challenge" with the mechanism's next response. */
static int auth_cont(struct imap_client *c, void *ud, const struct imap_response *r,
		     struct err *err)
{
	struct auth_ctx *ac = ud;
	char *out = NULL;
	if (r->kind != IMAP_RESP_CONTINUE)
		return 0;
	if (sasl_step(ac->sasl, r->text.p, r->text.len, &out, err) < 0) {
		ac->canceled = true;
		return -1;  /* imap_cmd_run cancels the exchange with "*" */
	}
	int rc = imap_send_secret_line(c, out, strlen(out), err);
	sasl_out_free(&out);
	return rc;
}

static int authenticate(struct imap_client *c, const struct config_account *acc,
			const char *mech, const struct imap_response **t_r, struct err *err)
{
	struct sasl *sasl = NULL;
	int ret = -1;
	char verb[64];
	if (server_auth_sasl_new(acc, "imap", mech, server_auth_secret(acc, &c->token), &sasl, err) < 0)
		return -1;
	struct auth_ctx ac = {.sasl = sasl};
	snprintf(verb, sizeof(verb), "AUTHENTICATE %s", mech);
	imap_cmd_begin(c, verb);
	c->cmd_secret = true;
	/* RFC 4959: the first response on the command line; "=" when empty */
	if (imap_has_capability(c, "SASL-IR") && sasl_mech_client_first(mech)) {
		char *out = NULL;
		if (sasl_step(sasl, NULL, 0, &out, err) < 0)
			goto out;
		if (buf_addf(&c->cmd, " %s", out[0] ? out : "=") < 0)
			c->cmd.failed = true;
		sasl_out_free(&out);
	}
	if (imap_cmd_run(c, auth_cont, &ac, t_r, err) < 0)
		goto out;
	if ((*t_r)->status == IMAP_STATUS_OK && !sasl_done(sasl)) {
		c->broken = true;
		server_auth_early_success(c->host, mech, err);
		goto out;
	}
	if ((*t_r)->status != IMAP_STATUS_OK && sasl_server_error(sasl)) {
		char text[256];
		err_set(err, ERR_SOURCE, "login as \"%s\" on %s failed (AUTHENTICATE %s): %s; "
			"server said: %s", acc->username, c->host, mech,
			imap_clean(&(*t_r)->text, text, sizeof(text)), sasl_server_error(sasl));
		goto out;
	}
	ret = 0;
out:
	sasl_free(&sasl);
	return ret;
}

static int login_cmd(struct imap_client *c, const char *user, const char *pass,
		     const struct imap_response **t_r, struct err *err)
{
	imap_cmd_begin(c, "LOGIN");
	c->cmd_secret = true;
	if (imap_cmd_add_string(c, user, strlen(user), false, err) < 0 ||
	    imap_cmd_add_string(c, pass, strlen(pass), false, err) < 0) {
		/* neither value goes into the message */
		return err_set(err, ERR_SOURCE, "user name or password contains a NUL byte");
	}
	return imap_cmd_run(c, NULL, NULL, t_r, err);
}

/* Decides between a SASL mechanism (*mech_r) and the LOGIN command (NULL). */
static int choose(struct imap_client *c, const struct config_account *acc, bool plain_ok,
		  const char **mech_r, struct err *err)
{
	char offered[256];
	const char *v[MAX_OFFERED];
	size_t n = offered_mechs(c, v, MAX_OFFERED);
	*mech_r = NULL;
	if (acc->auth == AUTH_AUTO && acc->oauth2.enabled)
		return server_auth_oauth_mech(c->host, v, n, mech_r, err);
	if (acc->auth == AUTH_AUTO) {
		*mech_r = sasl_pick(v, n, plain_ok);
		if (*mech_r || plain_ok)
			return 0;
		offered_text(c, offered, sizeof(offered));
		return err_set(err, ERR_SOURCE, "%s offers no login that keeps the password secret "
			       "on this unencrypted connection (offered: %s); refusing to send "
			       "it in the clear (use security: tls or starttls)", c->host, offered);
	}
	if (acc->auth == AUTH_LOGIN)
		return 0;
	const char *mech = server_auth_sasl_name(acc->auth);
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		found = str_ieq(v[i], mech);
	if (!found) {
		offered_text(c, offered, sizeof(offered));
		return err_set(err, ERR_SOURCE, "%s does not offer AUTH=%s (auth: %s); it offers: "
			       "%s", c->host, mech, config_auth_name(acc->auth), offered);
	}
	*mech_r = mech;
	return 0;
}

int imap_login(struct imap_client *c, const struct config_account *acc, struct err *err)
{
	char text[256];
	const char *user = acc->username ? acc->username : "";
	bool tls = net_conn_is_tls(c->conn);
	/* only an admin's explicit security: none lets a secret go unencrypted */
	bool plain_ok = server_conn_secret_may_show(acc, c->conn);
	const char *mech;
	if (choose(c, acc, plain_ok, &mech, err) < 0)
		return -1;
	if (mech && !plain_ok && sasl_mech_is_plaintext(mech))
		return server_auth_refuse_unencrypted(acc, "STARTTLS", err);
	if (!mech) {
		if (!plain_ok)
			return err_set(err, ERR_SOURCE, "the LOGIN command would send the password "
				       "unencrypted: STARTTLS was not used; refusing");
		if (imap_has_capability(c, "LOGINDISABLED"))
			return err_set(err, ERR_SOURCE, "%s refuses LOGIN (LOGINDISABLED)%s", c->host,
				       tls ? "" : "; use security: tls or starttls");
	}
	if (!tls && (!mech || sasl_mech_is_plaintext(mech)))
		log_warn("imap.login", "host=%s msg=\"sending the password without TLS "
			 "(security: none)\"", c->host);
	const struct imap_response *t;
	for (int attempt = 0;; attempt++) {
		int r = mech ? authenticate(c, acc, mech, &t, err)
			     : login_cmd(c, user, server_auth_secret(acc, &c->token), &t, err);
		if (r == 0 && t->status != IMAP_STATUS_OK) {
			char how[64];
			snprintf(how, sizeof(how), mech ? "AUTHENTICATE %s" : "LOGIN",
				 mech ? mech : "");
			err_set(err, ERR_SOURCE, "login as \"%s\" on %s failed (%s): %s", user,
				c->host, how, imap_clean(&t->text, text, sizeof(text)));
			r = -1;
		}
		if (r == 0)
			break;
		/* a cached OAuth2 token the server revoked early: once, a new one */
		if (attempt > 0 || !server_auth_oauth_retry(acc, "imap.login", c->host, !c->broken,
							    &c->token, err))
			return -1;
	}
	c->logged_in = true;
	snprintf(c->mech_used, sizeof(c->mech_used), "%s", mech ? mech : "LOGIN command");
	log_debug("imap.login", "host=%s mechanism=%s", c->host, c->mech_used);
	/* capabilities change after login (RFC 3501 7.2.1): take the new ones */
	if (slice_ieq(t->code, "CAPABILITY")) {
		imap_caps_set_text(c, t->code_args.p, t->code_args.len);
		return 0;
	}
	return imap_caps_fetch(c, err);
}
