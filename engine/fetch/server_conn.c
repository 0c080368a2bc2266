/*
 * SECURITY: the connection policy both clients share. Implicit TLS
 * happens here before the server's first byte is read; a STARTTLS that
 * cannot be had is refused unless the admin chose starttls-optional, and
 * then logged every time; engine/net refuses bytes the server sent ahead
 * of the handshake.
 *
 * One place opens every server connection, so what engine/net adds to
 * net_conn_open (a proxy, say) reaches IMAP and POP3 alike.
 */
#include "engine/fetch/server_conn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/auth/oauth.h"
#include "engine/auth/sasl.h"
#include "engine/util/log.h"
#include "engine/util/str.h"

double server_conn_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void conn_report_init(struct conn_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->connect_ms = rep->tls_ms = rep->login_ms = -1;
}

void conn_report_tls(struct conn_report *rep, const struct net_conn *conn)
{
	if (!rep || !conn)
		return;
	const struct net_tls_info *ti = net_conn_tls_info(conn);
	if (ti) {
		rep->tls_seen = true;
		rep->tls_info = *ti;
	}
	rep->tls = net_conn_is_tls(conn);
}

int server_conn_open(const struct config_account *acc, struct conn_report *rep,
		     struct net_tls **tls_r, struct net_conn **conn_r, struct err *err)
{
	*tls_r = NULL;
	*conn_r = NULL;
	uint64_t cto = acc->connect_timeout_ms ? acc->connect_timeout_ms : acc->timeout_ms;
	uint64_t io = acc->io_timeout_ms ? acc->io_timeout_ms : acc->timeout_ms;
	/* before connecting: a TLS setting OpenSSL refuses is the admin's to fix,
	 * whether or not the server answers */
	if (acc->security != SEC_NONE && net_tls_new(&acc->tls, tls_r, err) < 0)
		return -1;
	double t0 = server_conn_clock_ms();
	if (net_conn_open(acc->host, acc->port, &acc->proxy, cto, conn_r, err) < 0)
		return -1;
	net_conn_set_timeout(*conn_r, io);
	/* from here on, however the server trickles its bytes */
	net_conn_set_session_limit(*conn_r, acc->session_timeout_ms);
	if (rep) {
		rep->connect_ms = server_conn_clock_ms() - t0;
		snprintf(rep->peer, sizeof(rep->peer), "%s", net_conn_peer(*conn_r));
		snprintf(rep->proxy, sizeof(rep->proxy), "%s", net_conn_proxy(*conn_r));
	}
	if (acc->security != SEC_TLS)
		return 0;
	t0 = server_conn_clock_ms();
	int r = net_conn_start_tls(*conn_r, *tls_r, err);
	if (rep)
		rep->tls_ms = server_conn_clock_ms() - t0;
	return r;
}

int server_conn_start_tls(struct net_conn *conn, struct net_tls *tls, struct conn_report *rep,
			  struct err *err)
{
	double t0 = server_conn_clock_ms();
	int r = net_conn_start_tls(conn, tls, err);
	if (rep) {
		rep->tls_ms = server_conn_clock_ms() - t0;
		rep->starttls_used = true;
	}
	return r;
}

int server_conn_no_tls(const char *event, const char *host, bool optional, const char *why,
		       struct err *err)
{
	if (!optional)
		return err_set(err, ERR_SOURCE, "%s %s, which security: starttls requires", host,
			       why);
	log_warn(event, "host=%s reason=\"%s\" msg=\"going on WITHOUT encryption "
		 "(security: starttls-optional)\"", host, why);
	return 0;
}

bool server_conn_secret_may_show(const struct config_account *acc, const struct net_conn *conn)
{
	return net_conn_is_tls(conn) || acc->security == SEC_NONE;
}

const char *server_auth_sasl_name(enum auth_method m)
{
	switch (m) {
	case AUTH_PLAIN: return "PLAIN";
	case AUTH_LOGIN: return "LOGIN";
	case AUTH_CRAM_MD5: return "CRAM-MD5";
	case AUTH_SCRAM_SHA_1: return "SCRAM-SHA-1";
	case AUTH_SCRAM_SHA_256: return "SCRAM-SHA-256";
	case AUTH_NTLM: return "NTLM";
	case AUTH_XOAUTH2: return "XOAUTH2";
	case AUTH_OAUTHBEARER: return "OAUTHBEARER";
	case AUTH_AUTO:
	case AUTH_APOP:
	case AUTH_USER:
		break;
	}
	return NULL;
}

