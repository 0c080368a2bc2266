/*
 * YAML ► tree, from libyaml's event parser. See yaml_tree.h for the limits
 * and what is refused. Nodes live in one arena per tree; the building
 * state (open mappings and sequences) lives on a heap stack that is freed
 * on every path.
 */
#include "rules/yaml_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "engine/util/arena.h"
#include "engine/util/log.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"
#include "rules/yaml_tree_int.h"

struct yaml_tree {
	struct arena *arena;
	const char *file;
	struct yaml_tree_node *root;
};

/* One open mapping or sequence while its events arrive. */
struct frame {
	struct yaml_tree_node *node;
	struct yaml_tree_node **kids;   /* sequence items, or key, value, key, ... */
	size_t n;
	size_t cap;
	uint32_t *slots;                /* mapping: hash of keys, kid index + 1 */
	size_t nslots;
	size_t nkeys;
};

struct builder {
	struct yaml_tree *tree;
	const struct yaml_tree_limits *lim;
	struct frame *stack;
	size_t depth;
	size_t cap;
	uint32_t nodes;
	struct err *err;
};

void yaml_tree_limits_default(struct yaml_tree_limits *lim)
{
	lim->max_bytes = 1024 * 1024;
	lim->max_depth = 64;
	lim->max_nodes = 100000;
}

const struct yaml_tree_node *yaml_tree_root(const struct yaml_tree *tree)
{
	return tree ? tree->root : NULL;
}

void yaml_tree_free(struct yaml_tree **tree)
{
	if (!tree || !*tree)
		return;
	arena_free(&(*tree)->arena);
	free(*tree);
	*tree = NULL;
}

static int build_fail(struct builder *b, unsigned line, unsigned column, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int build_fail(struct builder *b, unsigned line, unsigned column, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(b->err, ERR_FATAL, "%s:%u:%u: %s", b->tree->file, line, column, msg);
}

static unsigned mark_line(yaml_mark_t m)
{
	return m.line >= 0xfffffffe ? 0xffffffffu : (unsigned)m.line + 1;
}

static unsigned mark_column(yaml_mark_t m)
{
	return m.column >= 0xfffffffe ? 0xffffffffu : (unsigned)m.column + 1;
}

static uint32_t key_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static bool same_key(const struct yaml_tree_node *a, const struct yaml_tree_node *b)
{
	return a->len == b->len && memcmp(a->value, b->value, a->len) == 0;
}

static void slots_insert(struct frame *f, size_t kid)
{
	const struct yaml_tree_node *k = f->kids[kid];
	size_t mask = f->nslots - 1;
	size_t i = key_hash(k->value, k->len) & mask;
	while (f->slots[i])
		i = (i + 1) & mask;
	f->slots[i] = (uint32_t)kid + 1;
}

/* The earlier key equal to kids[kid], or NULL; then records kids[kid]. */
static const struct yaml_tree_node *key_seen(struct frame *f, size_t kid)
{
	if ((f->nkeys + 1) * 2 > f->nslots) {
		/* keep the table at most half full so probes stay short */
		size_t nslots = f->nslots ? f->nslots * 2 : 16;
		free(f->slots);
		f->slots = xcalloc(nslots, sizeof(*f->slots));
		f->nslots = nslots;
		for (size_t i = 0; i + 1 < kid; i += 2)
			slots_insert(f, i);
	}
	const struct yaml_tree_node *k = f->kids[kid];
	size_t mask = f->nslots - 1;
	size_t i = key_hash(k->value, k->len) & mask;
	while (f->slots[i]) {
		const struct yaml_tree_node *other = f->kids[f->slots[i] - 1];
		if (same_key(other, k))
			return other;
		i = (i + 1) & mask;
	}
	f->slots[i] = (uint32_t)kid + 1;
	f->nkeys++;
	return NULL;
}

static struct yaml_tree_node *node_new(struct builder *b, enum yaml_tree_kind kind,
				       yaml_mark_t mark)
{
	struct yaml_tree_node *n = arena_alloc(b->tree->arena, sizeof(*n));
	n->kind = kind;
	n->file = b->tree->file;
	n->line = mark_line(mark);
	n->column = mark_column(mark);
	return n;
}

/* Hangs a new node under the open container (or makes it the root). */
static int node_attach(struct builder *b, struct yaml_tree_node *n)
{
	if (++b->nodes > b->lim->max_nodes)
		return build_fail(b, n->line, n->column, "more than %u nodes",
				  (unsigned)b->lim->max_nodes);
	if (b->depth == 0) {
		b->tree->root = n;
		return 0;
	}
	struct frame *f = &b->stack[b->depth - 1];
	n->parent = f->node;
	if (f->node->kind == YAML_TREE_MAPPING) {
		if (f->n % 2 == 0) {
			if (n->kind != YAML_TREE_SCALAR)
				return build_fail(b, n->line, n->column,
						  "a mapping key must be a scalar, not %s",
						  n->kind == YAML_TREE_MAPPING ? "a mapping"
									       : "a sequence");
			n->is_key = true;
			n->key = n->value;
		} else {
			n->key = f->kids[f->n - 1]->value;
		}
	} else {
		n->index = f->n;
	}
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->kids = xreallocarray(f->kids, f->cap, sizeof(*f->kids));
	}
	f->kids[f->n++] = n;
	if (n->is_key) {
		const struct yaml_tree_node *first = key_seen(f, f->n - 1);
		if (first) {
			char q[QUOTE_MAX];
			return yaml_tree_error_in_map(b->err, n, f->node,
					    "duplicate key %s (first at line %u)",
					    yaml_tree_quote(n, q, sizeof(q)), first->line);
		}
	}
	return 0;
}

