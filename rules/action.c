/*
 * Actions (README "Actions"): create_ticket, append, set, reopen, ignore,
 * reject, move_to, stop. Compiled from YAML with every value checked, and
 * applied to the plan of one message in the order written.
 *
 * SECURITY: applied values come from templates (mail text): each is cut
 * (subject 1000 bytes, names 200, tags 100, custom field values 4000,
 * reasons 500) and, except a body, kept to one line.
 */
#include "rules/rules_int.h"

#include <string.h>

#include "engine/util/json.h"
#include "engine/util/xalloc.h"

#define MAX_SUBJECT 1000
#define MAX_NAME 200
#define MAX_TAG 100
#define MAX_TAGS 50
#define MAX_FIELD 4000
#define MAX_FIELDS 100
#define MAX_REASON 500
#define MAX_BODY (4u << 20)

static const char *const action_names[] = {"create_ticket", "append", "set", "reopen",
					   "ignore", "reject", "move_to", "stop", NULL};
static const char *const create_keys[] = {"subject", "body", "queue", "priority", "status",
					  "type", "owner", "group", "tags", "fields",
					  "always_new", NULL};
static const char *const set_keys[] = {"queue", "priority", "status", "type", "owner",
				       "group", "tags", "fields", NULL};
static const char *const append_keys[] = {"as", "if_none", NULL};
static const char *const article_names[] = {"customer", "note", NULL};
static const char *const fallback_names[] = {"create_ticket", "ignore", "reject", NULL};
static const char *const reopen_names[] = {"reopen", "new_ticket", "reject", "keep_closed",
					   NULL};

static int opt_tmpl(struct cc *cc, const struct yaml_tree_node *map, const char *key,
		    struct tmpl **t_r, struct err *err)
{
	const struct yaml_tree_node *n = yaml_tree_get(map, key);
	*t_r = NULL;
	return n ? tmpl_compile(cc, n, t_r, err) : 0;
}

static int ticket_compile(struct cc *cc, const struct yaml_tree_node *map, struct act_ticket *t,
			  bool create, struct err *err)
{
	const struct yaml_tree_node *n;
	if (create && (opt_tmpl(cc, map, "subject", &t->subject, err) < 0 ||
		       opt_tmpl(cc, map, "body", &t->body, err) < 0))
		return -1;
	if (opt_tmpl(cc, map, "queue", &t->queue, err) < 0 ||
	    opt_tmpl(cc, map, "priority", &t->priority, err) < 0 ||
	    opt_tmpl(cc, map, "status", &t->status, err) < 0 ||
	    opt_tmpl(cc, map, "type", &t->type, err) < 0 ||
	    opt_tmpl(cc, map, "owner", &t->owner, err) < 0 ||
	    opt_tmpl(cc, map, "group", &t->group, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "tags"))) {
		if (yaml_tree_expect_sequence(n, err) < 0)
			return -1;
		if (n->nitems > MAX_TAGS)
			return cc_error(cc, err, n, "more than %d tags", MAX_TAGS);
		t->tags = arena_alloc(cc->rs->mem, (n->nitems ? n->nitems : 1) * sizeof(*t->tags));
		for (size_t i = 0; i < n->nitems; i++)
			if (tmpl_compile(cc, n->items[i], &t->tags[i], err) < 0)
				return -1;
		t->ntags = n->nitems;
	}
	if ((n = yaml_tree_get(map, "fields"))) {
		if (yaml_tree_expect_mapping(n, err) < 0)
			return -1;
		if (n->npairs > MAX_FIELDS)
			return cc_error(cc, err, n, "more than %d custom fields", MAX_FIELDS);
		t->fields = arena_alloc(cc->rs->mem, (n->npairs ? n->npairs : 1) * sizeof(*t->fields));
		for (size_t i = 0; i < n->npairs; i++) {
			const struct yaml_tree_node *k = n->pairs[i].key;
			if (!k->len || strlen(k->value) != k->len || k->len > 64)
				return cc_error(cc, err, k, "a custom field name has 1 to 64 characters");
			t->fields[i].key = cc_strdup(cc, k->value);
			if (tmpl_compile(cc, n->pairs[i].value, &t->fields[i].val, err) < 0)
				return -1;
		}
		t->nfields = n->npairs;
	}
	return 0;
}

