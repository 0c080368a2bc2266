/*
 * The decision for one message (DESIGN.md: "extract fields ► statements ►
 * plan"): loop protection's flags, the follow-up references, the fields and
 * statements of the job's rules (when it has any), and loop protection's
 * last word, into a plan and a trace.
 *
 * Without rules the plan is the built-in default (one ticket per mail, or
 * the ticket it follows up), with follow-up detection and loop protection
 * as the job's policy says.
 */
#ifndef M2T_DECIDE_H
#define M2T_DECIDE_H

#include <stdint.h>

#include "engine/mime/message.h"
#include "engine/util/arena.h"
#include "engine/util/err.h"
#include "rules/plan.h"
#include "rules/policy.h"
#include "rules/rx.h"
#include "rules/trace.h"

struct ruleset;

/* What a job decides with; shared by threads, read-only. */
struct rules_env {
	const struct ruleset *rules;   /* NULL: the built-in default */
	const struct policy *policy;   /* never NULL */
	const char *account;
	const char *job;
	uint64_t budget_ms;            /* per message; 0: none */
};

/*
 * Decides for msg. body/body_len: the preprocessed text (NULL: msg->text).
 * plan and *trace_r (may be NULL) live in arena, and borrow from msg, the
 * rules and the policy. 0, or -1 with ERR_MESSAGE (a pattern gave up, the
 * time budget ran out: the mail goes to badmail with err's text).
 */
int rules_decide(const struct rules_env *env, struct rx_matcher *m, const struct message *msg,
		 const char *body, size_t body_len, struct arena *arena, struct plan *plan,
		 struct trace **trace_r, struct err *err);

#endif
