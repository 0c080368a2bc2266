/*
 * SECURITY: handles the password (or an oauth2 account's access token,
 * or a bearer token given as the password). It goes only into a
 * command line or a SASL response that is wiped after sending, and into
 * the SASL session (engine/auth, wiped); never into a log or an error
 * message. AUTH lines and SASL responses are traced as "AUTH MECH ***" and
 * "***"; challenges are not traced. A secret is shown to the connection
 * (USER/PASS, PLAIN, LOGIN, XOAUTH2, OAUTHBEARER) only over TLS, or when
 * the admin chose security: none (with a warning each time); APOP and the
 * challenge-response mechanisms never send it. A server that says "+OK"
 * before the mechanism finished (for SCRAM: before it proved it knows the
 * password) is refused.
 *
 * Logins (auth: in the account):
 *   a SASL mechanism  AUTH (RFC 5034) through engine/auth: the initial
 *                     response on the command line when CAPA lists SASL,
 *                     the mechanism speaks first and the line fits in 255
 *                     octets; else after the server's empty "+ ". Each
 *                     challenge "+ base64" is answered with one line; a
 *                     challenge the mechanism cannot answer is cancelled
 *                     with "*" (RFC 5034 section 4).
 *   apop              APOP user md5(challenge password) (RFC 1939 section 7)
 *   user              USER / PASS (RFC 1939 section 7)
 *   auto, oauth2:     OAUTHBEARER when CAPA's SASL line offers it, else
 *                     XOAUTH2 (server_conn.c, as for IMAP), only where the
 *                     token may be shown; a cached token the server refuses
 *                     is replaced once by a new one (engine/auth)
 *   auto              the strongest SASL mechanism CAPA offers that keeps
 *                     the password off the wire (SCRAM-SHA-256, SCRAM-SHA-1,
 *                     CRAM-MD5); else APOP on a connection without TLS when
 *                     the greeting has a challenge; else PLAIN, LOGIN when
 *                     the password may be shown; else APOP; else USER/PASS
 *                     when the password may be shown; else refused.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/auth/sasl.h"
#include "engine/fetch/pop3_int.h"
#include "engine/net/digest.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define POP3_CMD_MAX 255        /* RFC 2449: a command line, CRLF included */
#define CRED_MAX 4096
#define SASL_STEPS_MAX 16       /* challenges answered in one AUTH; SCRAM needs 2 */
#define OFFERED_MAX 32

enum login_kind { LOGIN_SASL, LOGIN_APOP, LOGIN_USER };

/* A line that held a secret, wiped before its memory is reused. */
static void wipe_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* The SASL mechanisms of CAPA, comma-free, for messages: "SCRAM-SHA-256 PLAIN". */
static void offered_text(const char *const *v, size_t n, char *out, size_t outlen)
{
	server_auth_offered_text(v, n, "no SASL mechanisms", out, outlen);
}

/*
 * Cancels an exchange the client cannot go on with (RFC 5034 section 4):
 * "*", and the server must answer -ERR. *err keeps the reason.
 */
static int sasl_cancel(struct pop3_client *c, struct err *err)
{
	const struct pop3_response *r;
	struct err serr = {0};
	if (pop3_send_secret(c, "*", &serr) < 0 ||
	    pop3_read(c, POP3_EXPECT_SASL, 0, &r, &serr) < 0) {
		c->broken = true;
		return -1;
	}
	if (r->status != POP3_ERR) {
		/* "+OK" to a cancelled login, or more challenges: out of step */
		c->broken = true;
		return err_prefix(err, "%s would not cancel the SASL exchange", c->host);
	}
	return -1;
}

/*
 * AUTH mech: the exchange until the server's +OK or -ERR (*r_r). 0 when a
 * final response came; the session is in *sasl_r for its error details.
 */
