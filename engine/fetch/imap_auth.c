/*
 * SECURITY: handles the password. It goes only into the command buffer
 * (wiped after sending, traced as "***") and into a base64 buffer wiped
 * after use; never into a log or an error message.
 *
 * LOGIN (strings quoted, or literals when they cannot be quoted) and
 * AUTHENTICATE PLAIN (RFC 4616), with the initial response on the command
 * line when the server offers SASL-IR (RFC 4959), else after "+".
 */
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/imap_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

static void base64_encode(const unsigned char *in, size_t len, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, i = 0;
	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0);
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

struct plain_ctx {
	const char *b64;
	size_t len;
	bool sent;
};

/* Answers the server's "+" with the PLAIN response, once. */
static int plain_cont(struct imap_client *c, void *ud, const struct imap_response *r,
		      struct err *err)
{
	struct plain_ctx *pc = ud;
	if (r->kind != IMAP_RESP_CONTINUE)
		return 0;
	if (pc->sent)
		return err_set(err, ERR_SOURCE, "%s asked for more than one PLAIN response",
			       c->host);
	pc->sent = true;
	return imap_send_secret_line(c, pc->b64, pc->len, err);
}

static int login_plain(struct imap_client *c, const char *user, const char *pass,
		       const struct imap_response **t_r, struct err *err)
{
	size_t ulen = strlen(user), plen = strlen(pass);
	if (ulen > 4096 || plen > 4096)
		return err_set(err, ERR_FATAL, "user name or password too long");
	/* authzid (empty) NUL authcid NUL passwd */
	size_t rawlen = 2 + ulen + plen;
	unsigned char *raw = xmalloc(rawlen);
	raw[0] = '\0';
	memcpy(raw + 1, user, ulen);
	raw[1 + ulen] = '\0';
	memcpy(raw + 2 + ulen, pass, plen);
	size_t b64cap = (rawlen + 2) / 3 * 4 + 1;
	char *b64 = xmalloc(b64cap);
	base64_encode(raw, rawlen, b64);
	explicit_bzero(raw, rawlen);
	free(raw);

	struct plain_ctx pc = {.b64 = b64, .len = strlen(b64)};
	imap_cmd_begin(c, "AUTHENTICATE PLAIN");
	c->cmd_secret = true;
	if (imap_has_capability(c, "SASL-IR")) {
		imap_cmd_addf(c, " %s", b64);
		pc.sent = true;
	}
	int ret = imap_cmd_run(c, plain_cont, &pc, t_r, err);
	explicit_bzero(b64, b64cap);
	free(b64);
	return ret;
}

static int login_login(struct imap_client *c, const char *user, const char *pass,
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

int imap_login(struct imap_client *c, const struct config_account *acc, struct err *err)
{
	char text[256];
	const char *user = acc->username ? acc->username : "";
	const char *pass = acc->password ? acc->password : "";
	enum auth_method m = acc->auth;
	if (m == AUTH_AUTO)
		m = imap_has_capability(c, "AUTH=PLAIN") ? AUTH_PLAIN : AUTH_LOGIN;
	if (m == AUTH_LOGIN && imap_has_capability(c, "LOGINDISABLED"))
		return err_set(err, ERR_SOURCE,
			       "%s refuses LOGIN (LOGINDISABLED)%s", c->host,
			       net_conn_is_tls(c->conn) ? "" : "; use security: tls or starttls");
	if (!net_conn_is_tls(c->conn))
		log_warn("imap.login", "host=%s msg=\"sending the password without TLS "
			 "(security: none)\"", c->host);
	const struct imap_response *t;
	int r = m == AUTH_PLAIN ? login_plain(c, user, pass, &t, err)
				: login_login(c, user, pass, &t, err);
	if (r < 0)
		return -1;
	if (t->status != IMAP_STATUS_OK)
		return err_set(err, ERR_SOURCE, "login as \"%s\" on %s failed (%s): %s", user,
			       c->host, m == AUTH_PLAIN ? "AUTHENTICATE PLAIN" : "LOGIN",
			       imap_clean(&t->text, text, sizeof(text)));
	c->logged_in = true;
	/* capabilities change after login (RFC 3501 7.2.1): take the new ones */
	if (slice_ieq(t->code, "CAPABILITY")) {
		imap_caps_set_text(c, t->code_args.p, t->code_args.len);
		return 0;
	}
	return imap_caps_fetch(c, err);
}
