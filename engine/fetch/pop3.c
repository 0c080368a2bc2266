/*
 * SECURITY: talks to an untrusted server. The connection policy lives
 * here and in server_conn.c, as for IMAP: implicit TLS or required STLS
 * (no silent downgrade: a server that does not offer or refuses STLS ends
 * the session before any credential is sent), bytes the server sent
 * before the TLS handshake abort it (engine/net), capabilities are
 * forgotten and asked again after STLS, and the password (or an oauth2
 * account's access token, engine/auth) is registered with the logger as a
 * secret before anything is sent.
 * `starttls-optional` is the one explicit downgrade: it goes on in
 * plaintext with a warning on every connection, and then no login that
 * shows the password is made (pop3_auth.c).
 *
 * Connecting: an oauth2 account's access token first (a refused refresh
 * costs the server no login), then greeting (with the APOP timestamp),
 * CAPA, STLS, login.
 * Ending: QUIT, whose +OK is what applies the deletions.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/pop3_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define POP3_DEFAULT_MAX_LINE (8 * 1024)
#define POP3_DEFAULT_MAX_MESSAGE ((uint64_t)64 * 1024 * 1024)
#define POP3_QUIT_TIMEOUT_MS 10000

/*
 * The APOP challenge: the last "<...>" of the greeting (RFC 1939 section 7
 * gives it the syntax of a msg-id). Kept only when it is printable ASCII
 * without spaces and fits; otherwise APOP is simply not offered.
 */
static void greeting_timestamp(struct pop3_client *c, const struct slice *text)
{
	c->timestamp[0] = '\0';
	const char *end = NULL, *start = NULL;
	for (size_t i = text->len; i-- > 0;) {
		if (!end && text->p[i] == '>')
			end = text->p + i;
		else if (end && text->p[i] == '<') {
			start = text->p + i;
			break;
		}
	}
	if (!start || !end)
		return;
	size_t len = (size_t)(end - start) + 1;
	if (len < 3 || len > POP3_TIMESTAMP_MAX || !memchr(start, '@', len))
		return;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)start[i] <= 0x20 || (unsigned char)start[i] >= 0x7f)
			return;
	memcpy(c->timestamp, start, len);
	c->timestamp[len] = '\0';
}

static int read_greeting(struct pop3_client *c, struct err *err)
{
	const struct pop3_response *r;
	char text[256];
	if (pop3_read(c, POP3_EXPECT_SINGLE, 0, &r, err) < 0) {
		if (err->cls == ERR_SOURCE)
			return err_set(err, ERR_SOURCE, "%s did not greet as a POP3 server (%s)",
				       c->host, pop3_parser_error_str(c->parser));
		return err_prefix(err, "reading the greeting of %s", c->host);
	}
	if (r->status != POP3_OK) {
		/* busy or shutting down: another run will find it better */
		c->broken = true;
		return err_set(err, ERR_TRANSIENT, "%s refused the connection: %s", c->host,
			       pop3_clean(&r->text, text, sizeof(text)));
	}
	greeting_timestamp(c, &r->text);
	return 0;
}

/* STLS as security says: required, or optional (plaintext when refused, logged). */
static int start_tls(struct pop3_client *c, bool optional, struct conn_report *rep,
		     struct err *err)
{
	const struct pop3_response *r;
	char text[256], why[320];
	/* a server that did not answer CAPA is asked anyway (RFC 2595 predates CAPA) */
	if (c->caps_known && !pop3_has_capability(c, "STLS"))
		return server_conn_no_tls("pop3.starttls_skipped", c->host, optional,
					  "does not offer STLS", err);
	if (pop3_cmd(c, "STLS", false, POP3_EXPECT_SINGLE, 0, &r, err) < 0)
		return -1;
	if (r->status != POP3_OK) {
		snprintf(why, sizeof(why), "refused STLS (%s)",
			 pop3_clean(&r->text, text, sizeof(text)));
		return server_conn_no_tls("pop3.starttls_skipped", c->host, optional, why, err);
	}
	if (server_conn_start_tls(c->conn, c->tls, rep, err) < 0) {
		c->broken = true;
		return -1;
	}
	/* anything learned before TLS may have been forged: ask again. (The
	 * APOP challenge is kept: the digest made from it travels inside TLS,
	 * to the server whose certificate was checked.) */
	return pop3_capa(c, err);
}

/* The CAPA lines as one line for the report: "TOP, UIDL, SASL PLAIN LOGIN". */
static void caps_text(const struct pop3_client *c, char *out, size_t outlen)
{
	size_t o = 0;
	out[0] = '\0';
	if (!c->caps_known) {
		snprintf(out, outlen, "(CAPA not supported)");
		return;
	}
	for (size_t i = 0; i < c->ncaps && o + 1 < outlen; i++) {
		char clean[128];
		log_clean(c->caps[i], strlen(c->caps[i]), clean, sizeof(clean));
		int n = snprintf(out + o, outlen - o, "%s%s", i ? ", " : "", clean);
		if (n < 0 || (size_t)n >= outlen - o)
			break;
		o += (size_t)n;
	}
}

