/*
 * Running a pipeline on one message (rules/preprocess.h).
 *
 * The text being cleaned is kept as a working copy plus a map of segments
 * (where each kept piece was in the base text), so every removal, however
 * many stages ran before it, is traced with its place in the original.
 * Removals of one rule are applied as one batch: one pass over the text,
 * whatever their number (a rule removing every quoted line of a 700 KB
 * mail stays linear).
 *
 * SECURITY: the text is mail. Matches run under rules/regex.h's limits on
 * at most max_subject bytes; the pipeline has a time budget, checked between
 * rules (once spent, the text is kept whole), and a cap on removals; each match loop advances by at least
 * one character, so it ends.
 */
#include "rules/preprocess_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/mime/html_text.h"
#include "engine/util/xalloc.h"

struct seg {
	size_t cur, orig, len;
};

struct range {
	size_t start, end;
};

struct run {
	const struct preprocess *pp;
	const struct message *msg;
	struct arena *a;
	struct err *err;
	char *cur;              /* the text now (arena; shrinks in place) */
	size_t len;
	size_t protect;         /* from here on nothing may be removed (len: none) */
	struct seg *segs;       /* malloc'd */
	size_t nsegs, segcap;
	struct preprocess_removal *rm; /* malloc'd, copied to the arena at the end */
	size_t nrm, rmcap;
	struct range *rg;       /* one rule's ranges (malloc'd scratch) */
	size_t nrg, rgcap;
	const char *base;
	size_t base_len;
	bool base_from_html;
	bool is_reply, is_forward;
	const char *client;
	/* per stage with a `when`: bit 0 its headers matched, bit 1 its HTML
	 * markers (worked out once, in client_detect; malloc'd) */
	unsigned char *marks;
	uint64_t t0;
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---------------------------------------------------------------- text and map */

static void run_set_base(struct run *r, const char *text, size_t len)
{
	r->base = text;
	r->base_len = len;
	r->cur = arena_memdup0(r->a, text, len);
	r->len = len;
	r->protect = len;
	r->nsegs = 0;
	if (len) {
		if (r->segcap < 1) {
			r->segs = xreallocarray(r->segs, 16, sizeof(*r->segs));
			r->segcap = 16;
		}
		r->segs[0] = (struct seg){0, 0, len};
		r->nsegs = 1;
	}
}

/* Where cur offset `off` (< len) was in the base text. */
static size_t map_orig(const struct run *r, size_t off)
{
	size_t lo = 0, hi = r->nsegs;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->segs[mid].cur <= off)
			lo = mid;
		else
			hi = mid;
	}
	const struct seg *s = &r->segs[lo];
	return s->orig + (off - s->cur);
}

