/*
 * Rule files ► compiled stages (rules/preprocess.h). Every name, pattern
 * and position is copied out of the YAML tree, so the tree can go once the
 * pipeline is compiled.
 *
 * SECURITY: rule files are admin input, and packs are ours; both go through
 * yaml_tree's limits. Patterns are compiled once, here; what they may cost
 * at match time is bounded in rules/regex.c. A pack cannot name another
 * pack, so there is no recursion to bound.
 */
#include "rules/preprocess_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"
#include "rules/packs.h"

static const char *const ACTION_NAMES[] = {
	"remove_match", "remove_line", "cut_after", "cut_before", "keep_after", NULL,
};

void preprocess_limits_default(struct preprocess_limits *lim)
{
	regex_limits_default(&lim->regex);
	lim->budget_us = 50 * 1000;
	lim->max_removals = 10000;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void when_release(struct pp_when *w)
{
	strv_free(w->clients, w->nclients);
	strv_free(w->html, w->nhtml);
	for (size_t i = 0; i < w->nheaders; i++) {
		free(w->headers[i].name);
		regex_free(&w->headers[i].re);
	}
	free(w->headers);
	memset(w, 0, sizeof(*w));
}

static void stage_release(struct pp_stage *st)
{
	free(st->name);
	free(st->file);
	strv_free(st->clients, st->nclients);
	when_release(&st->when);
	for (size_t i = 0; i < st->nrules; i++) {
		free(st->rules[i].name);
		free(st->rules[i].file);
		regex_free(&st->rules[i].re);
	}
	free(st->rules);
}

void preprocess_free(struct preprocess **ppp)
{
	struct preprocess *pp = *ppp;
	if (!pp)
		return;
	for (size_t i = 0; i < pp->nstages; i++)
		stage_release(&pp->stages[i]);
	free(pp->stages);
	free(pp);
	*ppp = NULL;
}

void preprocess_set_limits(struct preprocess *pp, const struct preprocess_limits *lim)
{
	pp->lim = *lim;
}

size_t preprocess_stage_count(const struct preprocess *pp)
{
	return pp->nstages;
}

const char *preprocess_stage_name(const struct preprocess *pp, size_t i)
{
	return i < pp->nstages ? pp->stages[i].name : NULL;
}

/* ---------------------------------------------------------------- packs */

size_t preprocess_pack_count(void)
{
	return m2t_packs_count;
}

const char *preprocess_pack_name(size_t i)
{
	return i < m2t_packs_count ? m2t_packs[i].name : NULL;
}

const char *preprocess_pack_source(const char *name, size_t *len_r)
{
	for (unsigned i = 0; i < m2t_packs_count; i++) {
		if (strcmp(m2t_packs[i].name, name) == 0) {
			if (len_r)
				*len_r = strlen(m2t_packs[i].yaml);
			return m2t_packs[i].yaml;
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------- readers */

static int read_name(const struct yaml_tree_node *n, char **out_r, struct err *err)
{
	const char *s;
	if (yaml_tree_read_string(n, &s, err) < 0)
		return -1;
	if (!s[0] || strlen(s) > 100)
		return yaml_tree_error(err, n, "a name must be 1 to 100 characters");
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return yaml_tree_error(err, n, "a name must not hold control characters");
	}
	*out_r = xstrdup(s);
	return 0;
}

/* A sequence of names (or one name) into a string vector. */
static int read_names(const struct yaml_tree_node *n, char ***v_r, size_t *n_r, struct err *err)
{
	if (n->kind == YAML_TREE_SCALAR) {
		*v_r = xcalloc(1, sizeof(char *));
		*n_r = 1;
		return read_name(n, &(*v_r)[0], err);
	}
	if (yaml_tree_expect_sequence(n, err) < 0)
		return -1;
	*v_r = xcalloc(n->nitems ? n->nitems : 1, sizeof(char *));
	*n_r = 0;
	for (size_t i = 0; i < n->nitems; i++) {
		if (read_name(n->items[i], &(*v_r)[i], err) < 0)
			return -1;
		(*n_r)++;
	}
	return 0;
}

/* Compiles a pattern; the error names the scalar's position and the offset. */
static int read_regex(const struct yaml_tree_node *n, unsigned flags, struct regex **re_r,
		      struct err *err)
{
	const char *s;
	size_t off;
	struct err rerr = {0};
	if (yaml_tree_read_string(n, &s, err) < 0)
		return -1;
	if (!s[0])
		return yaml_tree_error(err, n, "the pattern is empty");
	if (regex_compile(s, strlen(s), flags, re_r, &off, &rerr) < 0)
		return yaml_tree_error(err, n, "%s", rerr.msg);
	return 0;
}

static int read_when(const struct yaml_tree_node *n, struct pp_when *w, struct err *err)
{
	static const char *const keys[] = {"client", "headers", "html", NULL};
	const struct yaml_tree_node *v;
	if (yaml_tree_expect_mapping(n, err) < 0 || yaml_tree_check_keys(n, keys, err) < 0)
		return -1;
	w->set = true;
	if ((v = yaml_tree_get(n, "client")) && read_names(v, &w->clients, &w->nclients, err) < 0)
		return -1;
	if ((v = yaml_tree_get(n, "html")) && read_names(v, &w->html, &w->nhtml, err) < 0)
		return -1;
	if ((v = yaml_tree_get(n, "headers"))) {
		if (yaml_tree_expect_mapping(v, err) < 0)
			return -1;
		w->headers = xcalloc(v->npairs ? v->npairs : 1, sizeof(*w->headers));
		for (size_t i = 0; i < v->npairs; i++) {
			struct pp_header_cond *h = &w->headers[i];
			if (read_name(v->pairs[i].key, &h->name, err) < 0)
				return -1;
			w->nheaders++;
			if (read_regex(v->pairs[i].value, REGEX_CASELESS, &h->re, err) < 0)
				return -1;
		}
	}
	if (!w->nclients && !w->nheaders && !w->nhtml)
		return yaml_tree_error(err, n, "`when` needs client, headers or html");
	return 0;
}

static int read_rule(const struct yaml_tree_node *n, struct pp_rule *r, struct err *err)
{
	static const char *const keys[] = {
		"name", "match", "action", "group", "needs_text_before", "at_end", "forward", NULL,
	};
	const struct yaml_tree_node *v;
	int idx;

	if (yaml_tree_expect_mapping(n, err) < 0 || yaml_tree_check_keys(n, keys, err) < 0)
		return -1;
	r->file = xstrdup(n->file);
	r->line = n->line;
	r->column = n->column;
	if (yaml_tree_require(n, "name", &v, err) < 0 || read_name(v, &r->name, err) < 0)
		return -1;
	if (yaml_tree_require(n, "action", &v, err) < 0 ||
	    yaml_tree_read_enum(v, ACTION_NAMES, &idx, err) < 0)
		return -1;
	r->action = (enum pp_action)idx;
	if (yaml_tree_require(n, "match", &v, err) < 0 ||
	    read_regex(v, REGEX_MULTILINE, &r->re, err) < 0)
		return -1;
	if ((v = yaml_tree_get(n, "group"))) {
		const char *g;
		if (yaml_tree_read_string(v, &g, err) < 0)
			return -1;
		r->group = regex_group_index(r->re, g);
		if (r->group < 0)
			return yaml_tree_error(err, v, "the pattern has no group named \"%s\"", g);
		if (r->group > REGEX_MAX_GROUPS)
			return yaml_tree_error(err, v, "only the first %d groups can be used",
					       REGEX_MAX_GROUPS);
	}
	if ((v = yaml_tree_get(n, "needs_text_before")) &&
	    yaml_tree_read_bool(v, &r->needs_text_before, err) < 0)
		return -1;
	if ((v = yaml_tree_get(n, "at_end")) && yaml_tree_read_bool(v, &r->at_end, err) < 0)
		return -1;
	if ((v = yaml_tree_get(n, "forward"))) {
		bool b;
		if (yaml_tree_read_bool(v, &b, err) < 0)
			return -1;
		r->forward = b ? PP_FWD_ONLY : PP_FWD_NEVER;
	}
	return 0;
}

static int read_rules(const struct yaml_tree_node *n, struct pp_stage *st, struct err *err)
{
	if (yaml_tree_expect_sequence(n, err) < 0)
		return -1;
	if (n->nitems > PP_MAX_RULES)
		return yaml_tree_error(err, n, "more than %d rules", PP_MAX_RULES);
	st->rules = xcalloc(n->nitems ? n->nitems : 1, sizeof(*st->rules));
	for (size_t i = 0; i < n->nitems; i++) {
		st->nrules++;
		if (read_rule(n->items[i], &st->rules[i], err) < 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(st->rules[j].name, st->rules[i].name) == 0)
				return yaml_tree_error(err, yaml_tree_get(n->items[i], "name"),
						       "a rule named \"%s\" is already in this stage",
						       st->rules[i].name);
		}
	}
	return 0;
}

/* Stage conditions that both packs and stages in a rule file may set. */
static int read_conditions(const struct yaml_tree_node *map, struct pp_stage *st,
			   struct err *err)
{
	const struct yaml_tree_node *v;
	if ((v = yaml_tree_get(map, "only_replies")) &&
	    yaml_tree_read_bool(v, &st->only_replies, err) < 0)
		return -1;
	if ((v = yaml_tree_get(map, "client"))) {
		strv_free(st->clients, st->nclients);
		st->clients = NULL;
		st->nclients = 0;
		if (read_names(v, &st->clients, &st->nclients, err) < 0)
			return -1;
	}
	if ((v = yaml_tree_get(map, "when"))) {
		when_release(&st->when);
		if (read_when(v, &st->when, err) < 0)
			return -1;
		st->detects_client = st->when.nheaders || st->when.nhtml;
	}
	return 0;
}

/* A pack file's document: pack, description, when, only_replies, client, rules. */
static int pack_read(const struct yaml_tree_node *root, const char *name, struct pp_stage *st,
		     struct err *err)
{
	static const char *const keys[] = {
		"pack", "description", "when", "only_replies", "client", "rules", NULL,
	};
	const struct yaml_tree_node *v;
	const char *s;
	if (!root)
		return err_set(err, ERR_FATAL, "pack \"%s\" is empty", name);
	if (yaml_tree_expect_mapping(root, err) < 0 || yaml_tree_check_keys(root, keys, err) < 0)
		return -1;
	if (yaml_tree_require(root, "pack", &v, err) < 0 || yaml_tree_read_string(v, &s, err) < 0)
		return -1;
	if (strcmp(s, name) != 0)
		return yaml_tree_error(err, v, "the pack in %s.yaml must be named \"%s\"", name,
				       name);
	if ((v = yaml_tree_get(root, "description")) && yaml_tree_read_string(v, &s, err) < 0)
		return -1;
	if (read_conditions(root, st, err) < 0)
		return -1;
	if (yaml_tree_require(root, "rules", &v, err) < 0)
		return -1;
	return read_rules(v, st, err);
}

/* Fills st from the shipped pack `name`; `at` is where the rule file named it. */
static int pack_load(const char *name, const struct yaml_tree_node *at, struct pp_stage *st,
		     struct err *err)
{
	struct yaml_tree *tree = NULL;
	size_t len;
	const char *src = preprocess_pack_source(name, &len);
	if (!src) {
		const char *names[64];
		size_t n = 0;
		for (unsigned i = 0; i < m2t_packs_count && n < 63; i++)
			names[n++] = m2t_packs[i].name;
		names[n] = NULL;
		const char *hint = yaml_tree_suggest(name, names);
		if (hint)
			return yaml_tree_error(err, at, "no pack named \"%s\" (did you mean \"%s\"?)",
					       name, hint);
		return yaml_tree_error(err, at, "no pack named \"%s\"", name);
	}
	char file[160];
	snprintf(file, sizeof(file), "rules/packs/%s.yaml", name);
	int rc = yaml_tree_parse(src, len, file, NULL, &tree, err);
	if (rc == 0)
		rc = pack_read(yaml_tree_root(tree), name, st, err);
	yaml_tree_free(&tree);
	return rc;
}

static const char *const BUILTINS[] = {"html_to_text", "whitespace", NULL};

/* A built-in stage, or a pack, named by a plain scalar item. */
static int stage_by_name(const struct yaml_tree_node *n, const char *name, struct pp_stage *st,
			 struct err *err)
{
	st->name = xstrdup(name);
	if (strcmp(name, "html_to_text") == 0) {
		st->kind = PP_STAGE_HTML_TO_TEXT;
		return 0;
	}
	if (strcmp(name, "whitespace") == 0) {
		st->kind = PP_STAGE_WHITESPACE;
		return 0;
	}
	st->kind = PP_STAGE_RULES;
	return pack_load(name, n, st, err);
}

static int read_stage(const struct yaml_tree_node *n, struct pp_stage *st, struct err *err)
{
	static const char *const keys[] = {
		"stage", "pack", "only_replies", "client", "when", "rules", NULL,
	};
	const struct yaml_tree_node *v, *pack, *rules;
	const char *s;

	st->file = xstrdup(n->file);
	st->line = n->line;
	st->column = n->column;
	if (n->kind == YAML_TREE_SCALAR) {
		if (yaml_tree_read_string(n, &s, err) < 0)
			return -1;
		return stage_by_name(n, s, st, err);
	}
	if (yaml_tree_expect_mapping(n, err) < 0 || yaml_tree_check_keys(n, keys, err) < 0)
		return -1;
	pack = yaml_tree_get(n, "pack");
	rules = yaml_tree_get(n, "rules");
	v = yaml_tree_get(n, "stage");
	if (pack && rules)
		return yaml_tree_error(err, yaml_tree_key_node(rules),
				       "a stage has either `pack` or `rules`, not both");
	if (pack) {
		if (yaml_tree_read_string(pack, &s, err) < 0 || stage_by_name(pack, s, st, err) < 0)
			return -1;
		if (st->kind != PP_STAGE_RULES)
			return yaml_tree_error(err, pack, "\"%s\" is a built-in stage: write `- %s`",
					       s, s);
		if (v) {
			free(st->name);
			st->name = NULL;
			if (read_name(v, &st->name, err) < 0)
				return -1;
		}
	} else if (rules) {
		if (!v)
			return yaml_tree_error(err, n, "a stage with rules needs a `stage` name");
		if (read_name(v, &st->name, err) < 0)
			return -1;
		st->kind = PP_STAGE_RULES;
		if (read_rules(rules, st, err) < 0)
			return -1;
	} else if (v) {
		int idx;
		if (yaml_tree_read_enum(v, BUILTINS, &idx, err) < 0)
			return yaml_tree_error(err, v, "a stage needs `rules`, a `pack`, or a "
					       "built-in name (html_to_text, whitespace)");
		if (stage_by_name(v, BUILTINS[idx], st, err) < 0)
			return -1;
	} else {
		return yaml_tree_error(err, n, "a stage needs `stage` with `rules`, or `pack`");
	}
	return read_conditions(n, st, err);
}

int preprocess_compile_list(const struct yaml_tree_node *const *lists, size_t n,
			    struct preprocess **pp_r, struct err *err)
{
	struct preprocess *pp = xcalloc(1, sizeof(*pp));
	size_t total = 0;
	preprocess_limits_default(&pp->lim);
	*pp_r = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct yaml_tree_node *stages = lists[i];
		if (!stages || yaml_tree_is_null(stages))
			continue;
		if (yaml_tree_expect_sequence(stages, err) < 0)
			goto fail;
		/* the cap is on the pipeline: several files together too */
		if (stages->nitems > PP_MAX_STAGES - total) {
			yaml_tree_error(err, stages, "more than %d stages%s", PP_MAX_STAGES,
					total ? " with the files before" : "");
			goto fail;
		}
		total += stages->nitems;
	}
	pp->stages = xcalloc(total ? total : 1, sizeof(*pp->stages));
	for (size_t i = 0; i < n; i++) {
		const struct yaml_tree_node *stages = lists[i];
		if (!stages || yaml_tree_is_null(stages))
			continue;
		for (size_t k = 0; k < stages->nitems; k++) {
			if (read_stage(stages->items[k], &pp->stages[pp->nstages++], err) < 0)
				goto fail;
		}
	}
	*pp_r = pp;
	return 0;
fail:
	preprocess_free(&pp);
	return -1;
}

int preprocess_compile(const struct yaml_tree_node *stages, struct preprocess **pp_r,
		       struct err *err)
{
	return preprocess_compile_list(&stages, 1, pp_r, err);
}

/* The shipped packs, in the order that makes them work together: forwards
 * are protected first; client packs, the most specific first (the first
 * whose markers match names the client); then reply headers cut the
 * history, signatures and disclaimers go, a trailing quote goes, and the
 * white space left behind. */
static const char DEFAULT_PIPELINE[] =
	"preprocess:\n"
	"  - html_to_text\n"
	"  - forwards\n"
	"  - outlook-mobile\n"
	"  - outlook-web\n"
	"  - outlook-desktop\n"
	"  - gmail\n"
	"  - apple-mail\n"
	"  - thunderbird\n"
	"  - yahoo\n"
	"  - lotus-notes\n"
	"  - groupwise\n"
	"  - groupware\n"
	"  - android\n"
	"  - reply-headers\n"
	"  - signatures\n"
	"  - disclaimers\n"
	"  - quote-markers\n"
	"  - whitespace\n";

int preprocess_default(struct preprocess **pp_r, struct err *err)
{
	struct yaml_tree *tree = NULL;
	*pp_r = NULL;
	if (yaml_tree_parse(DEFAULT_PIPELINE, sizeof(DEFAULT_PIPELINE) - 1, "default pipeline",
			    NULL, &tree, err) < 0)
		return -1;
	int rc = preprocess_compile(yaml_tree_get(yaml_tree_root(tree), "preprocess"), pp_r, err);
	yaml_tree_free(&tree);
	return rc;
}
