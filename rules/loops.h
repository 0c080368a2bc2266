/*
 * Loop protection's view of one message (README "Loops, auto-replies,
 * bounces"): is it an auto-reply (RFC 3834 Auto-Submitted, X-Autoreply,
 * X-Autorespond, X-Auto-Response-Suppress, Precedence: auto_reply, a null
 * sender), bulk mail (Precedence: bulk/junk/list, List-Id), a bounce (a
 * delivery status notification, mailer-daemon, postmaster), mail from one
 * of our own addresses (From, or X-Loop naming us), or spam by a header
 * score. And, for a delivery report, which mail of ours bounced.
 *
 * The DSN fields are the message model's (engine/mime/message.h: is_dsn,
 * dsn_original_message_id, dsn_recipient, dsn_status, dsn_action), which
 * reads the report's parts; dsn_scan() keeps them in the form the store
 * wants (the recipient in lower case, the status code alone) and, for a
 * report or a bounce without one that quotes the original only in its
 * text, finds the original's Message-ID there.
 *
 * SECURITY: mail text only; the text is read up to DSN_SCAN_MAX bytes.
 */
#ifndef M2T_LOOPS_H
#define M2T_LOOPS_H

#include <stdbool.h>

#include "engine/mime/message.h"
#include "engine/util/arena.h"
#include "rules/policy.h"

#define DSN_SCAN_MAX (64 * 1024)
#define SPAM_SCORE_DEFAULT 5.0

struct msg_flags;

struct dsn_info {
	bool is_dsn;
	const char *dsn_original_message_id;  /* without <>, NULL when unknown */
	const char *dsn_recipient;            /* Final-Recipient, lower case, no "rfc822;" */
	const char *dsn_status;               /* "5.1.1" */
	const char *dsn_action;               /* "failed", "delayed", ... lower case */
};

/* The DSN of msg (all NULL / false when it is none). Strings in arena or
 * borrowed from msg. */
void dsn_scan(const struct message *msg, struct arena *arena, struct dsn_info *d);

/* The flags of msg under policy p (own addresses). Strings in arena. */
void loops_scan(const struct policy *p, const struct message *msg, const struct dsn_info *d,
		struct arena *arena, struct msg_flags *f);

#endif
