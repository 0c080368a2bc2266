/*
 * Private to the job run (job_run.c: the run, its batches and disposes;
 * job_message.c: one message's way from raw bytes to a queued store item).
 */
#ifndef M2T_JOB_INT_H
#define M2T_JOB_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/config/config.h"
#include "engine/fetch/source.h"
#include "engine/job/dispose.h"
#include "engine/mime/message.h"
#include "engine/util/arena.h"
#include "engine/util/err.h"
#include "rules/decide.h"
#include "rules/preprocess.h"
#include "storage/store.h"

struct run_state {
	const struct config_job *job;
	struct store *store;
	struct source *src;
	const struct source_info *info;  /* the source's, valid while it is open */
	const struct source_msg *msgs;   /* the listing (SOURCE_ID_KEY: by id - 1) */
	size_t nmsgs;
	int64_t run_id;
	struct run_counts counts;
	struct dispose out;              /* committed, not yet disposed, by target */
	struct mime_options mopt;  /* limits, the account's fallback charset, attach_html */
	struct rules_env env;
	bool have_outcome;
	enum outcome last_outcome;       /* recorded for the last message (deliver) */
	struct arena *arena;
	const struct preprocess *pp;     /* the job's stages (ruleset_pipeline) */
	struct preprocess *own_pp;       /* ... when they are the default, compiled here */
	double fetch_s;             /* wall time in FETCH (parse and queueing included) */
	double commit_s;            /* in COMMIT (the store's flush included) */
	double move_s;              /* in MOVE */
	struct store_item *items;   /* the current batch, results filled at COMMIT */
	uint16_t *item_folder;      /* per item: dispose_folder_of its plan's move_to */
	size_t nitems;
	size_t items_cap;
	const atomic_bool *stop;    /* job_run_ctl.stop; NULL: never */
	bool stopped;
};

/*
 * Between two messages: has the caller asked the run to stop? One relaxed
 * atomic load per message, free on the hot path; the flag only ever goes
 * from false to true during a run, so seeing it a message late is fine.
 */
bool job_stop_requested(struct run_state *st);
/*
 * Room for a whole batch, made before it starts: the store fills queued
 * items' results at COMMIT, so they must never move during a batch.
 */
void job_batch_reserve(struct run_state *st, size_t n);

/*
 * The fetch callback (source_body_cb, ud: the run_state): parse,
 * preprocess, decide and queue one message in the batch's transaction.
 * raw NULL means the message turned out bigger than max_message_size.
 */
int job_fetched(void *ud, uint32_t id, const char *raw, size_t len, struct err *err);

/*
 * Mail over max_message_size, never fetched: recorded as badmail by its
 * size. sha256 is known only when the source hashed it anyway (stdin).
 */
int job_oversized(struct run_state *st, uint32_t id, uint64_t size, const char *sha256,
		  struct err *err);

#endif
