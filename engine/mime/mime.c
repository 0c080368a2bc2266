/*
 * Raw bytes ► struct message, with GMime 3 (the only GMime user in the tree).
 *
 * SECURITY: the bytes come from anyone who can send mail. GMime has no caps
 * of its own (100,000 parts cost ~200 MB, a 20 MB header ~105 MB), so:
 *   - the raw size is checked before anything else;
 *   - the top-level header block is measured before GMime sees it;
 *   - a cheap pre-scan (mime_prescan.c) bounds the number of parts GMime
 *     could build, so a mail made of nothing but boundaries is refused
 *     before it costs memory;
 *   - the exact part count and nesting depth are checked on GMime's tree
 *     (walked by our own depth-capped recursion, which also descends into
 *     attached messages) before anything is decoded or copied;
 *   - decoded text and HTML are capped at max_text_bytes;
 *   - every string copied out is repaired to valid UTF-8 without NUL.
 * GMime itself stops nesting at 1024 levels (MAX_LEVEL in gmime-parser.c),
 * which bounds its own recursion; ours stops at lim->max_depth.
 * Nothing from GMime outlives mime_parse(): all results are arena copies.
 */
#include "engine/mime/message.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>
#include <libxml/parser.h>

#include "engine/mime/html_text.h"
#include "engine/mime/mime_internal.h"
#include "engine/net/digest.h"
#include "engine/util/xalloc.h"

/* Longest filename, content type or content-id we keep, in bytes. */
#define NAME_MAX_BYTES 1024
/* Longest header value we keep; the header block is capped anyway. */
#define HEADER_VALUE_MAX (1024 * 1024)
/* Our recursion's own bound, whatever the configuration says (GMime's is 1024). */
#define DEPTH_HARD_MAX 512
/* cid: references in the HTML we compare with attachments. */
#define CID_REFS_MAX 1000
/* RFC 6854 groups do not nest; GMime's parser may still build odd trees. */
#define GROUP_DEPTH_MAX 4

/* Read-only after mime_global_init(); GMime only reads parser options. */
static GMimeParserOptions *parser_options;

void mime_limits_default(struct mime_limits *lim)
{
	lim->max_size = 25u * 1024 * 1024;
	lim->max_parts = 500;
	lim->max_depth = 20;
	lim->max_header_bytes = 1024 * 1024;
	lim->max_text_bytes = 4u * 1024 * 1024;
}

