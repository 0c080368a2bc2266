/*
 * Storage: the only module that speaks SQL (libpq). It applies plans and
 * records processed messages; it knows nothing of IMAP.
 *
 * Effectively once (DESIGN.md, decision 1): storing a message writes the
 * processed_messages row (identity: account, mailbox, uidvalidity, uid for
 * IMAP, account + source key for POP3 and Maildir; and account + Message-ID
 * + sha256 beside it) together with the ticket changes,
 * inside the transaction opened by store_begin(). If the identity already
 * exists, nothing else is written and the item says `already_done`, with the
 * outcome recorded back then, so the caller only disposes the message.
 */
#ifndef M2T_STORE_H
#define M2T_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/mime/message.h"
#include "engine/util/err.h"
#include "rules/plan.h"
#include "rules/preprocess.h"

struct store;

enum outcome {
	OUTCOME_TICKET,     /* a new ticket was created */
	OUTCOME_APPENDED,   /* an article was added to an existing ticket */
	OUTCOME_IGNORED,    /* archived, no ticket */
	OUTCOME_BADMAIL,    /* moved to badmail, reason kept */
};

const char *outcome_name(enum outcome o);
/* "ticket" → OUTCOME_TICKET ...; -1 when unknown. */
int outcome_parse(const char *s);

/* What identifies a message besides (account, Message-ID, sha256). */
enum store_identity {
	STORE_ID_UID,       /* (account, mailbox, uidvalidity, uid): IMAP; the default */
	STORE_ID_KEY,       /* (account, source_key): POP3 UIDL, Maildir unique name */
	STORE_ID_CONTENT,   /* nothing else: mail piped in by an MTA (needs sha256) */
};

struct store_item {
	/* identity */
	const char *account;
	const char *mailbox;
	enum store_identity identity;
	uint32_t uidvalidity;      /* STORE_ID_UID only; otherwise not stored */
	uint32_t uid;              /* STORE_ID_UID only; otherwise not stored (the caller
				      may keep its own handle here) */
	const char *source_key;    /* STORE_ID_KEY: printable, at most 1 KB */
	const char *message_id;    /* may be NULL */
	const char *sha256;        /* hex of raw; NULL when the mail was never fetched */
	uint64_t size;
	/* content */
	const char *raw;           /* may be NULL (not fetched, or keep_raw off) */
	size_t raw_len;
	const struct message *msg; /* NULL for badmail that could not be parsed */
	const struct plan *plan;   /* NULL for badmail */
	const struct preprocess_result *pre; /* the article's body after preprocessing and
				      its trace; NULL: the body is msg->text as it is */
	enum outcome outcome;      /* what the caller intends */
	const char *reason;        /* badmail / ignore reason, else NULL */
	/* results, filled by store_apply / store_flush / store_commit */
	bool already_done;
	enum outcome done_outcome; /* the outcome stored (now or earlier) */
	int64_t ticket_id;         /* 0 when none */
	char ticket_number[32];
	int64_t article_id;
	char matched_by[128];      /* how a follow-up found its ticket ("" when it did not) */
	char done_move_to[256];    /* already_done: the folder the first one's plan moved it
				      to ("": the archive, or badmail); "" otherwise */
};

/* Connects (libpq URL or key=value string). ERR_TRANSIENT when the server is unreachable. */
int store_open(const char *url, struct store **store_r, struct err *err);
void store_free(struct store **store);

/* Applies pending migrations, each in its own transaction; refuses a newer schema (ERR_FATAL). */
int store_migrate(struct store *store, FILE *report, struct err *err);
/* Fails with ERR_FATAL unless the schema is exactly the binary's version. */
int store_check_schema(struct store *store, struct err *err);
/* Newest version recorded in schema_migrations; 0 when the table does not exist. */
int store_schema_version(struct store *store, unsigned *version_r, struct err *err);

