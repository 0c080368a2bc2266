/*
 * Statements (README "Statements"): an ordered list; each has a name, an
 * optional `if` (no `if`: it always runs), `then` actions, `else if`
 * branches and an `else`. The first branch whose condition matches runs;
 * `stop` ends the evaluation of the message.
 *
 * Checked at load: names unique; an `else` or `else if` that can never run
 * (after a branch that always matches, or on a statement without `if`) and
 * a statement after one that always stops are errors.
 *
 * Captures of a branch that did not match are dropped, so a later
 * template never sees half of a failed condition.
 */
#include "rules/rules_int.h"

#include <string.h>
#include <time.h>

#include "engine/util/xalloc.h"

static const char *const stmt_keys[] = {"name", "if", "then", "else if", "else", NULL};
static const char *const elif_keys[] = {"name", "if", "then", NULL};

#define MAX_STATEMENTS 10000
#define MAX_BRANCHES 100

static bool has_stop(const struct branch *b)
{
	for (size_t i = 0; i < b->nactions; i++)
		if (b->actions[i].kind == ACT_STOP)
			return true;
	return false;
}

/* Every branch that can run stops, and one of them always runs. */
static bool always_stops(const struct stmt *s)
{
	for (size_t i = 0; i < s->nbranches; i++) {
		if (!has_stop(&s->branches[i]))
			return false;
		if (cond_always(s->branches[i].cond))
			return true;
	}
	return false;
}

static int name_read(struct cc *cc, const struct yaml_tree_node *n, const char **s_r,
		     struct err *err)
{
	const char *s;
	if (yaml_tree_read_string(n, &s, err) < 0)
		return -1;
	if (!s[0] || strlen(s) > 100)
		return cc_error(cc, err, n, "a statement name has 1 to 100 characters");
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '"')
			return cc_error(cc, err, n, "a statement name must not hold control "
				       "characters or '\"'");
	*s_r = cc_strdup(cc, s);
	return 0;
}

static int branch_compile(struct cc *cc, struct branch *b, const struct yaml_tree_node *cond,
			  const struct yaml_tree_node *then, const struct yaml_tree_node *at,
			  struct err *err)
{
	cc_pos(cc, at, &b->pos);
	if (cond && cond->kind == YAML_TREE_SCALAR) {
		bool v;
		if (yaml_tree_read_bool(cond, &v, err) < 0)
			return cc_error(cc, err, cond, "a condition is a mapping such as "
				       "{ subject: { contains: printer } }");
		if (!v)
			return cc_error(cc, err, cond, "if: false never matches (remove the "
				       "statement instead)");
		cond = NULL; /* if: true */
	} else if (cond && cond_compile(cc, cond, &b->cond, err) < 0) {
		return -1;
	}
	if (!then)
		return cc_error(cc, err, at, "missing then: (the actions to run)");
	return actions_compile(cc, then, &b->actions, &b->nactions, err);
}

static int stmt_compile(struct cc *cc, const struct yaml_tree_node *node, struct stmt *s,
			struct err *err)
{
	struct ruleset *rs = cc->rs;
	const struct yaml_tree_node *n, *cond, *elifs, *els;
	if (yaml_tree_expect_mapping(node, err) < 0)
		return -1;
	if (yaml_tree_require(node, "name", &n, err) < 0 || name_read(cc, n, &s->name, err) < 0)
		return -1;
	cc->stmt = s->name;
	cc_pos(cc, node, &s->pos);
	for (size_t i = 0; i < rs->nstmts; i++)
		if (strcmp(rs->stmts[i].name, s->name) == 0)
			return cc_error(cc, err, n, "the name is used twice (first at %s:%u:%u)",
					rs->stmts[i].pos.file, rs->stmts[i].pos.line,
					rs->stmts[i].pos.column);
	if (yaml_tree_check_keys(node, stmt_keys, err) < 0)
		return -1;
	cond = yaml_tree_get(node, "if");
	elifs = yaml_tree_get(node, "else if");
	els = yaml_tree_get(node, "else");
	size_t nb = 1 + (elifs && elifs->kind == YAML_TREE_SEQUENCE ? elifs->nitems : 0) + !!els;
	if (elifs && yaml_tree_expect_sequence(elifs, err) < 0)
		return -1;
	if (nb > MAX_BRANCHES)
		return cc_error(cc, err, elifs, "more than %d branches", MAX_BRANCHES);
	s->branches = arena_alloc(rs->mem, nb * sizeof(*s->branches));

