/*
 * Inline images: which attachments the HTML body shows, and one way to
 * refer to them (message.h, struct attachment).
 *
 *   - "cid:ID" anywhere in the HTML (img src, CSS url(), background) marks
 *     the attachment with that Content-ID inline;
 *   - a bare src/background value without a scheme ("image001.png", as
 *     Outlook writes when it rebuilds a forwarded mail) that equals an
 *     attachment's file name or Content-Location marks it inline too, and is
 *     rewritten to "cid:" + its Content-ID (the file name when it has none).
 *
 * SECURITY: the HTML is untrusted. It is scanned once for "cid:" and once
 * for attribute values; at most REFS_MAX references are looked at, each
 * compared with every attachment (at most max_parts of them), and the
 * rewritten HTML is built in a capped buffer. A rewrite that would pass the
 * cap is left undone (the reference just stays bare).
 */
#include <string.h>
#include <strings.h>

#include "engine/mime/mime_internal.h"
#include "engine/util/buf.h"

/* References looked at per mail: a hostile HTML could hold millions. */
#define REFS_MAX 1000
/* Longest reference value compared; file names are capped at 1 KB anyway. */
#define REF_MAX 1024

size_t mime_html_attr_value(const char *eq, const char *end, size_t max, const char **v_r)
{
	const char *v = eq + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	char q = (v < end && (*v == '"' || *v == '\'')) ? *v++ : 0;
	const char *ve = v;
	while (ve < end && (size_t)(ve - v) < max &&
	       (q ? *ve != q : (*ve != ' ' && *ve != '>' && *ve != '\t' && *ve != '\n' && *ve != '\r')))
		ve++;
	*v_r = v;
	return (size_t)(ve - v);
}

static void cid_mark(struct message *msg)
{
	const char *h = msg->html;
	size_t n = msg->html_len, refs = 0;
	for (size_t i = 0; i + 4 <= n && refs < REFS_MAX;) {
		size_t off = mime_find_ci(h + i, n - i, "cid:");
		if (off == n - i)
			break;
		i += off + 4;
		size_t s = i;
		while (i < n && h[i] != '"' && h[i] != '\'' && h[i] != '>' && h[i] != ')' &&
		       h[i] != ' ' && h[i] != '\t' && h[i] != '\n' && i - s < REF_MAX)
			i++;
		refs++;
		for (size_t k = 0; k < msg->nattachments; k++) {
			const char *cid = msg->attachments[k].content_id;
			if (cid && strlen(cid) == i - s && strncasecmp(cid, h + s, i - s) == 0)
				msg->attachments[k].is_inline = true;
		}
	}
}

/* The attachment a bare reference names, or -1. */
static long bare_target(const struct message *msg, const char *const *locations, const char *v,
			size_t n)
{
	for (size_t k = 0; k < msg->nattachments; k++) {
		const struct attachment *at = &msg->attachments[k];
		if (strncmp(at->content_type, "message/", 8) == 0)
			continue;
		const char *fn = at->filename;
		if (fn[0] && strlen(fn) == n && strncasecmp(fn, v, n) == 0)
			return (long)k;
		const char *loc = locations ? locations[k] : NULL;
		if (loc && strlen(loc) == n && strncasecmp(loc, v, n) == 0)
			return (long)k;
	}
	return -1;
}

static bool attr_is(const char *h, const char *eq, const char *name)
{
	size_t nl = strlen(name);
	const char *e = eq;
	while (e > h && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if ((size_t)(e - h) < nl + 1)
		return false;
	const char *s = e - nl;
	if (strncasecmp(s, name, nl) != 0)
		return false;
	/* a whole attribute name: preceded by white space */
	return s[-1] == ' ' || s[-1] == '\t' || s[-1] == '\n' || s[-1] == '\r';
}

/* A value that is a URL with a scheme, an absolute path or a fragment. */
static bool has_scheme(const char *v, size_t n)
{
	if (n == 0 || v[0] == '/' || v[0] == '#')
		return true;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == ':')
			return true;
		if (v[i] == '/' || v[i] == '?')
			return false;
	}
	return false;
}

void mime_inline_link(struct arena *a, struct message *msg, const char *const *locations,
		      size_t max)
{
	const char *h = msg->html;
	size_t n = msg->html_len, refs = 0, copied = 0;
	struct buf out;
	bool rewrote = false;

	if (!h || msg->nattachments == 0)
		return;
	cid_mark(msg);
	buf_init(&out, max);
	for (const char *p = h, *end = h + n; p < end && refs < REFS_MAX;) {
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (!eq)
			break;
		p = eq + 1;
		if (!attr_is(h, eq, "src") && !attr_is(h, eq, "background"))
			continue;
		const char *v;
		size_t vn = mime_html_attr_value(eq, end, REF_MAX, &v);
		p = v + vn;
		refs++;
		if (has_scheme(v, vn))
			continue;
		long k = bare_target(msg, locations, v, vn);
		if (k < 0)
			continue;
		struct attachment *at = &msg->attachments[k];
		at->is_inline = true;
		if (!at->content_id)
			at->content_id = at->filename[0] ? at->filename : locations[k];
		/* copy up to the value, then the cid: form in its place */
		size_t upto = (size_t)(v - h);
		buf_add(&out, h + copied, upto - copied);
		buf_adds(&out, "cid:");
		buf_adds(&out, at->content_id);
		copied = upto + vn;
		rewrote = true;
	}
	if (!rewrote)
		goto out;
	buf_add(&out, h + copied, n - copied);
	if (out.failed)
		goto out; /* over the cap: the references stay bare, the marks stay */
	msg->html = mime_utf8_clean(a, buf_str(&out), out.len, false, max, &msg->html_len, NULL);
out:
	buf_release(&out);
}
