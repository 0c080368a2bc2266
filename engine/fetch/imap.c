/*
 * SECURITY: talks to an untrusted server. The connection policy lives
 * here: implicit TLS or required STARTTLS (no silent downgrade), PREAUTH on
 * a connection that must still start TLS is refused, capabilities are
 * forgotten and asked again after STARTTLS, and the password is
 * registered with the logger as a secret before anything is sent.
 * `starttls-optional` is the one explicit downgrade: it goes on in
 * plaintext with a warning on every connection, and then no login that
 * shows the password is allowed (imap_auth.c).
 *
 * Connecting: greeting, STARTTLS, CAPABILITY, login. Freeing: LOGOUT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/imap_int.h"
#include "engine/util/log.h"
#include "engine/util/version.h"
#include "engine/util/xalloc.h"

#define IMAP_DEFAULT_MAX_LINE (64 * 1024)
#define IMAP_DEFAULT_MAX_LITERAL ((uint64_t)64 * 1024 * 1024)
#define IMAP_LOGOUT_TIMEOUT_MS 5000

static int read_greeting(struct imap_client *c, const struct config_account *acc,
			 struct err *err)
{
	const struct imap_response *r;
	char text[256];
	if (imap_read_response(c, &r, err) < 0)
		return err_prefix(err, "reading the greeting of %s", c->host);
	if (r->kind != IMAP_RESP_UNTAGGED || r->status == IMAP_STATUS_NONE ||
	    r->status == IMAP_STATUS_NO || r->status == IMAP_STATUS_BAD) {
		c->broken = true;
		return err_set(err, ERR_SOURCE, "%s did not greet as an IMAP server", c->host);
	}
	if (r->status == IMAP_STATUS_BYE) {
		c->bye = true;
		return err_set(err, ERR_TRANSIENT, "%s refused the connection: %s", c->host,
			       imap_clean(&r->text, text, sizeof(text)));
	}
	if (slice_ieq(r->code, "CAPABILITY"))
		imap_caps_set_text(c, r->code_args.p, r->code_args.len);
	if (r->status == IMAP_STATUS_PREAUTH) {
		/* STARTTLS is only allowed before authentication: a PREAUTH here
		 * would leave the session in the clear (RFC 3501 6.2.1). */
		if (acc->security == SEC_STARTTLS)
			return err_set(err, ERR_SOURCE,
				       "%s sent PREAUTH on a connection that must use STARTTLS; "
				       "refusing to continue without TLS", c->host);
		if (acc->security == SEC_STARTTLS_OPTIONAL)
			log_warn("imap.starttls_skipped", "host=%s msg=\"pre-authenticated by the "
				 "server before STARTTLS: the session goes on WITHOUT encryption "
				 "(security: starttls-optional)\"", c->host);
		c->logged_in = true;
		snprintf(c->mech_used, sizeof(c->mech_used), "PREAUTH");
		log_info("imap.connect", "host=%s msg=\"pre-authenticated by the server\"",
			 c->host);
	}
	return 0;
}

/* Without STARTTLS: refused, or under starttls-optional on in plaintext, logged. */
static int no_tls(struct imap_client *c, bool optional, const char *why, struct err *err)
{
	return server_conn_no_tls("imap.starttls_skipped", c->host, optional, why, err);
}

static int start_tls(struct imap_client *c, bool optional, struct conn_report *rep,
		     struct err *err)
{
	char text[256];
	const struct imap_response *t;
	if (c->logged_in)
		return 0;  /* PREAUTH, allowed by read_greeting */
	if (!c->caps && imap_caps_fetch(c, err) < 0)
		return -1;
	if (!imap_has_capability(c, "STARTTLS"))
		return no_tls(c, optional, "does not offer STARTTLS", err);
	imap_cmd_begin(c, "STARTTLS");
	if (imap_cmd_run(c, NULL, NULL, &t, err) < 0)
		return -1;
	if (t->status != IMAP_STATUS_OK) {
		char why[320];
		snprintf(why, sizeof(why), "refused STARTTLS (%s)",
			 imap_clean(&t->text, text, sizeof(text)));
		return no_tls(c, optional, why, err);
	}
	if (server_conn_start_tls(c->conn, c->tls, rep, err) < 0) {
		c->broken = true;
		return -1;
	}
	/* anything learned before TLS may have been forged */
	imap_caps_clear(c);
	return imap_caps_fetch(c, err);
}

