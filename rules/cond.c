/*
 * Conditions, compiled (README "Conditions"): all / any / not, and tests
 * of one source (from, subject, header NAME, field NAME, ...) with one
 * operator (equals, contains, starts_with, ends_with, matches, in, exists,
 * greater, less). Types are checked here, so a rule that loaded never
 * compares a number with text.
 *
 * Case rules: equals, contains, starts_with, ends_with and in compare
 * without case unless `case: sensitive`; matches is case-sensitive unless
 * `case: insensitive` (or the pattern says (?i)). Text compared without
 * case goes through PCRE2 as a caseless literal (Unicode case folding,
 * JIT-fast), `in` lists are folded once here.
 */
#include "rules/rules_int.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"

static const struct src_def SOURCES[] = {
	{"from", SRC_FROM, VT_TEXT, false},
	{"from_name", SRC_FROM_NAME, VT_TEXT, false},
	{"from_domain", SRC_FROM_DOMAIN, VT_TEXT, false},
	{"reply_to", SRC_REPLY_TO, VT_TEXT, false},
	{"to", SRC_TO, VT_TEXT, false},
	{"cc", SRC_CC, VT_TEXT, false},
	{"recipients", SRC_RECIPIENTS, VT_TEXT, false},
	{"subject", SRC_SUBJECT, VT_TEXT, false},
	{"body", SRC_BODY, VT_TEXT, false},
	{"body_original", SRC_BODY_ORIGINAL, VT_TEXT, false},
	{"header", SRC_HEADER, VT_TEXT, true},
	{"attachment_count", SRC_ATTACHMENT_COUNT, VT_INT, false},
	{"attachment_names", SRC_ATTACHMENT_NAMES, VT_TEXT, false},
	{"attachment_types", SRC_ATTACHMENT_TYPES, VT_TEXT, false},
	{"size", SRC_SIZE, VT_INT, false},
	{"client", SRC_CLIENT, VT_TEXT, false},
	{"auto_reply", SRC_AUTO_REPLY, VT_BOOL, false},
	{"bounce", SRC_BOUNCE, VT_BOOL, false},
	{"bulk", SRC_BULK, VT_BOOL, false},
	{"follow_up", SRC_FOLLOW_UP, VT_BOOL, false},
	{"spam", SRC_SPAM, VT_BOOL, false},
	{"spam_score", SRC_SPAM_SCORE, VT_DECIMAL, false},
	{"field", SRC_FIELD, VT_TEXT, true},
	{"account", SRC_ACCOUNT, VT_TEXT, false},
	{"job", SRC_JOB, VT_TEXT, false},
	{"message_id", SRC_MESSAGE_ID, VT_TEXT, false},
};
#define NSOURCES (sizeof(SOURCES) / sizeof(SOURCES[0]))

/* For "did you mean": the combinators and every source (kept in step with
 * SOURCES; a constant, so that compiling rules on several threads is safe). */
static const char *const source_names[] = {
	"all", "any", "not", "from", "from_name", "from_domain", "reply_to", "to", "cc",
	"recipients", "subject", "body", "body_original", "header", "attachment_count",
	"attachment_names", "attachment_types", "size", "client", "auto_reply", "bounce", "bulk",
	"follow_up", "spam", "spam_score", "field", "account", "job", "message_id", NULL,
};
_Static_assert(sizeof(source_names) / sizeof(source_names[0]) == NSOURCES + 4,
	       "source_names must list every source");

const char *const *src_names(void)
{
	return source_names;
}

const struct src_def *src_find(const char *name, size_t len)
{
	const char *sp = memchr(name, ' ', len);
	size_t wl = sp ? (size_t)(sp - name) : len;
	for (size_t i = 0; i < NSOURCES; i++)
		if (strlen(SOURCES[i].name) == wl && memcmp(SOURCES[i].name, name, wl) == 0)
			return &SOURCES[i];
	return NULL;
}

static const char *const op_names[] = {"equals", "contains", "starts_with", "ends_with",
				       "matches", "in", "exists", "greater", "less", NULL};
static const char *const case_names[] = {"sensitive", "insensitive", NULL};

static const char *vtype_name(enum vtype t)
{
	switch (t) {
	case VT_TEXT: return "text";
	case VT_INT: return "an integer";
	case VT_DECIMAL: return "a decimal number";
	case VT_DATE: return "a date";
	case VT_BOOL: return "true or false";
	}
	return "text";
}

static bool op_fits(enum op op, enum vtype t)
{
	switch (op) {
	case OP_EQUALS: return true;
	case OP_CONTAINS: case OP_STARTS_WITH: case OP_ENDS_WITH: case OP_MATCHES:
		return t == VT_TEXT;
	case OP_IN: case OP_EXISTS: return t != VT_BOOL;
	case OP_GREATER: case OP_LESS: return t == VT_INT || t == VT_DECIMAL || t == VT_DATE;
	}
	return false;
}