static int container_open(struct builder *b, enum yaml_tree_kind kind, yaml_mark_t mark)
{
	struct yaml_tree_node *n = node_new(b, kind, mark);
	if (b->depth >= b->lim->max_depth)
		return build_fail(b, n->line, n->column, "nested deeper than %u levels",
				  (unsigned)b->lim->max_depth);
	if (node_attach(b, n) < 0)
		return -1;
	if (b->depth == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 8;
		b->stack = xreallocarray(b->stack, b->cap, sizeof(*b->stack));
	}
	struct frame *f = &b->stack[b->depth++];
	memset(f, 0, sizeof(*f));
	f->node = n;
	return 0;
}

static void frame_release(struct frame *f)
{
	free(f->kids);
	free(f->slots);
	memset(f, 0, sizeof(*f));
}

/* Moves the finished container's children into the arena. */
static void container_close(struct builder *b)
{
	struct frame *f = &b->stack[--b->depth];
	struct yaml_tree_node *n = f->node;
	if (n->kind == YAML_TREE_MAPPING) {
		/* the parser guarantees a value for every key */
		n->npairs = f->n / 2;
		if (n->npairs) {
			n->pairs = arena_alloc(b->tree->arena, n->npairs * sizeof(*n->pairs));
			for (size_t i = 0; i < n->npairs; i++) {
				n->pairs[i].key = f->kids[2 * i];
				n->pairs[i].value = f->kids[2 * i + 1];
			}
		}
	} else {
		n->nitems = f->n;
		if (n->nitems) {
			n->items = arena_alloc(b->tree->arena, n->nitems * sizeof(*n->items));
			memcpy(n->items, f->kids, n->nitems * sizeof(*n->items));
		}
	}
	frame_release(f);
}

/* libyaml's own words, at its position (0-based marks made 1-based). */
static int libyaml_fail(struct builder *b, const yaml_parser_t *p, const char *data,
			size_t len)
{
	if (p->error == YAML_MEMORY_ERROR)
		return build_fail(b, 1, 1, "out of memory while parsing");
	if (p->error == YAML_READER_ERROR) {
		/* reader errors carry a byte offset, not a mark */
		unsigned line = 1, column = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			if (data[i] == '\n') {
				line++;
				column = 1;
			} else if (((unsigned char)data[i] & 0xC0) != 0x80) {
				column++;
			}
		}
		if (p->problem_value != -1)
			return build_fail(b, line, column, "%s (byte 0x%02X)",
					  p->problem ? p->problem : "cannot read the input",
					  (unsigned)p->problem_value & 0xffu);
		return build_fail(b, line, column, "%s",
				  p->problem ? p->problem : "cannot read the input");
	}
	const char *problem = p->problem ? p->problem : "syntax error";
	/* an unquoted cron schedule starting with '*' reads as an alias */
	const char *hint = p->context && strcmp(p->context, "while scanning an alias") == 0
				   ? "; quote a value that starts with *"
				   : "";
	if (p->context)
		return build_fail(b, mark_line(p->problem_mark), mark_column(p->problem_mark),
				  "%s (%s at line %u column %u%s)", problem, p->context,
				  mark_line(p->context_mark), mark_column(p->context_mark), hint);
	return build_fail(b, mark_line(p->problem_mark), mark_column(p->problem_mark), "%s",
			  problem);
}

/* Anchors, aliases and tags are refused: see the header. */
static int check_props(struct builder *b, const yaml_event_t *ev, const yaml_char_t *anchor,
		       const yaml_char_t *tag)
{
	unsigned line = mark_line(ev->start_mark), column = mark_column(ev->start_mark);
	if (anchor)
		return build_fail(b, line, column, "anchors (&name) are not supported");
	if (tag) {
		char q[QUOTE_MAX];
		log_clean((const char *)tag, strlen((const char *)tag), q, sizeof(q));
		return build_fail(b, line, column,
				  "tags such as \"%s\" are not supported (quote the value instead)",
				  q);
	}
	return 0;
}

