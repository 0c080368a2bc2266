/*
 * SASL logins (RFC 4422), independent of the protocol that carries them:
 * IMAP AUTHENTICATE and POP3 AUTH both hand the server's challenges in and
 * send the responses out, each as one base64 line. The mechanisms come from
 * GNU SASL (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1/-256, NTLM); XOAUTH2 and
 * OAUTHBEARER (RFC 7628), which GNU SASL lacks, are written here. This
 * module is the only one that includes <gsasl.h>.
 *
 * Errors: a server that breaks the exchange (bad base64, a SCRAM proof
 * that does not verify, a challenge after the end) is ERR_SOURCE; a
 * mechanism we do not have is ERR_FATAL.
 *
 * SECURITY: the secret (password or bearer token) and every response are
 * wiped before their memory is freed; none of them reach a log line or an
 * error message. Challenges come from the server: they are decoded with
 * limits (SASL_MAX_CHALLENGE) and only cleaned text of an OAuth error
 * reaches an error message.
 */
#ifndef M2T_SASL_H
#define M2T_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/util/err.h"

/* A challenge longer than this (base64 characters) is refused. */
#define SASL_MAX_CHALLENGE (64 * 1024)

struct sasl;

struct sasl_params {
	const char *service;    /* GSS-API service name: "imap", "pop" */
	const char *host;       /* the server's name (OAUTHBEARER host=, DIGEST) */
	unsigned port;          /* OAUTHBEARER port= */
	const char *username;   /* NTLM: "DOMAIN\user" splits into domain and user */
	const char *secret;     /* password, or the bearer token of XOAUTH2/OAUTHBEARER */
};

/*
 * The mechanism `auth: auto` takes from the server's list (names as the
 * server wrote them, without "AUTH="): the strongest of SCRAM-SHA-256,
 * SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN. PLAIN and LOGIN (which show the
 * password to the connection) only when plaintext_ok. NTLM, XOAUTH2 and
 * OAUTHBEARER are never picked: they need an explicit `auth:`. NULL when
 * none fits. The result is a static string.
 */
const char *sasl_pick(const char *const *offered, size_t n, bool plaintext_ok);

/*
 * The mechanism `auth: auto` takes for an OAuth2 account's bearer token:
 * OAUTHBEARER (RFC 7628; Gmail, Dovecot) when offered, else XOAUTH2
 * (Microsoft 365); NULL when the server offers neither. A static string.
 */
const char *sasl_pick_bearer(const char *const *offered, size_t n);

/* True for mechanisms that send the secret itself (PLAIN, LOGIN, XOAUTH2,
 * OAUTHBEARER): only over an encrypted connection, or with security: none. */
bool sasl_mech_is_plaintext(const char *mech);
/* True when the client speaks first, so SASL-IR (RFC 4959) may carry it. */
bool sasl_mech_client_first(const char *mech);
/* Known to this module (case-insensitive). */
bool sasl_mech_supported(const char *mech);

/* Starts a client session for mech (e.g. "SCRAM-SHA-256"). Copies params. */
int sasl_new(const char *mech, const struct sasl_params *p, struct sasl **s_r,
	     struct err *err);
/* Wipes and frees; sets *s to NULL. */
void sasl_free(struct sasl **s);

/*
 * One step: `in` is the server's base64 challenge (NULL or "" for none,
 * e.g. the initial response). *out_r is the base64 response to send
 * ("" for an empty response), malloc'd: free it with sasl_out_free().
 * 0 on success; -1 when the exchange cannot go on (then cancel it).
 */
int sasl_step(struct sasl *s, const char *in, size_t inlen, char **out_r, struct err *err);
void sasl_out_free(char **out);

/*
 * True once the mechanism has finished from the client's side; for SCRAM
 * that means the server proved it knows the password. A server that says
 * "logged in" before this is refused by the caller.
 */
bool sasl_done(const struct sasl *s);
/*
 * After an OAuth error challenge (XOAUTH2/OAUTHBEARER), the server's
 * reason, cleaned for a message; NULL otherwise. Owned by s.
 */
const char *sasl_server_error(const struct sasl *s);
/* The mechanism's canonical name ("SCRAM-SHA-256"). */
const char *sasl_mech(const struct sasl *s);

#endif