static void segs_push(struct seg **v, size_t *n, size_t *cap, size_t cur, size_t orig,
		      size_t len)
{
	if (*n) {
		struct seg *last = &(*v)[*n - 1];
		if (last->cur + last->len == cur && last->orig + last->len == orig) {
			last->len += len;
			return;
		}
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = (struct seg){cur, orig, len};
}

/*
 * Takes r->rg[0..nrg) (sorted, disjoint, non-empty, inside the text) out of
 * the text in one pass, tracing each when stage is not NULL.
 */
static int apply_ranges(struct run *r, const struct pp_stage *st, const struct pp_rule *rule)
{
	if (!r->nrg)
		return 0;
	if (st && r->nrm + r->nrg > r->pp->lim.max_removals)
		return err_set(r->err, ERR_MESSAGE,
			       "preprocess: stage \"%s\" rule \"%s\" (%s:%u:%u): more than %zu "
			       "removals", st->name, rule->name, rule->file, rule->line,
			       rule->column, r->pp->lim.max_removals);
	if (st) {
		if (r->nrm + r->nrg > r->rmcap) {
			r->rmcap = (r->nrm + r->nrg) * 2;
			r->rm = xreallocarray(r->rm, r->rmcap, sizeof(*r->rm));
		}
		for (size_t i = 0; i < r->nrg; i++) {
			const struct range *g = &r->rg[i];
			struct preprocess_removal *x = &r->rm[r->nrm++];
			x->stage = st->name;
			x->rule = rule->name;
			x->file = rule->file;
			x->line = rule->line;
			x->column = rule->column;
			x->start = map_orig(r, g->start);
			x->end = map_orig(r, g->end - 1) + 1;
			x->text = arena_memdup0(r->a, r->cur + g->start, g->end - g->start);
			x->len = g->end - g->start;
		}
	}

	struct seg *nv = NULL;
	size_t nn = 0, ncap = 0, out = 0, j = 0, removed_before_protect = 0;
	for (size_t i = 0; i < r->nrg; i++) {
		size_t s = r->rg[i].start, e = r->rg[i].end;
		if (s < r->protect)
			removed_before_protect += (e < r->protect ? e : r->protect) - s;
	}
	for (size_t si = 0; si < r->nsegs; si++) {
		const struct seg *sg = &r->segs[si];
		size_t pos = sg->cur, end = sg->cur + sg->len;
		while (pos < end) {
			while (j < r->nrg && r->rg[j].end <= pos)
				j++;
			size_t keep_end = end;
			if (j < r->nrg && r->rg[j].start < end)
				keep_end = r->rg[j].start > pos ? r->rg[j].start : pos;
			if (keep_end > pos) {
				memmove(r->cur + out, r->cur + pos, keep_end - pos);
				segs_push(&nv, &nn, &ncap, out, sg->orig + (pos - sg->cur),
					  keep_end - pos);
				out += keep_end - pos;
			}
			if (keep_end >= end)
				break;
			pos = r->rg[j].end < end ? r->rg[j].end : end;
		}
	}
	r->cur[out] = '\0';
	r->len = out;
	r->protect -= removed_before_protect;
	free(r->segs);
	r->segs = nv;
	r->nsegs = nn;
	r->segcap = ncap;
	r->nrg = 0;
	return 0;
}

/* Adds [s, e) to the rule's ranges, merged with the last one when they touch. */
static void range_add(struct run *r, size_t s, size_t e)
{
	if (e <= s)
		return;
	if (r->nrg) {
		struct range *last = &r->rg[r->nrg - 1];
		if (s <= last->end) {
			if (e > last->end)
				last->end = e;
			return;
		}
	}
	if (r->nrg == r->rgcap) {
		r->rgcap = r->rgcap ? r->rgcap * 2 : 16;
		r->rg = xreallocarray(r->rg, r->rgcap, sizeof(*r->rg));
	}
	r->rg[r->nrg++] = (struct range){s, e};
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool all_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_space(s[i]))
			return false;
	return true;
}

/* Next offset after p that starts a UTF-8 character (or len). */
static size_t next_char(const char *s, size_t len, size_t p)
{
	p++;
	while (p < len && ((unsigned char)s[p] & 0xC0) == 0x80)
		p++;
	return p;
}

/* ---------------------------------------------------------------- rules */

static int rule_error(struct run *r, const struct pp_stage *st, const struct pp_rule *rule)
{
	return err_prefix(r->err, "preprocess: stage \"%s\" rule \"%s\" (%s:%u:%u)", st->name,
			  rule->name, rule->file, rule->line, rule->column);
}

/* Whether the message's time budget is spent (checked between rules). */
static bool budget_spent(const struct run *r)
{
	return r->pp->lim.budget_us && now_us() - r->t0 > r->pp->lim.budget_us;
}

/* The range of a match a rule acts on: its group, or the whole match. */
static bool match_range(const struct pp_rule *rule, const struct regex_match *m, size_t *s_r,
			size_t *e_r)
{
	if (rule->group == 0) {
		*s_r = m->start;
		*e_r = m->end;
		return true;
	}
	if ((uint32_t)rule->group > m->ngroups || m->gstart[rule->group] == SIZE_MAX)
		return false;
	*s_r = m->gstart[rule->group];
	*e_r = m->gend[rule->group];
	return true;
}

static size_t line_start(const char *s, size_t p)
{
	while (p > 0 && s[p - 1] != '\n')
		p--;
	return p;
}

static size_t line_end(const char *s, size_t len, size_t p)
{
	while (p < len && s[p] != '\n')
		p++;
	return p < len ? p + 1 : p;
}