/* "* ENABLED UTF8=ACCEPT": only then does the server take UTF-8 names */
static int enabled_cb(struct imap_client *c, void *ud, const struct imap_response *r,
		      struct err *err)
{
	bool *on = ud;
	(void)c;
	(void)err;
	if (r->kind != IMAP_RESP_UNTAGGED || !slice_ieq(r->name, "ENABLED"))
		return 0;
	for (size_t i = 0; i < r->nargs; i++)
		if (imap_arg_atom_is(&r->args[i], "UTF8=ACCEPT"))
			*on = true;
	return 0;
}

/*
 * After login: ID (RFC 2971) when offered — some providers (Gmail,
 * 163.com) want to know the client — and ENABLE UTF8=ACCEPT (RFC 6855)
 * when offered, so folder names go as UTF-8. A server that answers ID
 * with NO or BAD loses nothing; UTF-8 names are used only when the
 * server says ENABLED, else modified UTF-7 stays.
 */
static int session_extras(struct imap_client *c, struct err *err)
{
	const struct imap_response *t;
	char text[256];
	if (imap_has_capability(c, "ID")) {
		imap_cmd_begin(c, "ID (\"name\" \"mail2ticket\" \"version\" \"" M2T_VERSION
			       "\")");
		if (imap_cmd_run(c, NULL, NULL, &t, err) < 0)
			return -1;
		if (t->status != IMAP_STATUS_OK)
			log_debug("imap.id", "host=%s msg=\"ID refused: %s\"", c->host,
				  imap_clean(&t->text, text, sizeof(text)));
	}
	if (!c->utf8_enabled && imap_has_capability(c, "ENABLE") &&
	    imap_has_capability(c, "UTF8=ACCEPT")) {
		bool on = false;
		imap_cmd_begin(c, "ENABLE UTF8=ACCEPT");
		if (imap_cmd_run(c, enabled_cb, &on, &t, err) < 0)
			return -1;
		c->utf8_enabled = t->status == IMAP_STATUS_OK && on;
		log_debug("imap.enable", "host=%s utf8=%s", c->host,
			  c->utf8_enabled ? "yes" : "no");
	}
	return 0;
}

static void caps_text(const struct imap_client *c, char *out, size_t outlen)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < c->ncaps && o + 1 < outlen; i++) {
		char clean[128];
		log_clean(c->caps[i], strlen(c->caps[i]), clean, sizeof(clean));
		int n = snprintf(out + o, outlen - o, "%s%s", i ? " " : "", clean);
		if (n < 0 || (size_t)n >= outlen - o)
			break;
		o += (size_t)n;
	}
}

static struct imap_client *client_new(const struct config_account *acc,
				      const struct imap_limits *lim)
{
	struct imap_client *c = xcalloc(1, sizeof(*c));
	c->host = xstrdup(acc->host);
	if (lim)
		c->lim = *lim;
	if (!c->lim.max_line)
		c->lim.max_line = IMAP_DEFAULT_MAX_LINE;
	if (!c->lim.max_literal)
		c->lim.max_literal = IMAP_DEFAULT_MAX_LITERAL;
	/* a message bigger than it was listed is read to its end (up to four
	 * times the limit) and dropped, so it becomes badmail and the session
	 * goes on; beyond that the server is broken or hostile */
	uint64_t skip = c->lim.max_literal > UINT64_MAX / 4 ? UINT64_MAX : c->lim.max_literal * 4;
	struct imap_parse_limits plim = {
		.max_line = c->lim.max_line, .max_literal = c->lim.max_literal, .max_skip = skip,
	};
	c->parser = imap_parser_new(&plim);
	/* commands carry at most a UID set, a mailbox name and LOGIN strings */
	buf_init(&c->cmd, 64 * 1024);
	/* the io timeout (server_conn_open sets it too): LOGOUT's bound is taken from it */
	c->timeout_ms = acc->io_timeout_ms ? acc->io_timeout_ms : acc->timeout_ms;
	return c;
}

