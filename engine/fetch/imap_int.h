/*
 * Private to the IMAP client (imap*.c): the client struct and the command
 * layer every IMAP file builds on.
 */
#ifndef M2T_IMAP_INT_H
#define M2T_IMAP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/auth/oauth.h"
#include "engine/fetch/imap.h"
#include "engine/fetch/imap_parse.h"
#include "engine/net/net.h"
#include "engine/util/buf.h"

#define IMAP_MAX_SYNC 8         /* synchronising literals in one command */

struct imap_client {
	char *host;
	struct net_conn *conn;
	struct net_tls *tls;
	struct imap_parser *parser;
	struct imap_limits lim;
	uint64_t timeout_ms;

	unsigned tag_seq;
	char tag[16];           /* tag of the command in progress */
	struct buf cmd;         /* the command being built */
	size_t sync[IMAP_MAX_SYNC];  /* offsets after which we wait for "+" */
	size_t nsync;
	bool cmd_secret;        /* traces show "TAG VERB ***" only */
	size_t verb_end;        /* end of "TAG VERB" in cmd */

	char **caps;
	size_t ncaps;
	bool broken;            /* stream out of sync or closed: no more commands */
	bool bye;               /* server said BYE */
	bool logged_in;
	char mech_used[48];     /* how the login was done, for reports */
	struct oauth_token token;   /* oauth2 accounts: the access token to log in with */
	bool utf8_enabled;      /* the server answered ENABLED UTF8=ACCEPT */
	bool delim_known;
	char delim;             /* hierarchy delimiter, 0 for a flat namespace */
	bool selected;
	bool readonly;          /* we EXAMINEd the mailbox */
	bool server_readonly;   /* the server answered SELECT with [READ-ONLY] */
	bool seen_permanent;    /* \Seen is among its PERMANENTFLAGS (or none were sent) */
	uint32_t exists;
	uint32_t uidvalidity;
};

/*
 * Called for each untagged or continuation response of a command, after
 * the common handling (EXISTS, EXPUNGE, CAPABILITY, BYE, ALERT). A
 * continuation with no callback is a protocol error. Returning <0 keeps
 * reading to the tagged response, then the command fails with that error.
 */
typedef int (*imap_resp_cb)(struct imap_client *c, void *ud, const struct imap_response *r,
			    struct err *err);

/* Starts a command: a new tag, then "TAG verb". */
void imap_cmd_begin(struct imap_client *c, const char *verb);
/* Appends raw text (atoms, sets, parenthesised items). */
void imap_cmd_addf(struct imap_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends " " + s as a quoted string, or a literal when it cannot be quoted
 * (CR, LF, 8-bit unless allow_8bit). NUL cannot be sent: -1. */
int imap_cmd_add_string(struct imap_client *c, const char *s, size_t len, bool allow_8bit,
			struct err *err);
/* Appends a literal {n}+bytes (no leading space), LITERAL+ when offered. */
int imap_cmd_add_literal(struct imap_client *c, const char *s, size_t len, struct err *err);
/* Appends " " + a mailbox name (checked: ASCII, or UTF-8 with UTF8=ACCEPT). */
int imap_cmd_add_mailbox(struct imap_client *c, const char *name, struct err *err);
/* Sends the command and reads to its tagged response (*tagged_r, valid
 * until the next read). 0 when a tagged response came, whatever its status. */
int imap_cmd_run(struct imap_client *c, imap_resp_cb cb, void *ud,
		 const struct imap_response **tagged_r, struct err *err);
/* imap_cmd_run, then a tagged NO/BAD becomes an error of class `no_cls`
 * (BAD is always ERR_SOURCE) with the server's text. */
int imap_cmd_ok(struct imap_client *c, imap_resp_cb cb, void *ud, enum err_class no_cls,
		struct err *err);
/* Reads one response (untagged common handling not applied). */
int imap_read_response(struct imap_client *c, const struct imap_response **r_r,
		       struct err *err);
/* Sends raw bytes (used for SASL continuation lines); trace redacted. */
int imap_send_secret_line(struct imap_client *c, const char *line, size_t len, struct err *err);

/* Replaces the capability list from CAPABILITY data or a [CAPABILITY] code. */
void imap_caps_set_args(struct imap_client *c, const struct imap_arg *args, size_t n);
void imap_caps_set_text(struct imap_client *c, const char *text, size_t len);
void imap_caps_clear(struct imap_client *c);
/* CAPABILITY command. */
int imap_caps_fetch(struct imap_client *c, struct err *err);

/* Server text made safe for errors and logs (cleaned, cut). */
const char *imap_clean(const struct slice *s, char *out, size_t outlen);

/* LOGIN or AUTHENTICATE <mechanism> as configured (imap_auth.c). */
int imap_login(struct imap_client *c, const struct config_account *acc, struct err *err);

#endif
