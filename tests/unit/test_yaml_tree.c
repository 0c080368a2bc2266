/*
 * rules/yaml_tree: positions, paths, scalar styles, what is refused, limits,
 * and every prefix of a document parsing or failing cleanly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"
#include "rules/yaml_tree.h"
#include "tests/unit/test.h"

static struct yaml_tree *parse(const char *text, struct err *err)
{
	struct yaml_tree *t = NULL;
	err_clear(err);
	yaml_tree_parse(text, strlen(text), "t.yaml", NULL, &t, err);
	return t;
}

static const char *parse_err(const char *text)
{
	static struct err err;
	struct yaml_tree *t = parse(text, &err);
	if (t) {
		yaml_tree_free(&t);
		return "OK";
	}
	return err.msg;
}

TEST(positions_paths_and_styles)
{
	struct err err;
	struct yaml_tree *t = parse("# c\n"
				    "a:\n"
				    "  b: [1, \"1.2\", 'x', yes, ~]\n"
				    "  c:\n"
				    "    - d: |\n"
				    "        text\n"
				    "    - {}\n",
				    &err);
	CHECK(t != NULL);
	if (!t) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	const struct yaml_tree_node *root = yaml_tree_root(t);
	CHECK_INT(root->kind, YAML_TREE_MAPPING);
	CHECK_INT(root->line, 2);
	CHECK_INT(root->column, 1);
	CHECK_STR(root->file, "t.yaml");
	const struct yaml_tree_node *b = yaml_tree_get(yaml_tree_get(root, "a"), "b");
	CHECK(b && b->kind == YAML_TREE_SEQUENCE && b->nitems == 5);
	if (!b || b->nitems != 5)
		goto out;
	CHECK_INT(b->line, 3);
	CHECK_INT(b->column, 6);
	CHECK(!b->items[0]->quoted);
	CHECK(b->items[1]->quoted);
	CHECK_STR(b->items[1]->value, "1.2");
	CHECK(b->items[2]->quoted);
	CHECK(!yaml_tree_is_null(b->items[3]));
	CHECK(yaml_tree_is_null(b->items[4]));
	char path[128];
	CHECK_STR(yaml_tree_path(b->items[2], path, sizeof(path)), "a.b[2]");
	CHECK_INT(b->items[2]->column, 17);
	bool yes = false;
	CHECK_INT(yaml_tree_read_bool(b->items[3], &yes, &err), 0);
	CHECK(yes);
	uint64_t v = 0;
	CHECK_INT(yaml_tree_read_uint(b->items[0], 0, 5, &v, &err), 0);
	CHECK_INT(v, 1);
	CHECK_INT(yaml_tree_read_uint(b->items[1], 0, 5, &v, &err), -1);
	CHECK_STR(err.msg, "t.yaml:3:10: a.b[1]: expected an integer 0-5, got the string \"1.2\"");
	const struct yaml_tree_node *c = yaml_tree_get(yaml_tree_get(root, "a"), "c");
	const struct yaml_tree_node *d = yaml_tree_get(c->items[0], "d");
	CHECK_STR(d->value, "text\n");
	CHECK(d->quoted);
	CHECK_STR(yaml_tree_path(d, path, sizeof(path)), "a.c[0].d");
	CHECK_STR(yaml_tree_path(yaml_tree_key_node(d), path, sizeof(path)), "a.c[0].d");
	CHECK_INT(yaml_tree_key_node(d)->column, 7);
	CHECK(c->items[1]->kind == YAML_TREE_MAPPING && c->items[1]->npairs == 0);
	CHECK_INT(yaml_tree_require(c->items[1], "e", &d, &err), -1);
	CHECK_STR(err.msg, "t.yaml:7:7: a.c[1]: missing required key \"e\"");
	static const char *const allowed[] = {"b", NULL};
	CHECK_INT(yaml_tree_check_keys(yaml_tree_get(root, "a"), allowed, &err), -1);
	CHECK_STR(err.msg, "t.yaml:4:3: a: unknown key \"c\"");
out:
	yaml_tree_free(&t);
	CHECK(t == NULL);
}

TEST(empty_inputs_have_no_root)
{
	struct err err;
	static const char *const texts[] = {"", "# only\n", "\n\n"};
	for (size_t i = 0; i < 3; i++) {
		struct yaml_tree *t = parse(texts[i], &err);
		CHECK(t != NULL && yaml_tree_root(t) == NULL);
		yaml_tree_free(&t);
	}
	struct yaml_tree *t = parse("---\n", &err);
	CHECK(t && yaml_tree_is_null(yaml_tree_root(t)));
	yaml_tree_free(&t);
}

TEST(refusals)
{
	CHECK_STR(parse_err("a: 1\nb: 2\na: 3\n"), "t.yaml:3:1: duplicate key \"a\" (first at line 1)");
	CHECK_STR(parse_err("x:\n  {a: 1, \"a\": 2}\n"),
		  "t.yaml:2:10: x: duplicate key \"a\" (first at line 2)");
	CHECK_STR(parse_err("a: &x 1\n"), "t.yaml:1:4: anchors (&name) are not supported");
	CHECK_STR(parse_err("a: *x\n"), "t.yaml:1:4: aliases (*name) are not supported "
		  "(quote a value that starts with *)");
	CHECK_STR(parse_err("a: !foo 1\n"), "t.yaml:1:4: tags such as \"!foo\" are not "
		  "supported (quote the value instead)");
	CHECK_STR(parse_err("a: 1\n---\nb: 2\n"), "t.yaml:2:1: only one document is allowed");
	CHECK_STR(parse_err("? [a]\n: 1\n"), "t.yaml:1:3: a mapping key must be a scalar, not "
		  "a sequence");
	CHECK_STR(parse_err("a: 'x\n"), "t.yaml:2:1: found unexpected end of stream (while "
		  "scanning a quoted scalar at line 1 column 4)");
}

TEST(many_keys_stay_fast_and_unique)
{
	/* 20,000 keys: the duplicate check must not be quadratic */
	struct {
		char *p;
		size_t len;
	} b = {xmalloc(20001 * 16), 0};
	for (int i = 0; i < 20000; i++)
		b.len += (size_t)snprintf(b.p + b.len, 16, "k%d: %d\n", i, i);
	struct yaml_tree *t = NULL;
	struct err err;
	CHECK_INT(yaml_tree_parse(b.p, b.len, "t.yaml", NULL, &t, &err), 0);
	CHECK(t && yaml_tree_root(t)->npairs == 20000);
	yaml_tree_free(&t);
	b.len += (size_t)snprintf(b.p + b.len, 16, "k777: x\n");
	CHECK_INT(yaml_tree_parse(b.p, b.len, "t.yaml", NULL, &t, &err), -1);
	CHECK_STR(err.msg, "t.yaml:20001:1: duplicate key \"k777\" (first at line 778)");
	free(b.p);
}

