/*
 * One message's decision (see decide.h). Order matters and is documented
 * in README "How a mail is decided": flags and references first (the
 * statements may test them), then fields and statements, then loop
 * protection, which has the last word unless a statement already chose to
 * ignore or reject.
 *
 * SECURITY: mail text throughout; every pattern under rules/regex.h's limits, the
 * whole under the job's time budget.
 */
#include "rules/decide.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/util/json.h"
#include "rules/followup.h"
#include "rules/loops.h"
#include "rules/ruleset.h"
#include "rules/rules_int.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *lower_copy(struct arena *a, const char *s)
{
	char *c = arena_strdup(a, s ? s : "");
	for (char *p = c; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	return c;
}

static bool trusted(const struct policy *p, const char *email)
{
	const char *dom = addr_domain(email);
	for (size_t i = 0; dom[0] && i < p->ntrusted; i++)
		if (strcasecmp(dom, p->trusted_domains[i]) == 0)
			return true;
	return false;
}

static const char *fields_object(struct arena *a, const struct kvvec *v)
{
	if (!v->n)
		return NULL;
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_addc(&b, '{');
	for (size_t i = 0; i < v->n; i++) {
		json_add_key(&b, v->v[i].key, i == 0);
		buf_adds(&b, v->v[i].json);
	}
	buf_addc(&b, '}');
	const char *out = b.failed ? NULL : arena_memdup0(a, b.data, b.len);
	buf_release(&b);
	return out;
}

static const char *flags_text(struct arena *a, const struct msg_flags *f)
{
	struct buf b;
	buf_init(&b, 4096);
	if (f->auto_reply)
		buf_addf(&b, "%sauto_reply (%s)", b.len ? ", " : "", f->why_auto);
	if (f->bulk)
		buf_addf(&b, "%sbulk (%s)", b.len ? ", " : "", f->why_bulk);
	if (f->bounce)
		buf_addf(&b, "%sbounce (%s)", b.len ? ", " : "", f->why_bounce);
	if (f->own)
		buf_addf(&b, "%sown (%s)", b.len ? ", " : "", f->why_own);
	if (f->follow_up)
		buf_addf(&b, "%sfollow_up", b.len ? ", " : "");
	if (f->spam)
		buf_addf(&b, "%sspam", b.len ? ", " : "");
	const char *out = arena_memdup0(a, b.data ? b.data : "", b.len);
	buf_release(&b);
	return out;
}

static void trace_refs(struct arena *a, const struct plan *p, struct trace *tr)
{
	tr->refs = arena_alloc(a, (p->nrefs ? p->nrefs : 1) * sizeof(*tr->refs));
	for (size_t i = 0; i < p->nrefs; i++) {
		const struct plan_ref *r = &p->refs[i];
		tr->refs[i] = r->system ? arena_printf(a, "%s %s %s", plan_ref_kind_name(r->kind),
						       r->system, r->value)
					: arena_printf(a, "%s %s", plan_ref_kind_name(r->kind), r->value);
	}
	tr->nrefs = p->nrefs;
}

/* Loop protection's last word. */
static void loop_guard(const struct policy *pol, const struct msg_flags *f,
		       const struct dsn_info *d, struct arena *a, struct plan *p)
{
	if (p->action == PLAN_IGNORE || p->action == PLAN_REJECT)
		return;
	if (f->own) {
		p->action = PLAN_IGNORE;
		p->loop = arena_printf(a, "mail %s: ignored", f->why_own);
		p->reason = arena_printf(a, "loop protection: %s", p->loop);
		return;
	}
	if (f->bounce && pol->bounces != BOUNCE_TICKET) {
		if (pol->bounces == BOUNCE_IGNORE) {
			p->action = PLAN_IGNORE;
			p->loop = arena_printf(a, "bounce (%s): ignored", f->why_bounce);
			p->reason = arena_printf(a, "loop protection: %s", p->loop);
			return;
		}
		/* attached to the original's ticket, found by the original's Message-ID
		 * only: the report's own references point at nothing of ours */
		p->action = PLAN_APPEND;
		p->article = PLAN_ARTICLE_SYSTEM;
		p->if_none = PLAN_FALLBACK_IGNORE;
		p->closed = PLAN_CLOSED_ATTACH;
		p->followup = true;
		p->nrefs = 0;
		if (d->dsn_original_message_id) {
			struct plan_ref *r = arena_alloc(a, sizeof(*r));
			r->kind = PLAN_REF_MESSAGE_ID;
			r->value = d->dsn_original_message_id;
			p->refs = r;
			p->nrefs = 1;
		}
		if (d->dsn_recipient && (!d->dsn_action || strcmp(d->dsn_action, "failed") == 0)) {
			p->bounce_address = d->dsn_recipient;
			p->bounce_status = d->dsn_status;
		}
		p->loop = arena_printf(a, "bounce (%s): attached to the original's ticket%s%s",
				       f->why_bounce, d->dsn_original_message_id ? " <" : "",
				       d->dsn_original_message_id ? d->dsn_original_message_id : "");
		if (d->dsn_original_message_id)
			p->loop = arena_printf(a, "%s>", p->loop);
		p->reason = arena_printf(a, "loop protection: %s", p->loop);
		return;
	}
	enum loop_policy lp = LOOP_TICKET;
	const char *why = NULL;
	if (f->auto_reply && pol->auto_replies != LOOP_TICKET) {
		lp = pol->auto_replies;
		why = arena_printf(a, "auto-reply (%s)", f->why_auto);
	} else if (f->bulk && pol->bulk != LOOP_TICKET) {
		lp = pol->bulk;
		why = arena_printf(a, "bulk mail (%s)", f->why_bulk);
	}
	if (lp == LOOP_TICKET)
		return;
	if (lp == LOOP_IGNORE) {
		p->action = PLAN_IGNORE;
		p->loop = arena_printf(a, "%s: ignored", why);
	} else {
		/* a note on the ticket it answers (never reopening it), else nothing */
		p->action = PLAN_APPEND;
		p->article = PLAN_ARTICLE_NOTE;
		p->if_none = PLAN_FALLBACK_IGNORE;
		p->closed = PLAN_CLOSED_ATTACH;
		p->followup = true;
		p->loop = arena_printf(a, "%s: a note on the ticket it answers, no new ticket", why);
	}
	p->reason = arena_printf(a, "loop protection: %s", p->loop);
}

void rules_regex_limits(struct regex_limits *lim)
{
	regex_limits_default(lim);
	lim->max_subject = 1024 * 1024;
}

int rules_decide(const struct rules_env *env, const struct message *msg,
		 const struct preprocess_result *pre, struct arena *arena, struct plan *plan,
		 struct trace **trace_r, struct err *err)
{
	const struct policy *pol = env->policy;
	uint64_t t0 = now_ns();
	struct trace *tr = arena_alloc(arena, sizeof(*tr));
	struct msg_flags *flags = arena_alloc(arena, sizeof(*flags));
	struct dsn_info dsn;
	struct followup_info fi;
	struct regex_limits own;
	const struct regex_limits *lim = env->regex;
	if (!lim) {
		rules_regex_limits(&own);
		lim = &own;
	}
	if (trace_r)
		*trace_r = tr;

	plan_default(msg, plan);
	plan->closed = pol->closed;
	plan->stranger = pol->stranger;
	plan->closed_statuses = pol->closed_statuses;
	plan->reopen_status = pol->reopen_status;
	plan->sender_cap = pol->sender_cap;
	plan->sender = lower_copy(arena, msg->from.email);
	plan->trusted = trusted(pol, msg->from.email);

	dsn_scan(msg, arena, &dsn);
	loops_scan(pol, msg, &dsn, arena, flags);
	if (followup_scan(pol, lim, msg, arena, &fi, err) < 0)
		return err_prefix(err, "follow-up detection");
	flags->follow_up = followup_any(&fi);
	followup_plan_refs(pol, &fi, arena, plan);
	plan->subject_key = fi.subject_key && fi.subject_key[0] ? fi.subject_key : NULL;

	if (env->rules) {
		struct eval ev = {
			.rs = env->rules, .msg = msg, .arena = arena, .lim = lim,
			.body = pre ? pre->text : msg->text, .body_len = pre ? pre->len : msg->text_len,
			.original = pre ? pre->base : msg->text,
			.original_len = pre ? pre->base_len : msg->text_len,
			.client = pre ? pre->client : msg->client, .account = env->account,
			.job = env->job, .flags = flags,
			.ticket_number = fi.nnumbers ? fi.numbers[0] : NULL, .plan = plan,
		};
		if (env->budget_ms)
			ev.deadline_ns = t0 + env->budget_ms * 1000000u;
		plan->reason = NULL;
		if (fields_extract(&ev, tr, err) < 0 || stmts_run(&ev, tr, err) < 0)
			return -1;
		plan->ticket.tags = ev.ticket_tags.v;
		plan->ticket.ntags = ev.ticket_tags.n;
		plan->set.tags = ev.set_tags.v;
		plan->set.ntags = ev.set_tags.n;
		plan->ticket.fields_json = fields_object(arena, &ev.ticket_fields);
		plan->set.fields_json = fields_object(arena, &ev.set_fields);
		if (!plan->reason && plan->nstatements)
			plan->reason = arena_printf(arena, "statement \"%s\"",
						    plan->statements[plan->nstatements - 1]);
		else if (!plan->reason)
			plan->reason = "no statement matched: default";
	}
	loop_guard(pol, flags, &dsn, arena, plan);

	tr->flags = flags_text(arena, flags);
	trace_refs(arena, plan, tr);
	tr->loop = plan->loop;
	tr->plan = plan;
	tr->elapsed_us = (now_ns() - t0) / 1000;
	return 0;
}
