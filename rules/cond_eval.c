/*
 * Conditions, evaluated against one message. A source with several values
 * (to, cc, recipients, a repeated header, attachment names) passes a test
 * when any value does; an empty value counts as absent.
 *
 * SECURITY: every value is mail text. Patterns run under rules/regex.h's limits and
 * a PCRE2 failure is an error of the message (ERR_MESSAGE), never "false".
 * Captures are copied at most VAR_MAX_BYTES each, VARS_MAX per message.
 */
#include "rules/rules_int.h"

#include <string.h>
#include <strings.h>

#define VAR_MAX_BYTES 4096
#define VARS_MAX 256

static void push(struct eval *ev, struct text_val **v, size_t *n, size_t *cap, const char *s,
		 size_t len)
{
	if (!s || !len)
		return;
	if (*n == *cap) {
		/* the caller's small array first; the arena for long lists */
		size_t nc = *cap * 2;
		struct text_val *nv = arena_alloc(ev->arena, nc * sizeof(*nv));
		if (*n)
			memcpy(nv, *v, *n * sizeof(*nv));
		*v = nv;
		*cap = nc;
	}
	(*v)[*n].s = s;
	(*v)[*n].len = len;
	(*n)++;
}

static void push_str(struct eval *ev, struct text_val **v, size_t *n, size_t *cap, const char *s)
{
	push(ev, v, n, cap, s, s ? strlen(s) : 0);
}

void eval_texts(struct eval *ev, enum src src, const char *name, struct text_val *small,
		struct text_val **v_r, size_t *n_r)
{
	const struct message *m = ev->msg;
	struct text_val *v = small;
	size_t n = 0, cap = EVAL_SMALL;
	switch (src) {
	case SRC_FROM: push_str(ev, &v, &n, &cap, m->from.email); break;
	case SRC_FROM_NAME: push_str(ev, &v, &n, &cap, m->from.name); break;
	case SRC_FROM_DOMAIN: push_str(ev, &v, &n, &cap, addr_domain(m->from.email)); break;
	case SRC_REPLY_TO: push_str(ev, &v, &n, &cap, m->reply_to.email); break;
	case SRC_TO:
	case SRC_CC:
	case SRC_RECIPIENTS:
		if (src != SRC_CC)
			for (size_t i = 0; i < m->to.n; i++)
				push_str(ev, &v, &n, &cap, m->to.v[i].email);
		if (src != SRC_TO)
			for (size_t i = 0; i < m->cc.n; i++)
				push_str(ev, &v, &n, &cap, m->cc.v[i].email);
		break;
	case SRC_SUBJECT: push_str(ev, &v, &n, &cap, m->subject); break;
	case SRC_BODY: push(ev, &v, &n, &cap, ev->body, ev->body_len); break;
	case SRC_BODY_ORIGINAL: push(ev, &v, &n, &cap, ev->original, ev->original_len); break;
	case SRC_HEADER:
		for (size_t i = 0; i < m->nheaders; i++)
			if (strcasecmp(m->headers[i].name, name) == 0)
				push_str(ev, &v, &n, &cap, m->headers[i].value);
		break;
	case SRC_ATTACHMENT_NAMES:
		for (size_t i = 0; i < m->nattachments; i++)
			push_str(ev, &v, &n, &cap, m->attachments[i].filename);
		break;
	case SRC_ATTACHMENT_TYPES:
		for (size_t i = 0; i < m->nattachments; i++)
			push_str(ev, &v, &n, &cap, m->attachments[i].content_type);
		break;
	case SRC_CLIENT: push_str(ev, &v, &n, &cap, ev->client); break;
	case SRC_ACCOUNT: push_str(ev, &v, &n, &cap, ev->account); break;
	case SRC_JOB: push_str(ev, &v, &n, &cap, ev->job); break;
	case SRC_MESSAGE_ID: push_str(ev, &v, &n, &cap, m->message_id); break;
	default: break;
	}
	*v_r = v;
	*n_r = n;
}

static bool find_var_slot(struct eval *ev)
{
	if (ev->nvars == ev->capvars) {
		if (ev->capvars >= VARS_MAX)
			return false;
		size_t nc = ev->capvars ? ev->capvars * 2 : 16;
		struct var *nv = arena_alloc(ev->arena, nc * sizeof(*nv));
		if (ev->nvars)
			memcpy(nv, ev->vars, ev->nvars * sizeof(*nv));
		ev->vars = nv;
		ev->capvars = nc;
	}
	return true;
}