static int on_event(struct builder *b, const yaml_event_t *ev, int *docs)
{
	unsigned line = mark_line(ev->start_mark), column = mark_column(ev->start_mark);
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			return build_fail(b, line, column, "only one document is allowed");
		return 0;
	case YAML_ALIAS_EVENT:
		return build_fail(b, line, column, "aliases (*name) are not supported "
				  "(quote a value that starts with *)");
	case YAML_SCALAR_EVENT: {
		if (check_props(b, ev, ev->data.scalar.anchor, ev->data.scalar.tag) < 0)
			return -1;
		struct yaml_tree_node *n = node_new(b, YAML_TREE_SCALAR, ev->start_mark);
		n->value = arena_memdup0(b->tree->arena, ev->data.scalar.value,
					 ev->data.scalar.length);
		n->len = ev->data.scalar.length;
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		return node_attach(b, n);
	}
	case YAML_SEQUENCE_START_EVENT:
		if (check_props(b, ev, ev->data.sequence_start.anchor,
				ev->data.sequence_start.tag) < 0)
			return -1;
		return container_open(b, YAML_TREE_SEQUENCE, ev->start_mark);
	case YAML_MAPPING_START_EVENT:
		if (check_props(b, ev, ev->data.mapping_start.anchor,
				ev->data.mapping_start.tag) < 0)
			return -1;
		return container_open(b, YAML_TREE_MAPPING, ev->start_mark);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth == 0)
			return build_fail(b, line, column, "unbalanced end of a collection");
		container_close(b);
		return 0;
	case YAML_NO_EVENT:
	case YAML_STREAM_START_EVENT:
	case YAML_STREAM_END_EVENT:
	case YAML_DOCUMENT_END_EVENT:
		return 0;
	}
	return 0;
}

int yaml_tree_parse(const char *data, size_t len, const char *file,
		    const struct yaml_tree_limits *lim, struct yaml_tree **tree_r,
		    struct err *err)
{
	struct yaml_tree_limits defaults;
	if (!lim) {
		yaml_tree_limits_default(&defaults);
		lim = &defaults;
	}
	*tree_r = NULL;
	struct yaml_tree *tree = xcalloc(1, sizeof(*tree));
	tree->arena = arena_new();
	tree->file = arena_strdup(tree->arena, file);
	struct builder b = {.tree = tree, .lim = lim, .err = err};
	yaml_parser_t parser;
	bool parser_ready = false;
	int docs = 0;
	int rc = -1;

	if (len > lim->max_bytes) {
		err_set(err, ERR_FATAL, "%s: larger than %zu bytes", file, lim->max_bytes);
		goto out;
	}
	if (!yaml_parser_initialize(&parser)) {
		err_set(err, ERR_FATAL, "%s: cannot initialise the YAML parser", file);
		goto out;
	}
	parser_ready = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			libyaml_fail(&b, &parser, data, len);
			goto out;
		}
		int r = on_event(&b, &ev, &docs);
		bool end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (r < 0)
			goto out;
		if (end)
			break;
	}
	*tree_r = tree;
	tree = NULL;
	rc = 0;
out:
	while (b.depth > 0)
		frame_release(&b.stack[--b.depth]);
	free(b.stack);
	if (parser_ready)
		yaml_parser_delete(&parser);
	yaml_tree_free(&tree);
	return rc;
}

int yaml_tree_load_file(const char *path, const struct yaml_tree_limits *lim,
			struct yaml_tree **tree_r, struct err *err)
{
	struct yaml_tree_limits defaults;
	if (!lim) {
		yaml_tree_limits_default(&defaults);
		lim = &defaults;
	}
	*tree_r = NULL;
	int rc = -1;
	char *data = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, ERR_FATAL, "cannot open \"%s\": %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		err_set(err, ERR_FATAL, "cannot read \"%s\": %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		/* a FIFO or device would block or never end */
		err_set(err, ERR_FATAL, "cannot read \"%s\": not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > lim->max_bytes) {
		err_set(err, ERR_FATAL, "%s: larger than %zu bytes", path, lim->max_bytes);
		goto out;
	}
	/* read one byte past the cap: the file may have grown since fstat */
	size_t cap = (size_t)st.st_size + 1, len = 0;
	data = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap > lim->max_bytes)
				break;
			cap = cap * 2 > lim->max_bytes + 1 ? lim->max_bytes + 1 : cap * 2;
			data = xreallocarray(data, cap + 1, 1);
		}
		ssize_t n = read(fd, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(err, ERR_FATAL, "cannot read \"%s\": %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > lim->max_bytes) {
		err_set(err, ERR_FATAL, "%s: larger than %zu bytes", path, lim->max_bytes);
		goto out;
	}
	rc = yaml_tree_parse(data, len, path, lim, tree_r, err);
out:
	free(data);
	close(fd);
	return rc;
}