TEST(limits_are_enforced)
{
	struct yaml_tree_limits lim;
	yaml_tree_limits_default(&lim);
	lim.max_nodes = 5;
	struct yaml_tree *t = NULL;
	struct err err;
	const char *text = "[1, 2, 3, 4, 5]";
	CHECK_INT(yaml_tree_parse(text, strlen(text), "t.yaml", &lim, &t, &err), -1);
	CHECK_STR(err.msg, "t.yaml:1:14: more than 5 nodes");
	lim.max_nodes = 100;
	lim.max_depth = 2;
	text = "a: {b: {c: 1}}";
	CHECK_INT(yaml_tree_parse(text, strlen(text), "t.yaml", &lim, &t, &err), -1);
	CHECK_STR(err.msg, "t.yaml:1:8: nested deeper than 2 levels");
	lim.max_bytes = 4;
	CHECK_INT(yaml_tree_parse(text, strlen(text), "t.yaml", &lim, &t, &err), -1);
	CHECK_STR(err.msg, "t.yaml: larger than 4 bytes");
	CHECK(t == NULL);
}

TEST(typed_reads)
{
	struct err err;
	struct yaml_tree *t = parse("s: 25MB\nd: 500ms\ne: pop3\nbad: 12 parsecs\n", &err);
	CHECK(t != NULL);
	if (!t)
		return;
	const struct yaml_tree_node *r = yaml_tree_root(t);
	uint64_t v = 0;
	CHECK_INT(yaml_tree_read_size(yaml_tree_get(r, "s"), 1, UINT64_MAX, &v, &err), 0);
	CHECK_INT(v, 25 * 1024 * 1024);
	CHECK_INT(yaml_tree_read_duration_ms(yaml_tree_get(r, "d"), 1, 1000, &v, &err), 0);
	CHECK_INT(v, 500);
	CHECK_INT(yaml_tree_read_duration_ms(yaml_tree_get(r, "d"), 1000, 60000, &v, &err), -1);
	CHECK_STR(err.msg, "t.yaml:2:4: d: must be between 1s and 1m, got \"500ms\"");
	static const char *const protos[] = {"imap", "pop3", NULL};
	int idx = -1;
	CHECK_INT(yaml_tree_read_enum(yaml_tree_get(r, "e"), protos, &idx, &err), 0);
	CHECK_INT(idx, 1);
	CHECK_INT(yaml_tree_read_size(yaml_tree_get(r, "bad"), 1, 10, &v, &err), -1);
	CHECK_STR(err.msg, "t.yaml:4:6: bad: expected a size such as 25MB, got \"12 parsecs\"");
	CHECK_INT(yaml_tree_expect_sequence(r, &err), -1);
	CHECK_STR(err.msg, "t.yaml:1:1: expected a sequence, got a mapping");
	static const char *const words[] = {"mailbox", "schedule", "account", NULL};
	CHECK_STR(yaml_tree_suggest("mailbx", words), "mailbox");
	CHECK_STR(yaml_tree_suggest("shcedule", words), "schedule");
	CHECK(yaml_tree_suggest("zz", words) == NULL);
	yaml_tree_free(&t);
}

TEST(every_prefix_parses_or_fails_cleanly)
{
	static const char doc[] =
		"a:\n  b: [1, \"two\", {c: d}]\n  'e': |\n    block\n  f: >-\n    folded\n"
		"g:\n  - h: i\n  - [j, k]\n  - \"esc\\t\\u00e9\"\nl: {m: n, o: [p]}\n";
	for (size_t n = 0; n <= sizeof(doc) - 1; n++) {
		struct yaml_tree *t = NULL;
		struct err err;
		err_clear(&err);
		int rc = yaml_tree_parse(doc, n, "t.yaml", NULL, &t, &err);
		CHECK(rc == 0 ? t != NULL : (t == NULL && err.cls == ERR_FATAL &&
					      strncmp(err.msg, "t.yaml:", 7) == 0));
		yaml_tree_free(&t);
	}
}

int main(void)
{
	RUN(positions_paths_and_styles);
	RUN(empty_inputs_have_no_root);
	RUN(refusals);
	RUN(many_keys_stay_fast_and_unique);
	RUN(limits_are_enforced);
	RUN(typed_reads);
	RUN(every_prefix_parses_or_fails_cleanly);
	return test_summary();
}
