/*
 * What every mail server client (IMAP, POP3) does the same way before it
 * speaks its protocol: the account's TLS context, the TCP connection
 * (engine/net's net_conn_open, where proxies apply), the three timeouts
 * (connect_timeout for each attempt, io_timeout for each read and write,
 * session_timeout for the whole session), implicit TLS, the STARTTLS
 * handshake and the policy when STARTTLS cannot be had; the report of it
 * all for `test-connection`; and what logging in has in common (the SASL
 * session, OAuth2 tokens: which mechanism, when to retry).
 *
 * Errors are engine/net's: the network and timeouts ERR_TRANSIENT,
 * certificates ERR_SOURCE, TLS settings OpenSSL refuses ERR_FATAL.
 */
#ifndef M2T_SERVER_CONN_H
#define M2T_SERVER_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/config/config.h"
#include "engine/net/net.h"
#include "engine/util/err.h"

/* What a connection attempt showed, for `test-connection`. Text is cleaned. */
struct conn_report {
	char peer[64];          /* the address connected to; "" when none */
	char proxy[192];        /* how, when through a proxy (net_conn_proxy); else "" */
	bool tls;               /* the session is encrypted */
	bool starttls_used;     /* STARTTLS (IMAP) or STLS (POP3) upgraded it */
	bool tls_seen;          /* a handshake happened (maybe failed): tls_info set */
	struct net_tls_info tls_info;
	char caps_before[1024]; /* capabilities before login */
	char caps[1024];        /* after login (IMAP); as before for POP3 */
	char mech[48];          /* how it logged in: "SCRAM-SHA-256", "LOGIN command" */
	double connect_ms, tls_ms, login_ms;  /* -1 when the step did not happen */
};

/* A monotonic clock in milliseconds, for the report's round-trip times. */
double server_conn_clock_ms(void);
/* Empties *rep; the times become -1 (not happened). */
void conn_report_init(struct conn_report *rep);
/* Copies what the connection's last handshake showed into *rep (rep may be NULL). */
void conn_report_tls(struct conn_report *rep, const struct net_conn *conn);

/*
 * Opens the account's connection: its TLS context (unless security: none;
 * *tls_r NULL then), the TCP connection within connect_timeout (or
 * timeout), then io_timeout for every later wait and session_timeout from
 * now on, and with security: tls the handshake. rep (may be NULL) gets
 * the address and the connect and TLS times. On failure *conn_r and
 * *tls_r are set as far as they got: the caller frees both
 * (net_conn_free before net_tls_free) either way.
 */
int server_conn_open(const struct config_account *acc, struct conn_report *rep,
		     struct net_tls **tls_r, struct net_conn **conn_r, struct err *err);

/* The TLS handshake after the server accepted STARTTLS/STLS, timed into rep. */
int server_conn_start_tls(struct net_conn *conn, struct net_tls *tls, struct conn_report *rep,
			  struct err *err);

/*
 * The server does not offer STARTTLS, or refused it (`why`, e.g. "does not
 * offer STLS"). Required (security: starttls): ERR_SOURCE, nothing more
 * may be sent. Optional (starttls-optional): a warning naming the host,
 * logged as event `event` on every connection, and 0: the session goes on
 * in plaintext.
 */
int server_conn_no_tls(const char *event, const char *host, bool optional, const char *why,
		       struct err *err);

/*
 * Whether a login may show the secret itself (PLAIN, LOGIN, USER/PASS,
 * bearer tokens): only on an encrypted connection, or when the admin chose
 * security: none.
 */
bool server_conn_secret_may_show(const struct config_account *acc, const struct net_conn *conn);

/*
 * The SASL mechanism name of an `auth:` value ("SCRAM-SHA-256"; AUTH_LOGIN
 * is "LOGIN", which IMAP takes as its LOGIN command instead); NULL for
 * auto and POP3's own logins (APOP, USER).
 */
const char *server_auth_sasl_name(enum auth_method m);

struct sasl;
/* A SASL client session (engine/auth) for the account's user and `secret`
 * (the password, or an OAuth2 access token); service is the GSS-API name
 * ("imap", "pop"). */
int server_auth_sasl_new(const struct config_account *acc, const char *service,
			 const char *mech, const char *secret, struct sasl **sasl_r, struct err *err);
/*
 * The server said "logged in" while the mechanism had not finished (for
 * SCRAM: before the server proved it knows the password): ERR_SOURCE,
 * the session must not be used.
 */
int server_auth_early_success(const char *host, const char *mech, struct err *err);

/* The server's mechanism names as one cleaned line for messages
 * ("SCRAM-SHA-256 PLAIN"); `none` when n is 0. */
void server_auth_offered_text(const char *const *offered, size_t n, const char *none,
			      char *out, size_t outlen);

/*
 * A login by `auth:` would show the secret (the password, or an OAuth2
 * token) on a connection where server_conn_secret_may_show() is false:
 * ERR_SOURCE saying what to change; `starttls` names the protocol's
 * command ("STARTTLS", "STLS").
 */
int server_auth_refuse_unencrypted(const struct config_account *acc, const char *starttls,
				   struct err *err);

/*
 * OAuth2 logins (accounts with oauth2:), the same for IMAP and POP3.
 *
 * Before connecting: the account has what a login needs (host, username,
 * and a password unless it has oauth2:), the password is registered with
 * the logger as a secret, and an oauth2 account's access token is taken
 * into *tok (engine/auth) — before the connection, so that a refused
 * refresh never costs the mail server a login. *tok is left empty for
 * other accounts; oauth_token_release() it either way.
 */
struct oauth_token;
int server_auth_prepare(const struct config_account *acc, struct oauth_token *tok,
			struct err *err);
/* What a login sends: the access token of an oauth2 account, else the
 * password; "" when there is none, never NULL. Owned by acc or tok. */
const char *server_auth_secret(const struct config_account *acc, const struct oauth_token *tok);
/*
 * `auth: auto` on an oauth2 account: OAUTHBEARER when offered, else
 * XOAUTH2 (sasl_pick_bearer); ERR_SOURCE naming what the server offers
 * when it has neither.
 */
int server_auth_oauth_mech(const char *host, const char *const *offered, size_t n,
			   const char **mech_r, struct err *err);
/*
 * The retry rule after the server refused an oauth2 account's login
 * (*err): when the refusal is a login refusal (ERR_SOURCE), the session
 * can still take a command (`usable`) and the token came from a cache
 * rather than from the token endpoint just now, the server may have
 * revoked it before its expiry: it is dropped (oauth_token_rejected) and a
 * fresh one is fetched into *tok. True: log in once more with it (the
 * caller allows one retry). False: no retry; when no new token could be
 * had, *err says so too and takes that failure's class (a token endpoint
 * that is down is "try again later").
 */
bool server_auth_oauth_retry(const struct config_account *acc, const char *event,
			     const char *host, bool usable, struct oauth_token *tok,
			     struct err *err);

#endif
