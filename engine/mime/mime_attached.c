/*
 * Attached messages (message/rfc822) read for their text, and delivery
 * status notifications read for what bounced.
 *
 * SECURITY: attached messages are as untrusted as the mail. Their parts
 * were counted and depth-checked with the mail (walk_count); here we
 * descend at most MIME_ATTACHED_DEPTH_MAX attached levels, and all their
 * texts together share one max_text_bytes budget, so a mail of many
 * attached messages costs no more text than one body.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/mime/html_text.h"
#include "engine/mime/mime_gmime.h"
#include "engine/mime/mime_internal.h"
#include "engine/util/xalloc.h"

struct collect {
	struct walk *wk;
	struct attached_message *v; /* malloc'd, copied to the arena at the end */
	size_t n, cap;
	uint64_t budget;            /* text bytes left for all attached messages */
};

struct body_find {
	GMimePart *text, *html;
	GMimeMessagePart **nested; /* malloc'd */
	size_t nnested, cnested;
};

/* The body parts of an attached message, by the rules of the mail's own body. */
static void body_find(GMimeObject *obj, struct body_find *bf)
{
	if (!obj)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++)
			body_find(g_mime_multipart_get_part(mp, i), bf);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		if (bf->nnested == bf->cnested) {
			bf->cnested = bf->cnested ? 2 * bf->cnested : 4;
			bf->nested = xreallocarray(bf->nested, bf->cnested, sizeof(*bf->nested));
		}
		bf->nested[bf->nnested++] = GMIME_MESSAGE_PART(obj);
		return;
	}
	if (!GMIME_IS_PART(obj))
		return;
	GMimePart *part = GMIME_PART(obj);
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *disp = g_mime_object_get_disposition(obj);
	if ((disp && strcasecmp(disp, "attachment") == 0) || g_mime_part_get_filename(part) || !ct)
		return;
	if (!bf->text && g_mime_content_type_is_type(ct, "text", "plain"))
		bf->text = part;
	else if (!bf->html && g_mime_content_type_is_type(ct, "text", "html"))
		bf->html = part;
}

static void collect_one(struct collect *c, GMimeMessage *m, unsigned depth, size_t attachment)
{
	struct walk *wk = c->wk;
	struct body_find bf;

	if (!m)
		return;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 4;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	struct attached_message *am = &c->v[c->n++];
	memset(am, 0, sizeof(*am));
	am->depth = depth;
	am->attachment = attachment;
	header_attached(wk->a, m, am);

	memset(&bf, 0, sizeof(bf));
	body_find(g_mime_message_get_mime_part(m), &bf);
	bool cut = false;
	size_t max = (size_t)c->budget;
	am->text = "";
	if (bf.text) {
		am->text = walk_part_text(wk, bf.text, max, &am->text_len, &cut);
	} else if (bf.html) {
		size_t hl;
		bool cut2 = false;
		const char *h = walk_part_text(wk, bf.html, max, &hl, &cut);
		am->text = html_text_convert(wk->a, h, hl, max, &am->text_len, &cut2);
		cut = cut || cut2;
	}
	c->budget -= am->text_len <= c->budget ? am->text_len : c->budget;
	if (cut)
		wk->truncated = true;
	/* am may move when the array grows: nothing below uses it */
	if (depth < MIME_ATTACHED_DEPTH_MAX)
		for (size_t i = 0; i < bf.nnested; i++)
			collect_one(c, g_mime_message_part_get_message(bf.nested[i]), depth + 1,
				    attachment);
	free(bf.nested);
}

void attached_collect(struct walk *wk, struct message *msg)
{
	struct collect c;

	memset(&c, 0, sizeof(c));
	c.wk = wk;
	c.budget = wk->lim->max_text_bytes;
	for (size_t i = 0; i < wk->nmsgs; i++)
		collect_one(&c, g_mime_message_part_get_message(wk->msgs[i].part), 1,
			    wk->msgs[i].attachment);
	if (c.n) {
		msg->attached = arena_alloc(wk->a, c.n * sizeof(*msg->attached));
		memcpy(msg->attached, c.v, c.n * sizeof(*msg->attached));
		msg->nattached = c.n;
	}
	free(c.v);
}

static GByteArray *part_bytes(GMimeObject *obj, GMimeStream **mem_r)
{
	*mem_r = walk_part_decode(GMIME_PART(obj));
	return g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(*mem_r));
}

void dsn_collect(struct walk *wk, GMimeMessage *m, struct message *msg)
{
	GMimeObject *top = g_mime_message_get_mime_part(m);
	GMimeContentType *ct = top ? g_mime_object_get_content_type(top) : NULL;
	if (!ct || !g_mime_content_type_is_type(ct, "multipart", "report"))
		return;
	const char *rt = g_mime_content_type_get_parameter(ct, "report-type");
	if (!rt || (strcasecmp(rt, "delivery-status") != 0 &&
		    strcasecmp(rt, "global-delivery-status") != 0))
		return;
	msg->is_dsn = true;

	/* the returned message's own id is the most reliable */
	for (size_t i = 0; i < wk->nmsgs && !msg->dsn_original_message_id; i++) {
		GMimeMessage *inner = g_mime_message_part_get_message(wk->msgs[i].part);
		const char *id = inner ? g_mime_message_get_message_id(inner) : NULL;
		if (id && *id)
			msg->dsn_original_message_id = mime_utf8_clean(wk->a, id, strlen(id), true,
								       NAME_MAX_BYTES, NULL, NULL);
	}
	GMimeStream *mem;
	if (!msg->dsn_original_message_id && wk->dsn_headers && GMIME_IS_PART(wk->dsn_headers)) {
		GByteArray *ba = part_bytes(wk->dsn_headers, &mem);
		if (ba && ba->len)
			msg->dsn_original_message_id =
				mime_dsn_header_msgid(wk->a, (const char *)ba->data, ba->len);
		g_object_unref(mem);
	}
	if (wk->dsn_status && GMIME_IS_PART(wk->dsn_status)) {
		GByteArray *ba = part_bytes(wk->dsn_status, &mem);
		if (ba && ba->len)
			mime_dsn_fields(wk->a, (const char *)ba->data, ba->len, msg);
		g_object_unref(mem);
	}
}