/*
 * One batch: store_begin, store_apply_async (or store_apply) for each
 * message, store_commit. store_begin reconnects once if the connection was
 * lost. Storing needs an open transaction; job_run_id 0 means none.
 *
 * store_apply_async only QUEUES the message: it checks it and copies what
 * the database needs (identity, plan, text, addresses, attachments, raw
 * bytes) into the store, so the caller may free or reuse the message, plan,
 * raw bytes and strings the item points to right after the call. The item
 * struct itself must stay at its address until its results are filled.
 * store_flush() (and store_commit) send the whole queue as ONE server call
 * and fill each item's results (already_done, done_outcome, ticket, ...).
 * The queue is also sent inside store_apply_async once it holds 128
 * messages or about 16 MB, without waiting: the server stores that part
 * while the caller fetches and parses the next messages (at most one call is
 * in flight; its results are read before the next send, or at flush). So a
 * batch of any size works within one transaction at bounded memory, and the
 * items' results are all filled when store_flush/store_commit return.
 * store_apply is store_apply_async + store_flush: the item's results (and
 * those of every queued item) are filled on return.
 *
 * The plan decides what is stored (storage only applies it): a plan that
 * creates a ticket or appends with follow-up references is looked up in the
 * database first (rules/plan.h), and the outcome stored may differ from the
 * one asked for: appended to the ticket found, a note from a
 * non-participant, a closed ticket reopened or split, the per-sender cap.
 * done_outcome and matched_by say what happened. A message whose
 * references name a message still queued goes in a later call of the same
 * transaction, so the lookup finds it.
 *
 * Within one transaction, the first of two messages with the same identity
 * (same UID, same source key, or same Message-ID + sha256) is stored; the
 * later one reports already_done with the first one's results, as if stored
 * earlier.
 *
 * Failures of store_apply_async / store_apply:
 *   ERR_MESSAGE  this message cannot be stored as it is (e.g. over 1 GB);
 *                nothing was queued, the transaction is intact: store it as
 *                badmail instead and go on.
 *   ERR_TRANSIENT / ERR_FATAL  the message was refused (a bug in the
 *                caller: fatal) or a send of the queue failed; in the second
 *                case the transaction is aborted: store_rollback(), then
 *                retry the batch later (transient) or stop (fatal).
 * Errors of the server surface at the send: in store_flush, store_commit,
 * or the store_apply_async that reached a cap; the first one is reported.
 * store_commit failing with ERR_TRANSIENT may or may not have committed;
 * retrying the batch is safe (already_done). store_rollback forgets queued
 * messages. Text is stored as valid UTF-8: invalid sequences and NUL become
 * U+FFFD.
 */
int store_begin(struct store *store, struct err *err);
int store_apply_async(struct store *store, int64_t job_run_id, struct store_item *item,
		      struct err *err);
int store_apply(struct store *store, int64_t job_run_id, struct store_item *item, struct err *err);
/* Sends the queued messages (if any) and fills their items. */
int store_flush(struct store *store, struct err *err);
/* Sends what is queued, then COMMIT. */
int store_commit(struct store *store, struct err *err);
/* Safe to call when no transaction is open. */
void store_rollback(struct store *store);

/*
 * Which of the listed UIDs uids[0..n) (ascending, unique: a mailbox
 * listing) of this mailbox and UIDVALIDITY are recorded as processed, with
 * their outcomes and the folder their plan moved them to, ascending by UID.
 * One round trip whatever n (12 bytes per UID): only rows of listed UIDs are
 * read, from the identity index between the lowest and the highest, so the
 * cost follows the listing, not the mailbox's history. *v_r
 * is one malloc'd block (NULL when none), the move_to names inside it: the
 * caller free()s it. ERR_FATAL when uids are not ascending (a bug).
 */
struct processed_uid {
	uint32_t uid;
	enum outcome outcome;
	const char *move_to;   /* the plan's move_to, NULL: the archive (or badmail) */
};
int store_processed_uids(struct store *store, const char *account, const char *mailbox,
			 uint32_t uidvalidity, const uint32_t *uids, size_t n,
			 struct processed_uid **v_r, size_t *n_r, struct err *err);

/*
 * Which of keys[0..n) (source keys: POP3 UIDLs, Maildir unique names) are
 * recorded as processed for this account: (*v_r)[i] says for keys[i], with
 * outcome -1 when it is new. One round trip whatever n; only the keys
 * asked for are read, so a mailbox kept on the server costs its listing,
 * not the account's whole history. *v_r is one malloc'd block (NULL when n
 * is 0), the move_to names inside it: the caller free()s it. ERR_FATAL for
 * a key that is not valid UTF-8 or holds a NUL (a bug in the caller).
 */