	struct branch *b = &s->branches[0];
	b->label = s->name;
	if (branch_compile(cc, b, cond, yaml_tree_get(node, "then"), node, err) < 0)
		return -1;
	s->nbranches = 1;
	for (size_t i = 0; elifs && i < elifs->nitems; i++) {
		const struct yaml_tree_node *e = elifs->items[i];
		const struct yaml_tree_node *prev = i ? elifs->items[i - 1] : cond;
		if (cond_always(s->branches[s->nbranches - 1].cond))
			return cc_error(cc, err, e, "unreachable else if: %s", prev ?
					"the condition before it always matches" :
					"the statement has no if:, so its then: always runs");
		if (yaml_tree_expect_mapping(e, err) < 0 ||
		    yaml_tree_check_keys(e, elif_keys, err) < 0)
			return -1;
		const struct yaml_tree_node *ec, *nm;
		if (yaml_tree_require(e, "if", &ec, err) < 0)
			return -1;
		b = &s->branches[s->nbranches];
		if ((nm = yaml_tree_get(e, "name"))) {
			if (name_read(cc, nm, &b->label, err) < 0)
				return -1;
		} else {
			b->label = arena_printf(rs->mem, "%s (else if %zu)", s->name, i + 1);
		}
		if (branch_compile(cc, b, ec, yaml_tree_get(e, "then"), e, err) < 0)
			return -1;
		s->nbranches++;
	}
	if (els) {
		if (cond_always(s->branches[s->nbranches - 1].cond))
			return cc_error(cc, err, yaml_tree_key_node(els), "unreachable else: %s",
					s->nbranches > 1 || cond ?
					"the condition before it always matches" :
					"the statement has no if:, so its then: always runs");
		b = &s->branches[s->nbranches];
		b->label = arena_printf(rs->mem, "%s (else)", s->name);
		if (branch_compile(cc, b, NULL, els, els, err) < 0)
			return -1;
		s->nbranches++;
	}
	return 0;
}

int stmts_compile(struct cc *cc, const struct yaml_tree_node *seq, struct err *err)
{
	struct ruleset *rs = cc->rs;
	if (yaml_tree_expect_sequence(seq, err) < 0)
		return -1;
	for (size_t i = 0; i < seq->nitems; i++) {
		if (rs->nstmts >= MAX_STATEMENTS)
			return cc_error(cc, err, seq->items[i], "more than %d statements",
					MAX_STATEMENTS);
		/* a statement after one that always stops can never run */
		if (rs->nstmts && always_stops(&rs->stmts[rs->nstmts - 1])) {
			const struct stmt *p = &rs->stmts[rs->nstmts - 1];
			const struct yaml_tree_node *nm = yaml_tree_get(seq->items[i], "name");
			if (nm && nm->kind == YAML_TREE_SCALAR && nm->len <= 100 &&
			    strlen(nm->value) == nm->len)
				cc->stmt = nm->value;
			cc_error(cc, err, seq->items[i], "unreachable statement: \"%s\" at %s:%u:%u "
				 "always stops", p->name, p->pos.file, p->pos.line, p->pos.column);
			cc->stmt = NULL;
			return -1;
		}
		if (rs->nstmts == rs->capstmts) {
			rs->capstmts = rs->capstmts ? rs->capstmts * 2 : 16;
			rs->stmts = xreallocarray(rs->stmts, rs->capstmts, sizeof(*rs->stmts));
		}
		struct stmt *s = &rs->stmts[rs->nstmts];
		memset(s, 0, sizeof(*s));
		int rc = stmt_compile(cc, seq->items[i], s, err);
		if (rc < 0)
			cc_fail(cc, err);
		cc->stmt = NULL;
		if (rc < 0)
			return -1;
		rs->nstmts++;
	}
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void matched_push(struct eval *ev, const char *label)
{
	struct plan *p = ev->plan;
	/* the list lives in the arena; grow by copying (few matches per mail) */
	const char **nv = arena_alloc(ev->arena, (p->nstatements + 1) * sizeof(*nv));
	if (p->nstatements)
		memcpy(nv, p->statements, p->nstatements * sizeof(*nv));
	nv[p->nstatements++] = label;
	p->statements = nv;
}

int stmts_run(struct eval *ev, struct trace *tr, struct err *err)
{
	const struct ruleset *rs = ev->rs;
	tr->stmts = arena_alloc(ev->arena, (rs->nstmts ? rs->nstmts : 1) * sizeof(*tr->stmts));
	for (size_t i = 0; i < rs->nstmts; i++) {
		const struct stmt *s = &rs->stmts[i];
		struct trace_stmt *t = &tr->stmts[tr->nstmts++];
		t->name = s->name;
		t->file = s->pos.file;
		t->line = s->pos.line;
		t->column = s->pos.column;
		t->branch = -1;
		ev->cur = t;
		if (ev->deadline_ns && now_ns() > ev->deadline_ns)
			return err_set(err, ERR_MESSAGE, "rules: time budget exceeded at statement "
				       "\"%s\" (%s:%u:%u)", s->name, s->pos.file, s->pos.line,
				       s->pos.column);
		for (size_t k = 0; k < s->nbranches; k++) {
			const struct branch *b = &s->branches[k];
			size_t nvars = ev->nvars, ncaps = t->ncaps;
			int rc = b->cond ? cond_eval(ev, b->cond, err) : 1;
			if (rc < 0)
				return err_prefix(err, "statement \"%s\"", s->name);
			if (rc == 0) {
				ev->nvars = nvars;
				t->ncaps = ncaps;
				continue;
			}
			t->branch = (int)k;
			t->branch_label = b->label;
			matched_push(ev, b->label);
			for (size_t a = 0; a < b->nactions; a++) {
				rc = action_apply(ev, &b->actions[a], err);
				if (rc < 0)
					return err_prefix(err, "statement \"%s\"", s->name);
				if (rc == 1) {
					t->stopped = true;
					tr->stopped = true;
					ev->cur = NULL;
					return 0;
				}
			}
			break;
		}
	}
	ev->cur = NULL;
	return 0;
}
