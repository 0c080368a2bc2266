/*
 * The terminal report of a test run: each message's way as it happens,
 * then a table of all of them and the counts. Colour (ANSI) only when the
 * caller says so (stdout a terminal, NO_COLOR unset).
 *
 * SECURITY: mail text is cleaned of control characters (report_clean) and
 * cut before it is printed, so no mail can send escape sequences to the
 * admin's terminal.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli/report_int.h"
#include "engine/util/buf.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"

/* Lines of one removal shown; the HTML page and JSON have all of them. */
#define SHOW_LINES 6
#define LINE_MAX_SHOWN 160

static const char *on(const struct report *r, const char *code)
{
	return r->colour ? code : "";
}

#define BOLD(r) on(r, "\033[1m")
#define DIM(r) on(r, "\033[2m")
#define RED(r) on(r, "\033[31m")
#define GREEN(r) on(r, "\033[32m")
#define YELLOW(r) on(r, "\033[33m")
#define OFF(r) on(r, "\033[0m")

static const char *outcome_colour(const struct report *r, const char *o)
{
	if (strcmp(o, "badmail") == 0)
		return RED(r);
	if (strcmp(o, "ignored") == 0 || strcmp(o, "already_done") == 0)
		return YELLOW(r);
	return GREEN(r);
}

static void print_removed_text(struct report *r, const char *t, size_t len)
{
	char line[LINE_MAX_SHOWN];
	size_t shown = 0, total = 0;
	const char *p = t, *end = t + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (shown < SHOW_LINES) {
			fprintf(r->out, "      %s|%s %s%s%s\n", DIM(r), OFF(r), RED(r),
				report_clean(p, n, line, sizeof(line)), OFF(r));
			shown++;
		}
		total++;
		p += n + (nl ? 1 : 0);
	}
	if (total > shown)
		fprintf(r->out, "      %s| ... %zu more lines%s\n", DIM(r), total - shown, OFF(r));
}

static void print_preprocess(struct report *r, const struct preprocess_result *pre)
{
	fprintf(r->out, "  %spreprocess%s  %zu removal%s, %" PRIu64 " us%s%s%s\n", BOLD(r), OFF(r),
		pre->nremoved, pre->nremoved == 1 ? "" : "s", pre->elapsed_us,
		pre->base_from_html ? ", from the HTML part" : "",
		pre->kept_all ? ", would have removed everything: text kept whole" : "",
		pre->budget_spent ? ", time budget spent: text kept whole" : "");
	for (size_t i = 0; i < pre->nremoved; i++) {
		const struct preprocess_removal *x = &pre->removed[i];
		fprintf(r->out, "    %s/%s (%s:%u:%u) removed %zu bytes at %zu:\n", x->stage, x->rule,
			x->file, x->line, x->column, x->len, x->start);
		print_removed_text(r, x->text, x->len);
	}
}

static void print_database(struct report *r, const struct job_test_msg *m)
{
	const struct store_item *it = m->item;
	const char *o = report_outcome(m);
	char c[200];
	fprintf(r->out, "  %sdatabase%s    %s%s%s", BOLD(r), OFF(r), outcome_colour(r, o), o, OFF(r));
	if (it->already_done)
		fprintf(r->out, " (the same mail was taken earlier in this test: only moved)");
	else if (it->done_outcome == OUTCOME_TICKET)
		fprintf(r->out, ": new ticket %s", it->ticket_number);
	else if (it->done_outcome == OUTCOME_APPENDED)
		fprintf(r->out, ": article on ticket %s", it->ticket_number);
	if (it->matched_by[0])
		fprintf(r->out, " (follow-up by %s)",
			report_clean(it->matched_by, strlen(it->matched_by), c, sizeof(c)));
	if (it->reason && !it->already_done)
		fprintf(r->out, ": %s", report_clean(it->reason, strlen(it->reason), c, sizeof(c)));
	fputc('\n', r->out);
	if (!m->msg || !m->msg->nattachments)
		return;
	for (size_t i = 0; i < m->msg->nattachments; i++) {
		const struct attachment *a = &m->msg->attachments[i];
		char sz[32];
		fprintf(r->out, "    attachment %s (%s, %s%s)\n",
			report_clean(a->filename, strlen(a->filename), c, sizeof(c)),
			a->content_type, str_fmt_size(a->size, sz, sizeof(sz)),
			a->is_inline ? ", inline" : "");
	}
}

