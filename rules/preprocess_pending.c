/*
 * TEMPORARY stand-in for the preprocessing stages until they are built: an
 * empty `preprocess:` section compiles to nothing, any stage is refused
 * with its position, so a rule file never silently loses a stage.
 */
#include "rules/preprocess.h"

#include <stddef.h>

int preprocess_compile(const struct yaml_tree_node *stages, struct preprocess **pp_r,
		       struct err *err)
{
	*pp_r = NULL;
	if (!stages || yaml_tree_is_null(stages))
		return 0;
	if (stages->kind == YAML_TREE_SEQUENCE && stages->nitems == 0)
		return 0;
	return yaml_tree_error(err, stages,
			       /* the path "preprocess: " comes first */
			       "stages are not supported by this build");
}

void preprocess_free(struct preprocess **pp)
{
	*pp = NULL;
}
