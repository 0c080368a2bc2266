/*
 * SECURITY: handles the password. It goes only into a command line or a
 * base64 buffer that is wiped after sending (traced as "VERB ***"), never
 * into a log or an error message. Over a connection without TLS it is only
 * sent in the clear when the account's security says none (with a warning
 * each time); APOP sends an MD5 digest of the server's challenge and the
 * password instead.
 *
 * Logins (auth: in the account):
 *   plain   AUTH PLAIN (RFC 5034, RFC 4616), initial response on the
 *           command line when it fits in 255 octets, else after "+"
 *   login   AUTH LOGIN: user and password answer the server's two prompts
 *   apop    APOP user md5(challenge password) (RFC 1939 section 7)
 *   user    USER / PASS (RFC 1939 section 7)
 *   auto    without TLS: APOP when the greeting offers a challenge; then
 *           AUTH PLAIN, AUTH LOGIN when CAPA lists them; else USER / PASS
 * When engine/auth's SASL layer (a base64 step API) exists, AUTH should go
 * through it for the mechanisms it has; the exchange below is the part it
 * will drive (pop3_cmd / pop3_read with POP3_EXPECT_SASL).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/pop3_int.h"
#include "engine/net/digest.h"
#include "engine/net/encode.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define POP3_CMD_MAX 255        /* RFC 2449: a command line, CRLF included */
#define CRED_MAX 4096

/* A line that held a secret, wiped before its memory is reused. */
static void wipe_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* base64 of data, malloc'd; the caller wipes it. */
static char *b64(const void *data, size_t len)
{
	char *out = xmalloc(encode_base64_size(len));
	encode_base64(data, len, out);
	return out;
}

static int login_refused(struct pop3_client *c, const struct pop3_response *r,
			 const char *user, struct err *err)
{
	char what[160];
	snprintf(what, sizeof(what), "login as \"%s\" (%s) refused", user, c->login_used);
	return pop3_err_from(c, r, ERR_SOURCE, what, err);
}

/* One SASL answer ("*" cancels); the server's next response in *r_r. */
static int sasl_step(struct pop3_client *c, const char *line, const struct pop3_response **r_r,
		     struct err *err)
{
	if (pop3_send_secret(c, line, err) < 0)
		return -1;
	return pop3_read(c, POP3_EXPECT_SASL, 0, r_r, err);
}

/* A challenge we have no more answers for: cancel (RFC 5034 section 4). */
static int sasl_cancel(struct pop3_client *c, struct err *err)
{
	const struct pop3_response *r;
	if (sasl_step(c, "*", &r, err) < 0)
		return -1;
	if (r->status == POP3_CONT) {
		c->broken = true;
		return err_set(err, ERR_SOURCE, "%s would not end a SASL exchange", c->host);
	}
	return err_set(err, ERR_SOURCE, "%s asked for more SASL steps than %s has",
		       c->host, c->login_used);
}

static int auth_plain(struct pop3_client *c, const char *user, const char *pass,
		      const struct pop3_response **r_r, struct err *err)
{
	size_t ulen = strlen(user), plen = strlen(pass);
	/* authzid (empty) NUL authcid NUL passwd */
	size_t rawlen = 2 + ulen + plen;
	unsigned char *raw = xmalloc(rawlen);
	raw[0] = '\0';
	memcpy(raw + 1, user, ulen);
	raw[1 + ulen] = '\0';
	memcpy(raw + 2 + ulen, pass, plen);
	char *resp = b64(raw, rawlen);
	explicit_bzero(raw, rawlen);
	free(raw);

	char *line = xasprintf("AUTH PLAIN %s", resp);
	int rc;
	c->login_used = "AUTH PLAIN";
	if (strlen(line) + 2 <= POP3_CMD_MAX) {
		rc = pop3_cmd(c, line, true, POP3_EXPECT_SASL, 0, r_r, err);
	} else {
		rc = pop3_cmd(c, "AUTH PLAIN", false, POP3_EXPECT_SASL, 0, r_r, err);
		if (rc == 0 && (*r_r)->status == POP3_CONT)
			rc = sasl_step(c, resp, r_r, err);
	}
	if (rc == 0 && (*r_r)->status == POP3_CONT)
		rc = sasl_cancel(c, err);
	wipe_free(line);
	wipe_free(resp);
	return rc;
}

static int auth_login(struct pop3_client *c, const char *user, const char *pass,
		      const struct pop3_response **r_r, struct err *err)
{
	char *answers[2] = {b64(user, strlen(user)), b64(pass, strlen(pass))};
	int rc;
	c->login_used = "AUTH LOGIN";
	rc = pop3_cmd(c, "AUTH LOGIN", false, POP3_EXPECT_SASL, 0, r_r, err);
	/* the prompts ("Username:", "Password:") are answered in order */
	for (int i = 0; rc == 0 && i < 2 && (*r_r)->status == POP3_CONT; i++)
		rc = sasl_step(c, answers[i], r_r, err);
	if (rc == 0 && (*r_r)->status == POP3_CONT)
		rc = sasl_cancel(c, err);
	wipe_free(answers[0]);
	wipe_free(answers[1]);
	return rc;
}

static int apop(struct pop3_client *c, const char *user, const char *pass,
		const struct pop3_response **r_r, struct err *err)
{
	c->login_used = "APOP";
	if (!c->timestamp[0])
		return err_set(err, ERR_SOURCE, "%s offers no APOP challenge in its greeting "
			       "(auth: apop)", c->host);
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
	c->login_used = "USER/PASS";
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

static enum auth_method pick(const struct pop3_client *c, enum auth_method want)
{
	if (want != AUTH_AUTO)
		return want;
	if (!net_conn_is_tls(c->conn) && c->timestamp[0])
		return AUTH_APOP;
	if (pop3_has_sasl(c, "PLAIN"))
		return AUTH_PLAIN;
	if (pop3_has_sasl(c, "LOGIN"))
		return AUTH_LOGIN;
	if (c->timestamp[0])
		return AUTH_APOP;
	return AUTH_USER;
}

int pop3_login(struct pop3_client *c, const struct config_account *acc, struct err *err)
{
	const char *user = acc->username ? acc->username : "";
	const char *pass = acc->password ? acc->password : "";
	if (strlen(user) > CRED_MAX || strlen(pass) > CRED_MAX)
		return err_set(err, ERR_FATAL, "user name or password too long");
	if (strchr(user, ' ') && (acc->auth == AUTH_APOP || acc->auth == AUTH_USER))
		return err_set(err, ERR_FATAL, "a user name with a space cannot be sent with %s",
			       acc->auth == AUTH_APOP ? "APOP" : "USER");
	enum auth_method m = pick(c, acc->auth);
	if (m != AUTH_APOP && !net_conn_is_tls(c->conn))
		log_warn("pop3.login", "host=%s msg=\"sending the password without TLS "
			 "(security: none)\"", c->host);
	const struct pop3_response *r;
	int rc;
	switch (m) {
	case AUTH_PLAIN: rc = auth_plain(c, user, pass, &r, err); break;
	case AUTH_LOGIN: rc = auth_login(c, user, pass, &r, err); break;
	case AUTH_APOP: rc = apop(c, user, pass, &r, err); break;
	case AUTH_USER:
	case AUTH_AUTO:
	default: rc = user_pass(c, user, pass, &r, err); break;
	}
	if (rc < 0)
		return -1;
	if (r->status != POP3_OK)
		return login_refused(c, r, user, err);
	return 0;
}
