/* Shared by the YAML tree's files (yaml_tree.c, _msg.c, _read.c); not an API. */
#ifndef M2T_YAML_TREE_INT_H
#define M2T_YAML_TREE_INT_H

#include <stddef.h>

#include "engine/util/err.h"
#include "rules/yaml_tree.h"

#define QUOTE_MAX 64      /* how much of a value an error message shows */
#define PATH_MAX_LEN 256

/* Appends s to out (NUL-terminated, outlen bytes in all), cutting at the end. */
void yaml_tree_append(char *out, size_t outlen, size_t *pos, const char *s);
/* An error at pos's position, naming the path of map (where pos is a key). */
int yaml_tree_error_in_map(struct err *err, const struct yaml_tree_node *pos,
			   const struct yaml_tree_node *map, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
