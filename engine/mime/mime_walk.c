/*
 * The walk over GMime's tree of one mail: counting parts, choosing the
 * body parts, copying attachments out, unpacking winmail.dat, noting
 * attached messages and the parts of a delivery report.
 *
 * SECURITY: the tree is built from an untrusted mail. The count pass runs
 * first, with our own depth cap (at most DEPTH_HARD_MAX, whatever the
 * configuration), so nothing is decoded or copied for a mail over
 * max_parts or max_depth. The sorting pass is a recursion over the same,
 * already-checked tree. Decoded attachments are bounded by the raw size;
 * texts by max_text_bytes; names by NAME_MAX_BYTES. Files unpacked from a
 * winmail.dat count against max_parts.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/mime/mime_gmime.h"
#include "engine/mime/mime_internal.h"
#include "engine/util/xalloc.h"

int walk_count(GMimeObject *obj, uint32_t depth, struct walk *wk)
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
			if (walk_count(g_mime_multipart_get_part(mp, i), depth + 1, wk) < 0)
				return -1;
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (inner)
			return walk_count(g_mime_message_get_mime_part(inner), depth + 1, wk);
	}
	return 0;
}

void walk_release(struct walk *wk)
{
	free(wk->att);
	free(wk->locations);
	free(wk->msgs);
	wk->att = NULL;
	wk->locations = NULL;
	wk->msgs = NULL;
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

static struct attachment *attachment_new(struct walk *wk, const char *location)
{
	if (wk->natt == wk->catt) {
		wk->catt = wk->catt ? 2 * wk->catt : 8;
		wk->att = xreallocarray(wk->att, wk->catt, sizeof(*wk->att));
		wk->locations = xreallocarray(wk->locations, wk->catt, sizeof(*wk->locations));
	}
	wk->locations[wk->natt] = location;
	struct attachment *at = &wk->att[wk->natt++];
	memset(at, 0, sizeof(*at));
	return at;
}

static void attachment_set_data(struct walk *wk, struct attachment *at, const void *d, size_t n)
{
	at->data = (const unsigned char *)arena_memdup0(wk->a, n ? d : "", n);
	at->size = n;
	mime_sha256_hex(at->data, n, at->sha256);
}

GMimeStream *walk_part_decode(GMimePart *part)
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

static const char *location_of(struct walk *wk, GMimeObject *obj)
{
	const char *loc = g_mime_object_get_header(obj, "Content-Location");
	if (!loc)
		return NULL;
	while (*loc == ' ' || *loc == '\t')
		loc++;
	return *loc ? clean_name(wk->a, loc) : NULL;
}

static void attachment_add_part(struct walk *wk, GMimePart *part, GByteArray *ba)
{
	GMimeObject *obj = GMIME_OBJECT(part);
	struct attachment *at = attachment_new(wk, location_of(wk, obj));
	const char *disp = g_mime_object_get_disposition(obj);
	const char *cid = g_mime_object_get_content_id(obj);

	at->filename = clean_name(wk->a, g_mime_part_get_filename(part));
	at->content_type = content_type_lower(wk->a, obj);
	at->content_id = cid && *cid ? clean_name(wk->a, cid) : NULL;
	at->is_inline = disp && strcasecmp(disp, "inline") == 0;
	attachment_set_data(wk, at, ba && ba->len ? ba->data : NULL, ba ? ba->len : 0);
}

/* An attached message is kept whole, as a .eml file. */
static void attachment_add_message(struct walk *wk, GMimeMessagePart *mp)
{
	GMimeObject *obj = GMIME_OBJECT(mp);
	GMimeMessage *inner = g_mime_message_part_get_message(mp);
	struct attachment *at = attachment_new(wk, NULL);
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
	GByteArray *ba = stream_bytes(mem);
	attachment_set_data(wk, at, ba && ba->len ? ba->data : NULL, ba ? ba->len : 0);
	g_object_unref(mem);

	if (wk->nmsgs == wk->cmsgs) {
		wk->cmsgs = wk->cmsgs ? 2 * wk->cmsgs : 4;
		wk->msgs = xreallocarray(wk->msgs, wk->cmsgs, sizeof(*wk->msgs));
	}
	wk->msgs[wk->nmsgs].part = mp;
	wk->msgs[wk->nmsgs].attachment = wk->natt - 1;
	wk->nmsgs++;
}

static bool is_tnef(GMimeObject *obj, GMimePart *part)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	if (ct && (g_mime_content_type_is_type(ct, "application", "ms-tnef") ||
		   g_mime_content_type_is_type(ct, "application", "vnd.ms-tnef")))
		return true;
	const char *fn = g_mime_part_get_filename(part);
	return fn && strcasecmp(fn, "winmail.dat") == 0;
}

/*
 * winmail.dat ► its files as attachments. 1 when unpacked (the blob itself
 * is then not kept), 0 when it is not readable TNEF (kept as it is), -1
 * when its files break max_parts.
 */