void mime_global_init(void)
{
	static const char *fallback[] = { "UTF-8", "windows-1252", NULL };

	if (parser_options)
		return;
	g_mime_init();
	xmlInitParser();
	parser_options = g_mime_parser_options_new();
	g_mime_parser_options_set_address_compliance_mode(parser_options, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(parser_options,
							    GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_rfc2047_compliance_mode(parser_options, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_allow_addresses_without_domain(parser_options, TRUE);
	/* raw 8-bit header text: UTF-8 when valid, else windows-1252 (LENIENCY.md) */
	g_mime_parser_options_set_fallback_charsets(parser_options, fallback);
	mime_charsets_pin();
}

void mime_global_shutdown(void)
{
	if (!parser_options)
		return;
	g_mime_parser_options_free(parser_options);
	parser_options = NULL;
	mime_charsets_unpin();
	g_mime_shutdown();
	xmlCleanupParser();
}

void mime_sha256_hex(const void *data, size_t len, char out[65])
{
	digest_sha256_hex(data, len, out);
}

const char *message_header(const struct message *msg, const char *name)
{
	for (size_t i = 0; i < msg->nheaders; i++)
		if (strcasecmp(msg->headers[i].name, name) == 0)
			return msg->headers[i].value;
	return NULL;
}

/* ---- the tree walk ---- */

struct walk {
	const struct mime_limits *lim;
	struct arena *a;
	struct err *err;
	uint32_t nparts;
	GMimePart *text_part;   /* borrowed from GMime's tree */
	GMimePart *html_part;
	struct attachment *att; /* malloc'd while walking, copied to the arena */
	size_t natt, catt;
};

static int parts_count(GMimeObject *obj, uint32_t depth, struct walk *wk)
{
	if (!obj)
		return 0;
	uint32_t max = wk->lim->max_depth < DEPTH_HARD_MAX ? wk->lim->max_depth : DEPTH_HARD_MAX;
	if (depth > max)
		return err_set(wk->err, ERR_MESSAGE, "mime: parts nested deeper than %u levels", max);
	if (wk->nparts < UINT32_MAX)
		wk->nparts++;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++)
			if (parts_count(g_mime_multipart_get_part(mp, i), depth + 1, wk) < 0)
				return -1;
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (inner)
			return parts_count(g_mime_message_get_mime_part(inner), depth + 1, wk);
	}
	return 0;
}

static const char *clean_name(struct arena *a, const char *s)
{
	if (!s)
		return "";
	return mime_utf8_clean(a, s, strlen(s), true, NAME_MAX_BYTES, NULL, NULL);
}

static const char *content_type_lower(struct arena *a, GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	if (!ct)
		return "application/octet-stream";
	char *mt = g_mime_content_type_get_mime_type(ct);
	char *res = mime_utf8_clean(a, mt ? mt : "", mt ? strlen(mt) : 0, true, NAME_MAX_BYTES,
				    NULL, NULL);
	g_free(mt);
	for (char *p = res; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + ('a' - 'A'));
	return res;
}

static struct attachment *attachment_new(struct walk *wk)
{
	if (wk->natt == wk->catt) {
		wk->catt = wk->catt ? 2 * wk->catt : 8;
		wk->att = xreallocarray(wk->att, wk->catt, sizeof(*wk->att));
	}
	struct attachment *at = &wk->att[wk->natt++];
	memset(at, 0, sizeof(*at));
	return at;
}

static void attachment_set_data(struct walk *wk, struct attachment *at, GByteArray *ba)
{
	size_t n = ba ? ba->len : 0;
	at->data = (const unsigned char *)arena_memdup0(wk->a, n ? (const char *)ba->data : "", n);
	at->size = n;
	mime_sha256_hex(at->data, n, at->sha256);
}

/* Decoded (transfer-encoding removed) content of a leaf, in a new stream. */
static GMimeStream *part_decode(GMimePart *part)
{
	GMimeStream *mem = g_mime_stream_mem_new();
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	if (dw)
		g_mime_data_wrapper_write_to_stream(dw, mem);
	return mem;
}

static GByteArray *stream_bytes(GMimeStream *mem)
{
	return g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
}

static void attachment_add_part(struct walk *wk, GMimePart *part)
{
	GMimeObject *obj = GMIME_OBJECT(part);
	struct attachment *at = attachment_new(wk);
	const char *disp = g_mime_object_get_disposition(obj);
	const char *cid = g_mime_object_get_content_id(obj);

	at->filename = clean_name(wk->a, g_mime_part_get_filename(part));
	at->content_type = content_type_lower(wk->a, obj);
	at->content_id = cid && *cid ? clean_name(wk->a, cid) : NULL;
	at->is_inline = disp && strcasecmp(disp, "inline") == 0;
	GMimeStream *mem = part_decode(part);
	attachment_set_data(wk, at, stream_bytes(mem));
	g_object_unref(mem);
}

/* An attached message is kept whole, as a .eml file. */
static void attachment_add_message(struct walk *wk, GMimeMessagePart *mp)
{
	GMimeObject *obj = GMIME_OBJECT(mp);
	GMimeMessage *inner = g_mime_message_part_get_message(mp);
	struct attachment *at = attachment_new(wk);
	const char *disp = g_mime_object_get_disposition(obj);
	const char *name = g_mime_object_get_content_disposition_parameter(obj, "filename");
	const char *cid = g_mime_object_get_content_id(obj);

	if (!name || !*name)
		name = g_mime_object_get_content_type_parameter(obj, "name");
	if (name && *name) {
		at->filename = clean_name(wk->a, name);
	} else {
		const char *subj = inner ? g_mime_message_get_subject(inner) : NULL;
		if (subj && *subj) {
			const char *s = clean_name(wk->a, subj);
			char *f = arena_printf(wk->a, "%.200s.eml", s);
			/* a subject is not a file name: no path separators or controls */
			for (char *p = f; *p; p++)
				if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20)
					*p = '_';
			at->filename = mime_utf8_clean(wk->a, f, strlen(f), false, NAME_MAX_BYTES,
						       NULL, NULL);
		} else {
			at->filename = "message.eml";
		}
	}
	at->content_type = content_type_lower(wk->a, obj);
	at->content_id = cid && *cid ? clean_name(wk->a, cid) : NULL;
	at->is_inline = disp && strcasecmp(disp, "inline") == 0;
	GMimeStream *mem = g_mime_stream_mem_new();
	if (inner)
		g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem);
	attachment_set_data(wk, at, stream_bytes(mem));
	g_object_unref(mem);
}

