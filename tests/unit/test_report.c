/*
 * The test-run report writers (engine/cli/report*.c) on a hand-made
 * message: mail text cleaned for the terminal (C0, DEL and C1 controls,
 * cuts at UTF-8 boundaries), escaped in HTML with removals marked on the
 * right bytes (also when a later span encloses an earlier removal), and
 * JSON that keeps the text exact.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/cli/report.h"
#include "engine/cli/report_int.h"
#include "test.h"

static char *render(enum report_format fmt, const struct job_test_msg *m)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);
	struct report *r = report_new(fmt, f, false, "job<1>");
	struct job_test_summary sum;
	memset(&sum, 0, sizeof(sum));
	report_message(r, m);
	report_finish(r, &sum, NULL);
	report_free(&r);
	fclose(f);
	return data;
}

/* base "keep<b>CUT1</b>keep2 CUT2", removal 2 encloses removal 1 */
static const char BASE[] = "keep<b>CUT1</b>keep2 CUT2";

static void fixture(struct job_test_msg *m, struct message *msg,
		    struct preprocess_result *pre, struct preprocess_removal *rm,
		    struct store_item *item)
{
	memset(m, 0, sizeof(*m));
	memset(msg, 0, sizeof(*msg));
	memset(pre, 0, sizeof(*pre));
	memset(item, 0, sizeof(*item));
	msg->subject = "<script>alert('x')</script> & \"q\"";
	msg->from = (struct address){"Eve \x1b[31m", "eve@example.org"};
	msg->message_id = "id@example.org";
	pre->base = BASE;
	pre->base_len = strlen(BASE);
	pre->text = "keep";
	pre->len = 4;
	rm[0] = (struct preprocess_removal){"sigs", "r1", "a.yaml", 3, 5, 4, 15, BASE + 4, 11};
	rm[1] = (struct preprocess_removal){"quotes", "r2", "b.yaml", 7, 9, 0, 25, "keep2 CUT2",
					     10};
	pre->removed = rm;
	pre->nremoved = 2;
	item->done_outcome = OUTCOME_TICKET;
	snprintf(item->ticket_number, sizeof(item->ticket_number), "%s", "2026010100001");
	m->index = 1;
	m->id = "uid 7";
	m->msg = msg;
	m->pre = pre;
	m->item = item;
}

TEST(clean_controls_and_utf8_cuts)
{
	char out[16];
	CHECK_STR(report_clean("a\x1b[2Jb\x7f", 7, out, sizeof(out)), "a?[2Jb?");
	/* U+009B (CSI as one C1 character) */
	CHECK_STR(report_clean("x\xc2\x9b" "1m", 5, out, sizeof(out)), "x?1m");
	/* "aé" cut after the é's first byte is cut before it */
	CHECK_STR(report_clean("a\xc3\xa9", 3, out, 3), "a");
	CHECK_STR(report_clean("\xe2\x80\x93zz", 5, out, 4), "\xe2\x80\x93");
	CHECK_STR(report_clean(NULL, 0, out, sizeof(out)), "");
}

TEST(html_escapes_and_marks_removals)
{
	struct job_test_msg m;
	struct message msg;
	struct preprocess_result pre;
	struct preprocess_removal rm[2];
	struct store_item item;
	fixture(&m, &msg, &pre, rm, &item);
	char *h = render(REPORT_HTML, &m);
	CHECK(strstr(h, "<script") == NULL);
	CHECK(strstr(h, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;") != NULL);
	CHECK(strstr(h, "Test run of job job&lt;1&gt;") != NULL);
	CHECK(strstr(h, "\x1b") == NULL);
	/* bytes 4..15 belong to removal 1, 0..4 and 15..25 to removal 2 */
	CHECK(strstr(h, "<pre><del class=\"rm\" title=\"quotes/r2 at b.yaml:7:9\"><sup>2</sup>keep</del>"
			"<del class=\"rm\" title=\"sigs/r1 at a.yaml:3:5\"><sup>1</sup>&lt;b&gt;CUT1&lt;/b&gt;</del>"
			"<del class=\"rm\" title=\"quotes/r2 at b.yaml:7:9\"><sup>2</sup>keep2 CUT2</del></pre>") != NULL);
	CHECK(strstr(h, "new ticket 2026010100001") != NULL);
	CHECK(strstr(h, "default-src 'none'") != NULL);
	free(h);
}

TEST(json_keeps_text_exact)
{
	struct job_test_msg m;
	struct message msg;
	struct preprocess_result pre;
	struct preprocess_removal rm[2];
	struct store_item item;
	fixture(&m, &msg, &pre, rm, &item);
	char *j = render(REPORT_JSON, &m);
	CHECK(strncmp(j, "{\"version\":1,\"job\":\"job<1>\",\"messages\":[\n{\"index\":1,", 52) == 0);
	CHECK(strstr(j, "\"subject\":\"<script>alert('x')</script> & \\\"q\\\"\"") != NULL);
	CHECK(strstr(j, "\"name\":\"Eve \\u001b[31m\"") != NULL);
	CHECK(strstr(j, "{\"stage\":\"sigs\",\"rule\":\"r1\",\"at\":\"a.yaml:3:5\",\"start\":4,\"end\":15,"
			"\"text\":\"<b>CUT1</b>\"}") != NULL);
	CHECK(strstr(j, "\"database\":{\"outcome\":\"ticket\",\"ticket_number\":\"2026010100001\","
			"\"followup_by\":null,\"reason\":null,\"attachments\":[]}") != NULL);
	CHECK(strstr(j, "\"rolled_back\":true},\"error\":null}\n") != NULL);
	free(j);
}

TEST(text_has_no_escape_sequences)
{
	struct job_test_msg m;
	struct message msg;
	struct preprocess_result pre;
	struct preprocess_removal rm[2];
	struct store_item item;
	fixture(&m, &msg, &pre, rm, &item);
	char *t = render(REPORT_TEXT, &m);
	CHECK(strstr(t, "\x1b") == NULL);
	CHECK(strstr(t, "from        Eve ?[31m <eve@example.org>") != NULL);
	CHECK(strstr(t, "sigs/r1 (a.yaml:3:5) removed 11 bytes at 4:") != NULL);
	CHECK(strstr(t, "database    ticket: new ticket 2026010100001") != NULL);
	free(t);
}

int main(void)
{
	RUN(clean_controls_and_utf8_cuts);
	RUN(html_escapes_and_marks_removals);
	RUN(json_keeps_text_exact);
	RUN(text_has_no_escape_sequences);
	return test_summary();
}
