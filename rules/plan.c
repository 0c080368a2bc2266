#include "rules/plan.h"

#include <string.h>

#include "engine/util/json.h"

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

const char *plan_article_name(enum plan_article a)
{
	switch (a) {
	case PLAN_ARTICLE_CUSTOMER: return "customer";
	case PLAN_ARTICLE_NOTE: return "note";
	case PLAN_ARTICLE_SYSTEM: return "system";
	}
	return "customer";
}

const char *plan_fallback_name(enum plan_fallback f)
{
	switch (f) {
	case PLAN_FALLBACK_TICKET: return "create_ticket";
	case PLAN_FALLBACK_IGNORE: return "ignore";
	case PLAN_FALLBACK_REJECT: return "reject";
	}
	return "create_ticket";
}

const char *plan_closed_name(enum plan_closed c)
{
	switch (c) {
	case PLAN_CLOSED_REOPEN: return "reopen";
	case PLAN_CLOSED_NEW_TICKET: return "new_ticket";
	case PLAN_CLOSED_REJECT: return "reject";
	case PLAN_CLOSED_ATTACH: return "attach";
	}
	return "reopen";
}

const char *plan_stranger_name(enum plan_stranger s)
{
	switch (s) {
	case PLAN_STRANGER_NOTE: return "note";
	case PLAN_STRANGER_NEW_TICKET: return "new_ticket";
	case PLAN_STRANGER_REJECT: return "reject";
	case PLAN_STRANGER_APPEND: return "append";
	}
	return "note";
}

const char *plan_ref_kind_name(enum plan_ref_kind k)
{
	switch (k) {
	case PLAN_REF_NUMBER: return "number";
	case PLAN_REF_MESSAGE_ID: return "message_id";
	case PLAN_REF_MARKER: return "marker";
	case PLAN_REF_FOREIGN: return "foreign";
	case PLAN_REF_SUBJECT: return "subject";
	}
	return "unknown";
}

void plan_default(const struct message *msg, struct plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->action = PLAN_CREATE_TICKET;
	plan->ticket.subject = msg->subject && msg->subject[0] ? msg->subject : "(no subject)";
	if (msg->reply_to.email && msg->reply_to.email[0])
		plan->requester = msg->reply_to;
	else
		plan->requester = msg->from;
	plan->ticket.queue = "default";
	plan->ticket.priority = "normal";
	plan->ticket.status = "new";
	plan->article = PLAN_ARTICLE_CUSTOMER;
	plan->followup = true;
	plan->if_none = PLAN_FALLBACK_TICKET;
	plan->closed = PLAN_CLOSED_REOPEN;
	plan->stranger = PLAN_STRANGER_NOTE;
	plan->closed_statuses = "closed";
	plan->reopen_status = "open";
	plan->reason = "default: a follow-up when one is found, else a new ticket";
}

static void add_opt(struct buf *b, const char *key, const char *v)
{
	if (!v)
		return;
	json_add_key(b, key, 0);
	json_add_str(b, v);
}

static void ticket_json(struct buf *b, const struct plan_ticket *t)
{
	buf_addc(b, '{');
	/* a leading key that is always there keeps the commas simple */
	json_add_key(b, "subject", 1);
	json_add_str(b, t->subject);
	add_opt(b, "queue", t->queue);
	add_opt(b, "priority", t->priority);
	add_opt(b, "status", t->status);
	add_opt(b, "type", t->type);
	add_opt(b, "owner", t->owner);
	add_opt(b, "group", t->group);
	if (t->ntags) {
		json_add_key(b, "tags", 0);
		buf_addc(b, '[');
		for (size_t i = 0; i < t->ntags; i++) {
			if (i)
				buf_addc(b, ',');
			json_add_str(b, t->tags[i]);
		}
		buf_addc(b, ']');
	}
	if (t->fields_json) {
		json_add_key(b, "fields", 0);
		buf_adds(b, t->fields_json);
	}
	buf_addc(b, '}');
}

static bool ticket_empty(const struct plan_ticket *t)
{
	return !t->subject && !t->queue && !t->priority && !t->status && !t->type && !t->owner &&
	       !t->group && !t->ntags && !t->fields_json;
}

void plan_json(const struct plan *p, struct buf *b)
{
	buf_addc(b, '{');
	json_add_key(b, "action", 1);
	json_add_str(b, plan_action_name(p->action));
	if (p->action == PLAN_CREATE_TICKET || p->action == PLAN_APPEND) {
		if (p->ticket_id) {
			json_add_key(b, "ticket_id", 0);
			json_add_i64(b, p->ticket_id);
		}
		json_add_key(b, "article", 0);
		json_add_str(b, plan_article_name(p->article));
		json_add_key(b, "ticket", 0);
		ticket_json(b, &p->ticket);
		if (!ticket_empty(&p->set)) {
			json_add_key(b, "set", 0);
			ticket_json(b, &p->set);
		}
		json_add_key(b, "followup", 0);
		buf_adds(b, p->followup ? "true" : "false");
		if (p->followup && p->nrefs) {
			json_add_key(b, "refs", 0);
			buf_addc(b, '[');
			for (size_t i = 0; i < p->nrefs; i++) {
				const struct plan_ref *r = &p->refs[i];
				buf_adds(b, i ? ",{" : "{");
				json_add_key(b, "kind", 1);
				json_add_str(b, plan_ref_kind_name(r->kind));
				add_opt(b, "system", r->system);
				json_add_key(b, "value", 0);
				json_add_str(b, r->value);
				buf_addc(b, '}');
			}
			buf_addc(b, ']');
		}
		if (p->action == PLAN_APPEND) {
			json_add_key(b, "if_none", 0);
			json_add_str(b, plan_fallback_name(p->if_none));
		}
		json_add_key(b, "closed", 0);
		json_add_str(b, plan_closed_name(p->closed));
		json_add_key(b, "non_participant", 0);
		json_add_str(b, plan_stranger_name(p->trusted ? PLAN_STRANGER_APPEND : p->stranger));
		if (p->sender_cap) {
			json_add_key(b, "sender_cap", 0);
			json_add_i64(b, p->sender_cap);
		}
		add_opt(b, "bounce_address", p->bounce_address);
		if (p->body) {
			json_add_key(b, "body_replaced", 0);
			buf_adds(b, "true");
		}
	}
	add_opt(b, "move_to", p->move_to);
	add_opt(b, "reason", p->reason);
	add_opt(b, "loop", p->loop);
	buf_addc(b, '}');
}

void plan_statements_json(const struct plan *p, struct buf *b)
{
	buf_addc(b, '[');
	for (size_t i = 0; i < p->nstatements; i++) {
		if (i)
			buf_addc(b, ',');
		json_add_str(b, p->statements[i]);
	}
	buf_addc(b, ']');
}
