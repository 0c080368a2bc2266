/*
 * fields: named, typed values taken from the subject, the body or a header
 * by a pattern, with an optional default (README "Fields").
 *
 * SECURITY: patterns run on mail text under rules/regex.h's limits; a value is at
 * most 1000 bytes (value.c) and checked against its type before use.
 */
#include "rules/rules_int.h"

#include <stdio.h>
#include <string.h>

#include "engine/util/xalloc.h"

static const char *const field_keys[] = {"type", "from", "pattern", "default", "case", NULL};
static const char *const type_names[] = {"string", "integer", "decimal", "date", "email",
					 "ticket", NULL};
static const char *const case_names[] = {"sensitive", "insensitive", NULL};

/* Where a field may come from: text sources with one value each, plus
 * "to" (the first address) and headers. */
static bool field_source_ok(enum src s)
{
	switch (s) {
	case SRC_FROM: case SRC_FROM_NAME: case SRC_FROM_DOMAIN: case SRC_REPLY_TO: case SRC_TO:
	case SRC_CC: case SRC_SUBJECT: case SRC_BODY: case SRC_BODY_ORIGINAL: case SRC_HEADER:
	case SRC_CLIENT: case SRC_MESSAGE_ID:
		return true;
	default:
		return false;
	}
}

/* [a-z_][a-z0-9_]*, at most 64: usable as ${name}. */
static bool name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 64 || strlen(s) != len || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static int parse_from(struct cc *cc, struct field_def *f, const struct yaml_tree_node *n,
		      struct err *err)
{
	const char *s;
	if (yaml_tree_read_string(n, &s, err) < 0)
		return -1;
	const struct src_def *d = src_find(s, strlen(s));
	if (!d || !field_source_ok(d->src)) {
		static const char *const ok[] = {"subject", "body", "body_original", "from",
						 "from_name", "from_domain", "reply_to", "to", "cc",
						 "client", "message_id", "header", NULL};
		const char *hint = yaml_tree_suggest(s, ok);
		return cc_error(cc, err, n, "a field cannot come from \"%s\"%s%s%s (use subject, "
			       "body, body_original, from, to, cc, reply_to or header NAME)", s,
			       hint ? " (did you mean \"" : "", hint ? hint : "", hint ? "\"?)" : "");
	}
	f->src = d->src;
	if (d->named) {
		const char *sp = strchr(s, ' ');
		while (sp && *sp == ' ')
			sp++;
		if (!sp || !*sp)
			return cc_error(cc, err, n, "write the header's name after it: \"header X-Name\"");
		f->header = cc_strdup(cc, sp);
	}
	return 0;
}

