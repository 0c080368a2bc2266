/*
 * Templates: text with ${name} in it (README "Templates"), for ticket
 * subjects and bodies, queues, tags, custom fields and reasons. A name is
 * a capture of a `matches` condition, a field, or a built-in (subject,
 * from, ...); every name is checked at load. "$$" is a literal "$".
 *
 * SECURITY: the values are mail text. The result is cut to the caller's
 * cap (never inside a UTF-8 sequence); control characters other than
 * newline and tab become spaces, so a subject or queue never carries a
 * line break or an escape sequence into a log or the help desk.
 */
#include "rules/rules_int.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/buf.h"
#include "engine/util/xalloc.h"

#define TMPL_MAX_PARTS 256

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

int tmpl_compile(struct cc *cc, const struct yaml_tree_node *node, struct tmpl **t_r,
		 struct err *err)
{
	struct ruleset *rs = cc->rs;
	const char *s;
	if (node->kind != YAML_TREE_SCALAR || yaml_tree_is_null(node)) {
		char d[64];
		return cc_error(cc, err, node, "expected text, got %s",
				yaml_tree_describe(node, d, sizeof(d)));
	}
	if (yaml_tree_read_string(node, &s, err) < 0)
		return -1;
	struct tmpl_part parts[TMPL_MAX_PARTS];
	size_t np = 0;
	struct buf lit;
	buf_init(&lit, 64 * 1024);
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		if (s[i] == '$' && i + 1 < len && s[i + 1] == '$') {
			buf_addc(&lit, '$');
			i += 2;
			continue;
		}
		if (!(s[i] == '$' && i + 1 < len && s[i + 1] == '{')) {
			buf_addc(&lit, s[i++]);
			continue;
		}
		size_t j = i + 2;
		while (j < len && name_char(s[j], j == i + 2))
			j++;
		if (j >= len || s[j] != '}' || j == i + 2) {
			buf_release(&lit);
			return cc_error(cc, err, node, "bad template: \"${\" at offset %zu must be "
				       "followed by a name and \"}\" (write \"$$\" for a dollar sign)", i);
		}
		if (np + 2 > TMPL_MAX_PARTS) {
			buf_release(&lit);
			return cc_error(cc, err, node, "template has too many parts");
		}
		if (lit.len) {
			parts[np++] = (struct tmpl_part){false, arena_memdup0(rs->mem, lit.data, lit.len),
							 lit.len};
			buf_reset(&lit);
		}
		parts[np++] = (struct tmpl_part){true, arena_memdup0(rs->mem, s + i + 2, j - i - 2),
						 j - i - 2};
		i = j + 1;
	}
	if (lit.len && np < TMPL_MAX_PARTS)
		parts[np++] = (struct tmpl_part){false, arena_memdup0(rs->mem, lit.data, lit.len),
						 lit.len};
	bool failed = lit.failed;
	buf_release(&lit);
	if (failed)
		return cc_error(cc, err, node, "template longer than 64 KB");
	struct tmpl *t = arena_alloc(rs->mem, sizeof(*t));
	t->parts = arena_alloc(rs->mem, (np ? np : 1) * sizeof(*t->parts));
	memcpy(t->parts, parts, np * sizeof(*parts));
	t->nparts = np;
	t->source = cc_strdup(cc, s);
	t->single_var = np == 1 && parts[0].var;
	if (np == 0 || (np == 1 && !parts[0].var)) {
		/* no variables: cleaned once here, used as it is for every mail */
		char *text = arena_strdup(rs->mem, np ? parts[0].s : "");
		char *line = arena_strdup(rs->mem, text);
		for (char *c = text, *d = line; *c; c++, d++) {
			if (((unsigned char)*c < 0x20 && *c != '\n' && *c != '\t') || *c == 0x7f)
				*c = *d = ' ';
			if (*d == '\n' || *d == '\t')
				*d = ' ';
		}
		t->literal = text;
		t->literal_line = line;
	}

	if (rs->ntmpls == rs->captmpls) {
		rs->captmpls = rs->captmpls ? rs->captmpls * 2 : 32;
		rs->tmpls = xreallocarray(rs->tmpls, rs->captmpls, sizeof(*rs->tmpls));
	}
	char path[200];
	struct tmpl_use *u = &rs->tmpls[rs->ntmpls++];
	u->t = t;
	cc_pos(cc, node, &u->pos);
	u->stmt = cc->stmt;
	u->path = cc_strdup(cc, yaml_tree_path(node, path, sizeof(path)));
	*t_r = t;
	return 0;
}

int tmpl_check_all(struct cc *cc, struct err *err)
{
	const struct ruleset *rs = cc->rs;
	for (size_t i = 0; i < rs->ntmpls; i++) {
		const struct tmpl_use *u = &rs->tmpls[i];
		for (size_t k = 0; k < u->t->nparts; k++) {
			const struct tmpl_part *p = &u->t->parts[k];
			if (!p->var || cc_has_var(cc, p->s, p->len))
				continue;
			const char **names = xcalloc(rs->nvars + 1, sizeof(*names));
			memcpy(names, rs->vars, rs->nvars * sizeof(*names));
			const char *hint = yaml_tree_suggest(p->s, names);
			err_set(err, ERR_FATAL, "%s:%u:%u: %s%s%s%s: unknown variable ${%s} in the "
				"template%s%s%s (captures of matches:, fields and built-ins are known)",
				u->pos.file, u->pos.line, u->pos.column, u->stmt ? "statement \"" : "",
				u->stmt ? u->stmt : "", u->stmt ? "\": " : "", u->path, p->s,
				hint ? " (did you mean ${" : "", hint ? hint : "", hint ? "}?)" : "");
			free(names);
			return -1;
		}
	}
	return 0;
}

char *tmpl_expand(struct eval *ev, const struct tmpl *t, size_t max)
{
	if (!t)
		return NULL;
	if (t->literal && strlen(t->literal) <= max)
		return arena_strdup(ev->arena, t->literal);
	struct buf b;
	buf_init(&b, max + 8);
	for (size_t i = 0; i < t->nparts; i++) {
		const struct tmpl_part *p = &t->parts[i];
		if (!p->var) {
			buf_add(&b, p->s, p->len);
			continue;
		}
		size_t len = 0;
		const char *v = eval_var(ev, p->s, p->len, &len);
		if (v)
			buf_add(&b, v, len > max ? max : len);
	}
	size_t len = b.len > max ? max : b.len;
	while (len > 0 && len < b.len && ((unsigned char)b.data[len] & 0xC0) == 0x80)
		len--;
	char *out = arena_memdup0(ev->arena, b.data ? b.data : "", len);
	buf_release(&b);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)out[i] < 0x20 && out[i] != '\n' && out[i] != '\t')
			out[i] = ' ';
		else if (out[i] == 0x7f)
			out[i] = ' ';
	return out;
}