static void trace_capture(struct eval *ev, const char *name, const char *s, size_t len)
{
	struct trace_stmt *t = ev->cur;
	if (!t)
		return;
	if (t->ncaps == t->capcaps) {
		size_t nc = t->capcaps ? t->capcaps * 2 : 4;
		struct trace_capture *nv = arena_alloc(ev->arena, nc * sizeof(*nv));
		if (t->ncaps)
			memcpy(nv, t->caps, t->ncaps * sizeof(*nv));
		t->caps = nv;
		t->capcaps = nc;
	}
	if (len > TRACE_TEXT_MAX) {
		len = TRACE_TEXT_MAX;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	t->caps[t->ncaps].name = name;
	t->caps[t->ncaps].value = arena_memdup0(ev->arena, s, len);
	t->ncaps++;
}

void eval_add_captures(struct eval *ev, const struct regex *rx, const char *s)
{
	for (size_t i = 0; i < regex_name_count(rx); i++) {
		uint32_t g;
		size_t st, len;
		const char *name = regex_name_at(rx, i, &g);
		if (!regex_match_group(&ev->match, g, &st, &len))
			continue;
		if (len > VAR_MAX_BYTES) {
			len = VAR_MAX_BYTES;
			while (len > 0 && ((unsigned char)s[st + len] & 0xC0) == 0x80)
				len--;
		}
		if (!find_var_slot(ev))
			return;
		struct var *v = &ev->vars[ev->nvars++];
		v->name = name;
		v->val = arena_memdup0(ev->arena, s + st, len);
		v->len = len;
		trace_capture(ev, name, v->val, len);
	}
}

static int cmp_len(const char *s, size_t len, const char *item)
{
	size_t il = strlen(item);
	int c = memcmp(s, item, len < il ? len : il);
	if (c)
		return c;
	return len < il ? -1 : len > il;
}

static bool in_set(const struct cond *c, const char *s, size_t len)
{
	size_t lo = 0, hi = c->nset;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = cmp_len(s, len, c->set[mid]);
		if (r == 0)
			return true;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

/* One text value against the test: 1, 0, or -1 (error). */
static int text_test(struct eval *ev, const struct cond *c, const char *s, size_t len,
		     struct err *err)
{
	if (c->op == OP_MATCHES) {
		int rc = regex_match(c->rx, s, len, 0, ev->lim, &ev->match, err);
		if (rc == 1)
			eval_add_captures(ev, c->rx, s);
		return rc;
	}
	if (c->op == OP_IN) {
		if (!c->caseless)
			return in_set(c, s, len);
		char small[512];
		size_t fl;
		const char *f = text_fold_buf(s, len, small, sizeof(small), &fl);
		if (!f)
			f = text_fold(ev->arena, s, len, &fl);
		return in_set(c, f, fl);
	}
	if (c->caseless)
		return regex_match(c->rx, s, len, 0, ev->lim, &ev->match, err);
	switch (c->op) {
	case OP_EQUALS:
		return len == c->text_len && memcmp(s, c->text, len) == 0;
	case OP_CONTAINS:
		return c->text_len == 0 || memmem(s, len, c->text, c->text_len) != NULL;
	case OP_STARTS_WITH:
		return len >= c->text_len && memcmp(s, c->text, c->text_len) == 0;
	case OP_ENDS_WITH:
		return len >= c->text_len && memcmp(s + len - c->text_len, c->text, c->text_len) == 0;
	default:
		return 0;
	}
}

/* Numbers: present? and the value. */
static bool num_value(struct eval *ev, const struct cond *c, struct value *v)
{
	memset(v, 0, sizeof(*v));
	v->type = c->type;
	switch (c->src->src) {
	case SRC_ATTACHMENT_COUNT:
		v->i = (int64_t)ev->msg->nattachments;
		break;
	case SRC_SIZE:
		v->i = (int64_t)ev->msg->raw_size;
		break;
	case SRC_SPAM_SCORE:
		if (!ev->flags->has_spam_score)
			return false;
		v->d = ev->flags->spam_score;
		return true;
	case SRC_FIELD:
		*v = ev->fields[c->field];
		return v->set;
	default:
		return false;
	}
	v->d = (double)v->i;
	return true;
}

static int num_cmp(const struct value *a, const struct value *b)
{
	if (a->type == VT_DECIMAL || b->type == VT_DECIMAL)
		return (a->d > b->d) - (a->d < b->d);
	return (a->i > b->i) - (a->i < b->i);
}

static bool flag_value(struct eval *ev, enum src s)
{
	const struct msg_flags *f = ev->flags;
	switch (s) {
	case SRC_AUTO_REPLY: return f->auto_reply;
	case SRC_BOUNCE: return f->bounce;
	case SRC_BULK: return f->bulk;
	case SRC_FOLLOW_UP: return f->follow_up;
	case SRC_SPAM: return f->spam;
	default: return false;
	}
}

static int test_eval(struct eval *ev, const struct cond *c, struct err *err)
{
	if (c->type == VT_BOOL)
		return flag_value(ev, c->src->src) == c->num.b;
	if (c->type != VT_TEXT || (c->src->src == SRC_FIELD)) {
		struct value v;
		bool present = num_value(ev, c, &v);
		if (c->type == VT_TEXT) {
			/* a text field */
			if (c->op == OP_EXISTS)
				return present == c->exists;
			return present ? text_test(ev, c, v.text, v.len, err) : 0;
		}
		if (c->op == OP_EXISTS)
			return present == c->exists;
		if (!present)
			return 0;
		switch (c->op) {
		case OP_EQUALS: return num_cmp(&v, &c->num) == 0;
		case OP_GREATER: return num_cmp(&v, &c->num) > 0;
		case OP_LESS: return num_cmp(&v, &c->num) < 0;
		case OP_IN:
			for (size_t i = 0; i < c->nset; i++)
				if (num_cmp(&v, &c->nums[i]) == 0)
					return 1;
			return 0;
		default: return 0;
		}
	}
	struct text_val small[EVAL_SMALL], *vals;
	size_t n;
	eval_texts(ev, c->src->src, c->name, small, &vals, &n);
	if (c->op == OP_EXISTS)
		return (n > 0) == c->exists;
	for (size_t i = 0; i < n; i++) {
		int rc = text_test(ev, c, vals[i].s, vals[i].len, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int cond_eval(struct eval *ev, const struct cond *c, struct err *err)
{
	int rc;
	switch (c->kind) {
	case COND_ALL:
		for (size_t i = 0; i < c->nkids; i++)
			if ((rc = cond_eval(ev, c->kids[i], err)) != 1)
				return rc;
		return 1;
	case COND_ANY:
		for (size_t i = 0; i < c->nkids; i++)
			if ((rc = cond_eval(ev, c->kids[i], err)) != 0)
				return rc;
		return 0;
	case COND_NOT:
		rc = cond_eval(ev, c->kids[0], err);
		return rc < 0 ? rc : !rc;
	case COND_TEST:
		rc = test_eval(ev, c, err);
		if (rc < 0)
			err_prefix(err, "%s:%u:%u", c->pos.file, c->pos.line, c->pos.column);
		return rc;
	}
	return 0;
}

const char *eval_var(struct eval *ev, const char *name, size_t nlen, size_t *len_r)
{
	const struct message *m = ev->msg;
	const char *v = NULL;
	for (size_t i = ev->nvars; i-- > 0;) {
		if (strlen(ev->vars[i].name) == nlen && memcmp(ev->vars[i].name, name, nlen) == 0) {
			*len_r = ev->vars[i].len;
			return ev->vars[i].val;
		}
	}
	for (size_t i = 0; i < ev->rs->nfields; i++) {
		const char *fn = ev->rs->fields[i].name;
		if (strlen(fn) == nlen && memcmp(fn, name, nlen) == 0) {
			if (!ev->fields || !ev->fields[i].set)
				return NULL;
			*len_r = ev->fields[i].len;
			return ev->fields[i].text;
		}
	}
#define IS(lit) (nlen == sizeof(lit) - 1 && memcmp(name, lit, nlen) == 0)
	if (IS("subject"))
		v = m->subject;
	else if (IS("from"))
		v = m->from.email;
	else if (IS("from_name"))
		v = m->from.name;
	else if (IS("from_domain"))
		v = addr_domain(m->from.email);
	else if (IS("to"))
		v = m->to.n ? m->to.v[0].email : NULL;
	else if (IS("body")) {
		*len_r = ev->body_len;
		return ev->body;
	} else if (IS("account"))
		v = ev->account;
	else if (IS("job"))
		v = ev->job;
	else if (IS("message_id"))
		v = m->message_id;
	else if (IS("client"))
		v = ev->client;
	else if (IS("ticket_number"))
		v = ev->ticket_number;
	else if (IS("date") && m->date) {
		struct tm tm;
		time_t t = m->date;
		if (gmtime_r(&t, &tm))
			v = arena_printf(ev->arena, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
					 tm.tm_mday);
	}
#undef IS
	if (!v)
		return NULL;
	*len_r = strlen(v);
	return v;
}
