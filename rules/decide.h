/*
 * The decision for one message (DESIGN.md: "preprocess ► extract fields ►
 * statements ► plan"): loop protection's flags, the follow-up references,
 * the fields and statements of the job's rules (when it has any), and loop
 * protection's last word, into a plan and a trace. Preprocessing runs
 * before (rules/preprocess.h); its result is what `body` means here.
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
#include "rules/preprocess.h"
#include "rules/regex.h"
#include "rules/trace.h"

struct ruleset;

/* What a job decides with; shared by threads, read-only. */
struct rules_env {
	const struct ruleset *rules;   /* NULL: the built-in default */
	const struct policy *policy;   /* never NULL */
	const char *account;
	const char *job;
	uint64_t budget_ms;            /* per message; 0: none */
	const struct regex_limits *regex;  /* per match; NULL: rules_regex_limits() */
};

/* What one pattern of the statement rules may cost: regex.h's defaults,
 * but 1 MB of subject (a condition on a long body still sees most of it). */
void rules_regex_limits(struct regex_limits *lim);

/*
 * Decides for msg. pre: what preprocessing made of it (NULL: nothing ran):
 * `body` conditions and ${body} see pre->text, `body_original` sees
 * pre->base (the whole text the stages started from), `client` is
 * pre->client (the model's, else the one a pack recognised). Without pre
 * all three come from the message itself.
 * plan and *trace_r (may be NULL) live in arena, and borrow from msg, pre,
 * the rules and the policy. 0, or -1 with ERR_MESSAGE (a pattern gave up,
 * the time budget ran out: the mail goes to badmail with err's text).
 * Thread-safe for shared env, rules and policy (match data is per thread).
 */
int rules_decide(const struct rules_env *env, const struct message *msg,
		 const struct preprocess_result *pre, struct arena *arena, struct plan *plan,
		 struct trace **trace_r, struct err *err);

#endif
