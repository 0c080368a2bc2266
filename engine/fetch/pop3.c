/*
 * SECURITY: talks to an untrusted server. The connection policy lives
 * here, as in imap.c: implicit TLS or required STLS (no silent downgrade:
 * a server that does not offer or refuses STLS ends the session before any
 * credential is sent), bytes the server sent before the TLS handshake abort
 * it (engine/net), capabilities are forgotten and asked again after STLS,
 * and the password is registered with the logger as a secret before
 * anything is sent.
 *
 * Connecting: greeting (with the APOP timestamp), CAPA, STLS, login.
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

static int start_tls(struct pop3_client *c, struct err *err)
{
	const struct pop3_response *r;
	if (c->caps_known && !pop3_has_capability(c, "STLS"))
		return err_set(err, ERR_SOURCE,
			       "%s does not offer STLS, which security: starttls requires", c->host);
	if (pop3_cmd(c, "STLS", false, POP3_EXPECT_SINGLE, 0, &r, err) < 0)
		return -1;
	if (r->status != POP3_OK) {
		pop3_err_from(c, r, ERR_SOURCE, "STLS refused", err);
		return err_prefix(err, "security: starttls requires it");
	}
	if (net_conn_start_tls(c->conn, c->tls, err) < 0) {
		c->broken = true;
		return -1;
	}
	/* anything learned before TLS may have been forged: ask again. (The
	 * APOP challenge is kept: the digest made from it travels inside TLS,
	 * to the server whose certificate was checked.) */
	return pop3_capa(c, err);
}

int pop3_connect(const struct config_account *acc, const struct pop3_limits *lim,
		 struct pop3_client **client_r, struct err *err)
{
	*client_r = NULL;
	if (!acc->host || !acc->username || !acc->password)
		return err_set(err, ERR_FATAL, "account \"%s\": host, username and password "
			       "are required", acc->name ? acc->name : "");
	/* before anything could print it */
	log_add_secret(acc->password);

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
	c->timeout_ms = acc->timeout_ms;

	if (acc->security != SEC_NONE && net_tls_new(&acc->tls, &c->tls, err) < 0)
		goto fail;
	if (net_conn_open(acc->host, acc->port, acc->timeout_ms, &c->conn, err) < 0)
		goto fail;
	if (acc->security == SEC_TLS && net_conn_start_tls(c->conn, c->tls, err) < 0)
		goto fail;
	if (read_greeting(c, err) < 0)
		goto fail;
	if (pop3_capa(c, err) < 0)
		goto fail;
	/* A "STLS when offered" mode (an explicit, logged downgrade, DESIGN.md
	 * decision 4) would branch here on !pop3_has_capability(c, "STLS"). */
	if (acc->security == SEC_STARTTLS && start_tls(c, err) < 0)
		goto fail;
	if (pop3_login(c, acc, err) < 0)
		goto fail;
	log_info("pop3.connect", "host=%s port=%u tls=%s user=%s login=\"%s\"", c->host,
		 acc->port, net_conn_is_tls(c->conn) ? "yes" : "no", acc->username,
		 c->login_used ? c->login_used : "");
	*client_r = c;
	return 0;
fail:
	pop3_client_free(&c);
	return -1;
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
	return c->login_used ? c->login_used : "";
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
	free(c->host);
	free(c);
	*cp = NULL;
}