int server_auth_sasl_new(const struct config_account *acc, const char *service,
			 const char *mech, const char *secret, struct sasl **sasl_r, struct err *err)
{
	struct sasl_params p = {
		.service = service,
		.host = acc->tls.server_name ? acc->tls.server_name : acc->host,
		.port = acc->port,
		.username = acc->username,
		.secret = secret,
	};
	return sasl_new(mech, &p, sasl_r, err);
}

int server_auth_early_success(const char *host, const char *mech, struct err *err)
{
	return err_set(err, ERR_SOURCE, "%s said the %s login succeeded before the exchange "
		       "was complete%s; refusing the session", host, mech,
		       str_has_iprefix(mech, "SCRAM") ? " (it never proved it knows the password)"
						     : "");
}

void server_auth_offered_text(const char *const *offered, size_t n, const char *none,
			      char *out, size_t outlen)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		char clean[64];
		int k = snprintf(out + o, outlen - o, "%s%s", i ? " " : "",
				 log_clean(offered[i], strlen(offered[i]), clean, sizeof(clean)));
		if (k < 0 || (size_t)k >= outlen - o)
			break;
		o += (size_t)k;
	}
	if (!out[0])
		snprintf(out, outlen, "%s", none);
}

int server_auth_refuse_unencrypted(const struct config_account *acc, const char *starttls,
				   struct err *err)
{
	bool token = acc->oauth2.enabled || acc->auth == AUTH_XOAUTH2 ||
		     acc->auth == AUTH_OAUTHBEARER;
	/* a bearer token has no challenge-response alternative: only TLS helps */
	return err_set(err, ERR_SOURCE, "auth: %s would send the %s unencrypted: %s was not "
		       "used; refusing (use security: tls or starttls%s)",
		       config_auth_name(acc->auth), token ? "token" : "password", starttls,
		       token ? "" : ", or a challenge-response mechanism such as scram-sha-256");
}

int server_auth_prepare(const struct config_account *acc, struct oauth_token *tok,
			struct err *err)
{
	memset(tok, 0, sizeof(*tok));
	if (!acc->host || !acc->username || (!acc->password && !acc->oauth2.enabled))
		return err_set(err, ERR_FATAL, "account \"%s\": host, username and password "
			       "are required", acc->name ? acc->name : "");
	/* before anything could print it */
	log_add_secret(acc->password);
	return acc->oauth2.enabled ? oauth_token_get(acc, tok, err) : 0;
}

const char *server_auth_secret(const struct config_account *acc, const struct oauth_token *tok)
{
	if (acc->oauth2.enabled)
		return tok->value ? tok->value : "";
	return acc->password ? acc->password : "";
}

int server_auth_oauth_mech(const char *host, const char *const *offered, size_t n,
			   const char **mech_r, struct err *err)
{
	char text[256];
	if ((*mech_r = sasl_pick_bearer(offered, n)))
		return 0;
	server_auth_offered_text(offered, n, "none", text, sizeof(text));
	return err_set(err, ERR_SOURCE, "%s offers neither OAUTHBEARER nor XOAUTH2 for the "
		       "OAuth2 token (offered: %s)", host, text);
}

bool server_auth_oauth_retry(const struct config_account *acc, const char *event,
			     const char *host, bool usable, struct oauth_token *tok,
			     struct err *err)
{
	struct err e2 = {0};
	char refused[sizeof(err->msg)];
	/* a token fetched for this login is not asked for again: the endpoint
	 * would give the same, or the server refuses it for another reason */
	if (!acc->oauth2.enabled || !tok->value || tok->refreshed || !usable ||
	    err->cls != ERR_SOURCE)
		return false;
	oauth_token_rejected(acc, tok);
	oauth_token_release(tok);
	if (oauth_token_get(acc, tok, &e2) < 0) {
		snprintf(refused, sizeof(refused), "%s", err->msg);
		err_set(err, e2.cls, "%s; and no new OAuth2 token: %s", refused, e2.msg);
		return false;
	}
	log_info(event, "host=%s msg=\"trying again with a new OAuth2 token\"", host);
	return true;
}
