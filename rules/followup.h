/*
 * Follow-up references in one message (README "Follow-ups"): ticket numbers
 * in the subject tag ("[Ticket#2026112100001]"), In-Reply-To and
 * References, the hidden body marker, other systems' tags, and whether the
 * subject starts with a reply prefix ("Re:", "AW:", "SV:", "回复:"...).
 * Whether a reference finds a ticket is the store's question (it needs the
 * database); this only reads the mail.
 *
 * SECURITY: all of it is mail text. At most FOLLOWUP_MAX_IDS message ids,
 * FOLLOWUP_MAX_NUMBERS numbers per method; patterns run under rules/regex.h's limits.
 */
#ifndef M2T_FOLLOWUP_H
#define M2T_FOLLOWUP_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/mime/message.h"
#include "engine/util/arena.h"
#include "engine/util/err.h"
#include "rules/plan.h"
#include "rules/policy.h"
#include "rules/regex.h"

#define FOLLOWUP_MAX_IDS 20
#define FOLLOWUP_MAX_NUMBERS 5
#define FOLLOWUP_KEY_MAX 200

struct foreign_ref {
	const char *system;
	const char *ref;
};

/* Strings are in the arena given to followup_scan. */
struct followup_info {
	const char *numbers[FOLLOWUP_MAX_NUMBERS];   /* subject tag, in order */
	size_t nnumbers;
	const char *markers[FOLLOWUP_MAX_NUMBERS];   /* body marker (text, then HTML) */
	size_t nmarkers;
	const char *msgids[FOLLOWUP_MAX_IDS];        /* In-Reply-To, then References newest first */
	size_t nmsgids;
	struct foreign_ref *foreign;                 /* one per tag found */
	size_t nforeign;
	bool reply_prefix;          /* the subject starts with a reply prefix */
	const char *subject_base;   /* the subject without leading prefixes and our tags */
	const char *subject_key;    /* subject_base folded, white space collapsed; "" when none */
};

/*
 * Reads msg under policy p, every pattern under the limits lim. The body
 * marker is looked for in the whole text and HTML (it hides in what the
 * customer quoted, which preprocessing takes out). -1 with ERR_MESSAGE
 * when a pattern gave up.
 */
int followup_scan(const struct policy *p, const struct regex_limits *lim, const struct message *msg,
		  struct arena *arena, struct followup_info *fi, struct err *err);

/* True when the mail carries any reference, or a reply prefix. */
bool followup_any(const struct followup_info *fi);

/* The refs for a plan, in the order they are tried: subject number,
 * message ids, marker, foreign tags, subject (only with a reply prefix and
 * p->subject_days). Allocated in arena. */
void followup_plan_refs(const struct policy *p, const struct followup_info *fi,
			struct arena *arena, struct plan *plan);

/* The subject without leading reply/forward prefixes and our tags, folded
 * and with white space collapsed (what a new ticket keeps as subject_key). */
const char *followup_subject_key(const struct policy *p, const struct regex_limits *lim,
				 const char *subject, struct arena *arena, bool *reply_r,
				 const char **base_r);

#endif