/*
 * Leaves become the text body, the HTML body or attachments. The body is
 * the first text/plain (and the first text/html) that is neither marked as
 * an attachment nor named; attached messages never provide the body.
 */
static void parts_walk(GMimeObject *obj, struct walk *wk)
{
	if (!obj)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++)
			parts_walk(g_mime_multipart_get_part(mp, i), wk);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		attachment_add_message(wk, GMIME_MESSAGE_PART(obj));
		return;
	}
	if (!GMIME_IS_PART(obj))
		return;
	GMimePart *part = GMIME_PART(obj);
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *disp = g_mime_object_get_disposition(obj);
	bool attached = (disp && strcasecmp(disp, "attachment") == 0) ||
			g_mime_part_get_filename(part) != NULL;
	if (!attached && ct) {
		if (!wk->text_part && g_mime_content_type_is_type(ct, "text", "plain")) {
			wk->text_part = part;
			return;
		}
		if (!wk->html_part && g_mime_content_type_is_type(ct, "text", "html")) {
			wk->html_part = part;
			return;
		}
	}
	attachment_add_part(wk, part);
}

static const char *body_text(struct walk *wk, GMimePart *part, size_t *len_r, bool *cut_r)
{
	const char *cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
	GMimeStream *mem = part_decode(part);
	GByteArray *ba = stream_bytes(mem);
	const char *res = mime_text_to_utf8(wk->a, ba && ba->len ? (const char *)ba->data : "",
					    ba ? ba->len : 0, cs, wk->lim->max_text_bytes, len_r,
					    cut_r);
	g_object_unref(mem);
	return res;
}

/* Marks attachments the HTML shows through "cid:" as inline. */
static void cid_mark_inline(struct message *msg)
{
	const char *h = msg->html;
	size_t n = msg->html_len, refs = 0;
	if (!h || msg->nattachments == 0)
		return;
	for (size_t i = 0; i + 4 <= n && refs < CID_REFS_MAX;) {
		size_t off = mime_find_ci(h + i, n - i, "cid:");
		if (off == n - i)
			break;
		i += off + 4;
		size_t s = i;
		while (i < n && h[i] != '"' && h[i] != '\'' && h[i] != '>' && h[i] != ')' &&
		       h[i] != ' ' && h[i] != '\t' && h[i] != '\n')
			i++;
		refs++;
		for (size_t k = 0; k < msg->nattachments; k++) {
			const char *cid = msg->attachments[k].content_id;
			if (cid && strlen(cid) == i - s && strncasecmp(cid, h + s, i - s) == 0)
				msg->attachments[k].is_inline = true;
		}
	}
}

/* ---- addresses and headers ---- */

static size_t addr_count(InternetAddressList *l, unsigned depth)
{
	size_t n = 0;
	int len = l ? internet_address_list_length(l) : 0;
	for (int i = 0; i < len; i++) {
		InternetAddress *ia = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(ia))
			n++;
		else if (INTERNET_ADDRESS_IS_GROUP(ia) && depth < GROUP_DEPTH_MAX)
			n += addr_count(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)),
					depth + 1);
	}
	return n;
}

static void addr_fill(struct arena *a, InternetAddressList *l, unsigned depth,
		      struct address_list *out, size_t cap)
{
	int len = l ? internet_address_list_length(l) : 0;
	for (int i = 0; i < len && out->n < cap; i++) {
		InternetAddress *ia = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			struct address *ad = &out->v[out->n++];
			ad->name = clean_name(a, internet_address_get_name(ia));
			ad->email = clean_name(
				a, internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
		} else if (INTERNET_ADDRESS_IS_GROUP(ia) && depth < GROUP_DEPTH_MAX) {
			addr_fill(a, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)),
				  depth + 1, out, cap);
		}
	}
}

