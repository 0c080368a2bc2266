/*
 * The HTML report of a test run: one self-contained page (inline CSS, no
 * scripts, no external assets) with a section per message and the text the
 * stages removed highlighted in place in the original text.
 *
 * SECURITY: every mail text (addresses, subject, body, captures, file
 * names, the plan's JSON) is HTML-escaped (& < > " '), C0 controls other
 * than tab and newline are dropped. The page's Content-Security-Policy
 * allows no script, no external load and no form, so even a mistake in the
 * escaping could not run a mail's script.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli/report_int.h"
#include "engine/util/buf.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"

static void esc(FILE *out, const char *s, size_t len)
{
	for (size_t i = 0; s && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		case '\n': case '\t': fputc(c, out); break;
		default:
			if (c >= 0x20 && c != 0x7f)
				fputc(c, out);
		}
	}
}

static void escs(FILE *out, const char *s)
{
	if (s)
		esc(out, s, strlen(s));
}

static const char CSS[] =
	"body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em;"
	"color:#1b1f24;background:#fff}"
	"h1{font-size:1.4em}h2{font-size:1.15em;margin:0}h3{font-size:1em;margin:1em 0 .3em}"
	"section{border:1px solid #d0d7de;border-radius:6px;padding:.8em 1em;margin:1em 0}"
	"table{border-collapse:collapse}td,th{text-align:left;padding:.15em .6em;"
	"vertical-align:top;border-bottom:1px solid #eaeef2}"
	"pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:.6em;"
	"border-radius:4px;margin:.3em 0}"
	"del.rm{background:#ffd7d5;color:#82071e;text-decoration:line-through}"
	"del.rm sup{color:#57606a;text-decoration:none;font-size:.7em}"
	".ticket,.appended{color:#116329}.ignored,.already_done{color:#7d4e00}"
	".badmail{color:#82071e}.muted{color:#57606a}.yes{color:#116329;font-weight:600}"
	".no{color:#57606a}";

void report_html_begin(struct report *r)
{
	FILE *o = r->out;
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width\">\n<title>Test run of job ",
	      o);
	escs(o, r->job);
	fprintf(o, "</title>\n<style>%s</style></head>\n<body>\n<h1>Test run of job ", CSS);
	escs(o, r->job);
	fputs("</h1>\n<p class=\"muted\">Nothing was changed: the mailbox was opened read-only, "
	      "the database transaction was rolled back. Text the preprocessing removed is "
	      "<del class=\"rm\">struck through</del> in place.</p>\n",
	      o);
}

/*
 * The original text with each removal's bytes wrapped in <del>. A byte
 * belongs to the first removal whose span holds it (later spans may
 * enclose bytes an earlier removal took already).
 */
static void text_marked(FILE *o, const struct preprocess_result *pre)
{
	size_t n = pre->base_len;
	uint16_t *owner = xcalloc(n ? n : 1, sizeof(*owner));
	size_t nr = pre->nremoved < UINT16_MAX ? pre->nremoved : UINT16_MAX - 1;
	for (size_t k = 0; k < nr; k++) {
		const struct preprocess_removal *x = &pre->removed[k];
		size_t end = x->end < n ? x->end : n;
		for (size_t i = x->start; i < end; i++)
			if (!owner[i])
				owner[i] = (uint16_t)(k + 1);
	}
	fputs("<pre>", o);
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && owner[j] == owner[i])
			j++;
		if (owner[i]) {
			const struct preprocess_removal *x = &pre->removed[owner[i] - 1];
			fputs("<del class=\"rm\" title=\"", o);
			escs(o, x->stage);
			fputc('/', o);
			escs(o, x->rule);
			fputs(" at ", o);
			escs(o, x->file);
			fprintf(o, ":%u:%u\"><sup>%u</sup>", x->line, x->column, (unsigned)owner[i]);
			esc(o, pre->base + i, j - i);
			fputs("</del>", o);
		} else {
			esc(o, pre->base + i, j - i);
		}
		i = j;
	}
	fputs("</pre>\n", o);
	free(owner);
}