static struct pop3_client *client_new(const struct config_account *acc,
				      const struct pop3_limits *lim)
{
	struct pop3_client *c = xcalloc(1, sizeof(*c));
	c->host = xstrdup(acc->host);
	if (lim)
		c->lim = *lim;
	if (!c->lim.max_line)
		c->lim.max_line = POP3_DEFAULT_MAX_LINE;
	if (!c->lim.max_message)
		c->lim.max_message = POP3_DEFAULT_MAX_MESSAGE;
	/* a message bigger than announced is read to its end (as much again
	 * at most) so the session survives and the message becomes badmail */
	struct pop3_parse_limits plim = {
		.max_line = c->lim.max_line, .max_body = c->lim.max_message,
		.max_discard = c->lim.max_message,
	};
	c->parser = pop3_parser_new(&plim);
	/* the io timeout (server_conn_open sets it): QUIT's bound is taken from it */
	c->timeout_ms = acc->io_timeout_ms ? acc->io_timeout_ms : acc->timeout_ms;
	return c;
}

static int session_open(struct pop3_client *c, const struct config_account *acc,
			struct conn_report *rep, struct err *err)
{
	if (server_conn_open(acc, rep, &c->tls, &c->conn, err) < 0)
		return -1;
	if (read_greeting(c, err) < 0)
		return -1;
	if (pop3_capa(c, err) < 0)
		return -1;
	if ((acc->security == SEC_STARTTLS || acc->security == SEC_STARTTLS_OPTIONAL) &&
	    start_tls(c, acc->security == SEC_STARTTLS_OPTIONAL, rep, err) < 0)
		return -1;
	if (rep)
		caps_text(c, rep->caps_before, sizeof(rep->caps_before));
	double t0 = server_conn_clock_ms();
	if (pop3_login(c, acc, err) < 0)
		return -1;
	if (rep)
		rep->login_ms = server_conn_clock_ms() - t0;
	return 0;
}

int pop3_connect_report(const struct config_account *acc, const struct pop3_limits *lim,
			struct conn_report *rep, struct pop3_client **client_r,
			struct err *err)
{
	*client_r = NULL;
	if (rep)
		conn_report_init(rep);
	struct pop3_client *c = client_new(acc, lim);
	/* the secret registered and an OAuth2 token taken before connecting */
	int r = server_auth_prepare(acc, &c->token, err);
	if (r == 0)
		r = session_open(c, acc, rep, err);
	conn_report_tls(rep, c->conn);
	if (rep) {
		snprintf(rep->mech, sizeof(rep->mech), "%s", c->login_used);
		if (c->conn)
			caps_text(c, rep->caps, sizeof(rep->caps));
	}
	if (r < 0) {
		pop3_client_free(&c);
		return -1;
	}
	log_info("pop3.connect", "host=%s port=%u tls=%s user=%s login=\"%s\"", c->host,
		 acc->port, net_conn_is_tls(c->conn) ? "yes" : "no", acc->username, c->login_used);
	*client_r = c;
	return 0;
}

int pop3_connect(const struct config_account *acc, const struct pop3_limits *lim,
		 struct pop3_client **client_r, struct err *err)
{
	return pop3_connect_report(acc, lim, NULL, client_r, err);
}

bool pop3_usable(const struct pop3_client *c)
{
	return c->conn && !c->broken && !c->quit;
}

int pop3_quit(struct pop3_client *c, struct err *err)
{
	const struct pop3_response *r;
	if (!pop3_usable(c))
		return err_set(err, ERR_TRANSIENT, "connection to %s is no longer usable; "
			       "deletions not applied", c->host);
	/* bounded even with a long configured timeout: the work is done */
	uint64_t to = c->timeout_ms && c->timeout_ms < POP3_QUIT_TIMEOUT_MS
			      ? c->timeout_ms : POP3_QUIT_TIMEOUT_MS;
	net_conn_set_timeout(c->conn, to);
	int rc = pop3_cmd(c, "QUIT", false, POP3_EXPECT_SINGLE, 0, &r, err);
	c->quit = true;
	if (rc < 0)
		return err_prefix(err, "QUIT (deletions not applied)");
	if (r->status != POP3_OK) {
		pop3_err_from(c, r, ERR_TRANSIENT, "QUIT failed", err);
		/* whatever the code said: the messages are still there, try again later */
		err->cls = ERR_TRANSIENT;
		return err_prefix(err, "deletions not applied");
	}
	return 0;
}

const char *pop3_login_used(const struct pop3_client *c)
{
	return c->login_used;
}

void pop3_client_free(struct pop3_client **cp)
{
	struct pop3_client *c = *cp;
	if (!c)
		return;
	net_conn_free(&c->conn);
	net_tls_free(&c->tls);
	pop3_parser_free(&c->parser);
	for (size_t i = 0; i < c->ncaps; i++)
		free(c->caps[i]);
	free(c->caps);
	free(c->msgs);
	free(c->uidl_pool);
	oauth_token_release(&c->token);
	free(c->host);
	free(c);
	*cp = NULL;
}
