/*
 * libFuzzer target: rules/yaml_tree from memory. Parses, then walks every
 * node through the readers and path/quote helpers an error message uses.
 *   make build/fuzz/fuzz_yaml_tree && build/fuzz/fuzz_yaml_tree -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rules/yaml_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = {"host", "port", "password", "schedule", NULL};

static void walk(const struct yaml_tree_node *n)
{
	char buf[256];
	struct err err;
	uint64_t v;
	bool b;
	const char *s;
	int idx;
	yaml_tree_path(n, buf, sizeof(buf));
	yaml_tree_describe(n, buf, sizeof(buf));
	yaml_tree_error(&err, yaml_tree_key_node(n), "x %s", "y");
	switch (n->kind) {
	case YAML_TREE_SCALAR:
		(void)yaml_tree_read_string(n, &s, &err);
		(void)yaml_tree_read_bool(n, &b, &err);
		(void)yaml_tree_read_uint(n, 1, 65535, &v, &err);
		(void)yaml_tree_read_size(n, 1, UINT64_MAX, &v, &err);
		(void)yaml_tree_read_duration_ms(n, 1, UINT64_MAX, &v, &err);
		(void)yaml_tree_read_enum(n, keys, &idx, &err);
		if (strlen(n->value) == n->len)
			(void)yaml_tree_suggest(n->value, keys);
		break;
	case YAML_TREE_MAPPING:
		(void)yaml_tree_check_keys(n, keys, &err);
		(void)yaml_tree_get(n, "port");
		for (size_t i = 0; i < n->npairs; i++) {
			walk(n->pairs[i].key);
			walk(n->pairs[i].value);
		}
		break;
	case YAML_TREE_SEQUENCE:
		for (size_t i = 0; i < n->nitems; i++)
			walk(n->items[i]);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yaml_tree *tree = NULL;
	struct err err;
	if (yaml_tree_parse((const char *)data, size, "fuzz.yaml", NULL, &tree, &err) == 0) {
		const struct yaml_tree_node *root = yaml_tree_root(tree);
		if (root)
			walk(root);
		yaml_tree_free(&tree);
	}
	return 0;
}
