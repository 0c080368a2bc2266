/*
 * The plan: what should happen to one message, as data (DESIGN.md).
 * Statements decide and fill a plan; storage only applies it. Strings are
 * borrowed from the message's arena.
 */
#ifndef M2T_PLAN_H
#define M2T_PLAN_H

#include <stdint.h>

#include "engine/mime/message.h"

enum plan_action {
	PLAN_CREATE_TICKET,
	PLAN_APPEND,         /* add the article to ticket_id */
	PLAN_IGNORE,         /* archive, no ticket, recorded */
	PLAN_REJECT,         /* badmail, with reason */
};

struct plan {
	enum plan_action action;
	int64_t ticket_id;          /* PLAN_APPEND */
	const char *subject;        /* ticket subject */
	struct address requester;   /* From, or Reply-To when set */
	const char *queue;
	const char *priority;
	const char *status;
	const char *reason;         /* why: for PLAN_IGNORE / PLAN_REJECT, and traces */
};

const char *plan_action_name(enum plan_action a);

/*
 * The decision until rules exist: one new ticket per message, requester
 * Reply-To if set, else From; subject from the mail ("(no subject)" if empty).
 */
void plan_default(const struct message *msg, struct plan *plan);

#endif
