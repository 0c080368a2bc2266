/*
 * Reading the YAML tree: lookups, key checks with suggestions, and the
 * typed readers whose errors name file:line:column, the path and the value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/str.h"
#include "rules/yaml_tree.h"
#include "rules/yaml_tree_int.h"

bool yaml_tree_is_null(const struct yaml_tree_node *node)
{
	if (!node || node->kind != YAML_TREE_SCALAR || node->quoted)
		return false;
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strlen(nulls[i]) == node->len && memcmp(nulls[i], node->value, node->len) == 0)
			return true;
	return false;
}

static bool scalar_is(const struct yaml_tree_node *n, const char *s)
{
	return strlen(s) == n->len && memcmp(s, n->value, n->len) == 0;
}

const struct yaml_tree_node *yaml_tree_get(const struct yaml_tree_node *map, const char *key)
{
	if (!map || map->kind != YAML_TREE_MAPPING)
		return NULL;
	for (size_t i = 0; i < map->npairs; i++)
		if (scalar_is(map->pairs[i].key, key))
			return map->pairs[i].value;
	return NULL;
}

const struct yaml_tree_node *yaml_tree_key_node(const struct yaml_tree_node *node)
{
	const struct yaml_tree_node *p = node->parent;
	if (!p || p->kind != YAML_TREE_MAPPING || node->is_key)
		return node;
	for (size_t i = 0; i < p->npairs; i++)
		if (p->pairs[i].value == node)
			return p->pairs[i].key;
	return node;
}

int yaml_tree_expect_mapping(const struct yaml_tree_node *node, struct err *err)
{
	if (node->kind == YAML_TREE_MAPPING)
		return 0;
	char got[QUOTE_MAX + 16];
	return yaml_tree_error(err, node, "expected a mapping, got %s",
			       yaml_tree_describe(node, got, sizeof(got)));
}

int yaml_tree_expect_sequence(const struct yaml_tree_node *node, struct err *err)
{
	if (node->kind == YAML_TREE_SEQUENCE)
		return 0;
	char got[QUOTE_MAX + 16];
	return yaml_tree_error(err, node, "expected a sequence, got %s",
			       yaml_tree_describe(node, got, sizeof(got)));
}

/* Edits (insert, delete, change, swap two neighbours) from a to b: "prot"
 * is one swap from "port". Three rows are enough; keys are short, longer
 * words get no hint. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[3][65];
	if (la > 64 || lb > 64)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = row[i % 3], *prev = row[(i - 1) % 3], *prev2 = row[(i + 1) % 3];
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
	}
	return row[la % 3][lb];
}

const char *yaml_tree_suggest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	size_t wlen = strlen(word);
	for (const char *const *c = candidates; *c; c++) {
		size_t d = edit_distance(word, *c);
		if (d < best_d) {
			best_d = d;
			best = *c;
		}
	}
	if (!best || best_d > 2 || best_d * 2 >= (wlen > strlen(best) ? wlen : strlen(best)))
		return NULL;
	return best;
}

int yaml_tree_check_keys(const struct yaml_tree_node *map, const char *const *allowed,
			 struct err *err)
{
	for (size_t i = 0; i < map->npairs; i++) {
		const struct yaml_tree_node *k = map->pairs[i].key;
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = scalar_is(k, *a);
		if (ok)
			continue;
		char q[QUOTE_MAX];
		yaml_tree_quote(k, q, sizeof(q));
		const char *hint = strlen(k->value) == k->len ? yaml_tree_suggest(k->value, allowed)
							       : NULL;
		if (hint)
			return yaml_tree_error_in_map(err, k, map, "unknown key %s (did you mean \"%s\"?)", q,
					    hint);
		return yaml_tree_error_in_map(err, k, map, "unknown key %s", q);
	}
	return 0;
}

int yaml_tree_require(const struct yaml_tree_node *map, const char *key,
		      const struct yaml_tree_node **node_r, struct err *err)
{
	*node_r = yaml_tree_get(map, key);
	if (*node_r)
		return 0;
	return yaml_tree_error(err, map, "missing required key \"%s\"", key);
}

int yaml_tree_read_string(const struct yaml_tree_node *node, const char **s_r, struct err *err)
{
	char got[QUOTE_MAX + 16];
	if (node->kind != YAML_TREE_SCALAR || yaml_tree_is_null(node))
		return yaml_tree_error(err, node, "expected a string, got %s",
				       yaml_tree_describe(node, got, sizeof(got)));
	if (strlen(node->value) != node->len)
		return yaml_tree_error(err, node, "must not contain a NUL byte");
	*s_r = node->value;
	return 0;
}

int yaml_tree_read_bool(const struct yaml_tree_node *node, bool *b_r, struct err *err)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", NULL};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", NULL};
	if (node->kind == YAML_TREE_SCALAR && !node->quoted) {
		for (size_t i = 0; yes[i]; i++) {
			if (scalar_is(node, yes[i])) {
				*b_r = true;
				return 0;
			}
			if (scalar_is(node, no[i])) {
				*b_r = false;
				return 0;
			}
		}
	}
	char got[QUOTE_MAX + 16];
	return yaml_tree_error(err, node, "expected true or false, got %s",
			       yaml_tree_describe(node, got, sizeof(got)));
}

int yaml_tree_read_uint(const struct yaml_tree_node *node, uint64_t min, uint64_t max,
			uint64_t *v_r, struct err *err)
{
	uint64_t v;
	if (node->kind == YAML_TREE_SCALAR && !node->quoted &&
	    str_parse_u64(node->value, node->len, max, &v) == 0 && v >= min) {
		*v_r = v;
		return 0;
	}
	char got[QUOTE_MAX + 16];
	return yaml_tree_error(err, node, "expected an integer %llu-%llu, got %s",
			       (unsigned long long)min, (unsigned long long)max,
			       yaml_tree_describe(node, got, sizeof(got)));
}

/* Scalar text without NUL, for parsers that take C strings. */
static bool scalar_text(const struct yaml_tree_node *node)
{
	return node->kind == YAML_TREE_SCALAR && !yaml_tree_is_null(node) &&
	       strlen(node->value) == node->len;
}

