/*
 * What a message's article adds to the ingest queue (store_ingest.h): the
 * new ticket's values, the article (headers, the text agents read, the text
 * before preprocessing, HTML, date), its preprocessing trace, To/Cc
 * addresses and attachments, flattened into the queue's columns.
 *
 * SECURITY: all of it is mail text. It travels only as parameter values,
 * cleaned to valid UTF-8 without NUL by ingest_add_text; attachment bytes
 * go as bytea.
 */
#include <stdio.h>

#include "storage/store_ingest.h"

/* Dates the timestamptz type and to_timestamp() accept comfortably:
 * 1900-01-01 .. 9999-12-31. A Date header outside is stored as NULL. */
#define SENT_AT_MIN INT64_C(-2208988800)
#define SENT_AT_MAX INT64_C(253402300799)

static void add_addresses(struct store_queue *q, int32_t msg, bool cc,
			  const struct address_list *l)
{
	for (size_t i = 0; l && i < l->n; i++) {
		store_col_add_i32(&q->col[C_ADDR_MSG], msg);
		store_col_add_bool(&q->col[C_ADDR_CC], cc);
		ingest_add_text(&q->col[C_ADDR_NAME], l->v[i].name ? l->v[i].name : "");
		ingest_add_text(&q->col[C_ADDR_EMAIL], l->v[i].email ? l->v[i].email : "");
	}
}

static void add_attachments(struct store_queue *q, int32_t msg, const struct message *m)
{
	for (size_t i = 0; i < m->nattachments; i++) {
		const struct attachment *a = &m->attachments[i];
		store_col_add_i32(&q->col[C_ATT_MSG], msg);
		ingest_add_text(&q->col[C_ATT_FILENAME], a->filename ? a->filename : "");
		ingest_add_text(&q->col[C_ATT_TYPE],
				a->content_type ? a->content_type : "application/octet-stream");
		ingest_add_text(&q->col[C_ATT_CID], a->content_id);
		store_col_add_bool(&q->col[C_ATT_INLINE], a->is_inline);
		store_col_add(&q->col[C_ATT_SHA256], a->sha256, 64);
		store_col_add(&q->col[C_ATT_CONTENT], a->data ? (const void *)a->data : "",
			      a->data ? a->size : 0);
	}
}

/*
 * The body agents read, the text before preprocessing, the client, and
 * one trace row per removal. The body is the rule's create_ticket body
 * template when it gave one, else the text after preprocessing (when it
 * ran), else the message's text.
 */
static void add_body(struct store_queue *q, int32_t msg, const struct store_item *item)
{
	struct store_col *c = q->col;
	const struct message *m = item->msg;
	const struct preprocess_result *pre = item->pre;
	const char *orig = m->text ? m->text : "";
	size_t orig_len = m->text ? m->text_len : 0;
	if (item->plan->body)
		ingest_add_text(&c[C_BODY_TEXT], item->plan->body);
	else if (pre)
		ingest_add_text_len(&c[C_BODY_TEXT], pre->text, pre->len);
	else
		ingest_add_text_len(&c[C_BODY_TEXT], orig, orig_len);
	if (!pre) {
		ingest_add_text_len(&c[C_BODY_ORIGINAL], orig, orig_len);
		ingest_add_text(&c[C_CLIENT], m->client);
		return;
	}
	/* the trace's offsets are into the text the stages started from */
	ingest_add_text_len(&c[C_BODY_ORIGINAL], pre->base, pre->base_len);
	ingest_add_text(&c[C_CLIENT], pre->client);
	for (size_t i = 0; i < pre->nremoved; i++) {
		const struct preprocess_removal *x = &pre->removed[i];
		char at[600];
		snprintf(at, sizeof(at), "%s:%u:%u", x->file, x->line, x->column);
		store_col_add_i32(&c[C_TR_MSG], msg);
		ingest_add_text(&c[C_TR_STAGE], x->stage);
		ingest_add_text(&c[C_TR_RULE], x->rule);
		ingest_add_text(&c[C_TR_AT], at);
		store_col_add_i64(&c[C_TR_START], (int64_t)x->start);
		store_col_add_i64(&c[C_TR_END], (int64_t)x->end);
		ingest_add_text_len(&c[C_TR_TEXT], x->text, x->len);
	}
}

void ingest_add_article(struct store_queue *q, int32_t msg, const struct store_item *item,
			bool with_article)
{
	struct store_col *c = q->col;
	if (!with_article) {
		for (int i = C_TICKET_ID; i <= C_SENT_AT; i++)
			store_col_add(&c[i], NULL, 0);
		store_col_add(&c[C_BODY_ORIGINAL], NULL, 0);
		store_col_add(&c[C_CLIENT], NULL, 0);
		return;
	}
	const struct message *m = item->msg;
	const struct plan *pl = item->plan;
	if (item->outcome == OUTCOME_APPENDED && pl->ticket_id > 0)
		store_col_add_i64(&c[C_TICKET_ID], pl->ticket_id);
	else
		store_col_add(&c[C_TICKET_ID], NULL, 0);
	ingest_add_text(&c[C_SUBJECT], pl->ticket.subject ? pl->ticket.subject : "(no subject)");
	ingest_add_text(&c[C_QUEUE], pl->ticket.queue);
	ingest_add_text(&c[C_PRIORITY], pl->ticket.priority);
	ingest_add_text(&c[C_STATUS], pl->ticket.status);
	ingest_add_text(&c[C_REQ_NAME], pl->requester.name);
	ingest_add_text(&c[C_REQ_EMAIL], pl->requester.email);
	ingest_add_text(&c[C_IN_REPLY_TO], m->in_reply_to);
	ingest_add_text(&c[C_REFERENCES], m->references);
	ingest_add_text(&c[C_FROM_NAME], m->from.name);
	ingest_add_text(&c[C_FROM_EMAIL], m->from.email);
	ingest_add_text(&c[C_ART_SUBJECT], m->subject);
	add_body(q, msg, item);
	ingest_add_text_len(&c[C_BODY_HTML], m->html, m->html_len);
	int64_t date = (int64_t)m->date;
	if (date != 0 && date >= SENT_AT_MIN && date <= SENT_AT_MAX)
		store_col_add_i64(&c[C_SENT_AT], date);
	else
		store_col_add(&c[C_SENT_AT], NULL, 0);
	add_addresses(q, msg, false, &m->to);
	add_addresses(q, msg, true, &m->cc);
	add_attachments(q, msg, m);
}
