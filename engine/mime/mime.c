/*
 * Raw bytes ► struct message, with GMime 3 (the only GMime user in the tree;
 * the GMime side is split over mime_walk.c, mime_header.c and
 * mime_attached.c, which share mime_gmime.h).
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
 *   - files unpacked from a winmail.dat count as parts (mime_tnef.c checks
 *     the TNEF stream before libytnef reads it);
 *   - decoded text and HTML are capped at max_text_bytes (the texts of all
 *     attached messages together, too);
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
#include "engine/mime/mime_gmime.h"
#include "engine/mime/mime_internal.h"
#include "engine/net/digest.h"

/* Read-only after mime_global_init(); used when the account has no fallback charset. */
static GMimeParserOptions *parser_options;

void mime_limits_default(struct mime_limits *lim)
{
	lim->max_size = 25u * 1024 * 1024;
	lim->max_parts = 500;
	lim->max_depth = 20;
	lim->max_header_bytes = 1024 * 1024;
	lim->max_text_bytes = 4u * 1024 * 1024;
}

void mime_options_default(struct mime_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	mime_limits_default(&opt->limits);
}

/*
 * Raw 8-bit header text: UTF-8 when valid, else the fallback charset
 * (LENIENCY.md). GMime keeps a pointer to the options in the headers it
 * builds, so they must outlive the parsed message.
 */
static GMimeParserOptions *options_new(const char *fallback)
{
	const char *charsets[] = { "UTF-8", fallback ? fallback : "windows-1252", NULL };
	GMimeParserOptions *po = g_mime_parser_options_new();
	g_mime_parser_options_set_address_compliance_mode(po, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(po, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_rfc2047_compliance_mode(po, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_allow_addresses_without_domain(po, TRUE);
	g_mime_parser_options_set_fallback_charsets(po, charsets);
	return po;
}

void mime_global_init(void)
{
	if (parser_options)
		return;
	g_mime_init();
	xmlInitParser();
	parser_options = options_new(NULL);
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

void mime_raw_sha256_hex(const void *raw, size_t len, char out[65])
{
	struct digest_sha256 *d = digest_sha256_new();
	bool cr = false;
	digest_sha256_update_crlf(d, raw, len, &cr);
	digest_sha256_final_hex(&d, out);
}

const char *message_header(const struct message *msg, const char *name)
{
	for (size_t i = 0; i < msg->nheaders; i++)
		if (strcasecmp(msg->headers[i].name, name) == 0)
			return msg->headers[i].value;
	return NULL;
}

/* The HTML body kept as an attachment too (the job's attach_html). */
static void html_attach(struct arena *a, struct message *msg)
{
	size_t n = msg->nattachments + 1;
	struct attachment *v = arena_alloc(a, n * sizeof(*v));
	if (msg->nattachments)
		memcpy(v, msg->attachments, msg->nattachments * sizeof(*v));
	struct attachment *at = &v[n - 1];
	at->filename = "message.html";
	at->content_type = "text/html";
	at->data = (const unsigned char *)msg->html;
	at->size = msg->html_len;
	mime_sha256_hex(at->data, at->size, at->sha256);
	msg->attachments = v;
	msg->nattachments = n;
}

/* Text and HTML bodies, inline links and the attachments list. */
static void bodies_fill(struct walk *wk, struct message *msg)
{
	const struct mime_limits *lim = wk->lim;
	bool cut = false, cut2 = false;

	if (wk->html_part) {
		msg->html = walk_part_text(wk, wk->html_part, lim->max_text_bytes, &msg->html_len,
					   &cut);
	} else if (wk->tnef_html && !wk->text_part) {
		msg->html = wk->tnef_html;
		msg->html_len = wk->tnef_html_len;
	}
	if (wk->natt) {
		msg->attachments = arena_alloc(wk->a, wk->natt * sizeof(*msg->attachments));
		memcpy(msg->attachments, wk->att, wk->natt * sizeof(*msg->attachments));
		msg->nattachments = wk->natt;
	}
	mime_inline_link(wk->a, msg, wk->locations, lim->max_text_bytes);
	if (wk->text_part) {
		msg->text = walk_part_text(wk, wk->text_part, lim->max_text_bytes, &msg->text_len,
					   &cut2);
	} else if (msg->html) {
		msg->text = html_text_convert(wk->a, msg->html, msg->html_len, lim->max_text_bytes,
					      &msg->text_len, &cut2);
	} else if (wk->tnef_text) {
		msg->text = wk->tnef_text;
		msg->text_len = wk->tnef_text_len;
	} else {
		msg->text = "";
		msg->text_len = 0;
	}
	msg->truncated = cut || cut2 || wk->truncated;
	if (wk->opt->attach_html && msg->html)
		html_attach(wk->a, msg);
}

int mime_parse(const char *raw, size_t len, const struct mime_options *opt,
	       struct arena *arena, struct message **msg_r, struct err *err)
{
	const struct mime_limits *lim = &opt->limits;
	struct walk wk;
	GByteArray *arr = NULL;
	GMimeStream *stream = NULL;
	GMimeMessage *m = NULL;
	GMimeParserOptions *po = parser_options, *own_po = NULL;
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
	if (opt->charset_fallback && *opt->charset_fallback)
		po = own_po = options_new(opt->charset_fallback);

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
	m = g_mime_parser_construct_message(parser, po);
	g_object_unref(parser);
	if (!m) {
		err_set(err, ERR_MESSAGE, "mime: not a mail message");
		goto out;
	}

	wk.opt = opt;
	wk.lim = lim;
	wk.a = arena;
	wk.err = err;
	GMimeObject *body = g_mime_message_get_mime_part(m);
	if (walk_count(body, 0, &wk) < 0)
		goto out;
	if (wk.nparts > lim->max_parts) {
		err_set(err, ERR_MESSAGE, "mime: %u parts exceed the limit of %u", wk.nparts,
			lim->max_parts);
		goto out;
	}

	msg = arena_alloc(arena, sizeof(*msg));
	header_copy(arena, m, msg);
	if (msg->nheaders == 0) {
		err_set(err, ERR_MESSAGE, "mime: no header fields");
		goto out;
	}
	msg->raw_size = len;
	mime_raw_sha256_hex(raw, len, msg->raw_sha256);
	header_envelope(arena, po, m, msg);

	if (walk_parts(body, &wk) < 0)
		goto out;
	bodies_fill(&wk, msg);
	attached_collect(&wk, msg);
	msg->truncated = msg->truncated || wk.truncated;
	dsn_collect(&wk, m, msg);
	msg->client = mime_client_detect(msg);
	*msg_r = msg;
	rc = 0;
out:
	walk_release(&wk);
	if (m)
		g_object_unref(m);
	if (stream)
		g_object_unref(stream);
	/* frees the array only: the bytes are the caller's */
	if (arr)
		(void)g_byte_array_free(arr, FALSE);
	if (own_po)
		g_mime_parser_options_free(own_po);
	return rc;
}