int yaml_tree_read_size(const struct yaml_tree_node *node, uint64_t min, uint64_t max,
			uint64_t *v_r, struct err *err)
{
	char got[QUOTE_MAX + 16];
	uint64_t v;
	if (!scalar_text(node) || str_parse_size(node->value, &v) < 0)
		return yaml_tree_error(err, node, "expected a size such as 25MB, got %s",
				       yaml_tree_describe(node, got, sizeof(got)));
	if (v < min || v > max) {
		char lo[32], hi[32];
		return yaml_tree_error(err, node, "must be between %s and %s, got %s",
				       str_fmt_size(min, lo, sizeof(lo)),
				       str_fmt_size(max, hi, sizeof(hi)),
				       yaml_tree_describe(node, got, sizeof(got)));
	}
	*v_r = v;
	return 0;
}


int yaml_tree_read_duration_ms(const struct yaml_tree_node *node, uint64_t min_ms,
			       uint64_t max_ms, uint64_t *v_r, struct err *err)
{
	char got[QUOTE_MAX + 16];
	uint64_t v;
	if (!scalar_text(node) || str_parse_duration_ms(node->value, &v) < 0)
		return yaml_tree_error(err, node,
				       "expected a duration such as 30s, 500ms, 5m or 1h, got %s",
				       yaml_tree_describe(node, got, sizeof(got)));
	if (v < min_ms || v > max_ms) {
		char lo[32], hi[32];
		return yaml_tree_error(err, node, "must be between %s and %s, got %s",
				       str_fmt_duration_ms(min_ms, lo, sizeof(lo)),
				       str_fmt_duration_ms(max_ms, hi, sizeof(hi)),
				       yaml_tree_describe(node, got, sizeof(got)));
	}
	*v_r = v;
	return 0;
}

int yaml_tree_read_enum(const struct yaml_tree_node *node, const char *const *names,
			int *idx_r, struct err *err)
{
	if (node->kind == YAML_TREE_SCALAR) {
		for (int i = 0; names[i]; i++) {
			if (scalar_is(node, names[i])) {
				*idx_r = i;
				return 0;
			}
		}
	}
	char list[256] = "";
	size_t pos = 0;
	for (int i = 0; names[i]; i++) {
		if (i)
			yaml_tree_append(list, sizeof(list), &pos, names[i + 1] ? ", " : " or ");
		yaml_tree_append(list, sizeof(list), &pos, names[i]);
	}
	char got[QUOTE_MAX + 16];
	return yaml_tree_error(err, node, "expected %s, got %s", list,
			       yaml_tree_describe(node, got, sizeof(got)));
}
