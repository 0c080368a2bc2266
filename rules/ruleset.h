/*
 * Rule files (YAML) as admins write them, compiled: README "Rules"
 * documents the language. A job names one or more files (`rules:`); they
 * are read in order and act as one: fields of all files first, then the
 * statements of each file in order. Each file may hold three top-level
 * keys, each optional: `preprocess` (stages, see rules/preprocess.h),
 * `fields` and `statements`; any other key is an error.
 *
 * Everything is checked at load: every error is ERR_FATAL with
 * "file:line:column: statement "name": path: what is wrong" (a bad regex
 * with its offset, an unknown field or operator with "did you mean", a
 * type mismatch, an unreachable else, a template naming an unknown
 * variable). A ruleset that loaded is immutable and may be shared by
 * threads; running it needs a struct rx_matcher per thread (rules/decide.h).
 *
 * SECURITY: rule files are admin input, read with rules/yaml_tree.h's
 * limits (1 MB, depth, node count). List files (`in: { file: ... }`) are
 * read at load, capped at 1 MB and 100,000 entries.
 */
#ifndef M2T_RULESET_H
#define M2T_RULESET_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/util/err.h"
#include "rules/yaml_tree.h"

struct ruleset;

/*
 * Loads paths[0..n) in order. Relative list files are read relative to the
 * rule file that names them. *rs_r is owned by the caller: ruleset_free().
 */
int ruleset_load(const char *const *paths, size_t n, struct ruleset **rs_r, struct err *err);

/*
 * Compiles already parsed documents (one root per file; NULL for an empty
 * file). allow_files false refuses list files (fuzzing, untrusted trees).
 * The trees may be freed once this returns.
 */
int ruleset_compile(const struct yaml_tree_node *const *roots, size_t n, bool allow_files,
		    struct ruleset **rs_r, struct err *err);

void ruleset_free(struct ruleset **rs);

size_t ruleset_file_count(const struct ruleset *rs);
size_t ruleset_field_count(const struct ruleset *rs);
size_t ruleset_statement_count(const struct ruleset *rs);
/* The folders named by move_to actions (to be created before a run). */
size_t ruleset_folder_count(const struct ruleset *rs);
const char *ruleset_folder(const struct ruleset *rs, size_t i);

#endif
