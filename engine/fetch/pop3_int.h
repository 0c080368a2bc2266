/*
 * Private to the POP3 client (pop3*.c): the client struct and the command
 * layer every POP3 file builds on.
 */
#ifndef M2T_POP3_INT_H
#define M2T_POP3_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/auth/oauth.h"
#include "engine/fetch/pop3.h"
#include "engine/fetch/pop3_parse.h"
#include "engine/fetch/server_conn.h"
#include "engine/net/net.h"

#define POP3_TIMESTAMP_MAX 256  /* an APOP timestamp "<...>" from the greeting */

struct pop3_client {
	char *host;
	struct net_conn *conn;
	struct net_tls *tls;
	struct pop3_parser *parser;
	struct pop3_limits lim;
	uint64_t timeout_ms;

	char **caps;            /* CAPA lines, as sent (tag and arguments) */
	size_t ncaps;
	bool caps_known;        /* CAPA answered +OK (else: an RFC 1939-only server) */
	char timestamp[POP3_TIMESTAMP_MAX + 1];  /* APOP challenge; "" when none */
	char login_used[48];    /* "AUTH SCRAM-SHA-256", "APOP", "USER/PASS"; "" before */
	struct oauth_token token;   /* oauth2 accounts: the access token to log in with */
	bool broken;            /* stream out of sync or closed: no more commands */
	bool quit;              /* QUIT sent */

	struct pop3_msg *msgs;  /* the last listing */
	size_t nmsgs;
	char *uidl_pool;        /* the UIDL response, NUL-split: msgs[].uidl point here */
};

/*
 * Sends `line` + CRLF (traced as "VERB ***" when secret), sets what the
 * response may be and reads it: *r_r is valid until the next command.
 * 0 when a response came, whatever its status.
 */
int pop3_cmd(struct pop3_client *c, const char *line, bool secret, enum pop3_expect e,
	     uint64_t max_body, const struct pop3_response **r_r, struct err *err);
/* Reads one response as `e` says (the greeting, SASL steps). */
int pop3_read(struct pop3_client *c, enum pop3_expect e, uint64_t max_body,
	      const struct pop3_response **r_r, struct err *err);
/* Sends a line that must not be traced (a SASL response). */
int pop3_send_secret(struct pop3_client *c, const char *line, struct err *err);

/*
 * An -ERR made an error: the class comes from its RFC 2449 code ([IN-USE],
 * [LOGIN-DELAY], [SYS/TEMP] transient; [AUTH], [SYS/PERM] source), else
 * `cls`. The message is "<what> on <host>: <server text, cleaned>".
 */
int pop3_err_from(struct pop3_client *c, const struct pop3_response *r, enum err_class cls,
		  const char *what, struct err *err);
/* Server text made safe for errors and logs (cleaned, cut). */
const char *pop3_clean(const struct slice *s, char *out, size_t outlen);

/* CAPA: replaces the capability list (none known when the server refuses). */
int pop3_capa(struct pop3_client *c, struct err *err);
/*
 * The mechanisms of CAPA's "SASL" line(s), as the server wrote them: up to
 * max words copied into buf (NUL-split), pointed to by v. 0 when none.
 */
size_t pop3_sasl_mechs(const struct pop3_client *c, char *buf, size_t buflen, const char **v,
		       size_t max);

/* The login the account asks for, or the best the server offers (pop3_auth.c). */
int pop3_login(struct pop3_client *c, const struct config_account *acc, struct err *err);

#endif