/* A folder name for move_to: text without control characters. */
static int folder_compile(struct cc *cc, const struct yaml_tree_node *n, struct action *a,
			  struct err *err)
{
	struct ruleset *rs = cc->rs;
	const char *s;
	if (yaml_tree_read_string(n, &s, err) < 0)
		return -1;
	if (!s[0] || strlen(s) > 200)
		return cc_error(cc, err, n, "a folder name has 1 to 200 characters");
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return cc_error(cc, err, n, "a folder name must not hold control characters");
	a->folder = cc_strdup(cc, s);
	for (size_t i = 0; i < rs->nfolders; i++)
		if (strcmp(rs->folders[i], s) == 0)
			return 0;
	if (rs->nfolders == rs->capfolders) {
		rs->capfolders = rs->capfolders ? rs->capfolders * 2 : 8;
		rs->folders = xreallocarray(rs->folders, rs->capfolders, sizeof(*rs->folders));
		rs->folder_at = xreallocarray(rs->folder_at, rs->capfolders,
					      sizeof(*rs->folder_at));
	}
	/* a job whose account cannot move mail says so at this position */
	char path[200];
	yaml_tree_path(n, path, sizeof(path));
	rs->folder_at[rs->nfolders] = arena_printf(rs->mem, "%s:%u:%u: statement \"%s\": %s",
						   n->file ? n->file : "?", n->line, n->column,
						   cc->stmt ? cc->stmt : "", path);
	rs->folders[rs->nfolders++] = a->folder;
	return 0;
}

static int action_compile(struct cc *cc, const struct yaml_tree_node *item, struct action *a,
			  struct err *err)
{
	const struct yaml_tree_node *key = item, *val = NULL;
	int idx;
	cc_pos(cc, item, &a->pos);
	if (item->kind == YAML_TREE_MAPPING) {
		if (item->npairs != 1)
			return cc_error(cc, err, item, "one action per list item (use a list: "
				       "- create_ticket: ...  - stop)");
		key = item->pairs[0].key;
		val = item->pairs[0].value;
	} else if (item->kind != YAML_TREE_SCALAR || yaml_tree_is_null(item)) {
		char d[64];
		return cc_error(cc, err, item, "expected an action, got %s",
				yaml_tree_describe(item, d, sizeof(d)));
	}
	int k = -1;
	for (int i = 0; action_names[i]; i++)
		if (strcmp(action_names[i], key->value) == 0)
			k = i;
	if (k < 0) {
		const char *hint = yaml_tree_suggest(key->value, action_names);
		return cc_error(cc, err, key, "unknown action \"%.60s\"%s%s%s", key->value,
				hint ? " (did you mean \"" : "", hint ? hint : "", hint ? "\"?)" : "");
	}
	a->kind = (enum act_kind)k;
	bool empty = !val || yaml_tree_is_null(val);
	switch (a->kind) {
	case ACT_CREATE_TICKET:
		if (empty)
			return 0;
		if (yaml_tree_expect_mapping(val, err) < 0 ||
		    yaml_tree_check_keys(val, create_keys, err) < 0 ||
		    ticket_compile(cc, val, &a->t, true, err) < 0)
			return -1;
		if (yaml_tree_get(val, "always_new") &&
		    yaml_tree_read_bool(yaml_tree_get(val, "always_new"), &a->always_new, err) < 0)
			return -1;
		return 0;
	case ACT_SET:
		if (empty)
			return cc_error(cc, err, key, "set: needs what to set (queue, priority, status, "
				       "type, owner, group, tags, fields)");
		if (yaml_tree_expect_mapping(val, err) < 0 ||
		    yaml_tree_check_keys(val, set_keys, err) < 0)
			return -1;
		return ticket_compile(cc, val, &a->t, false, err);
	case ACT_APPEND:
		a->article = PLAN_ARTICLE_CUSTOMER;
		a->if_none = PLAN_FALLBACK_TICKET;
		if (empty)
			return 0;
		if (yaml_tree_expect_mapping(val, err) < 0 ||
		    yaml_tree_check_keys(val, append_keys, err) < 0)
			return -1;
		if (yaml_tree_get(val, "as")) {
			if (yaml_tree_read_enum(yaml_tree_get(val, "as"), article_names, &idx, err) < 0)
				return -1;
			a->article = idx == 1 ? PLAN_ARTICLE_NOTE : PLAN_ARTICLE_CUSTOMER;
		}
		if (yaml_tree_get(val, "if_none")) {
			if (yaml_tree_read_enum(yaml_tree_get(val, "if_none"), fallback_names, &idx,
						err) < 0)
				return -1;
			a->if_none = (enum plan_fallback)idx;
		}
		return 0;
	case ACT_REOPEN:
		if (empty)
			return cc_error(cc, err, key, "reopen: one of reopen, new_ticket, reject, "
				       "keep_closed");
		if (yaml_tree_read_enum(val, reopen_names, &idx, err) < 0)
			return -1;
		a->closed = idx == 0 ? PLAN_CLOSED_REOPEN : idx == 1 ? PLAN_CLOSED_NEW_TICKET :
			    idx == 2 ? PLAN_CLOSED_REJECT : PLAN_CLOSED_ATTACH;
		return 0;
	case ACT_IGNORE:
		return empty ? 0 : tmpl_compile(cc, val, &a->reason, err);
	case ACT_REJECT:
		if (empty)
			return cc_error(cc, err, key, "reject: needs a reason (it is kept with the "
				       "mail in badmail)");
		return tmpl_compile(cc, val, &a->reason, err);
	case ACT_MOVE_TO:
		if (empty)
			return cc_error(cc, err, key, "move_to: needs a folder");
		return folder_compile(cc, val, a, err);
	case ACT_STOP:
		if (!empty)
			return cc_error(cc, err, val, "stop takes no value");
		return 0;
	}
	return 0;
}