static int tnef_add(struct walk *wk, GByteArray *ba)
{
	struct tnef_result res;
	uint32_t max = wk->lim->max_parts;
	size_t room = wk->nparts < max ? max - wk->nparts : 0;
	int rc = mime_tnef_unpack(wk->a, ba ? ba->data : NULL, ba ? ba->len : 0, room,
				  wk->lim->max_text_bytes, &res);
	if (rc == -2)
		return err_set(wk->err, ERR_MESSAGE,
			       "mime: winmail.dat holds more files than the limit of %u parts (or "
			       "1000) allows", max);
	if (rc < 0)
		return 0;
	wk->nparts += (uint32_t)res.nfiles;
	for (size_t i = 0; i < res.nfiles; i++) {
		const struct tnef_file *f = &res.files[i];
		struct attachment *at = attachment_new(wk, NULL);
		at->filename = f->filename;
		at->content_type = f->content_type;
		at->content_id = f->content_id;
		at->is_inline = f->is_inline;
		at->from_tnef = true;
		at->data = f->data;
		at->size = f->size;
		mime_sha256_hex(at->data, at->size, at->sha256);
	}
	if (res.text && !wk->tnef_text) {
		wk->tnef_text = res.text;
		wk->tnef_text_len = res.text_len;
	}
	if (res.html && !wk->tnef_html) {
		wk->tnef_html = res.html;
		wk->tnef_html_len = res.html_len;
	}
	return 1;
}

static int leaf_add(struct walk *wk, GMimePart *part)
{
	GMimeObject *obj = GMIME_OBJECT(part);
	GMimeStream *mem = walk_part_decode(part);
	GByteArray *ba = stream_bytes(mem);
	int rc = is_tnef(obj, part) ? tnef_add(wk, ba) : 0;
	if (rc == 0)
		attachment_add_part(wk, part, ba);
	g_object_unref(mem);
	return rc < 0 ? -1 : 0;
}

/*
 * Leaves become the text body, the HTML body or attachments. The body is
 * the first text/plain (and the first text/html) that is neither marked as
 * an attachment nor named; attached messages never provide the body.
 */
int walk_parts(GMimeObject *obj, struct walk *wk)
{
	if (!obj)
		return 0;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++)
			if (walk_parts(g_mime_multipart_get_part(mp, i), wk) < 0)
				return -1;
		return 0;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		attachment_add_message(wk, GMIME_MESSAGE_PART(obj));
		return 0;
	}
	if (!GMIME_IS_PART(obj))
		return 0;
	GMimePart *part = GMIME_PART(obj);
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *disp = g_mime_object_get_disposition(obj);
	bool attached = (disp && strcasecmp(disp, "attachment") == 0) ||
			g_mime_part_get_filename(part) != NULL;
	if (!attached && ct) {
		if (!wk->text_part && g_mime_content_type_is_type(ct, "text", "plain")) {
			wk->text_part = part;
			return 0;
		}
		if (!wk->html_part && g_mime_content_type_is_type(ct, "text", "html")) {
			wk->html_part = part;
			return 0;
		}
	}
	if (ct && !wk->dsn_status &&
	    (g_mime_content_type_is_type(ct, "message", "delivery-status") ||
	     g_mime_content_type_is_type(ct, "message", "global-delivery-status")))
		wk->dsn_status = obj;
	if (ct && !wk->dsn_headers && g_mime_content_type_is_type(ct, "text", "rfc822-headers"))
		wk->dsn_headers = obj;
	return leaf_add(wk, part);
}

const char *walk_part_text(struct walk *wk, GMimePart *part, size_t max, size_t *len_r,
			   bool *cut_r)
{
	GMimeObject *obj = GMIME_OBJECT(part);
	const char *cs = g_mime_object_get_content_type_parameter(obj, "charset");
	GMimeStream *mem = walk_part_decode(part);
	GByteArray *ba = stream_bytes(mem);
	const char *raw = ba && ba->len ? (const char *)ba->data : "";
	size_t rawlen = ba ? ba->len : 0;
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	char sniffed[64];
	if ((!cs || !*cs) && ct && g_mime_content_type_is_type(ct, "text", "html"))
		cs = mime_html_charset_sniff(raw, rawlen, sniffed, sizeof(sniffed));
	bool cut = false;
	size_t len = 0;
	const char *res = mime_text_to_utf8(wk->a, raw, rawlen, cs, wk->opt->charset_fallback, max,
					    &len, &cut);
	g_object_unref(mem);

	const char *fmt = g_mime_object_get_content_type_parameter(obj, "format");
	if (fmt && strcasecmp(fmt, "flowed") == 0 && ct &&
	    g_mime_content_type_is_type(ct, "text", "plain")) {
		const char *ds = g_mime_object_get_content_type_parameter(obj, "delsp");
		bool cut2 = false;
		res = mime_flowed_decode(wk->a, res, len, ds && strcasecmp(ds, "yes") == 0, max, &len,
					 &cut2);
		cut = cut || cut2;
	}
	*len_r = len;
	if (cut_r)
		*cut_r = cut;
	return res;
}