static int session_open(struct imap_client *c, const struct config_account *acc,
			struct conn_report *rep, struct err *err)
{
	if (server_conn_open(acc, rep, &c->tls, &c->conn, err) < 0)
		return -1;
	if (read_greeting(c, acc, err) < 0)
		return -1;
	if ((acc->security == SEC_STARTTLS || acc->security == SEC_STARTTLS_OPTIONAL) &&
	    start_tls(c, acc->security == SEC_STARTTLS_OPTIONAL, rep, err) < 0)
		return -1;
	if (!c->caps && imap_caps_fetch(c, err) < 0)
		return -1;
	if (rep)
		caps_text(c, rep->caps_before, sizeof(rep->caps_before));
	if (!c->logged_in) {
		double t0 = server_conn_clock_ms();
		if (imap_login(c, acc, err) < 0)
			return -1;
		if (rep)
			rep->login_ms = server_conn_clock_ms() - t0;
	}
	return session_extras(c, err);
}

int imap_connect_report(const struct config_account *acc, const struct imap_limits *lim,
			struct conn_report *rep, struct imap_client **client_r,
			struct err *err)
{
	*client_r = NULL;
	if (rep)
		conn_report_init(rep);
	struct imap_client *c = client_new(acc, lim);
	/* the secret registered and an OAuth2 token taken before connecting */
	int r = server_auth_prepare(acc, &c->token, err);
	if (r == 0)
		r = session_open(c, acc, rep, err);
	conn_report_tls(rep, c->conn);
	if (rep) {
		caps_text(c, rep->caps, sizeof(rep->caps));
		snprintf(rep->mech, sizeof(rep->mech), "%s", c->mech_used);
	}
	if (r < 0) {
		c->broken = true;  /* no LOGOUT on a half-open session */
		imap_client_free(&c);
		return -1;
	}
	log_info("imap.connect", "host=%s port=%u tls=%s user=%s login=%s", c->host, acc->port,
		 net_conn_is_tls(c->conn) ? "yes" : "no", acc->username, c->mech_used);
	*client_r = c;
	return 0;
}

int imap_connect(const struct config_account *acc, const struct imap_limits *lim,
		 struct imap_client **client_r, struct err *err)
{
	return imap_connect_report(acc, lim, NULL, client_r, err);
}

void imap_client_free(struct imap_client **cp)
{
	struct imap_client *c = *cp;
	if (!c)
		return;
	if (c->conn && !c->broken && !c->bye) {
		struct err e;
		const struct imap_response *t;
		uint64_t to = c->timeout_ms && c->timeout_ms < IMAP_LOGOUT_TIMEOUT_MS
				      ? c->timeout_ms : IMAP_LOGOUT_TIMEOUT_MS;
		net_conn_set_timeout(c->conn, to);
		imap_cmd_begin(c, "LOGOUT");
		if (imap_cmd_run(c, NULL, NULL, &t, &e) < 0)
			log_debug("imap.logout", "host=%s error=\"%s\"", c->host, e.msg);
	}
	net_conn_free(&c->conn);
	net_tls_free(&c->tls);
	imap_parser_free(&c->parser);
	imap_caps_clear(c);
	if (c->cmd.data)
		explicit_bzero(c->cmd.data, c->cmd.cap);
	buf_release(&c->cmd);
	oauth_token_release(&c->token);
	free(c->host);
	free(c);
	*cp = NULL;
}