static int rule_run(struct run *r, const struct pp_stage *st, const struct pp_rule *rule)
{
	const struct regex_limits *lim = &r->pp->lim.regex;
	struct regex_match m;
	size_t from = 0, limit = r->protect;
	size_t first_text = 0;

	if ((rule->forward == PP_FWD_ONLY && !r->is_forward) ||
	    (rule->forward == PP_FWD_NEVER && r->is_forward))
		return 0;
	while (first_text < limit && is_space(r->cur[first_text]))
		first_text++;
	/* each pass starts past the last match: at most `limit` passes */
	while (from <= limit) {
		int rc = regex_match(rule->re, r->cur, limit, from, lim, &m, r->err);
		if (rc < 0)
			return rule_error(r, st, rule);
		if (rc == 0)
			break;
		size_t s, e;
		size_t next = m.end > m.start ? m.end : next_char(r->cur, limit, m.start);
		if (!match_range(rule, &m, &s, &e) ||
		    (rule->needs_text_before && first_text >= m.start) ||
		    (rule->at_end && !all_blank(r->cur + m.end, limit - m.end))) {
			from = next;
			continue;
		}
		switch (rule->action) {
		case PP_CUT_AFTER:
			range_add(r, s, limit);
			return apply_ranges(r, st, rule);
		case PP_CUT_BEFORE:
			range_add(r, 0, e);
			return apply_ranges(r, st, rule);
		case PP_KEEP_AFTER:
			if (s < r->protect)
				r->protect = s;
			return 0;
		case PP_REMOVE_MATCH:
			range_add(r, s, e);
			break;
		case PP_REMOVE_LINE:
			range_add(r, line_start(r->cur, s),
				  line_end(r->cur, limit, e > s && r->cur[e - 1] == '\n' ? e - 1 : e));
			break;
		}
		from = next;
	}
	return apply_ranges(r, st, rule);
}

/* ---------------------------------------------------------------- conditions */

static bool stage_applies(const struct run *r, size_t i)
{
	return pp_stage_applies(&r->pp->stages[i], r->client, r->is_reply, r->marks[i]);
}

static void client_detect(struct run *r)
{
	r->marks = xcalloc(r->pp->nstages ? r->pp->nstages : 1, 1);
	pp_marks_fill(r->pp, r->msg, r->marks);
	r->client = pp_client_detect(r->pp, r->msg, r->marks);
}

/* ---------------------------------------------------------------- built-in stages */

static bool html_has(const struct message *msg, const char *needle)
{
	return msg->html && memmem(msg->html, msg->html_len, needle, strlen(needle)) != NULL;
}

/* HTML markers of a quoted part, and whether the text shows any quote. */
static const char *const HTML_QUOTE_MARKERS[] = {
	"gmail_quote", "type=\"cite\"", "moz-cite-prefix", "yahoo_quoted", "<blockquote", NULL,
};

static bool text_has_quote_lines(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i = line_end(s, len, i)) {
		if (s[i] == '>')
			return true;
	}
	return false;
}

/*
 * html_to_text: the model already gives text (text/plain when there is
 * one). When the HTML marks a quote and the plain text shows none, the text
 * of the HTML part is used instead: its blockquotes are "> " lines the
 * quote rules can see. Only before anything was removed, so every trace
 * entry refers to one base text.
 */
static void stage_html_to_text(struct run *r)
{
	const struct message *msg = r->msg;
	bool marked = false;
	if (!msg->html || !msg->html_len || r->nrm || r->base_from_html)
		return;
	for (size_t i = 0; HTML_QUOTE_MARKERS[i] && !marked; i++)
		marked = html_has(msg, HTML_QUOTE_MARKERS[i]);
	if (!marked || text_has_quote_lines(r->cur, r->len))
		return;
	size_t len = 0;
	const char *t = html_text_convert(r->a, msg->html, msg->html_len,
					  msg->text_len * 2 + 64 * 1024, &len, NULL);
	if (!t || !text_has_quote_lines(t, len))
		return;
	run_set_base(r, t, len);
	r->base_from_html = true;
}

/*
 * whitespace: trailing blanks on each line, blank lines beyond one in a
 * row, white space at the start and at the end. Not traced:
 * it never takes a visible character.
 */
