/*
 * POP3 client (RFC 1939, RFC 2449 CAPA and response codes, RFC 2595 STLS,
 * RFC 5034 AUTH), built on the I/O-free response parser (pop3_parse.h) and
 * engine/net connections, for fetching mail by UIDL.
 *
 * Errors: network, timeouts, a locked maildrop ([IN-USE], [LOGIN-DELAY],
 * [SYS/TEMP]) → ERR_TRANSIENT; login refused, no UIDL, protocol violations
 * → ERR_SOURCE; bad settings → ERR_FATAL.
 *
 * Deletions (DELE) take effect only when the server answers QUIT with +OK:
 * pop3_quit() says whether that happened; pop3_client_free() without it
 * leaves every message on the server.
 */
#ifndef M2T_POP3_H
#define M2T_POP3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/config/config.h"
#include "engine/fetch/server_conn.h"
#include "engine/util/err.h"

struct pop3_client;

struct pop3_limits {
	size_t max_line;        /* a status line; default 8 KB */
	uint64_t max_message;   /* a RETR body kept; default 64 MB. A bigger one is read
				   on (up to as much again), dropped and reported */
};

/*
 * Connects (server_conn.h: timeouts, implicit TLS), CAPA, STLS as
 * security says, login. `starttls` fails when the server does not offer
 * STLS or refuses it; `starttls-optional` goes on in plaintext then, with
 * a warning each time. A password or token is shown to the connection
 * (USER/PASS, PLAIN, LOGIN, XOAUTH2, OAUTHBEARER) only over TLS or with
 * `security: none`.
 */
int pop3_connect(const struct config_account *acc, const struct pop3_limits *lim,
		 struct pop3_client **client_r, struct err *err);
/* pop3_connect, filling *rep as far as it got (also on failure). */
int pop3_connect_report(const struct config_account *acc, const struct pop3_limits *lim,
			struct conn_report *rep, struct pop3_client **client_r,
			struct err *err);
/* Closes without QUIT (so without applying deletions) and frees; sets *c to NULL. */
void pop3_client_free(struct pop3_client **c);

/* A CAPA tag ("UIDL", "STLS", "PIPELINING"), compared case-insensitively. */
bool pop3_has_capability(const struct pop3_client *c, const char *cap);
/* The login that was used ("AUTH SCRAM-SHA-256", "APOP", "USER/PASS"), for logs and tests. */
const char *pop3_login_used(const struct pop3_client *c);

struct pop3_msg {
	uint32_t number;        /* message number, this session only */
	uint64_t size;          /* from LIST, in octets as the server counts them */
	const char *uidl;       /* 1..70 bytes of 0x21-0x7E (RFC 1939) */
};

/*
 * STAT: the number of messages in the maildrop and their octets (0 when
 * the server leaves them out). More than a run reads (1,000,000) is
 * ERR_SOURCE; -ERR is ERR_TRANSIENT unless its code says otherwise.
 */
int pop3_stat(struct pop3_client *c, uint32_t *count_r, uint64_t *octets_r, struct err *err);

/*
 * STAT, UIDL and LIST: every message of the maildrop with its UIDL and
 * size, in server order. A server without UIDL is refused (ERR_SOURCE):
 * without it no message could be recognised in a later session. Messages
 * whose UIDL is not unique are left out, with a warning (their identity
 * would be ambiguous). *v_r is owned by the client and valid until the
 * next listing or pop3_client_free().
 */
int pop3_list_messages(struct pop3_client *c, const struct pop3_msg **v_r, size_t *n_r,
		       struct err *err);

/*
 * Called with a message's bytes (dot-unstuffed, exactly as stored), valid
 * only during the call. raw NULL: the message was larger than max_message;
 * len is its size, nothing of it was kept. <0 stops and is returned.
 */
typedef int (*pop3_body_cb)(void *ud, uint32_t number, const char *raw, size_t len,
			    struct err *err);

/*
 * RETR number. A message the server refuses to give (-ERR: deleted by
 * another session) is skipped with a log line and 0 is returned.
 */
int pop3_retr(struct pop3_client *c, uint32_t number, pop3_body_cb cb, void *ud,
	      struct err *err);

/* DELE number: marks it; applied only by a QUIT that succeeds. -ERR → ERR_TRANSIENT. */
int pop3_dele(struct pop3_client *c, uint32_t number, struct err *err);

/*
 * QUIT. 0 only when the server answered +OK, i.e. applied the deletions;
 * otherwise ERR_TRANSIENT (the messages are still on the server). The
 * session is over either way.
 */
int pop3_quit(struct pop3_client *c, struct err *err);

/* Whether the session can still take commands (no error broke it, no QUIT). */
bool pop3_usable(const struct pop3_client *c);

#endif