static int sasl_login(struct pop3_client *c, const struct config_account *acc, const char *mech,
		      struct sasl **sasl_r, const struct pop3_response **r_r, struct err *err)
{
	char *line = NULL, *first = NULL, *resp = NULL;
	int rc = -1;
	if (server_auth_sasl_new(acc, "pop", mech, server_auth_secret(acc, &c->token), sasl_r,
				 err) < 0)
		return -1;
	struct sasl *sasl = *sasl_r;
	snprintf(c->login_used, sizeof(c->login_used), "AUTH %s", mech);
	/* RFC 5034: an initial response only to a server that lists SASL in CAPA */
	if (pop3_has_capability(c, "SASL") && sasl_mech_client_first(mech)) {
		if (sasl_step(sasl, NULL, 0, &first, err) < 0)
			goto out;
		line = xasprintf("AUTH %s %s", mech, first[0] ? first : "=");
		if (strlen(line) + 2 <= POP3_CMD_MAX) {
			sasl_out_free(&first);
		} else {
			/* too long for a command: sent after the server's empty "+ " */
			wipe_free(line);
			line = NULL;
		}
	}
	if (!line)
		line = xasprintf("AUTH %s", mech);
	if (pop3_cmd(c, line, true, POP3_EXPECT_SASL, 0, r_r, err) < 0)
		goto out;
	for (unsigned steps = 0; (*r_r)->status == POP3_CONT; steps++) {
		const struct slice *ch = &(*r_r)->text;
		if (steps == SASL_STEPS_MAX) {
			err_set(err, ERR_SOURCE, "%s asked for more than %d SASL steps (%s)", c->host,
				SASL_STEPS_MAX, mech);
			sasl_cancel(c, err);
			goto out;
		}
		if (first) {
			if (ch->len) {
				err_set(err, ERR_SOURCE, "SASL %s: %s sent a challenge before the "
					"client's first message", mech, c->host);
				sasl_cancel(c, err);
				goto out;
			}
			resp = first;
			first = NULL;
		} else if (sasl_step(sasl, ch->p, ch->len, &resp, err) < 0) {
			sasl_cancel(c, err);
			goto out;
		}
		int sent = pop3_send_secret(c, resp, err);
		sasl_out_free(&resp);
		if (sent < 0 || pop3_read(c, POP3_EXPECT_SASL, 0, r_r, err) < 0)
			goto out;
	}
	if ((*r_r)->status == POP3_OK && !sasl_done(sasl)) {
		c->broken = true;
		server_auth_early_success(c->host, mech, err);
		goto out;
	}
	rc = 0;
out:
	wipe_free(line);
	sasl_out_free(&first);
	sasl_out_free(&resp);
	return rc;
}

static int apop(struct pop3_client *c, const char *user, const char *pass,
		const struct pop3_response **r_r, struct err *err)
{
	snprintf(c->login_used, sizeof(c->login_used), "APOP");
	char *secret = xasprintf("%s%s", c->timestamp, pass);
	char md5[33];
	digest_md5_hex(secret, strlen(secret), md5);
	wipe_free(secret);
	if (!md5[0])
		return err_set(err, ERR_FATAL, "MD5 is not available from the crypto library; "
			       "APOP needs it");
	char *line = xasprintf("APOP %s %s", user, md5);
	int rc = pop3_cmd(c, line, true, POP3_EXPECT_SINGLE, 0, r_r, err);
	explicit_bzero(md5, sizeof(md5));
	wipe_free(line);
	return rc;
}

static int user_pass(struct pop3_client *c, const char *user, const char *pass,
		     const struct pop3_response **r_r, struct err *err)
{
	snprintf(c->login_used, sizeof(c->login_used), "USER/PASS");
	char *line = xasprintf("USER %s", user);
	int rc = pop3_cmd(c, line, false, POP3_EXPECT_SINGLE, 0, r_r, err);
	free(line);
	if (rc < 0 || (*r_r)->status != POP3_OK)
		return rc;
	line = xasprintf("PASS %s", pass);
	rc = pop3_cmd(c, line, true, POP3_EXPECT_SINGLE, 0, r_r, err);
	wipe_free(line);
	return rc;
}

static bool offered(const char *const *v, size_t n, const char *mech)
{
	for (size_t i = 0; i < n; i++)
		if (str_ieq(v[i], mech))
			return true;
	return false;
}

/* `auth: auto`: see the list at the top. */
static int choose_auto(struct pop3_client *c, bool may_show, bool simple_user,
		       const char *const *v, size_t n, enum login_kind *kind_r,
		       const char **mech_r, struct err *err)
{
	bool apop_ok = c->timestamp[0] && simple_user;
	bool tls = net_conn_is_tls(c->conn);
	if ((*mech_r = sasl_pick(v, n, false)))
		*kind_r = LOGIN_SASL;
	else if (apop_ok && !tls)
		*kind_r = LOGIN_APOP;
	else if (may_show && (*mech_r = sasl_pick(v, n, true)))
		*kind_r = LOGIN_SASL;
	else if (apop_ok)
		*kind_r = LOGIN_APOP;
	else if (may_show && simple_user)
		*kind_r = LOGIN_USER;
	else if (!may_show) {
		char text[256];
		offered_text(v, n, text, sizeof(text));
		return err_set(err, ERR_SOURCE, "%s offers no login that keeps the password secret "
			       "on this unencrypted connection (offered: %s, %s); refusing to send "
			       "it in the clear (use security: tls or starttls)", c->host, text,
			       c->timestamp[0] ? "APOP" : "no APOP challenge");
	} else
		return err_set(err, ERR_SOURCE, "a user name with a space can only log in with "
			       "SASL, which %s does not offer", c->host);
	return 0;
}