static int stage_whitespace(struct run *r)
{
	const char *s = r->cur;
	size_t len = r->len, i = 0;
	int blank_run = 0;
	bool seen_text = false;
	/* white space at the end, the last line end included, goes whole; the
	 * lines before it are looked at one by one (ranges stay in order) */
	size_t end = len;
	while (end > 0 && is_space(s[end - 1]))
		end--;
	while (i < end) {
		size_t ls = i, le = line_end(s, end, i);
		size_t content_end = le > ls && s[le - 1] == '\n' ? le - 1 : le;
		size_t t = content_end;
		while (t > ls && (s[t - 1] == ' ' || s[t - 1] == '\t' || s[t - 1] == '\r'))
			t--;
		if (t == ls) {
			/* a blank line: keep one after text, none before */
			if (!seen_text || blank_run >= 1)
				range_add(r, ls, le);
			else
				range_add(r, ls, content_end);
			blank_run++;
		} else {
			/* the text starts at its first visible character */
			size_t lead = ls;
			while (!seen_text && lead < t && (s[lead] == ' ' || s[lead] == '\t'))
				lead++;
			range_add(r, ls, lead);
			seen_text = true;
			blank_run = 0;
			range_add(r, t, content_end);
		}
		i = le;
	}
	range_add(r, end, len);
	return apply_ranges(r, NULL, NULL);
}

/* ---------------------------------------------------------------- the run */

struct message *preprocess_text_message(struct arena *arena, const char *text, size_t len)
{
	struct message *m = arena_alloc(arena, sizeof(*m));
	m->subject = "";
	m->from.name = m->from.email = "";
	m->reply_to.name = m->reply_to.email = "";
	/* as the message model does: CRLF and lone CR become LF, NUL is dropped */
	char *t = arena_alloc(arena, len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\r') {
			t[n++] = '\n';
			if (i + 1 < len && text[i + 1] == '\n')
				i++;
		} else if (text[i] != '\0') {
			t[n++] = text[i];
		}
	}
	t[n] = '\0';
	m->text = t;
	m->text_len = n;
	return m;
}

int preprocess_run(const struct preprocess *pp, const struct message *msg, struct arena *arena,
		   struct preprocess_result *res, struct err *err)
{
	struct run r = {.pp = pp, .msg = msg, .a = arena, .err = err};
	int rc = -1;

	memset(res, 0, sizeof(*res));
	r.t0 = now_us();
	r.is_forward = pp_subject_is_forward(msg->subject);
	r.is_reply = (msg->in_reply_to && msg->in_reply_to[0]) ||
		     (msg->references && msg->references[0]) || pp_subject_is_reply(msg->subject);
	run_set_base(&r, msg->text ? msg->text : "", msg->text ? msg->text_len : 0);
	client_detect(&r);

	for (size_t i = 0; i < pp->nstages; i++) {
		const struct pp_stage *st = &pp->stages[i];
		if (budget_spent(&r))
			goto spent;
		if (!stage_applies(&r, i))
			continue;
		switch (st->kind) {
		case PP_STAGE_HTML_TO_TEXT:
			stage_html_to_text(&r);
			break;
		case PP_STAGE_WHITESPACE:
			if (stage_whitespace(&r) < 0)
				goto out;
			break;
		case PP_STAGE_RULES:
			for (size_t k = 0; k < st->nrules; k++) {
				if (k && (k & 7) == 0 && budget_spent(&r))
					goto spent;
				if (rule_run(&r, st, &st->rules[k]) < 0)
					goto out;
			}
			break;
		}
	}

	res->base = r.base;
	res->base_len = r.base_len;
	res->base_from_html = r.base_from_html;
	res->client = r.client;
	if (all_blank(r.cur, r.len) && !all_blank(r.base, r.base_len)) {
		/* an empty ticket body helps nobody: keep what the sender sent */
		res->text = r.base;
		res->len = r.base_len;
		res->kept_all = true;
	} else {
		res->text = r.cur;
		res->len = r.len;
		if (r.nrm) {
			res->removed = arena_alloc(arena, r.nrm * sizeof(*res->removed));
			memcpy(res->removed, r.rm, r.nrm * sizeof(*res->removed));
			res->nremoved = r.nrm;
		}
	}
	res->elapsed_us = now_us() - r.t0;
	rc = 0;
	goto out;
spent:
	/* a slow machine or a hostile mail: either way the mail is kept whole,
	 * not half cleaned, and not refused */
	res->base = r.base;
	res->base_len = r.base_len;
	res->base_from_html = r.base_from_html;
	res->client = r.client;
	res->text = r.base;
	res->len = r.base_len;
	res->budget_spent = true;
	res->elapsed_us = now_us() - r.t0;
	rc = 0;
out:
	free(r.segs);
	free(r.rm);
	free(r.rg);
	free(r.marks);
	return rc;
}