static void addr_list(struct arena *a, InternetAddressList *l, struct address_list *out)
{
	size_t n = addr_count(l, 0);
	out->n = 0;
	out->v = n ? arena_alloc(a, n * sizeof(*out->v)) : NULL;
	addr_fill(a, l, 0, out, n);
}

static void addr_first(struct arena *a, InternetAddressList *l, struct address *out)
{
	struct address_list al;
	addr_list(a, l, &al);
	if (al.n) {
		*out = al.v[0];
	} else {
		out->name = "";
		out->email = "";
	}
}

static int header_offset_cmp(const void *a, const void *b)
{
	gint64 x = g_mime_header_get_offset(*(GMimeHeader *const *)a);
	gint64 y = g_mime_header_get_offset(*(GMimeHeader *const *)b);
	return x < y ? -1 : x > y;
}

/*
 * GMime 3 files the top-level Content-* headers under the body part, not
 * the message: merge both lists back into the order of the raw header
 * block by stream offset.
 */
static void headers_copy(struct arena *a, GMimeMessage *m, struct message *msg)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	GMimeObject *body = g_mime_message_get_mime_part(m);
	GMimeHeaderList *bl = body ? g_mime_object_get_header_list(body) : NULL;
	int n = hl ? g_mime_header_list_get_count(hl) : 0;
	int nb = bl ? g_mime_header_list_get_count(bl) : 0;
	size_t total = (size_t)(n > 0 ? n : 0) + (size_t)(nb > 0 ? nb : 0);

	msg->nheaders = 0;
	msg->headers = NULL;
	if (total == 0)
		return;
	GMimeHeader **v = xreallocarray(NULL, total, sizeof(*v));
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		if (h && g_mime_header_get_name(h))
			v[k++] = h;
	}
	for (int i = 0; i < nb; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(bl, i);
		if (h && g_mime_header_get_name(h) && g_mime_header_get_offset(h) >= 0)
			v[k++] = h;
	}
	qsort(v, k, sizeof(*v), header_offset_cmp);
	/* a header in both lists has one offset: keep it once */
	size_t kept = 0;
	for (size_t i = 0; i < k; i++) {
		gint64 off = g_mime_header_get_offset(v[i]);
		if (kept && off >= 0 && g_mime_header_get_offset(v[kept - 1]) == off)
			continue;
		v[kept++] = v[i];
	}
	k = kept;
	msg->headers = arena_alloc(a, k * sizeof(*msg->headers));
	for (size_t i = 0; i < k; i++) {
		const char *value = g_mime_header_get_value(v[i]);
		struct header *out = &msg->headers[msg->nheaders++];
		out->name = clean_name(a, g_mime_header_get_name(v[i]));
		out->value = value ? mime_utf8_clean(a, value, strlen(value), true,
						     HEADER_VALUE_MAX, NULL, NULL)
				   : "";
	}
	free(v);
}

/* "<a@b> <c@d>" ► "a@b"; GMime's parser first, a plain cut when it finds none. */
static const char *first_msgid(struct arena *a, const char *value)
{
	if (!value)
		return NULL;
	GMimeReferences *refs = g_mime_references_parse(parser_options, value);
	const char *res = NULL;
	if (refs && g_mime_references_length(refs) > 0) {
		const char *id = g_mime_references_get_message_id(refs, 0);
		if (id && *id)
			res = clean_name(a, id);
	}
	if (refs)
		g_mime_references_free(refs);
	if (res)
		return res;
	const char *s = value;
	while (*s == ' ' || *s == '\t' || *s == '<')
		s++;
	size_t n = strcspn(s, "> \t\r\n");
	return n ? mime_utf8_clean(a, s, n, true, NAME_MAX_BYTES, NULL, NULL) : NULL;
}

static void envelope_fill(struct arena *a, GMimeMessage *m, struct message *msg)
{
	const char *mid = g_mime_message_get_message_id(m);
	msg->message_id = mid && *mid ? clean_name(a, mid) : NULL;
	msg->in_reply_to = first_msgid(a, message_header(msg, "In-Reply-To"));
	msg->references = message_header(msg, "References");
	const char *subj = g_mime_message_get_subject(m);
	msg->subject = subj ? mime_utf8_clean(a, subj, strlen(subj), true, HEADER_VALUE_MAX, NULL,
					      NULL)
			    : "";
	addr_first(a, g_mime_message_get_from(m), &msg->from);
	addr_first(a, g_mime_message_get_reply_to(m), &msg->reply_to);
	addr_list(a, g_mime_message_get_to(m), &msg->to);
	addr_list(a, g_mime_message_get_cc(m), &msg->cc);
	GDateTime *d = g_mime_message_get_date(m);
	msg->date = d ? (time_t)g_date_time_to_unix(d) : 0;
}

