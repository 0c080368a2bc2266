/*
 * Rule files (YAML) as admins write them, compiled: README "Rules"
 * documents the language. A job names one or more files (`rules:`); they
 * are read in order and act as one: the `preprocess` stages of all files
 * as one pipeline (the shipped default when no file has the key), fields
 * of all files, then the statements of each file in order. Each file may
 * hold three top-level keys, each optional: `preprocess` (stages, see
 * rules/preprocess.h), `fields` and `statements`; any other key is an
 * error.
 *
 * Everything is checked at load: every error is ERR_FATAL with
 * "file:line:column: statement "name": path: what is wrong" (a bad regex
 * with its offset, an unknown field or operator with "did you mean", a
 * type mismatch, an unreachable else, a template naming an unknown
 * variable). A ruleset that loaded is immutable and may be shared by
 * threads; rules/decide.h runs it.
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
struct preprocess;

/* The `preprocess:` stages of every rule file that has the key, as one
 * pipeline in file order (owned by rs); NULL when no file has the key (or
 * rs is NULL). An explicit `preprocess: []` is an empty pipeline. */
const struct preprocess *ruleset_preprocess(const struct ruleset *rs);
/*
 * The pipeline a job with these rules runs (rs NULL: a job without rules):
 * ruleset_preprocess(), else the shipped default pipeline, which is
 * compiled into *own_r for the caller to free (NULL otherwise).
 */
int ruleset_pipeline(const struct ruleset *rs, const struct preprocess **pp_r,
		     struct preprocess **own_r, struct err *err);

/* The folders named by move_to actions (to be created before a run). */
size_t ruleset_folder_count(const struct ruleset *rs);
const char *ruleset_folder(const struct ruleset *rs, size_t i);
/* Where the first move_to naming folder i is, as an error starts:
 * "file:line:column: statement "x": statements[3].then.move_to". */
const char *ruleset_folder_at(const struct ruleset *rs, size_t i);

#endif
