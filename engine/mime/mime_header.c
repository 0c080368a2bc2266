/*
 * Header fields of a parsed mail: the top-level list in raw order, the
 * envelope (ids, subject, addresses, date), and the same for attached
 * messages.
 *
 * SECURITY: every value comes from an untrusted mail. GMime decodes RFC 2047
 * and raw 8-bit text (with the parse's fallback charsets); each string is
 * then copied into the arena as clean UTF-8 without NUL, cut at
 * NAME_MAX_BYTES or HEADER_VALUE_MAX. Address groups are flattened at most
 * GROUP_DEPTH_MAX levels deep.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/mime/mime_gmime.h"
#include "engine/mime/mime_internal.h"
#include "engine/util/xalloc.h"

/* RFC 6854 groups do not nest; GMime's parser may still build odd trees. */
#define GROUP_DEPTH_MAX 4

static const char *clean_name(struct arena *a, const char *s)
{
	if (!s)
		return "";
	return mime_utf8_clean(a, s, strlen(s), true, NAME_MAX_BYTES, NULL, NULL);
}


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
void header_copy(struct arena *a, GMimeMessage *m, struct message *msg)
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
const char *header_first_msgid(struct arena *a, GMimeParserOptions *po, const char *value)
{
	if (!value)
		return NULL;
	GMimeReferences *refs = g_mime_references_parse(po, value);
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

void header_envelope(struct arena *a, GMimeParserOptions *po, GMimeMessage *m,
		     struct message *msg)
{
	const char *mid = g_mime_message_get_message_id(m);
	msg->message_id = mid && *mid ? clean_name(a, mid) : NULL;
	msg->in_reply_to = header_first_msgid(a, po, message_header(msg, "In-Reply-To"));
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

void header_attached(struct arena *a, GMimeMessage *m, struct attached_message *am)
{
	const char *mid = g_mime_message_get_message_id(m);
	am->message_id = mid && *mid ? clean_name(a, mid) : NULL;
	const char *subj = g_mime_message_get_subject(m);
	am->subject = subj ? mime_utf8_clean(a, subj, strlen(subj), true, HEADER_VALUE_MAX, NULL,
					     NULL)
			   : "";
	addr_first(a, g_mime_message_get_from(m), &am->from);
	GDateTime *d = g_mime_message_get_date(m);
	am->date = d ? (time_t)g_date_time_to_unix(d) : 0;
}
