/*
 * Printing a trace. SECURITY: captures and field values are mail text:
 * cut when recorded, cleaned of control characters here (log_clean).
 */
#include "rules/trace.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/json.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

static const char *clean(const char *s, char *out, size_t outlen)
{
	return log_clean(s ? s : "", s ? strlen(s) : 0, out, outlen);
}

void trace_print(const struct trace *tr, FILE *out)
{
	char c1[TRACE_TEXT_MAX + 40];
	char c2[TRACE_TEXT_MAX + 160];
	struct buf b;
	if (tr->flags && tr->flags[0])
		fprintf(out, "  flags: %s\n", clean(tr->flags, c2, sizeof(c2)));
	for (size_t i = 0; i < tr->nrefs; i++)
		fprintf(out, "  follow-up reference: %s\n", clean(tr->refs[i], c1, sizeof(c1)));
	for (size_t i = 0; i < tr->nfields; i++) {
		const struct trace_field *f = &tr->fields[i];
		fprintf(out, "  field %s = %s%s%s%s\n", f->name,
			f->value ? clean(f->value, c1, sizeof(c1)) : "(none)",
			f->defaulted ? " (default)" : "", f->note ? "; " : "",
			f->note ? clean(f->note, c2, sizeof(c2)) : "");
	}
	for (size_t i = 0; i < tr->nstmts; i++) {
		const struct trace_stmt *s = &tr->stmts[i];
		fprintf(out, "  statement \"%s\" (%s:%u:%u): %s%s%s\n", s->name, s->file, s->line,
			s->column, s->branch < 0 ? "no match" : "matched ",
			s->branch < 0 ? "" : s->branch_label, s->stopped ? ", stop" : "");
		for (size_t j = 0; j < s->ncaps; j++)
			fprintf(out, "    ${%s} = \"%s\"\n", s->caps[j].name,
				clean(s->caps[j].value, c1, sizeof(c1)));
	}
	if (tr->loop)
		fprintf(out, "  loop protection: %s\n", clean(tr->loop, c2, sizeof(c2)));
	if (tr->plan) {
		buf_init(&b, 1 << 20);
		plan_json(tr->plan, &b);
		fprintf(out, "  plan: %s\n", buf_str(&b));
		buf_release(&b);
	}
	fprintf(out, "  rules took %" PRIu64 " us\n", tr->elapsed_us);
}

void trace_json(const struct trace *tr, struct buf *b)
{
	buf_addc(b, '{');
	json_add_key(b, "flags", 1);
	json_add_str(b, tr->flags ? tr->flags : "");
	json_add_key(b, "refs", 0);
	buf_addc(b, '[');
	for (size_t i = 0; i < tr->nrefs; i++) {
		if (i)
			buf_addc(b, ',');
		json_add_str(b, tr->refs[i]);
	}
	buf_adds(b, "]");
	json_add_key(b, "fields", 0);
	buf_addc(b, '[');
	for (size_t i = 0; i < tr->nfields; i++) {
		const struct trace_field *f = &tr->fields[i];
		buf_adds(b, i ? ",{" : "{");
		json_add_key(b, "name", 1);
		json_add_str(b, f->name);
		json_add_key(b, "value", 0);
		json_add_str(b, f->value);
		json_add_key(b, "default", 0);
		buf_adds(b, f->defaulted ? "true" : "false");
		if (f->note) {
			json_add_key(b, "note", 0);
			json_add_str(b, f->note);
		}
		buf_addc(b, '}');
	}
	buf_adds(b, "]");
	json_add_key(b, "statements", 0);
	buf_addc(b, '[');
	for (size_t i = 0; i < tr->nstmts; i++) {
		const struct trace_stmt *s = &tr->stmts[i];
		buf_adds(b, i ? ",{" : "{");
		json_add_key(b, "name", 1);
		json_add_str(b, s->name);
		json_add_key(b, "at", 0);
		char *at = xasprintf("%s:%u:%u", s->file ? s->file : "", s->line, s->column);
		json_add_str(b, at);
		free(at);
		json_add_key(b, "matched", 0);
		buf_adds(b, s->branch >= 0 ? "true" : "false");
		if (s->branch >= 0) {
			json_add_key(b, "branch", 0);
			json_add_str(b, s->branch_label);
		}
		if (s->ncaps) {
			json_add_key(b, "captures", 0);
			buf_addc(b, '{');
			for (size_t j = 0; j < s->ncaps; j++) {
				json_add_key(b, s->caps[j].name, j == 0);
				json_add_str(b, s->caps[j].value);
			}
			buf_addc(b, '}');
		}
		if (s->stopped) {
			json_add_key(b, "stop", 0);
			buf_adds(b, "true");
		}
		buf_addc(b, '}');
	}
	buf_adds(b, "]");
	if (tr->loop) {
		json_add_key(b, "loop", 0);
		json_add_str(b, tr->loop);
	}
	if (tr->plan) {
		json_add_key(b, "plan", 0);
		plan_json(tr->plan, b);
	}
	json_add_key(b, "elapsed_us", 0);
	json_add_i64(b, (int64_t)tr->elapsed_us);
	buf_addc(b, '}');
}
