/*
 * A job's built-in mail handling, with or without rule files: how
 * follow-ups are recognised (ticket number in the subject, In-Reply-To /
 * References, a hidden body marker, other systems' ticket tags, reply
 * prefixes + subject), what happens to a follow-up from a stranger or to a
 * closed ticket, and loop protection (auto-replies, bulk mail, bounces,
 * our own addresses, a per-sender cap). Read from the job's `followup:`,
 * `loops:` and `own_addresses:` keys (engine/config); README "Follow-ups
 * and loops" documents them.
 *
 * A policy is immutable once set up and may be shared by threads. Strings
 * and patterns are owned by it (policy_release).
 */
#ifndef M2T_POLICY_H
#define M2T_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/util/err.h"
#include "rules/plan.h"
#include "rules/regex.h"

enum loop_policy {
	LOOP_NOTE,    /* appended as a note to the follow-up ticket, else ignored */
	LOOP_IGNORE,  /* archived, recorded, no ticket */
	LOOP_TICKET,  /* handled like any mail */
};

enum bounce_policy {
	BOUNCE_ATTACH,  /* to the original's ticket (system article), address marked bouncing */
	BOUNCE_IGNORE,
	BOUNCE_TICKET,
};

struct foreign_tag {
	char *name;          /* the other system, kept with the tag on the ticket */
	struct regex *rx;
	uint32_t group;      /* the group holding the tag: "ref", else 1, else 0 */
	bool in_body;        /* also searched in the body (default: subject only) */
};

struct policy {
	/* follow-ups */
	char *subject_tag;          /* "[Ticket#{number}]"; NULL: off */
	struct regex *subject_tag_rx;
	char *body_marker;          /* "[m2t:{number}]"; NULL: off */
	struct regex *body_marker_rx;
	bool references;            /* In-Reply-To / References */
	uint32_t subject_days;      /* reply prefix + same subject within N days; 0: off */
	char **reply_prefixes;
	size_t nreply_prefixes;
	struct regex *reply_rx;        /* one leading reply prefix */
	struct regex *forward_rx;      /* one leading forward prefix */
	struct foreign_tag *foreign;
	size_t nforeign;
	enum plan_stranger stranger;
	char **trusted_domains;     /* lower case */
	size_t ntrusted;
	enum plan_closed closed;
	char *closed_statuses;      /* comma-separated */
	char *reopen_status;

	/* loops */
	enum loop_policy auto_replies;
	enum loop_policy bulk;
	enum bounce_policy bounces;
	uint32_t sender_cap;        /* new tickets per sender and hour; 0: none */
	char **own_addresses;       /* lower case */
	size_t nown;
};

/* The defaults (README): tag "[Ticket#{number}]", marker "[m2t:{number}]",
 * references on, subject match 14 days, the built-in reply prefixes,
 * strangers' follow-ups as notes, closed tickets reopen to "open" (closed
 * statuses: closed, resolved), loops: notes, bounces attached, 40 new
 * tickets per sender and hour. */
void policy_init(struct policy *p);
void policy_release(struct policy *p);

/* A format with one "{number}" in it; NULL or "" switches the method off.
 * ERR_FATAL with what is wrong (the caller adds the position). */
int policy_set_subject_tag(struct policy *p, const char *fmt, struct err *err);
int policy_set_body_marker(struct policy *p, const char *fmt, struct err *err);
/* Replaces the reply prefixes (words such as "Re", "AW", "回复"). */
int policy_set_reply_prefixes(struct policy *p, const char *const *words, size_t n,
			      struct err *err);
/* Adds another system's tag: a pattern whose group "ref" (else 1, else the
 * whole match) is the tag. */
int policy_add_foreign_tag(struct policy *p, const char *name, const char *pattern,
			   bool in_body, size_t *offset_r, struct err *err);
void policy_add_trusted_domain(struct policy *p, const char *domain);
void policy_add_own_address(struct policy *p, const char *email);
/* Statuses that count as closed; none may contain a comma. */
int policy_set_closed_statuses(struct policy *p, const char *const *names, size_t n,
			       struct err *err);

/* The built-in reply and forward prefixes. */
extern const char *const policy_default_reply_prefixes[];
extern const char *const policy_default_forward_prefixes[];

#endif
