/*
 * Preprocessing: the `preprocess:` layer of a rule file (DESIGN.md, "Rules,
 * as admins write them"): ordered stages that cut quoted history, reply
 * headers and signatures out of a message's text before fields and
 * statements see it.
 *
 * The rule-file loader (rules/ruleset.c) hands each file's `preprocess:`
 * node to preprocess_compile(); the tree may be freed after it returns.
 * Errors are ERR_FATAL naming file:line:column.
 */
#ifndef M2T_PREPROCESS_H
#define M2T_PREPROCESS_H

#include "engine/util/err.h"
#include "rules/yaml_tree.h"

/* Compiled stages; immutable after compile, shareable by threads. */
struct preprocess;

int preprocess_compile(const struct yaml_tree_node *stages, struct preprocess **pp_r,
		       struct err *err);
void preprocess_free(struct preprocess **pp);

#endif
