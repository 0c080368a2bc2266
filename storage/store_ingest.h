/*
 * The ingest queue's columns and keys, shared by store_ingest.c (the queue
 * and the server call), store_article.c (what a message's article adds to
 * it) and store_plan.c (what a plan adds). Only storage/ includes this.
 */
#ifndef M2T_STORE_INGEST_H
#define M2T_STORE_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"
#include "storage/store_cols.h"

/*
 * Columns = parameters of m2t_ingest_batch() (migrations/0007_keep.sql
 * defines the one function, with the arguments of 0004), in declaration
 * order; the SQL call is built from C_COUNT. Most hold one element per
 * queued message; the address, attachment, trace and reference columns one
 * per address, attachment, removal or reference, with the message's idx in
 * their *_MSG column.
 */
enum {
	/* the message, its ticket and article (0001) */
	C_JOB_RUN_ID, C_ACCOUNT, C_MAILBOX, C_UIDVALIDITY, C_UID, C_MESSAGE_ID, C_SHA256,
	C_SIZE, C_OUTCOME, C_REASON, C_RAW, C_TICKET_ID, C_SUBJECT, C_QUEUE, C_PRIORITY,
	C_STATUS, C_REQ_NAME, C_REQ_EMAIL, C_IN_REPLY_TO, C_REFERENCES, C_FROM_NAME,
	C_FROM_EMAIL, C_ART_SUBJECT, C_BODY_TEXT, C_BODY_HTML, C_SENT_AT,
	C_ADDR_MSG, C_ADDR_CC, C_ADDR_NAME, C_ADDR_EMAIL,
	C_ATT_MSG, C_ATT_FILENAME, C_ATT_TYPE, C_ATT_CID, C_ATT_INLINE, C_ATT_SHA256,
	C_ATT_CONTENT,
	/* preprocessing (0002) */
	C_BODY_ORIGINAL, C_CLIENT,
	C_TR_MSG, C_TR_STAGE, C_TR_RULE, C_TR_AT, C_TR_START, C_TR_END, C_TR_TEXT,
	/* the decision (0003) */
	C_ARTICLE_KIND, C_TYPE, C_OWNER, C_GROUP, C_TAGS, C_FIELDS, C_SET, C_SUBJECT_KEY,
	C_FOLLOWUP, C_IF_NONE, C_CLOSED, C_STRANGER, C_CLOSED_STATUSES, C_REOPEN_STATUS,
	C_SENDER, C_SENDER_CAP, C_BOUNCE_EMAIL, C_BOUNCE_STATUS, C_STATEMENTS, C_PLAN,
	C_REF_MSG, C_REF_KIND, C_REF_SYSTEM, C_REF_VALUE,
	/* identity of sources without IMAP UIDs (0004) */
	C_SOURCE_KEY,
	C_COUNT
};

/* Keys (hashes) the messages of one queue provide to later ones: their
 * Message-IDs, other systems' tags, requester + subject key. */
#define QUEUE_KEYS 1024

struct store_queue {
	struct store_col col[C_COUNT];
	struct store_item **items; /* filled from the results */
	size_t n, cap;
	uint64_t keys[QUEUE_KEYS];  /* open addressing, 0 = empty */
	size_t nkeys;
};

/* Cleaned text (NULL stays NULL) appended to column c. */
void ingest_add_text(struct store_col *c, const char *s);
void ingest_add_text_len(struct store_col *c, const char *s, size_t len);

/* The ticket's and article's columns of one message (ticket values,
 * article, preprocessing, addresses, attachments), or NULLs when it has no
 * article (ignored, badmail). */
void ingest_add_article(struct store_queue *q, int32_t msg, const struct store_item *item,
			bool with_article);

/* The decision's columns of one message: its plan's values, or NULLs when
 * it has none (badmail) or no article (ignored). */
void ingest_add_plan(struct store_queue *q, int32_t msg, const struct store_item *item,
		     bool with_article);

/*
 * True when the item looks up something (a Message-ID, a tag, a subject)
 * that a message already in q provides: it must go in a later call, so
 * that the lookup sees that message stored.
 */
bool ingest_needs_earlier(const struct store_queue *q, const struct store_item *item);
/* Records what the item provides to later messages of q. */
void ingest_add_keys(struct store_queue *q, const struct store_item *item);
void ingest_keys_reset(struct store_queue *q);

#endif
