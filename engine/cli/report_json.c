/*
 * The JSON report of a test run: one object, written as the test goes
 * (README.md, "Test runs", documents the schema; "version" changes only
 * when a key changes meaning or goes away; new keys may be added).
 *
 * SECURITY: mail text goes through json_add_string (escaped, invalid UTF-8
 * as U+FFFD).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine/cli/report_int.h"
#include "engine/util/buf.h"
#include "engine/util/json.h"

#define REPORT_JSON_VERSION 1
/* A message's object holds its texts (each capped by the message model's
 * limits) and the trace; far below this. */
#define MSG_JSON_MAX ((size_t)256 << 20)

static void address(struct buf *b, const struct address *a)
{
	buf_addc(b, '{');
	json_add_key(b, "name", 1);
	json_add_str(b, a->name);
	json_add_key(b, "email", 0);
	json_add_str(b, a->email);
	buf_addc(b, '}');
}

static void preprocess(struct buf *b, const struct preprocess_result *pre)
{
	buf_addc(b, '{');
	json_add_key(b, "client", 1);
	json_add_str(b, pre->client);
	buf_addf(b, ",\"base_from_html\":%s,\"kept_all\":%s,\"budget_spent\":%s",
		 pre->base_from_html ? "true" : "false", pre->kept_all ? "true" : "false",
		 pre->budget_spent ? "true" : "false");
	json_add_key(b, "elapsed_us", 0);
	json_add_i64(b, (int64_t)pre->elapsed_us);
	json_add_key(b, "original", 0);
	json_add_string(b, pre->base, pre->base_len);
	json_add_key(b, "text", 0);
	json_add_string(b, pre->text, pre->len);
	json_add_key(b, "removed", 0);
	buf_addc(b, '[');
	for (size_t i = 0; i < pre->nremoved; i++) {
		const struct preprocess_removal *x = &pre->removed[i];
		char at[600];
		snprintf(at, sizeof(at), "%s:%u:%u", x->file, x->line, x->column);
		buf_adds(b, i ? ",{" : "{");
		json_add_key(b, "stage", 1);
		json_add_str(b, x->stage);
		json_add_key(b, "rule", 0);
		json_add_str(b, x->rule);
		json_add_key(b, "at", 0);
		json_add_str(b, at);
		buf_addf(b, ",\"start\":%zu,\"end\":%zu", x->start, x->end);
		json_add_key(b, "text", 0);
		json_add_string(b, x->text, x->len);
		buf_addc(b, '}');
	}
	buf_adds(b, "]}");
}

static void database(struct buf *b, const struct job_test_msg *m)
{
	const struct store_item *it = m->item;
	buf_addc(b, '{');
	json_add_key(b, "outcome", 1);
	json_add_str(b, report_outcome(m));
	json_add_key(b, "ticket_number", 0);
	json_add_str(b, it->ticket_number[0] ? it->ticket_number : NULL);
	json_add_key(b, "followup_by", 0);
	json_add_str(b, it->matched_by[0] ? it->matched_by : NULL);
	json_add_key(b, "reason", 0);
	json_add_str(b, it->already_done ? NULL : it->reason);
	json_add_key(b, "attachments", 0);
	buf_addc(b, '[');
	for (size_t i = 0; m->msg && i < m->msg->nattachments; i++) {
		const struct attachment *a = &m->msg->attachments[i];
		buf_adds(b, i ? ",{" : "{");
		json_add_key(b, "filename", 1);
		json_add_str(b, a->filename);
		json_add_key(b, "content_type", 0);
		json_add_str(b, a->content_type);
		json_add_key(b, "size", 0);
		json_add_i64(b, (int64_t)a->size);
		json_add_key(b, "sha256", 0);
		json_add_str(b, a->sha256);
		buf_addf(b, ",\"inline\":%s}", a->is_inline ? "true" : "false");
	}
	buf_adds(b, "]}");
}

void report_json_begin(struct report *r)
{
	struct buf b;
	buf_init(&b, 1 << 16);
	buf_addf(&b, "{\"version\":%d", REPORT_JSON_VERSION);
	json_add_key(&b, "job", 0);
	json_add_str(&b, r->job);
	buf_adds(&b, ",\"messages\":[\n");
	fwrite(b.data, 1, b.len, r->out);
	buf_release(&b);
}

void report_json_message(struct report *r, const struct job_test_msg *m)
{
	struct buf b;
	const struct message *msg = m->msg;
	buf_init(&b, MSG_JSON_MAX);
	buf_adds(&b, r->nmsgs ? ",{" : "{");
	json_add_key(&b, "index", 1);
	json_add_i64(&b, (int64_t)m->index);
	json_add_key(&b, "id", 0);
	json_add_str(&b, m->id);
	json_add_key(&b, "size", 0);
	json_add_i64(&b, (int64_t)m->size);
	json_add_key(&b, "from", 0);
	if (msg)
		address(&b, &msg->from);
	else
		buf_adds(&b, "null");
	json_add_key(&b, "subject", 0);
	json_add_str(&b, msg ? msg->subject : NULL);
	json_add_key(&b, "message_id", 0);
	json_add_str(&b, msg ? msg->message_id : NULL);
	json_add_key(&b, "client", 0);
	json_add_str(&b, m->pre ? m->pre->client : msg ? msg->client : NULL);
	json_add_key(&b, "failure", 0);
	json_add_str(&b, m->failure);
	json_add_key(&b, "preprocess", 0);
	if (m->pre)
		preprocess(&b, m->pre);
	else
		buf_adds(&b, "null");
	json_add_key(&b, "rules", 0);
	if (m->trace)
		trace_json(m->trace, &b);
	else
		buf_adds(&b, "null");
	json_add_key(&b, "database", 0);
	database(&b, m);
	json_add_key(&b, "elapsed_us", 0);
	json_add_i64(&b, (int64_t)m->elapsed_us);
	buf_adds(&b, "}\n");
	if (b.failed) {
		/* never half an object: the message's place says so instead */
		buf_reset(&b);
		b.failed = false;
		buf_addf(&b, "%s{\"index\":%zu,\"error\":\"report too large\"}\n",
			 r->nmsgs ? "," : "", m->index);
	}
	fwrite(b.data, 1, b.len, r->out);
	buf_release(&b);
}

void report_json_finish(struct report *r, const struct job_test_summary *s, const char *error)
{
	const struct run_counts *c = &s->counts;
	struct buf b;
	buf_init(&b, 1 << 16);
	buf_adds(&b, "],\"summary\":{");
	json_add_key(&b, "source", 1);
	json_add_str(&b, s->source);
	json_add_key(&b, "mailbox", 0);
	json_add_str(&b, s->mailbox);
	buf_addf(&b,
		 ",\"listed\":%zu,\"done_before\":%zu,\"taken\":%zu,\"left\":%zu,"
		 "\"outcomes\":{\"ticket\":%" PRIu64 ",\"appended\":%" PRIu64 ",\"ignored\":%" PRIu64
		 ",\"badmail\":%" PRIu64 ",\"already_done\":%" PRIu64 "},\"bytes\":%" PRIu64
		 ",\"seconds\":%.3f,\"rolled_back\":true}",
		 s->listed, s->done_before, s->taken, s->left, c->tickets, c->appended, c->ignored,
		 c->badmail, c->already_done, c->bytes, s->seconds);
	json_add_key(&b, "error", 0);
	json_add_str(&b, error);
	buf_adds(&b, "}\n");
	fwrite(b.data, 1, b.len, r->out);
	buf_release(&b);
}
