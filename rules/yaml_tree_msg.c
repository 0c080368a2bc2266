/*
 * Positions and messages of the YAML tree: a node's path ("jobs.x.rules[2]"),
 * its value quoted and cut for an error message, and errors that name
 * file:line:column and the path.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/util/log.h"
#include "engine/util/str.h"
#include "rules/yaml_tree.h"
#include "rules/yaml_tree_int.h"

void yaml_tree_append(char *out, size_t outlen, size_t *pos, const char *s)
{
	size_t n = strlen(s);
	if (*pos >= outlen)
		return;
	if (n > outlen - 1 - *pos)
		n = outlen - 1 - *pos;
	memcpy(out + *pos, s, n);
	*pos += n;
	out[*pos] = '\0';
}

const char *yaml_tree_path(const struct yaml_tree_node *node, char *out, size_t outlen)
{
	/* Walk up once to find the chain; deeper than the array shows "...". */
	const struct yaml_tree_node *chain[80];
	size_t n = 0;
	bool cut = false;
	if (outlen == 0)
		return out;
	out[0] = '\0';
	for (const struct yaml_tree_node *p = node; p && p->parent; p = p->parent) {
		if (n == sizeof(chain) / sizeof(chain[0])) {
			cut = true;
			break;
		}
		chain[n++] = p;
	}
	size_t pos = 0;
	if (cut)
		yaml_tree_append(out, outlen, &pos, "...");
	while (n > 0) {
		const struct yaml_tree_node *p = chain[--n];
		char part[QUOTE_MAX + 24];
		if (p->parent->kind == YAML_TREE_SEQUENCE) {
			snprintf(part, sizeof(part), "[%zu]", p->index);
		} else {
			char clean[QUOTE_MAX];
			log_clean(p->key, strlen(p->key), clean, sizeof(clean));
			snprintf(part, sizeof(part), "%s%s", pos ? "." : "", clean);
		}
		yaml_tree_append(out, outlen, &pos, part);
	}
	return out;
}

const char *yaml_tree_quote(const struct yaml_tree_node *node, char *out, size_t outlen)
{
	if (outlen < 3) {
		if (outlen)
			out[0] = '\0';
		return out;
	}
	out[0] = '"';
	log_clean(node->value ? node->value : "", node->value ? node->len : 0, out + 1,
		  outlen - 2);
	size_t n = strlen(out);
	out[n] = '"';
	out[n + 1] = '\0';
	return out;
}

const char *yaml_tree_describe(const struct yaml_tree_node *node, char *out, size_t outlen)
{
	const char *fixed = NULL;
	if (!node)
		fixed = "nothing";
	else if (node->kind == YAML_TREE_MAPPING)
		fixed = "a mapping";
	else if (node->kind == YAML_TREE_SEQUENCE)
		fixed = "a sequence";
	else if (yaml_tree_is_null(node))
		fixed = "nothing";
	if (fixed) {
		snprintf(out, outlen, "%s", fixed);
		return out;
	}
	char q[QUOTE_MAX];
	yaml_tree_quote(node, q, sizeof(q));
	/* say "string" so that `port: "993"` explains itself */
	snprintf(out, outlen, "%s%s", node->quoted ? "the string " : "", q);
	return out;
}

/* Error at pos's position, naming path_node's path. */
static int error_at(struct err *err, const struct yaml_tree_node *pos,
		    const struct yaml_tree_node *path_node, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static int error_at(struct err *err, const struct yaml_tree_node *pos,
		    const struct yaml_tree_node *path_node, const char *fmt, va_list ap)
{
	char msg[400];
	char path[PATH_MAX_LEN];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	yaml_tree_path(path_node, path, sizeof(path));
	if (path[0])
		return err_set(err, ERR_FATAL, "%s:%u:%u: %s: %s", pos->file, pos->line,
			       pos->column, path, msg);
	return err_set(err, ERR_FATAL, "%s:%u:%u: %s", pos->file, pos->line, pos->column, msg);
}

int yaml_tree_error(struct err *err, const struct yaml_tree_node *node, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_at(err, node, node, fmt, ap);
	va_end(ap);
	return -1;
}

int yaml_tree_error_in_map(struct err *err, const struct yaml_tree_node *pos,
			   const struct yaml_tree_node *map, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_at(err, pos, map, fmt, ap);
	va_end(ap);
	return -1;
}