int actions_compile(struct cc *cc, const struct yaml_tree_node *node, struct action **v_r,
		    size_t *n_r, struct err *err)
{
	bool list = node->kind == YAML_TREE_SEQUENCE;
	size_t n = list ? node->nitems : 1;
	if (n == 0)
		return cc_error(cc, err, node, "no actions (write at least one, e.g. stop)");
	struct action *v = arena_alloc(cc->rs->mem, n * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		if (action_compile(cc, list ? node->items[i] : node, &v[i], err) < 0)
			return -1;
	*v_r = v;
	*n_r = n;
	return 0;
}

/* ------------------------------------------------------------ applying */

/* Expanded and kept to one line (newlines and tabs become spaces). */
static const char *one_line(struct eval *ev, const struct tmpl *t, size_t max)
{
	if (t && t->literal_line && strlen(t->literal_line) <= max)
		return t->literal_line; /* borrowed from the rules, like the names */
	char *s = tmpl_expand(ev, t, max);
	if (!s)
		return NULL;
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	return s;
}

static void vec_push(struct eval *ev, struct strvec *v, const char *s)
{
	if (!s || !s[0] || v->n >= MAX_TAGS)
		return;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->v[i], s) == 0)
			return;
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 8;
		const char **nv = arena_alloc(ev->arena, nc * sizeof(*nv));
		if (v->n)
			memcpy(nv, v->v, v->n * sizeof(*nv));
		v->v = nv;
		v->cap = nc;
	}
	v->v[v->n++] = s;
}

static void kv_put(struct eval *ev, struct kvvec *v, const char *key, const char *json)
{
	for (size_t i = 0; i < v->n; i++) {
		if (strcmp(v->v[i].key, key) == 0) {
			v->v[i].json = json;
			return;
		}
	}
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 8;
		struct kv *nv = arena_alloc(ev->arena, nc * sizeof(*nv));
		if (v->n)
			memcpy(nv, v->v, v->n * sizeof(*nv));
		v->v = nv;
		v->cap = nc;
	}
	v->v[v->n].key = key;
	v->v[v->n].json = json;
	v->n++;
}

/* A custom field's value as JSON: "${n}" alone keeps an integer or decimal
 * field a number; everything else is a string. */