static int field_compile(struct cc *cc, const struct yaml_tree_node *key,
			 const struct yaml_tree_node *def, struct err *err)
{
	struct ruleset *rs = cc->rs;
	const struct yaml_tree_node *n;
	const char *pattern;
	int idx;
	bool caseless = false;

	if (!name_ok(key->value, key->len))
		return cc_error(cc, err, key, "field name \"%.64s\" must be lower-case letters, "
			       "digits and '_' (at most 64)", key->value);
	for (size_t i = 0; i < rs->nfields; i++)
		if (strcmp(rs->fields[i].name, key->value) == 0)
			return cc_error(cc, err, key, "field \"%s\" is defined twice (first at %s:%u:%u)",
					key->value, rs->fields[i].pos.file, rs->fields[i].pos.line,
					rs->fields[i].pos.column);
	if (cc_has_var(cc, key->value, key->len))
		return cc_error(cc, err, key, "field \"%s\" would hide the built-in variable "
			       "${%s}", key->value, key->value);
	if (yaml_tree_expect_mapping(def, err) < 0 || yaml_tree_check_keys(def, field_keys, err) < 0)
		return -1;

	if (rs->nfields == rs->capfields) {
		rs->capfields = rs->capfields ? rs->capfields * 2 : 16;
		rs->fields = xreallocarray(rs->fields, rs->capfields, sizeof(*rs->fields));
	}
	struct field_def *f = &rs->fields[rs->nfields];
	memset(f, 0, sizeof(*f));
	f->name = cc_strdup(cc, key->value);
	cc_pos(cc, key, &f->pos);
	f->type = FT_STRING;
	if ((n = yaml_tree_get(def, "type"))) {
		if (yaml_tree_read_enum(n, type_names, &idx, err) < 0)
			return -1;
		f->type = (enum ftype)idx;
	}
	if (yaml_tree_require(def, "from", &n, err) < 0 || parse_from(cc, f, n, err) < 0)
		return -1;
	if ((n = yaml_tree_get(def, "case"))) {
		if (yaml_tree_read_enum(n, case_names, &idx, err) < 0)
			return -1;
		caseless = idx == 1;
	}
	if (yaml_tree_require(def, "pattern", &n, err) < 0 ||
	    yaml_tree_read_string(n, &pattern, err) < 0)
		return -1;
	if (cc_rx(cc, n, pattern, n->len, REGEX_UCP | (caseless ? REGEX_CASELESS : 0), &f->rx,
		  err) < 0)
		return -1;
	/* the value: the group named like the field, else the first group, else
	 * the whole match */
	int g = regex_group_index(f->rx, f->name);
	if (g > REGEX_MAX_GROUPS)
		return cc_error(cc, err, n, "capture \"%s\" is group %d: only groups 1 to %d can "
				"be used", f->name, g, REGEX_MAX_GROUPS);
	f->group = g > 0 ? (uint32_t)g : 0;
	if (!f->group && regex_groups(f->rx) >= 1)
		f->group = 1;
	if ((n = yaml_tree_get(def, "default"))) {
		const char *s;
		char why[120];
		if (yaml_tree_read_string(n, &s, err) < 0)
			return -1;
		if (value_parse(f->type, s, n->len, rs->mem, &f->def, why, sizeof(why)) < 0)
			return cc_error(cc, err, n, "default \"%.60s\" does not fit type %s: %s", s,
					ftype_name(f->type), why);
	}
	rs->nfields++;
	cc_add_var(cc, f->name);
	return 0;
}

int fields_compile(struct cc *cc, const struct yaml_tree_node *map, struct err *err)
{
	if (yaml_tree_expect_mapping(map, err) < 0)
		return -1;
	for (size_t i = 0; i < map->npairs; i++)
		if (field_compile(cc, map->pairs[i].key, map->pairs[i].value, err) < 0)
			return -1;
	return 0;
}

static char *cut_copy(struct arena *a, const char *s, size_t len)
{
	if (len > TRACE_TEXT_MAX) {
		len = TRACE_TEXT_MAX;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	return arena_memdup0(a, s, len);
}

int fields_extract(struct eval *ev, struct trace *tr, struct err *err)
{
	const struct ruleset *rs = ev->rs;
	ev->fields = arena_alloc(ev->arena, (rs->nfields ? rs->nfields : 1) * sizeof(struct value));
	tr->fields = arena_alloc(ev->arena, (rs->nfields ? rs->nfields : 1) * sizeof(*tr->fields));
	tr->nfields = rs->nfields;
	for (size_t i = 0; i < rs->nfields; i++) {
		const struct field_def *f = &rs->fields[i];
		struct trace_field *t = &tr->fields[i];
		struct text_val small[EVAL_SMALL], *vals;
		size_t nvals;
		t->name = f->name;
		eval_texts(ev, f->src, f->header, small, &vals, &nvals);
		/* the first value a pattern matches gives the field */
		for (size_t k = 0; k < nvals && !ev->fields[i].set; k++) {
			int rc = regex_match(f->rx, vals[k].s, vals[k].len, 0, ev->lim, &ev->match,
					     err);
			if (rc < 0)
				return err_prefix(err, "field \"%s\" (%s:%u:%u)", f->name, f->pos.file,
						  f->pos.line, f->pos.column);
			size_t st, len;
			if (rc == 0 || !regex_match_group(&ev->match, f->group, &st, &len))
				continue;
			char why[120];
			if (value_parse(f->type, vals[k].s + st, len, ev->arena, &ev->fields[i], why,
					sizeof(why)) < 0) {
				char *raw = cut_copy(ev->arena, vals[k].s + st, len);
				t->note = arena_printf(ev->arena, "\"%s\": %s", raw, why);
				memset(&ev->fields[i], 0, sizeof(ev->fields[i]));
			}
		}
		if (!ev->fields[i].set && f->def.set) {
			ev->fields[i] = f->def;
			t->defaulted = true;
		}
		if (ev->fields[i].set)
			t->value = cut_copy(ev->arena, ev->fields[i].text, ev->fields[i].len);
	}
	return 0;
}