static struct cond *cond_new(struct cc *cc, enum cond_kind kind, const struct yaml_tree_node *n)
{
	struct cond *c = arena_alloc(cc->rs->mem, sizeof(*c));
	c->kind = kind;
	cc_pos(cc, n, &c->pos);
	return c;
}

static enum ftype vtype_ftype(enum vtype t)
{
	switch (t) {
	case VT_INT: return FT_INTEGER;
	case VT_DECIMAL: return FT_DECIMAL;
	case VT_DATE: return FT_DATE;
	default: return FT_STRING;
	}
}

/* A number, date or bool operand of the test's type. */
static int operand_value(struct cc *cc, struct cond *c, const struct yaml_tree_node *n,
			 struct value *v, struct err *err)
{
	if (c->type == VT_BOOL) {
		memset(v, 0, sizeof(*v));
		v->type = VT_BOOL;
		v->set = true;
		return yaml_tree_read_bool(n, &v->b, err);
	}
	const char *s;
	char why[120];
	if (n->kind != YAML_TREE_SCALAR || yaml_tree_is_null(n)) {
		char d[64];
		return cc_error(cc, err, n, "expected %s, got %s", vtype_name(c->type),
				yaml_tree_describe(n, d, sizeof(d)));
	}
	if (yaml_tree_read_string(n, &s, err) < 0)
		return -1;
	if (value_parse(vtype_ftype(c->type), s, n->len, cc->rs->mem, v, why, sizeof(why)) < 0)
		return cc_error(cc, err, n, "type mismatch: \"%.60s\" is %s (%s%s%s is %s)", s, why,
				c->src->name, c->src->named ? " " : "", c->src->named ? c->name : "",
				vtype_name(c->type));
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int in_compile(struct cc *cc, struct cond *c, const struct yaml_tree_node *n,
		      struct err *err)
{
	const char **items = NULL;
	size_t nitems = 0;
	const struct yaml_tree_node *file;
	if (n->kind == YAML_TREE_MAPPING) {
		static const char *const in_keys[] = {"file", NULL};
		const char *path;
		if (yaml_tree_check_keys(n, in_keys, err) < 0 ||
		    yaml_tree_require(n, "file", &file, err) < 0 ||
		    yaml_tree_read_string(file, &path, err) < 0)
			return cc_fail(cc, err);
		if (cc_list_file(cc, file, path, &items, &nitems, err) < 0)
			return -1;
	} else if (n->kind == YAML_TREE_SEQUENCE) {
		items = arena_alloc(cc->rs->mem, (n->nitems ? n->nitems : 1) * sizeof(char *));
		for (size_t i = 0; i < n->nitems; i++) {
			const struct yaml_tree_node *it = n->items[i];
			if (it->kind != YAML_TREE_SCALAR || yaml_tree_is_null(it)) {
				char d[64];
				return cc_error(cc, err, it, "expected a value, got %s",
						yaml_tree_describe(it, d, sizeof(d)));
			}
			if (yaml_tree_read_string(it, &items[nitems], err) < 0)
				return cc_fail(cc, err);
			items[nitems] = cc_strdup(cc, items[nitems]);
			nitems++;
		}
	} else {
		return cc_error(cc, err, n, "in: expects a list, or { file: PATH }");
	}
	if (nitems == 0)
		return cc_error(cc, err, n, "in: the list is empty (it would never match)");
	if (c->type != VT_TEXT) {
		char why[120];
		c->nums = arena_alloc(cc->rs->mem, nitems * sizeof(struct value));
		for (size_t i = 0; i < nitems; i++)
			if (value_parse(vtype_ftype(c->type), items[i], strlen(items[i]), cc->rs->mem,
					&c->nums[i], why, sizeof(why)) < 0)
				return cc_error(cc, err, n, "type mismatch: \"%.60s\" in the list is %s",
						items[i], why);
		c->nset = nitems;
		return 0;
	}
	if (c->caseless) {
		for (size_t i = 0; i < nitems; i++) {
			size_t l;
			items[i] = text_fold(cc->rs->mem, items[i], strlen(items[i]), &l);
		}
	}
	qsort(items, nitems, sizeof(*items), cmp_str);
	c->set = items;
	c->nset = nitems;
	return 0;
}

static int text_operand(struct cc *cc, struct cond *c, const struct yaml_tree_node *n,
			struct err *err)
{
	const char *s;
	if (n->kind != YAML_TREE_SCALAR || yaml_tree_is_null(n)) {
		char d[64];
		return cc_error(cc, err, n, "expected text, got %s", yaml_tree_describe(n, d, sizeof(d)));
	}
	if (yaml_tree_read_string(n, &s, err) < 0)
		return cc_fail(cc, err);
	c->text = cc_strdup(cc, s);
	c->text_len = strlen(s);
	if (c->op == OP_MATCHES) {
		if (cc_rx(cc, n, s, c->text_len, REGEX_UCP | (c->caseless ? REGEX_CASELESS : 0),
			  &c->rx, err) < 0)
			return -1;
		/* named captures become variables for the actions and later statements */
		for (size_t i = 0; i < regex_name_count(c->rx); i++) {
			uint32_t g;
			const char *name = regex_name_at(c->rx, i, &g);
			if (g > REGEX_MAX_GROUPS)
				return cc_error(cc, err, n, "capture \"%s\" is group %u: only groups 1 to "
						"%d can be used", name, g, REGEX_MAX_GROUPS);
			cc_add_var(cc, name);
		}
		return 0;
	}
	if (!c->caseless)
		return 0;
	unsigned flags = REGEX_LITERAL | REGEX_CASELESS;
	if (c->op == OP_EQUALS)
		flags |= REGEX_ANCHORED | REGEX_ENDANCHORED;
	else if (c->op == OP_STARTS_WITH)
		flags |= REGEX_ANCHORED;
	else if (c->op == OP_ENDS_WITH)
		flags |= REGEX_ENDANCHORED;
	return cc_rx(cc, n, s, c->text_len, flags, &c->rx, err);
}

static int test_compile(struct cc *cc, const struct yaml_tree_node *key,
			const struct yaml_tree_node *val, struct cond *c, struct err *err)
{
	const struct src_def *d = src_find(key->value, key->len);
	if (!d || strlen(key->value) != key->len) {
		const char *hint = yaml_tree_suggest(key->value, src_names());
		return cc_error(cc, err, key, "unknown condition \"%.60s\"%s%s%s", key->value,
				hint ? " (did you mean \"" : "", hint ? hint : "", hint ? "\"?)" : "");
	}
	c->src = d;
	c->type = d->type;
	const char *sp = memchr(key->value, ' ', key->len);
	if (d->named) {
		while (sp && *sp == ' ')
			sp++;
		if (!sp || !*sp)
			return cc_error(cc, err, key, "write the %s's name after it: \"%s NAME\"", d->name,
					d->name);
		c->name = cc_strdup(cc, sp);
	} else if (sp) {
		return cc_error(cc, err, key, "unknown condition \"%.60s\" (\"%s\" takes no name)",
				key->value, d->name);
	}
	if (d->src == SRC_FIELD) {
		const struct ruleset *rs = cc->rs;
		size_t i;
		for (i = 0; i < rs->nfields; i++)
			if (strcmp(rs->fields[i].name, c->name) == 0)
				break;
		if (i == rs->nfields) {
			const char **names = xcalloc(rs->nfields + 1, sizeof(*names));
			for (size_t k = 0; k < rs->nfields; k++)
				names[k] = rs->fields[k].name;
			const char *hint = yaml_tree_suggest(c->name, names);
			cc_error(cc, err, key, "unknown field \"%.60s\"%s%s%s", c->name,
				 hint ? " (did you mean \"" : "", hint ? hint : "", hint ? "\"?)" : "");
			free(names);
			return -1;
		}
		c->field = i;
		c->type = ftype_vtype(rs->fields[i].type);
	}

	/* booleans: `auto_reply: true` */
	if (c->type == VT_BOOL && val->kind == YAML_TREE_SCALAR) {
		c->op = OP_EQUALS;
		return operand_value(cc, c, val, &c->num, err) < 0 ? cc_fail(cc, err) : 0;
	}
	if (val->kind != YAML_TREE_MAPPING) {
		char d2[64];
		return cc_error(cc, err, val, "expected an operator such as { %s: ... }, got %s",
				c->type == VT_TEXT ? "contains" : "greater",
				yaml_tree_describe(val, d2, sizeof(d2)));
	}
	const struct yaml_tree_node *opnode = NULL, *opkey = NULL;
	int idx;
	c->caseless = true;
	bool case_given = false;
	for (size_t i = 0; i < val->npairs; i++) {
		const struct yaml_tree_node *k = val->pairs[i].key, *v = val->pairs[i].value;
		if (strcmp(k->value, "case") == 0) {
			if (yaml_tree_read_enum(v, case_names, &idx, err) < 0)
				return cc_fail(cc, err);
			c->caseless = idx == 1;
			case_given = true;
			continue;
		}
		int o = -1;
		for (int j = 0; op_names[j]; j++)
			if (strcmp(op_names[j], k->value) == 0)
				o = j;
		if (o < 0) {
			const char *hint = yaml_tree_suggest(k->value, op_names);
			return cc_error(cc, err, k, "unknown operator \"%.60s\"%s%s%s", k->value,
					hint ? " (did you mean \"" : "", hint ? hint : "",
					hint ? "\"?)" : "");
		}
		if (opnode)
			return cc_error(cc, err, k, "one operator per test (\"%s\" and \"%s\"): use "
				       "all: to combine tests", opkey->value, k->value);
		opkey = k;
		opnode = v;
		c->op = (enum op)o;
	}
	if (!opnode)
		return cc_error(cc, err, val, "no operator (one of equals, contains, starts_with, "
			       "ends_with, matches, in, exists, greater, less)");
	if (!op_fits(c->op, c->type))
		return cc_error(cc, err, opkey, "type mismatch: %s cannot be used on %s%s%s (%s)",
				op_names[c->op], c->src->name, c->src->named ? " " : "",
				c->src->named ? c->name : "", vtype_name(c->type));
	if (case_given && (c->type != VT_TEXT || c->op == OP_EXISTS))
		return cc_error(cc, err, val, "case: applies only to text operators");
	if (!case_given && c->op == OP_MATCHES)
		c->caseless = false;

	switch (c->op) {
	case OP_EXISTS:
		return yaml_tree_read_bool(opnode, &c->exists, err) < 0 ? cc_fail(cc, err) : 0;
	case OP_IN:
		return in_compile(cc, c, opnode, err);
	case OP_GREATER:
	case OP_LESS:
		return operand_value(cc, c, opnode, &c->num, err) < 0 ? cc_fail(cc, err) : 0;
	case OP_EQUALS:
		if (c->type != VT_TEXT)
			return operand_value(cc, c, opnode, &c->num, err) < 0 ? cc_fail(cc, err) : 0;
		return text_operand(cc, c, opnode, err);
	default:
		return text_operand(cc, c, opnode, err);
	}
}

static int list_compile(struct cc *cc, struct cond *c, const struct yaml_tree_node *seq,
			struct err *err)
{
	if (seq->kind != YAML_TREE_SEQUENCE)
		return cc_error(cc, err, seq, "%s: expects a list of conditions",
				c->kind == COND_ALL ? "all" : "any");
	if (seq->nitems == 0 && c->kind == COND_ANY)
		return cc_error(cc, err, seq, "any: needs at least one condition (an empty any: "
			       "never matches)");
	c->kids = arena_alloc(cc->rs->mem, (seq->nitems ? seq->nitems : 1) * sizeof(*c->kids));
	for (size_t i = 0; i < seq->nitems; i++)
		if (cond_compile(cc, seq->items[i], &c->kids[i], err) < 0)
			return -1;
	c->nkids = seq->nitems;
	return 0;
}

static int pair_compile(struct cc *cc, const struct yaml_tree_node *key,
			const struct yaml_tree_node *val, struct cond **c_r, struct err *err)
{
	if (strcmp(key->value, "all") == 0 || strcmp(key->value, "any") == 0) {
		struct cond *c = cond_new(cc, key->value[1] == 'l' ? COND_ALL : COND_ANY, key);
		*c_r = c;
		return list_compile(cc, c, val, err);
	}
	if (strcmp(key->value, "not") == 0) {
		struct cond *c = cond_new(cc, COND_NOT, key);
		c->kids = arena_alloc(cc->rs->mem, sizeof(*c->kids));
		c->nkids = 1;
		*c_r = c;
		return cond_compile(cc, val, &c->kids[0], err);
	}
	struct cond *c = cond_new(cc, COND_TEST, key);
	*c_r = c;
	return test_compile(cc, key, val, c, err);
}

int cond_compile(struct cc *cc, const struct yaml_tree_node *node, struct cond **c_r,
		 struct err *err)
{
	if (node->kind != YAML_TREE_MAPPING) {
		char d[64];
		return cc_error(cc, err, node, "a condition is a mapping such as "
			       "{ subject: { contains: printer } }, got %s",
			       yaml_tree_describe(node, d, sizeof(d)));
	}
	if (node->npairs == 0)
		return cc_error(cc, err, node, "empty condition (use all: [] for \"always\")");
	if (node->npairs == 1)
		return pair_compile(cc, node->pairs[0].key, node->pairs[0].value, c_r, err);
	/* several keys in one mapping: all of them */
	struct cond *c = cond_new(cc, COND_ALL, node);
	c->kids = arena_alloc(cc->rs->mem, node->npairs * sizeof(*c->kids));
	c->nkids = node->npairs;
	*c_r = c;
	for (size_t i = 0; i < node->npairs; i++)
		if (pair_compile(cc, node->pairs[i].key, node->pairs[i].value, &c->kids[i], err) < 0)
			return -1;
	return 0;
}

bool cond_always(const struct cond *c)
{
	if (!c)
		return true;
	if (c->kind == COND_ALL) {
		for (size_t i = 0; i < c->nkids; i++)
			if (!cond_always(c->kids[i]))
				return false;
		return true;
	}
	return false;
}