static void removals(FILE *o, const struct preprocess_result *pre)
{
	fprintf(o, "<h3>Preprocessing</h3><p>%zu removal%s, %" PRIu64 " µs%s%s%s</p>\n",
		pre->nremoved, pre->nremoved == 1 ? "" : "s", pre->elapsed_us,
		pre->base_from_html ? ", from the HTML part" : "",
		pre->kept_all ? ", would have removed everything: text kept whole" : "",
		pre->budget_spent ? ", time budget spent: text kept whole" : "");
	if (pre->client) {
		fputs("<p>Detected client: <b>", o);
		escs(o, pre->client);
		fputs("</b></p>\n", o);
	}
	text_marked(o, pre);
	if (!pre->nremoved)
		return;
	fputs("<table><tr><th>#</th><th>stage</th><th>rule</th><th>at</th><th>bytes</th></tr>\n",
	      o);
	for (size_t k = 0; k < pre->nremoved; k++) {
		const struct preprocess_removal *x = &pre->removed[k];
		fprintf(o, "<tr><td>%zu</td><td>", k + 1);
		escs(o, x->stage);
		fputs("</td><td>", o);
		escs(o, x->rule);
		fputs("</td><td>", o);
		escs(o, x->file);
		fprintf(o, ":%u:%u</td><td>%zu–%zu</td></tr>\n", x->line, x->column, x->start,
			x->end);
	}
	fputs("</table>\n", o);
}

static void rules(FILE *o, const struct trace *tr)
{
	fputs("<h3>Rules</h3>\n", o);
	if (tr->flags && tr->flags[0]) {
		fputs("<p>Flags: ", o);
		escs(o, tr->flags);
		fputs("</p>\n", o);
	}
	for (size_t i = 0; i < tr->nrefs; i++) {
		fputs("<p>Follow-up reference: ", o);
		escs(o, tr->refs[i]);
		fputs("</p>\n", o);
	}
	if (tr->nfields) {
		fputs("<table><tr><th>field</th><th>value</th></tr>\n", o);
		for (size_t i = 0; i < tr->nfields; i++) {
			const struct trace_field *f = &tr->fields[i];
			fputs("<tr><td>", o);
			escs(o, f->name);
			fputs("</td><td>", o);
			if (f->value)
				escs(o, f->value);
			else
				fputs("<span class=\"muted\">(none)</span>", o);
			if (f->defaulted)
				fputs(" <span class=\"muted\">(default)</span>", o);
			if (f->note) {
				fputs(" <span class=\"muted\">", o);
				escs(o, f->note);
				fputs("</span>", o);
			}
			fputs("</td></tr>\n", o);
		}
		fputs("</table>\n", o);
	}
	if (tr->nstmts) {
		fputs("<table><tr><th>statement</th><th>at</th><th>matched</th>"
		      "<th>captures</th></tr>\n", o);
		for (size_t i = 0; i < tr->nstmts; i++) {
			const struct trace_stmt *s = &tr->stmts[i];
			fputs("<tr><td>", o);
			escs(o, s->name);
			fputs("</td><td>", o);
			escs(o, s->file);
			fprintf(o, ":%u:%u</td><td class=\"%s\">", s->line, s->column,
				s->branch >= 0 ? "yes" : "no");
			if (s->branch >= 0) {
				fputs("yes: ", o);
				escs(o, s->branch_label);
			} else {
				fputs("no", o);
			}
			if (s->stopped)
				fputs(", stop", o);
			fputs("</td><td>", o);
			for (size_t j = 0; j < s->ncaps; j++) {
				fputs("${", o);
				escs(o, s->caps[j].name);
				fputs("} = “", o);
				escs(o, s->caps[j].value);
				fputs("”<br>", o);
			}
			fputs("</td></tr>\n", o);
		}
		fputs("</table>\n", o);
	}
	if (tr->loop) {
		fputs("<p>Loop protection: ", o);
		escs(o, tr->loop);
		fputs("</p>\n", o);
	}
	if (tr->plan) {
		struct buf b;
		buf_init(&b, 1 << 20);
		plan_json(tr->plan, &b);
		fputs("<p>Plan:</p><pre>", o);
		esc(o, b.data, b.len);
		fputs("</pre>\n", o);
		buf_release(&b);
	}
}

