/*
 * Preprocessing: ordered stages that take the quoted history, reply
 * headers and signatures out of a message's text (DESIGN.md, "Rules, as
 * admins write them"). Nothing is destroyed: the result is the cleaned text
 * plus a trace of every removal (stage, rule, the rule's file:line:column,
 * the removed bytes and where they were in the original), and the original
 * stays in the message.
 *
 * A pipeline is the value of a rule file's `preprocess:` key, a sequence of
 * stages: built-in ones (html_to_text, whitespace), shipped packs by name
 * (rules/packs/NAME.yaml, compiled into the binary), and stages written by
 * the admin with their own rules. The syntax is in README.md,
 * "Preprocessing". The rule-file loader (rules/ruleset.h) compiles the
 * stages of a job's rule files into one pipeline and chooses the shipped
 * default when none has the key.
 *
 * SECURITY: rule files are admin input (parsed by rules/yaml_tree.h with its
 * limits); message text is untrusted. Every regex runs under rules/regex.h's
 * limits, each message has a time budget, and the number of removals is
 * capped. A rule that fails (a match limit hit) or a message with too many
 * removals is an ERR_MESSAGE failure naming the stage, rule and position.
 * A message whose time budget runs out (a hostile mail, or a slow machine)
 * keeps its whole text: res->budget_spent.
 */
#ifndef M2T_PREPROCESS_H
#define M2T_PREPROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/mime/message.h"
#include "engine/util/arena.h"
#include "engine/util/err.h"
#include "rules/regex.h"
#include "rules/yaml_tree.h"

/* Compiled stages; immutable after compile, shareable by threads. */
struct preprocess;

/*
 * stages: the value of a rule file's `preprocess:` key (a sequence of
 * stages). Every pattern is compiled here; errors are ERR_FATAL naming
 * file:line:column (a bad regex also its offset in the pattern). The tree
 * may be freed after this returns.
 */
int preprocess_compile(const struct yaml_tree_node *stages, struct preprocess **pp_r,
		       struct err *err);
/*
 * One pipeline of several `preprocess:` values, their stages one after the
 * other in the order given (a job's rule files; NULL entries are skipped).
 * The stage cap holds for the whole pipeline.
 */
int preprocess_compile_list(const struct yaml_tree_node *const *lists, size_t n,
			    struct preprocess **pp_r, struct err *err);
void preprocess_free(struct preprocess **pp);

/* The shipped packs in their recommended order: what a job without rules of
 * its own runs. */
int preprocess_default(struct preprocess **pp_r, struct err *err);

/* Shipped packs, by name ("gmail", "signatures", ...), in name order. */
size_t preprocess_pack_count(void);
const char *preprocess_pack_name(size_t i);
/* The YAML text of a shipped pack (NUL-terminated), NULL when none. */
const char *preprocess_pack_source(const char *name, size_t *len_r);

struct preprocess_limits {
	struct regex_limits regex;  /* per match (rules/regex.h) */
	uint64_t budget_us;         /* whole pipeline, per message */
	size_t max_removals;        /* trace entries per message */
};

/* regex defaults, 50 ms, 10,000 removals. */
void preprocess_limits_default(struct preprocess_limits *lim);
/* Changes the limits; only before the pipeline is shared between threads. */
void preprocess_set_limits(struct preprocess *pp, const struct preprocess_limits *lim);
size_t preprocess_stage_count(const struct preprocess *pp);
/* The name of stage i (owned by pp): a built-in's, a pack's or the rule
 * file's `stage:`. */
const char *preprocess_stage_name(const struct preprocess *pp, size_t i);

/* One removal. stage, rule and file belong to the pipeline (valid while it
 * lives); text to the arena given to preprocess_run. */
struct preprocess_removal {
	const char *stage;
	const char *rule;
	const char *file;
	unsigned line, column;  /* the rule in its file, 1-based */
	size_t start, end;      /* the span in the base text; it may enclose bytes an
				   earlier removal took already */
	const char *text;       /* exactly the bytes this removal took */
	size_t len;
};

struct preprocess_result {
	const char *text;       /* the cleaned text, NUL-terminated, in the arena */
	size_t len;
	const char *base;       /* the text the stages started from: msg->text, or the
				   text of the HTML part when html_to_text chose it */
	size_t base_len;
	bool base_from_html;
	const char *client;     /* msg->client, else the client a pack's `when`
				   recognised; NULL when unknown */
	struct preprocess_removal *removed;  /* in the order they happened */
	size_t nremoved;
	bool kept_all;          /* the stages would have left no text at all: the
				   result is the base text (nothing is traced) */
	bool budget_spent;      /* the time budget ran out: the result is the base
				   text, whole (nothing is traced) */
	uint64_t elapsed_us;
};

/*
 * Runs every stage on msg, allocating in arena. Thread-safe for a shared pp.
 * -1 with ERR_MESSAGE when a rule failed or the removals passed their cap
 * (the message names stage, rule and its file:line:column); res is then
 * unusable.
 */
int preprocess_run(const struct preprocess *pp, const struct message *msg, struct arena *arena,
		   struct preprocess_result *res, struct err *err);

/*
 * A message that holds only `text` (no headers, no HTML), for plain text
 * given on the command line or in tests. Line ends become LF and NUL bytes
 * are dropped, as the message model does for mail. Allocated in arena.
 */
struct message *preprocess_text_message(struct arena *arena, const char *text, size_t len);

#endif
