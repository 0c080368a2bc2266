/*
 * The plan: what should happen to one message, as data (DESIGN.md).
 * Statements decide and fill a plan; storage only applies it. Strings are
 * borrowed (from the message's arena, or the compiled rules).
 *
 * A plan that creates a ticket still looks for the ticket the mail follows
 * up (unless `followup` is off): when one of `refs` finds a ticket, the
 * mail is appended there instead, under the policies below. Which ref won,
 * and why a policy changed the outcome, is decided and recorded by the
 * store (the lookups need the database; see storage/store.h).
 */
#ifndef M2T_PLAN_H
#define M2T_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/mime/message.h"
#include "engine/util/buf.h"

enum plan_action {
	PLAN_CREATE_TICKET,  /* a new ticket, or the follow-up ticket when one is found */
	PLAN_APPEND,         /* add the article to ticket_id, or to the follow-up ticket */
	PLAN_IGNORE,         /* archive, no ticket, recorded */
	PLAN_REJECT,         /* badmail, with reason */
};

enum plan_article {
	PLAN_ARTICLE_CUSTOMER,  /* a reply of the customer: may reopen the ticket */
	PLAN_ARTICLE_NOTE,      /* an internal note: never reopens */
	PLAN_ARTICLE_SYSTEM,    /* a delivery report: never reopens */
};

/* PLAN_APPEND when no ticket is found. */
enum plan_fallback {
	PLAN_FALLBACK_TICKET,   /* a new ticket */
	PLAN_FALLBACK_IGNORE,
	PLAN_FALLBACK_REJECT,
};

/* A customer reply to a closed ticket. */
enum plan_closed {
	PLAN_CLOSED_REOPEN,     /* append, status becomes reopen_status */
	PLAN_CLOSED_NEW_TICKET, /* a new ticket linked to the closed one */
	PLAN_CLOSED_REJECT,     /* badmail */
	PLAN_CLOSED_ATTACH,     /* append, the ticket stays closed */
};

/* A follow-up whose sender is not a participant of the ticket. */
enum plan_stranger {
	PLAN_STRANGER_NOTE,       /* appended as an internal note */
	PLAN_STRANGER_NEW_TICKET, /* a new ticket linked to that one */
	PLAN_STRANGER_REJECT,     /* badmail */
	PLAN_STRANGER_APPEND,     /* appended as if a participant (trust) */
};

/* How a ref finds a ticket, in the order refs are tried. */
enum plan_ref_kind {
	PLAN_REF_NUMBER,      /* ticket number in the subject */
	PLAN_REF_MESSAGE_ID,  /* In-Reply-To / References vs stored articles */
	PLAN_REF_MARKER,      /* ticket number in the hidden body marker */
	PLAN_REF_FOREIGN,     /* another system's tag stored on a ticket */
	PLAN_REF_SUBJECT,     /* reply prefix + same subject, same requester, open ticket */
};

struct plan_ref {
	enum plan_ref_kind kind;
	const char *system;   /* FOREIGN: the tag's name */
	const char *value;
	uint32_t days;        /* SUBJECT: how far back */
};

/* Ticket values. For a new ticket NULL means the default; in plan.set
 * NULL means unchanged. */
struct plan_ticket {
	const char *subject;
	const char *queue;
	const char *priority;
	const char *status;
	const char *type;
	const char *owner;
	const char *group;
	const char **tags;       /* added (set) or given (new) */
	size_t ntags;
	const char *fields_json; /* custom fields: a JSON object, merged; NULL none */
};

struct plan {
	enum plan_action action;
	int64_t ticket_id;          /* PLAN_APPEND to this ticket; 0: the follow-up ticket */
	struct plan_ticket ticket;  /* a new ticket (subject "(no subject)" when NULL) */
	struct plan_ticket set;     /* changes to the ticket appended to */
	struct address requester;   /* From, or Reply-To when set */
	const char *body;           /* article text instead of the mail's; NULL: the mail's */
	enum plan_article article;

	/* follow-ups */
	bool followup;              /* look for the ticket this mail follows up */
	struct plan_ref *refs;
	size_t nrefs;
	const char *subject_key;    /* normalised subject, kept on a new ticket */
	const char *sender;         /* From, lower-case: participant check */
	bool trusted;               /* sender's domain is trusted: no participant check */
	enum plan_fallback if_none;
	enum plan_closed closed;
	enum plan_stranger stranger;
	const char *closed_statuses;  /* comma-separated statuses that count as closed */
	const char *reopen_status;
	uint32_t sender_cap;        /* new tickets per requester and hour; 0: none */

	/* delivery reports: mark this address as bouncing once the original is found */
	const char *bounce_address;
	const char *bounce_status;

	const char *move_to;        /* folder instead of the archive; NULL: archive */
	const char *reason;         /* why: for ignore / reject, and the record */
	const char *loop;           /* what loop protection did, NULL when nothing */
	const char **statements;    /* the branches that matched, in order */
	size_t nstatements;
};

const char *plan_action_name(enum plan_action a);
const char *plan_article_name(enum plan_article a);
const char *plan_fallback_name(enum plan_fallback f);
const char *plan_closed_name(enum plan_closed c);
const char *plan_stranger_name(enum plan_stranger s);
const char *plan_ref_kind_name(enum plan_ref_kind k);

/*
 * The decision without rules: one new ticket per message (or the follow-up
 * ticket, once refs are added), requester Reply-To if set, else From;
 * subject from the mail ("(no subject)" if empty); closed tickets reopen
 * to "open", strangers' follow-ups become notes.
 */
void plan_default(const struct message *msg, struct plan *plan);

/* The plan as a JSON object (for processed_messages.plan and traces). */
void plan_json(const struct plan *plan, struct buf *out);
/* The matched statements as a JSON array of names. */
void plan_statements_json(const struct plan *plan, struct buf *out);

#endif
