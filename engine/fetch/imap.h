/*
 * IMAP4rev1 client (RFC 3501) for fetching mail by UID. Built on the
 * I/O-free response parser (imap_parse.h) and engine/net connections.
 * Errors: network/timeouts → ERR_TRANSIENT; login refused, mailbox
 * missing, protocol violations → ERR_SOURCE.
 */
#ifndef M2T_IMAP_H
#define M2T_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/config/config.h"
#include "engine/fetch/server_conn.h"
#include "engine/net/net.h"
#include "engine/util/err.h"

struct imap_client;

struct imap_limits {
	size_t max_line;        /* one response line, literals excluded; default 64 KB */
	uint64_t max_literal;   /* a literal we keep in memory; bigger ones are refused */
};

/*
 * Connects, TLS (implicit or STARTTLS as configured), CAPABILITY, login.
 * The connection policy (README "Security"): `starttls` fails when the
 * server does not offer STARTTLS, refuses it, or sends PREAUTH first;
 * `starttls-optional` goes on in plaintext then, with a warning each time.
 * A password or token is sent in the clear only with `security: none`.
 */
int imap_connect(const struct config_account *acc, const struct imap_limits *lim,
		 struct imap_client **client_r, struct err *err);

/* imap_connect, filling *rep as far as it got (also on failure). */
int imap_connect_report(const struct config_account *acc, const struct imap_limits *lim,
			struct conn_report *rep, struct imap_client **client_r,
			struct err *err);
/* LOGOUT when still connected, then frees; sets *client to NULL. */
void imap_client_free(struct imap_client **client);

bool imap_has_capability(const struct imap_client *c, const char *cap);

/*
 * Resolves a configured name ("INBOX/Support" or "INBOX.Support") to the
 * server's name using its hierarchy delimiter (from LIST). With `create`,
 * a missing mailbox is created. *name_r is malloc'd.
 */
int imap_resolve_mailbox(struct imap_client *c, const char *name, bool create,
			 char **name_r, struct err *err);

/*
 * STATUS (MESSAGES): the number of messages in a mailbox without selecting
 * it (server name, as from imap_resolve_mailbox).
 */
int imap_status_messages(struct imap_client *c, const char *mailbox, uint32_t *n_r,
			 struct err *err);

/* SELECT (or EXAMINE when readonly). */
int imap_select(struct imap_client *c, const char *mailbox, bool readonly,
		uint32_t *uidvalidity_r, uint32_t *exists_r, struct err *err);

/*
 * After imap_select: may \Seen be stored in the selected mailbox? false when
 * it was EXAMINEd or the server answered SELECT with [READ-ONLY], or listed
 * PERMANENTFLAGS without \Seen (RFC 3501 7.1: without PERMANENTFLAGS every
 * flag counts as permanent); *why_r then says which (a constant string).
 */
bool imap_seen_storable(const struct imap_client *c, const char **why_r);

struct imap_msg_info {
	uint32_t uid;
	uint64_t size;          /* RFC822.SIZE */
	bool seen;              /* flagged \Seen when listed */
};

/* All messages of the selected mailbox, ascending by UID (UID FETCH 1:* (RFC822.SIZE)). */
int imap_list_messages(struct imap_client *c, struct imap_msg_info **v_r, size_t *n_r,
		       struct err *err);

/*
 * UID SEARCH <query> (CHARSET UTF-8 when the query has non-ASCII text): the
 * matching UIDs, ascending, unique (*v_r malloc'd, NULL when none). The
 * query must have passed config_search_check; quoted strings with 8-bit
 * text go as literals unless UTF8=ACCEPT is on.
 */
int imap_search_uids(struct imap_client *c, const char *query, uint32_t **v_r, size_t *n_r,
		     struct err *err);

/* imap_list_messages for the given UIDs only (UID FETCH <set> (RFC822.SIZE)). */
int imap_list_uids(struct imap_client *c, const uint32_t *uids, size_t n,
		   struct imap_msg_info **v_r, size_t *n_r, struct err *err);

/*
 * UID STORE <set> +FLAGS.SILENT (\Seen), in ranges of up to 5,000 UIDs per
 * command: the done mail of a job that keeps it on the server. A tagged NO
 * (the server will not store the flag: an ACL, a mailbox that turned
 * read-only) returns -1 with ERR_SOURCE and *refused_r set, the rest left
 * unmarked; the session is still usable. ERR_FATAL when the mailbox was
 * EXAMINEd (a bug).
 */
int imap_mark_seen(struct imap_client *c, const uint32_t *uids, size_t n, bool *refused_r,
		   struct err *err);

/*
 * Called once per message of a fetch, in server order. `raw` is valid only
 * during the call. raw NULL: the server sent more than max_literal for this
 * message (it listed less); the bytes were read and dropped, len is what it
 * announced (capped). Returning <0 stops the fetch (after the command's
 * response is read) and the fetch returns that error.
 */
typedef int (*imap_body_cb)(void *ud, uint32_t uid, const char *raw, size_t len,
			    struct err *err);

/* UID FETCH <set> BODY.PEEK[] for the given UIDs (sent as compact ranges). */
int imap_fetch_bodies(struct imap_client *c, const uint32_t *uids, size_t n,
		      imap_body_cb cb, void *ud, struct err *err);

/* UID FETCH <set> BODY.PEEK[HEADER] — for mail too big to fetch whole. */
int imap_fetch_headers(struct imap_client *c, const uint32_t *uids, size_t n,
		       imap_body_cb cb, void *ud, struct err *err);

/*
 * Moves the UIDs to `dest`: UID MOVE when offered, else UID COPY + UID
 * STORE +FLAGS.SILENT (\Deleted) + UID EXPUNGE of exactly those UIDs
 * (UIDPLUS). Never a bare EXPUNGE: without UIDPLUS, the copy is made and
 * the originals are flagged \Deleted but left for the admin's client.
 */
int imap_move(struct imap_client *c, const uint32_t *uids, size_t n, const char *dest,
	      struct err *err);

#endif
