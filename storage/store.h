/*
 * Storage: the only module that speaks SQL (libpq). It applies plans and
 * records processed messages; it knows nothing of IMAP.
 *
 * Effectively once (DESIGN.md, decision 1): store_apply() writes the
 * processed_messages row (identity: account, mailbox, uidvalidity, uid; and
 * account + Message-ID + sha256 beside it) together with the ticket changes,
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

struct store_item {
	/* identity */
	const char *account;
	const char *mailbox;
	uint32_t uidvalidity;
	uint32_t uid;
	const char *message_id;    /* may be NULL */
	const char *sha256;        /* hex of raw; NULL when the mail was never fetched */
	uint64_t size;
	/* content */
	const char *raw;           /* may be NULL (not fetched, or keep_raw off) */
	size_t raw_len;
	const struct message *msg; /* NULL for badmail that could not be parsed */
	const struct plan *plan;   /* NULL for badmail */
	enum outcome outcome;      /* what the caller intends */
	const char *reason;        /* badmail / ignore reason, else NULL */
	/* results, filled by store_apply */
	bool already_done;
	enum outcome done_outcome; /* the outcome stored (now or earlier) */
	int64_t ticket_id;         /* 0 when none */
	char ticket_number[32];
	int64_t article_id;
};

/* Connects (libpq URL or key=value string). ERR_TRANSIENT when the server is unreachable. */
int store_open(const char *url, struct store **store_r, struct err *err);
void store_free(struct store **store);

/* Applies pending migrations, each in its own transaction; refuses a newer schema (ERR_FATAL). */
int store_migrate(struct store *store, FILE *report, struct err *err);
/* Fails with ERR_FATAL unless the schema is exactly the binary's version. */
int store_check_schema(struct store *store, struct err *err);

int store_begin(struct store *store, struct err *err);
int store_apply(struct store *store, int64_t job_run_id, struct store_item *item, struct err *err);
int store_commit(struct store *store, struct err *err);
void store_rollback(struct store *store);

/* UIDs of this mailbox already recorded as processed, with their outcomes. */
struct processed_uid {
	uint32_t uid;
	enum outcome outcome;
};
int store_processed_uids(struct store *store, const char *account, const char *mailbox,
			 uint32_t uidvalidity, struct processed_uid **v_r, size_t *n_r,
			 struct err *err);

struct run_counts {
	uint64_t fetched;
	uint64_t tickets;
	uint64_t appended;
	uint64_t ignored;
	uint64_t badmail;
	uint64_t already_done;
	uint64_t bytes;
};

/* job_runs: start returns the id; finish records counts, status ("ok", "failed") and error. */
int store_job_run_start(struct store *store, const char *job, const char *account,
			const char *mailbox, int64_t *id_r, struct err *err);
int store_job_run_finish(struct store *store, int64_t id, const struct run_counts *counts,
			 const char *status, const char *error, struct err *err);

#endif