static const char *field_json(struct eval *ev, const struct tmpl *t)
{
	struct buf b;
	const char *out;
	if (t->single_var) {
		const struct tmpl_part *p = &t->parts[0];
		for (size_t i = 0; i < ev->rs->nfields; i++) {
			const struct field_def *f = &ev->rs->fields[i];
			if (strlen(f->name) != p->len || memcmp(f->name, p->s, p->len) != 0)
				continue;
			/* a capture of the same name hides the field: then it is text */
			bool hidden = false;
			for (size_t k = 0; k < ev->nvars; k++)
				hidden |= strlen(ev->vars[k].name) == p->len &&
					  memcmp(ev->vars[k].name, p->s, p->len) == 0;
			const struct value *v = &ev->fields[i];
			if (!hidden && v->set && (v->type == VT_INT || v->type == VT_DECIMAL))
				return v->text;
		}
	}
	const char *s = tmpl_expand(ev, t, MAX_FIELD);
	buf_init(&b, MAX_FIELD * 6 + 16);
	json_add_str(&b, s);
	out = arena_memdup0(ev->arena, b.data, b.len);
	buf_release(&b);
	return out;
}

/* Values of a create_ticket or set into a plan_ticket (NULL stays as it was). */
static void ticket_apply(struct eval *ev, const struct act_ticket *t, struct plan_ticket *pt,
			 struct strvec *tags, struct kvvec *fields)
{
	const char *v;
	if (t->subject && (v = one_line(ev, t->subject, MAX_SUBJECT)) && v[0])
		pt->subject = v;
	if (t->queue && (v = one_line(ev, t->queue, MAX_NAME)) && v[0])
		pt->queue = v;
	if (t->priority && (v = one_line(ev, t->priority, MAX_NAME)) && v[0])
		pt->priority = v;
	if (t->status && (v = one_line(ev, t->status, MAX_NAME)) && v[0])
		pt->status = v;
	if (t->type && (v = one_line(ev, t->type, MAX_NAME)) && v[0])
		pt->type = v;
	if (t->owner && (v = one_line(ev, t->owner, MAX_NAME)) && v[0])
		pt->owner = v;
	if (t->group && (v = one_line(ev, t->group, MAX_NAME)) && v[0])
		pt->group = v;
	for (size_t i = 0; i < t->ntags; i++)
		vec_push(ev, tags, one_line(ev, t->tags[i], MAX_TAG));
	for (size_t i = 0; i < t->nfields; i++)
		kv_put(ev, fields, t->fields[i].key, field_json(ev, t->fields[i].val));
}

int action_apply(struct eval *ev, const struct action *a, struct err *err)
{
	struct plan *p = ev->plan;
	(void)err;
	switch (a->kind) {
	case ACT_CREATE_TICKET:
		p->action = PLAN_CREATE_TICKET;
		p->article = PLAN_ARTICLE_CUSTOMER;
		p->followup = !a->always_new;
		ticket_apply(ev, &a->t, &p->ticket, &ev->ticket_tags, &ev->ticket_fields);
		if (a->t.body)
			p->body = tmpl_expand(ev, a->t.body, MAX_BODY);
		p->reason = NULL;
		return 0;
	case ACT_APPEND:
		p->action = PLAN_APPEND;
		p->article = a->article;
		p->if_none = a->if_none;
		p->followup = true;
		p->reason = NULL;
		return 0;
	case ACT_SET:
		/* on a new ticket and on the one a follow-up lands on alike */
		ticket_apply(ev, &a->t, &p->ticket, &ev->ticket_tags, &ev->ticket_fields);
		ticket_apply(ev, &a->t, &p->set, &ev->set_tags, &ev->set_fields);
		return 0;
	case ACT_REOPEN:
		p->closed = a->closed;
		return 0;
	case ACT_IGNORE:
		p->action = PLAN_IGNORE;
		p->reason = a->reason ? one_line(ev, a->reason, MAX_REASON) : NULL;
		if (!p->reason || !p->reason[0])
			p->reason = arena_printf(ev->arena, "ignored by statement \"%s\"",
						 ev->cur ? ev->cur->name : "?");
		return 0;
	case ACT_REJECT:
		p->action = PLAN_REJECT;
		p->reason = one_line(ev, a->reason, MAX_REASON);
		if (!p->reason || !p->reason[0])
			p->reason = arena_printf(ev->arena, "rejected by statement \"%s\"",
						 ev->cur ? ev->cur->name : "?");
		return 0;
	case ACT_MOVE_TO:
		p->move_to = a->folder;
		return 0;
	case ACT_STOP:
		return 1;
	}
	return 0;
}