/* Decides how to log in: *kind_r, and the SASL mechanism in *mech_r. */
static int choose(struct pop3_client *c, const struct config_account *acc, bool may_show,
		  enum login_kind *kind_r, const char **mech_r, struct err *err)
{
	char words[1024], text[256];
	const char *v[OFFERED_MAX];
	size_t n = pop3_sasl_mechs(c, words, sizeof(words), v, OFFERED_MAX);
	bool simple_user = !strchr(acc->username, ' ');
	*mech_r = NULL;
	if (acc->auth == AUTH_AUTO && acc->oauth2.enabled) {
		/* a token, not a password: only the bearer mechanisms carry it */
		*kind_r = LOGIN_SASL;
		if (server_auth_oauth_mech(c->host, v, n, mech_r, err) < 0)
			return -1;
		return may_show ? 0 : server_auth_refuse_unencrypted(acc, "STLS", err);
	}
	switch (acc->auth) {
	case AUTH_AUTO:
		return choose_auto(c, may_show, simple_user, v, n, kind_r, mech_r, err);
	case AUTH_APOP:
	case AUTH_USER:
		*kind_r = acc->auth == AUTH_APOP ? LOGIN_APOP : LOGIN_USER;
		if (!simple_user)
			return err_set(err, ERR_FATAL, "a user name with a space cannot be sent "
				       "with %s", acc->auth == AUTH_APOP ? "APOP" : "USER");
		if (acc->auth == AUTH_APOP && !c->timestamp[0])
			return err_set(err, ERR_SOURCE, "%s offers no APOP challenge in its "
				       "greeting (auth: apop)", c->host);
		if (acc->auth == AUTH_USER && !may_show)
			return err_set(err, ERR_SOURCE, "auth: user would send the password "
				       "unencrypted: STLS was not used; refusing (use security: tls "
				       "or starttls, or a challenge-response login such as "
				       "scram-sha-256 or apop)");
		return 0;
	default:
		break;
	}
	const char *mech = server_auth_sasl_name(acc->auth);
	*kind_r = LOGIN_SASL;
	if (!mech)
		return err_set(err, ERR_FATAL, "auth: %s is not a POP3 login",
			       config_auth_name(acc->auth));
	if (!may_show && sasl_mech_is_plaintext(mech))
		return server_auth_refuse_unencrypted(acc, "STLS", err);
	/* a server without a SASL list (no CAPA) is still asked: the admin chose */
	if (n && !offered(v, n, mech)) {
		offered_text(v, n, text, sizeof(text));
		return err_set(err, ERR_SOURCE, "%s does not offer SASL %s (auth: %s); it offers: "
			       "%s", c->host, mech, config_auth_name(acc->auth), text);
	}
	*mech_r = mech;
	return 0;
}

/* One login as chosen; 0 only when the server answered +OK. */
static int login_once(struct pop3_client *c, const struct config_account *acc,
		      enum login_kind kind, const char *mech, struct err *err)
{
	const char *user = acc->username ? acc->username : "";
	const char *pass = acc->password ? acc->password : "";
	const struct pop3_response *r;
	struct sasl *sasl = NULL;
	int rc;
	switch (kind) {
	case LOGIN_SASL: rc = sasl_login(c, acc, mech, &sasl, &r, err); break;
	case LOGIN_APOP: rc = apop(c, user, pass, &r, err); break;
	case LOGIN_USER:
	default: rc = user_pass(c, user, pass, &r, err); break;
	}
	if (rc == 0 && r->status != POP3_OK) {
		char what[200];
		snprintf(what, sizeof(what), "login as \"%s\" (%s) refused", user, c->login_used);
		rc = pop3_err_from(c, r, ERR_SOURCE, what, err);
		/* an OAuth server says why in its challenge (JSON, cleaned) */
		if (sasl && sasl_server_error(sasl)) {
			char msg[sizeof(err->msg)];
			snprintf(msg, sizeof(msg), "%s", err->msg);
			err_set(err, err->cls, "%s; server said: %s", msg, sasl_server_error(sasl));
		}
	}
	sasl_free(&sasl);
	return rc;
}

int pop3_login(struct pop3_client *c, const struct config_account *acc, struct err *err)
{
	const char *user = acc->username ? acc->username : "";
	const char *pass = acc->password ? acc->password : "";
	/* (an OAuth2 token is bounded where it is read: engine/auth) */
	if (strlen(user) > CRED_MAX || strlen(pass) > CRED_MAX)
		return err_set(err, ERR_FATAL, "user name or password too long");
	bool may_show = server_conn_secret_may_show(acc, c->conn);
	enum login_kind kind = LOGIN_USER;
	const char *mech = NULL;
	if (choose(c, acc, may_show, &kind, &mech, err) < 0)
		return -1;
	if (!net_conn_is_tls(c->conn) &&
	    (kind == LOGIN_USER || (kind == LOGIN_SASL && sasl_mech_is_plaintext(mech))))
		log_warn("pop3.login", "host=%s msg=\"sending the password without TLS "
			 "(security: none)\"", c->host);
	/* -ERR leaves the session in the AUTHORIZATION state (RFC 1939): a
	 * cached OAuth2 token the server revoked early gets one retry, with a
	 * new token, in the same session */
	for (int attempt = 0; login_once(c, acc, kind, mech, err) < 0; attempt++)
		if (attempt > 0 || !server_auth_oauth_retry(acc, "pop3.login", c->host,
							    pop3_usable(c), &c->token, err))
			return -1;
	log_debug("pop3.login", "host=%s login=\"%s\"", c->host, c->login_used);
	return 0;
}