/* ---- mime_parse ---- */

int mime_parse(const char *raw, size_t len, const struct mime_limits *lim,
	       struct arena *arena, struct message **msg_r, struct err *err)
{
	struct walk wk;
	GByteArray *arr = NULL;
	GMimeStream *stream = NULL;
	GMimeMessage *m = NULL;
	struct message *msg;
	int rc = -1;

	*msg_r = NULL;
	memset(&wk, 0, sizeof(wk));
	if (!parser_options)
		return err_set(err, ERR_FATAL, "mime: mime_global_init() was not called");
	if (len > lim->max_size || len > G_MAXUINT)
		return err_set(err, ERR_MESSAGE, "mime: message of %zu bytes exceeds the limit of %llu bytes",
			       len, (unsigned long long)lim->max_size);
	if (len == 0)
		return err_set(err, ERR_MESSAGE, "mime: empty message");

	/* an mbox "From " line (mail piped from an MDA) is not a header */
	size_t skip = 0;
	if (len > 5 && memcmp(raw, "From ", 5) == 0) {
		const char *nl = memchr(raw, '\n', len);
		skip = nl ? (size_t)(nl - raw) + 1 : len;
	}
	if (mime_prescan(raw + skip, len - skip, lim, err) < 0)
		return -1;

	/*
	 * Parse the caller's bytes in place: the array only borrows them (the
	 * stream is not their owner and is never written), and GMime's parts
	 * keep substreams of it instead of copies.
	 */
	arr = g_byte_array_new_take((guint8 *)(uintptr_t)(raw + skip), len - skip);
	stream = g_mime_stream_mem_new_with_byte_array(arr);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(parser, parser_options);
	g_object_unref(parser);
	if (!m) {
		err_set(err, ERR_MESSAGE, "mime: not a mail message");
		goto out;
	}

	wk.lim = lim;
	wk.a = arena;
	wk.err = err;
	GMimeObject *body = g_mime_message_get_mime_part(m);
	if (parts_count(body, 0, &wk) < 0)
		goto out;
	if (wk.nparts > lim->max_parts) {
		err_set(err, ERR_MESSAGE, "mime: %u parts exceed the limit of %u", wk.nparts,
			lim->max_parts);
		goto out;
	}

	msg = arena_alloc(arena, sizeof(*msg));
	headers_copy(arena, m, msg);
	if (msg->nheaders == 0) {
		err_set(err, ERR_MESSAGE, "mime: no header fields");
		goto out;
	}
	msg->raw_size = len;
	mime_sha256_hex(raw, len, msg->raw_sha256);
	envelope_fill(arena, m, msg);

	parts_walk(body, &wk);
	bool cut = false, cut2 = false;
	if (wk.html_part) {
		msg->html = body_text(&wk, wk.html_part, &msg->html_len, &cut);
		msg->truncated = cut;
	}
	if (wk.text_part) {
		msg->text = body_text(&wk, wk.text_part, &msg->text_len, &cut2);
	} else if (msg->html) {
		msg->text = html_text_convert(arena, msg->html, msg->html_len, lim->max_text_bytes,
					      &msg->text_len, &cut2);
	} else {
		msg->text = "";
		msg->text_len = 0;
	}
	msg->truncated = cut || cut2;
	if (wk.natt) {
		msg->attachments = arena_alloc(arena, wk.natt * sizeof(*msg->attachments));
		memcpy(msg->attachments, wk.att, wk.natt * sizeof(*msg->attachments));
		msg->nattachments = wk.natt;
	}
	cid_mark_inline(msg);
	*msg_r = msg;
	rc = 0;
out:
	free(wk.att);
	if (m)
		g_object_unref(m);
	if (stream)
		g_object_unref(stream);
	/* frees the array only: the bytes are the caller's */
	if (arr)
		(void)g_byte_array_free(arr, FALSE);
	return rc;
}