static void database(FILE *o, const struct job_test_msg *m)
{
	const struct store_item *it = m->item;
	const char *oc = report_outcome(m);
	fprintf(o, "<h3>Database</h3><p class=\"%s\"><b>%s</b>", oc, oc);
	if (!it->already_done && it->ticket_number[0]) {
		fputs(it->done_outcome == OUTCOME_TICKET ? ": new ticket " : ": article on ticket ",
		      o);
		escs(o, it->ticket_number);
	}
	if (it->matched_by[0]) {
		fputs(" (follow-up by ", o);
		escs(o, it->matched_by);
		fputs(")", o);
	}
	if (it->reason && !it->already_done) {
		fputs(": ", o);
		escs(o, it->reason);
	}
	fputs("</p>\n", o);
	if (!m->msg || !m->msg->nattachments)
		return;
	fputs("<table><tr><th>attachment</th><th>type</th><th>size</th><th>sha256</th></tr>\n", o);
	for (size_t i = 0; i < m->msg->nattachments; i++) {
		const struct attachment *a = &m->msg->attachments[i];
		char sz[32];
		fputs("<tr><td>", o);
		escs(o, a->filename);
		fputs(a->is_inline ? " <span class=\"muted\">(inline)</span>" : "", o);
		fputs("</td><td>", o);
		escs(o, a->content_type);
		fprintf(o, "</td><td>%s</td><td class=\"muted\">%.16s…</td></tr>\n",
			str_fmt_size(a->size, sz, sizeof(sz)), a->sha256);
	}
	fputs("</table>\n", o);
}

void report_html_message(struct report *r, const struct job_test_msg *m)
{
	FILE *o = r->out;
	char sz[32];
	fprintf(o, "<section id=\"m%zu\"><h2>#%zu ", m->index, m->index);
	escs(o, m->id);
	fprintf(o, " <span class=\"muted\">%s, %.1f ms</span></h2>\n",
		str_fmt_size(m->size, sz, sizeof(sz)), (double)m->elapsed_us / 1000.0);
	if (m->msg) {
		fputs("<table><tr><th>from</th><td>", o);
		escs(o, m->msg->from.name);
		fputs(" &lt;", o);
		escs(o, m->msg->from.email);
		fputs("&gt;</td></tr><tr><th>subject</th><td>", o);
		escs(o, m->msg->subject);
		fputs("</td></tr><tr><th>Message-ID</th><td>", o);
		escs(o, m->msg->message_id);
		fputs("</td></tr></table>\n", o);
	}
	if (m->failure) {
		fputs("<p class=\"badmail\">Failed: ", o);
		escs(o, m->failure);
		fputs("</p>\n", o);
	}
	if (m->pre)
		removals(o, m->pre);
	if (m->trace)
		rules(o, m->trace);
	database(o, m);
	fputs("</section>\n", o);
}

void report_html_finish(struct report *r, const struct job_test_summary *s, const char *error)
{
	FILE *o = r->out;
	const struct run_counts *c = &s->counts;
	fputs("<section id=\"summary\"><h2>Summary</h2>\n<table>", o);
	fputs("<tr><th>source</th><td>", o);
	escs(o, s->source);
	fputc(' ', o);
	escs(o, s->mailbox);
	fprintf(o,
		"</td></tr><tr><th>taken</th><td>%zu of %zu listed (%zu done before, %zu more new "
		"left)</td></tr>\n<tr><th>outcomes</th><td><span class=\"ticket\">%" PRIu64
		" ticket</span>, <span class=\"appended\">%" PRIu64 " appended</span>, "
		"<span class=\"ignored\">%" PRIu64 " ignored</span>, <span class=\"badmail\">%" PRIu64
		" badmail</span>, %" PRIu64 " already done</td></tr>\n"
		"<tr><th>time</th><td>%.2f s</td></tr></table>\n",
		s->taken, s->listed, s->done_before, s->left, c->tickets, c->appended, c->ignored,
		c->badmail, c->already_done, s->seconds);
	if (error) {
		fputs("<p class=\"badmail\">Stopped early: ", o);
		escs(o, error);
		fputs("</p>\n", o);
	}
	fputs("</section>\n</body></html>\n", o);
}