static void add_row(struct report *r, const struct job_test_msg *m)
{
	if (r->nrows == r->caprows) {
		r->caprows = r->caprows ? r->caprows * 2 : 16;
		r->rows = xreallocarray(r->rows, r->caprows, sizeof(*r->rows));
	}
	struct report_row *row = &r->rows[r->nrows++];
	memset(row, 0, sizeof(*row));
	row->index = m->index;
	report_clean(m->id, strlen(m->id), row->id, sizeof(row->id));
	snprintf(row->outcome, sizeof(row->outcome), "%s", report_outcome(m));
	snprintf(row->ticket, sizeof(row->ticket), "%s", m->item->ticket_number);
	if (m->msg) {
		const char *f = m->msg->from.email;
		report_clean(f, strlen(f), row->from, sizeof(row->from));
		report_clean(m->msg->subject, strlen(m->msg->subject), row->subject,
			     sizeof(row->subject));
	}
}

void report_text_message(struct report *r, const struct job_test_msg *m)
{
	char c1[200], c2[200], sz[32];
	const struct message *msg = m->msg;
	fprintf(r->out, "%s#%zu  %s%s  %s", BOLD(r), m->index,
		report_clean(m->id, strlen(m->id), c1, sizeof(c1)), OFF(r),
		str_fmt_size(m->size, sz, sizeof(sz)));
	if (m->pre && m->pre->client)
		fprintf(r->out, ", client %s", m->pre->client);
	fprintf(r->out, ", %.1f ms\n", (double)m->elapsed_us / 1000.0);
	if (msg) {
		fprintf(r->out, "  from        %s <%s>\n",
			report_clean(msg->from.name, strlen(msg->from.name), c1, sizeof(c1)),
			report_clean(msg->from.email, strlen(msg->from.email), c2, sizeof(c2)));
		fprintf(r->out, "  subject     %s\n",
			report_clean(msg->subject, strlen(msg->subject), c1, sizeof(c1)));
	}
	if (m->failure)
		fprintf(r->out, "  %sfailed%s      %s\n", RED(r), OFF(r),
			report_clean(m->failure, strlen(m->failure), c1, sizeof(c1)));
	if (m->pre)
		print_preprocess(r, m->pre);
	if (m->trace) {
		fprintf(r->out, "  %srules%s\n", BOLD(r), OFF(r));
		trace_print(m->trace, r->out);
	}
	print_database(r, m);
	fputc('\n', r->out);
	add_row(r, m);
}

/* s padded with spaces to `width` columns (by display width). */
static void cell(struct report *r, const char *s, size_t width)
{
	size_t w = str_display_width(s);
	fputs(s, r->out);
	for (; w < width; w++)
		fputc(' ', r->out);
	fputs("  ", r->out);
}

void report_text_finish(struct report *r, const struct job_test_summary *s, const char *error)
{
	const struct run_counts *c = &s->counts;
	if (r->nrows) {
		fprintf(r->out, "%s%-4s", BOLD(r), "#");
		cell(r, "message", 14);
		cell(r, "outcome", 12);
		cell(r, "ticket", 16);
		cell(r, "from", 28);
		fprintf(r->out, "subject%s\n", OFF(r));
	}
	for (size_t i = 0; i < r->nrows; i++) {
		const struct report_row *row = &r->rows[i];
		char idx[24], from[29], id[15];
		snprintf(idx, sizeof(idx), "%zu", row->index);
		fprintf(r->out, "%-4s", idx);
		report_clean(row->id, strlen(row->id), id, sizeof(id));
		cell(r, id, 14);
		fputs(outcome_colour(r, row->outcome), r->out);
		cell(r, row->outcome, 12);
		fputs(OFF(r), r->out);
		cell(r, row->ticket[0] ? row->ticket : "-", 16);
		report_clean(row->from, strlen(row->from), from, sizeof(from));
		cell(r, from, 28);
		fprintf(r->out, "%s\n", row->subject);
	}
	fprintf(r->out,
		"\n%sjob %s%s (%s %s): %zu taken: %" PRIu64 " ticket, %" PRIu64 " appended, %" PRIu64
		" ignored, %" PRIu64 " badmail, %" PRIu64 " already done; %zu done before, %zu more "
		"new left; %.2f s\n",
		BOLD(r), r->job, OFF(r), s->source, s->mailbox, s->taken, c->tickets, c->appended,
		c->ignored, c->badmail, c->already_done, s->done_before, s->left, s->seconds);
	if (error)
		fprintf(r->out, "%sstopped early:%s %s\n", RED(r), OFF(r), error);
	fprintf(r->out, "test run: the database transaction was rolled back; nothing was moved "
			"or flagged\n");
}
