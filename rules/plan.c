#include "rules/plan.h"

#include <string.h>

const char *plan_action_name(enum plan_action a)
{
	switch (a) {
	case PLAN_CREATE_TICKET: return "create_ticket";
	case PLAN_APPEND: return "append";
	case PLAN_IGNORE: return "ignore";
	case PLAN_REJECT: return "reject";
	}
	return "unknown";
}

void plan_default(const struct message *msg, struct plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->action = PLAN_CREATE_TICKET;
	plan->subject = msg->subject && msg->subject[0] ? msg->subject : "(no subject)";
	if (msg->reply_to.email && msg->reply_to.email[0])
		plan->requester = msg->reply_to;
	else
		plan->requester = msg->from;
	plan->queue = "default";
	plan->priority = "normal";
	plan->status = "new";
	plan->reason = "default: one ticket per message";
}