struct processed_key {
	int outcome;           /* enum outcome; -1: not processed */
	const char *move_to;   /* the plan's move_to, NULL: the archive (or badmail) */
};
int store_processed_keys(struct store *store, const char *account, const char *const *keys,
			 size_t n, struct processed_key **v_r, struct err *err);

struct run_counts {
	uint64_t fetched;
	uint64_t tickets;
	uint64_t appended;
	uint64_t ignored;
	uint64_t badmail;
	uint64_t already_done;
	uint64_t bytes;
};

/*
 * job_runs: start returns the id; finish records counts, status ("ok",
 * "failed", "stopped") and error (NULL when none). Call them outside a batch
 * transaction, so a rolled-back batch still leaves the run on record.
 */
int store_job_run_start(struct store *store, const char *job, const char *account,
			const char *mailbox, int64_t *id_r, struct err *err);
int store_job_run_finish(struct store *store, int64_t id, const struct run_counts *counts,
			 const char *status, const char *error, struct err *err);

/*
 * Deletes up to `limit` finished runs older than keep_s seconds that fetched
 * nothing, are referenced by no processed message and are not their job's
 * newest run (migration 0008 says why); *deleted_r says how many. Callers
 * repeat while *deleted_r == limit. Safe to run from several daemons at once.
 */
int store_job_runs_prune(struct store *store, uint64_t keep_s, unsigned limit,
			 unsigned *deleted_r, struct err *err);

/*
 * Who runs job runs on this connection (a daemon's worker): store_job_run_start
 * writes it into each job_runs row, with the schedule slot, and links the run
 * to the job's lease (job_leases.run_id) when this daemon holds it. Strings
 * are copied. NULL clears it (`mail2ticket run` leaves it unset).
 */
struct store_run_context {
	const char *host;
	int pid;
	const char *daemon_id;
	int64_t slot;              /* schedule fire time, seconds since 1970; 0: none */
};
void store_run_context_set(struct store *store, const struct store_run_context *ctx);

/* ---- leases (migration 0005_leases.sql says the rules) ---- */

#define STORE_HOST_MAX 256
#define STORE_DAEMON_ID_MAX 64

/* A job's lease row as the database has it now. Times: seconds since 1970, 0 = none. */
struct store_lease {
	bool held;                        /* a holder, whose lease has not expired */
	char holder_host[STORE_HOST_MAX];
	int holder_pid;
	char holder_id[STORE_DAEMON_ID_MAX];
	int64_t expires_at;
	int64_t last_slot;
	unsigned failures;                /* failed runs in a row */
	int64_t retry_at;
	int64_t last_success_at;
};

/*
 * Claims `job` for the schedule slot `slot` for ttl_ms. *won_r says whether
 * this daemon holds it now; *lease_r is the row afterwards (the winner's, or
 * what refused the claim: another holder, a slot already run, a backoff).
 * `force` claims whatever the slot and backoff (never over a live holder).
 */
int store_lease_claim(struct store *store, const char *job, int64_t slot, bool force,
		      const struct store_run_context *who, uint64_t ttl_ms, bool *won_r,
		      struct store_lease *lease_r, struct err *err);
/*
 * Heartbeat: extends the leases daemon_id holds among jobs[0..n) by ttl_ms.
 * held_r[i] is set to whether jobs[i] is still this daemon's (false: taken
 * over after it expired, or released). One statement for all of them.
 */
int store_lease_renew(struct store *store, const char *daemon_id, const char *const *jobs,
		      size_t n, uint64_t ttl_ms, bool *held_r, struct err *err);

struct store_lease_end {
	int64_t run_id;            /* 0: no run row (the run could not start) */
	const char *status;        /* "ok", "failed" or "stopped" */
	const char *error_class;   /* "transient", ... ; NULL when ok */
	const char *error;         /* kept only when job_run wrote none; may be NULL */
	int64_t retry_ms;          /* retry_at = now + this; -1: none (healthy) */
};
/*
 * Frees the lease after a run and records the run's end as the daemon sees
 * it. *failures_r is the failures in a row now; *held_r false when the lease
 * was no longer daemon_id's (nothing changed then but the run's row).
 */
int store_lease_release(struct store *store, const char *job, const char *daemon_id,
			const struct store_lease_end *end, unsigned *failures_r, bool *held_r,
			struct err *err);

