/*
 * A small YAML document tree for files admins write (the configuration,
 * rule packs). Built from libyaml's event parser; libyaml itself is included
 * only in yaml_tree.c (DESIGN.md: one module per library).
 *
 * SECURITY: the input is treated as untrusted text. The parser refuses what
 * a config or rule file never needs and what makes YAML dangerous:
 *   - anchors and aliases (no "billion laughs"), explicit tags;
 *   - more than one document, duplicate keys in a mapping, non-scalar keys;
 *   - more than lim->max_bytes of input, more than lim->max_nodes nodes,
 *     nesting deeper than lim->max_depth (libyaml 0.2.5 has no depth cap).
 * Every node keeps its file, 1-based line and column, and its path
 * ("accounts.support.port", "rules[3].match") so that every error can point
 * at what the admin wrote. Errors are ERR_FATAL: a bad file refuses to load.
 *
 * Text quoted in error messages is cleaned (control characters) and cut, but
 * never logged on its own: callers decide whether a value may be shown
 * (never a password).
 */
#ifndef M2T_YAML_TREE_H
#define M2T_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/util/err.h"

enum yaml_tree_kind {
	YAML_TREE_SCALAR,
	YAML_TREE_MAPPING,
	YAML_TREE_SEQUENCE,
};

struct yaml_tree_pair;

/* All pointers are owned by the tree and live until yaml_tree_free(). */
struct yaml_tree_node {
	enum yaml_tree_kind kind;
	const char *file;             /* the name given to the parser */
	unsigned line;                /* 1-based */
	unsigned column;              /* 1-based */
	const struct yaml_tree_node *parent;  /* NULL for the root */
	const char *key;              /* in a mapping: the key's text (keys and values) */
	size_t index;                 /* in a sequence: the item's position */
	bool is_key;                  /* this scalar is a mapping key */

	/* scalar */
	const char *value;            /* NUL-terminated; may contain NUL ("\0" escape) */
	size_t len;
	bool quoted;                  /* any style but plain: "1.2" stays a string */

	/* mapping: pairs in file order; keys are scalars and unique */
	struct yaml_tree_pair *pairs;
	size_t npairs;

	/* sequence */
	struct yaml_tree_node **items;
	size_t nitems;
};

struct yaml_tree_pair {
	struct yaml_tree_node *key;
	struct yaml_tree_node *value;
};

struct yaml_tree_limits {
	size_t max_bytes;       /* input size */
	uint32_t max_depth;     /* nested mappings/sequences */
	uint32_t max_nodes;     /* scalars, mappings and sequences together */
};

/* 1 MB, depth 64, 100,000 nodes. */
void yaml_tree_limits_default(struct yaml_tree_limits *lim);

struct yaml_tree;

/*
 * Parses data[0..len) (NUL bytes inside are libyaml's to reject). `file` is
 * used in every position and copied. lim NULL means the defaults. On success
 * *tree_r is set; its root is NULL when the input holds no document at all
 * (empty, or only comments). -1 with ERR_FATAL "file:line:column: reason".
 */
int yaml_tree_parse(const char *data, size_t len, const char *file,
		    const struct yaml_tree_limits *lim, struct yaml_tree **tree_r,
		    struct err *err);
/* Reads path (at most lim->max_bytes) and parses it, naming it `path`. */
int yaml_tree_load_file(const char *path, const struct yaml_tree_limits *lim,
			struct yaml_tree **tree_r, struct err *err);
/* Frees the tree and every node; sets *tree to NULL. */
void yaml_tree_free(struct yaml_tree **tree);
/* The document's top node, NULL when there was none. Owned by the tree. */
const struct yaml_tree_node *yaml_tree_root(const struct yaml_tree *tree);

/* Plain "", "~", "null", "Null", "NULL": the value was left out. */
bool yaml_tree_is_null(const struct yaml_tree_node *node);
/* Value of `key` in a mapping, NULL when absent (or node is no mapping). */
const struct yaml_tree_node *yaml_tree_get(const struct yaml_tree_node *map,
					   const char *key);
/* The key node that names node in its mapping, else node itself (for errors
 * that belong on the key: unknown key, bad name). */
const struct yaml_tree_node *yaml_tree_key_node(const struct yaml_tree_node *node);

/* "accounts.support.port", "rules[2]"; "" for the root. Returns out. */
const char *yaml_tree_path(const struct yaml_tree_node *node, char *out, size_t outlen);
/* "yes", cleaned and cut to fit outlen (with the quotes). Returns out. */
const char *yaml_tree_quote(const struct yaml_tree_node *node, char *out, size_t outlen);
/* A short name for what the node is, for "got ...": "a mapping",
 * "a sequence", "nothing", or the quoted scalar. */
const char *yaml_tree_describe(const struct yaml_tree_node *node, char *out, size_t outlen);

/*
 * Sets ERR_FATAL "file:line:column: path: message" at node's position (the
 * path is left out for the root). Always returns -1.
 */
int yaml_tree_error(struct err *err, const struct yaml_tree_node *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Typed reads. Each returns 0, or -1 with a yaml_tree_error() at the node,
 * naming what was expected and (for scalars) what was found.
 */
int yaml_tree_expect_mapping(const struct yaml_tree_node *node, struct err *err);
int yaml_tree_expect_sequence(const struct yaml_tree_node *node, struct err *err);
/* Every key of map must be in allowed (NULL-terminated); an unknown one is
 * an error at the key, with "did you mean" for a near miss. */
int yaml_tree_check_keys(const struct yaml_tree_node *map, const char *const *allowed,
			 struct err *err);
/* *node_r = the value of key; error at the mapping when it is missing. */
int yaml_tree_require(const struct yaml_tree_node *map, const char *key,
		      const struct yaml_tree_node **node_r, struct err *err);
/* A scalar that is not null and has no NUL byte; borrowed from the tree. */
int yaml_tree_read_string(const struct yaml_tree_node *node, const char **s_r,
			  struct err *err);
/* Plain true/false/yes/no in any case; a quoted "true" is a string, not a bool. */
int yaml_tree_read_bool(const struct yaml_tree_node *node, bool *b_r, struct err *err);
/* Plain decimal integer in [min, max]. */
int yaml_tree_read_uint(const struct yaml_tree_node *node, uint64_t min, uint64_t max,
			uint64_t *v_r, struct err *err);
/* Size with units (str_parse_size: "25MB", "512k", bare bytes), in [min, max]. */
int yaml_tree_read_size(const struct yaml_tree_node *node, uint64_t min, uint64_t max,
			uint64_t *v_r, struct err *err);
/* Duration (str_parse_duration_ms: "500ms", "30s", "2m", "1h", bare seconds). */
int yaml_tree_read_duration_ms(const struct yaml_tree_node *node, uint64_t min_ms,
			       uint64_t max_ms, uint64_t *v_r, struct err *err);
/* One of names (NULL-terminated, compared case-sensitively); *idx_r its index. */
int yaml_tree_read_enum(const struct yaml_tree_node *node, const char *const *names,
			int *idx_r, struct err *err);

/* The candidate nearest to word by edit distance when it is a plausible
 * typo (distance <= 2 and less than half the word), else NULL. */
const char *yaml_tree_suggest(const char *word, const char *const *candidates);

#endif