/* What `mail2ticket status` shows of one job. Times: seconds since 1970, 0 = none. */
struct store_job_status {
	struct store_lease lease;
	bool has_lease_row;
	bool has_run;
	int64_t run_id;
	int64_t run_started;
	int64_t run_finished;
	char run_status[16];
	struct run_counts run_counts;
	char run_error[512];              /* cleaned for a terminal, cut */
	char run_error_class[16];
	char run_host[STORE_HOST_MAX];
	int run_pid;
	char run_daemon_id[STORE_DAEMON_ID_MAX];
	int64_t db_now;                   /* the database's clock */
};
/* The lease and the latest run of each of jobs[0..n); st[i] for jobs[i]. */
int store_job_status_read(struct store *store, const char *const *jobs, size_t n,
			  struct store_job_status *st, struct err *err);

/*
 * Records the UIDVALIDITY seen for a mailbox (mailbox_state). *known_r is
 * false the first time; otherwise *previous_r is the value recorded before,
 * so the caller notices (and logs) a renumbered mailbox. The (Message-ID,
 * sha256) identity keeps already processed mails from being ticketed twice.
 */
int store_uidvalidity_record(struct store *store, const char *account, const char *mailbox,
			     uint32_t uidvalidity, bool *known_r, uint32_t *previous_r,
			     struct err *err);

/*
 * The `limit` newest tickets (0: all), shown oldest first: number, article
 * count, requester, subject (cleaned, cut), then a count line.
 */
int store_print_tickets(struct store *store, FILE *out, unsigned limit, struct err *err);
/* What one job run did with each message: id (IMAP UID, else the source key),
 * outcome, ticket number, Message-ID, reason. */
int store_print_run(struct store *store, int64_t job_run_id, FILE *out, struct err *err);

/*
 * OAuth2 tokens of an account (oauth_tokens, migration 0006). Times are
 * Unix seconds, 0 for NULL; `now` is the database's clock when the row was
 * read, so expiry is judged by one clock across daemons. Strings are
 * malloc'd (tokens wiped by store_oauth_row_release).
 */
struct store_oauth_row {
	bool found;
	char *client_id;
	char *refresh_token;
	char *access_token;
	char *last_error;
	int64_t access_expires_at;
	int64_t last_refresh_at;
	int64_t last_error_at;
	int64_t updated_at;
	int64_t generation;
	int64_t now;
};
void store_oauth_row_release(struct store_oauth_row *row);

/*
 * Opens a transaction, creates the account's row when missing and locks it
 * until store_commit() or store_rollback(): the row lock that keeps two
 * daemons from refreshing (and rotating) at once. Waits at most
 * lock_timeout_ms for another holder, then ERR_TRANSIENT.
 */
int store_oauth_lock(struct store *store, const char *account, uint64_t lock_timeout_ms,
		     struct store_oauth_row *row, struct err *err);
/* Reads the row without locking it (status); row->found false when none. */
int store_oauth_read(struct store *store, const char *account, struct store_oauth_row *row,
		     struct err *err);

/* What a token request changed. NULL strings leave a column as it is,
 * except access_token: NULL clears the cached access token. */
struct store_oauth_update {
	const char *client_id;
	const char *refresh_token;
	const char *access_token;
	int64_t expires_in;     /* seconds from now, with access_token */
	const char *error;      /* NULL: a success (last_refresh_at = now, last_error
				   cleared); else recorded as last_error */
	bool keep_access;       /* leave the cached access token as it is */
};
/*
 * UPDATE of the row read as `generation` (compare-and-swap): fails with
 * ERR_TRANSIENT when another writer changed it since. Inside the
 * transaction of store_oauth_lock, or on its own (autocommit).
 */
int store_oauth_update(struct store *store, const char *account, int64_t generation,
		       const struct store_oauth_update *u, struct err *err);

/* Every account's token state, for metrics: no secrets leave the database. */
struct store_oauth_state {
	char account[128];
	int64_t access_expires_at;  /* Unix seconds; 0 when no access token is cached */
	bool have_refresh;
	bool failing;               /* the last refresh failed (last_error is set) */
};
/* At most max rows, by account; *n_r how many were filled. */
int store_oauth_states(struct store *store, struct store_oauth_state *v, size_t max,
		       size_t *n_r, struct err *err);

#endif
