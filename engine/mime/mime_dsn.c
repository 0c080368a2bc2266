/*
 * Delivery status notifications (RFC 3464): the fields of a
 * message/delivery-status body, and the Message-ID of returned headers.
 *
 * SECURITY: the report is untrusted text. It is read line by line, at most
 * DSN_SCAN_MAX bytes, folded lines joined only up to FIELD_MAX bytes; every
 * value is copied out as clean UTF-8 of bounded length.
 */
#include <string.h>
#include <strings.h>

#include "engine/mime/mime_internal.h"

#define DSN_SCAN_MAX (64 * 1024)
#define FIELD_MAX 1024
/* Recipient blocks looked at before giving up on finding a failed one. */
#define RECIPIENTS_MAX 1000

struct dsn_block {
	char recipient[FIELD_MAX];
	char action[64];
	char status[64];
	bool any;
};

/* Copies a field value, trimmed, into out (cut at outlen-1). */
static void value_copy(const char *v, size_t n, char *out, size_t outlen)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

/* "rfc822; user@example.com" ► "user@example.com" (address type removed). */
static void recipient_strip(char *s)
{
	char *semi = strchr(s, ';');
	if (!semi)
		return;
	char *v = semi + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	memmove(s, v, strlen(v) + 1);
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
}

static char *msgid_strip(struct arena *a, const char *v)
{
	while (*v == ' ' || *v == '\t' || *v == '<')
		v++;
	size_t n = strcspn(v, "> \t\r\n");
	return n ? mime_utf8_clean(a, v, n, true, FIELD_MAX, NULL, NULL) : NULL;
}

static bool block_better(const struct dsn_block *cand, const struct dsn_block *cur)
{
	if (!cand->any)
		return false;
	if (!cur->any)
		return true;
	/* a failed recipient is what a bounce is about */
	return strcasecmp(cand->action, "failed") == 0 && strcasecmp(cur->action, "failed") != 0;
}

static void action_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + ('a' - 'A'));
}

void mime_dsn_fields(struct arena *a, const char *s, size_t len, struct message *msg)
{
	struct dsn_block cur, best;
	char field[FIELD_MAX];
	char orig_msgid[FIELD_MAX] = "";
	size_t nblocks = 0, fl = 0;

	memset(&cur, 0, sizeof(cur));
	memset(&best, 0, sizeof(best));
	if (len > DSN_SCAN_MAX)
		len = DSN_SCAN_MAX;
	/* a final empty line flushes the last field and block */
	for (size_t i = 0; i <= len && nblocks < RECIPIENTS_MAX;) {
		const char *line = s + i;
		const char *nl = i < len ? memchr(line, '\n', len - i) : NULL;
		size_t n = i < len ? (nl ? (size_t)(nl - line) : len - i) : 0;
		i = nl ? i + n + 1 : (i < len ? len : len + 1);
		if (n && line[n - 1] == '\r')
			n--;
		if (n && (line[0] == ' ' || line[0] == '\t')) {
			/* folded: continue the field */
			size_t room = sizeof(field) - 1 - fl;
			size_t k = n < room ? n : room;
			memcpy(field + fl, line, k);
			fl += k;
			continue;
		}
		/* the previous field is complete */
		if (fl) {
			field[fl] = '\0';
			char *colon = strchr(field, ':');
			if (colon) {
				size_t nn = (size_t)(colon - field);
				const char *v = colon + 1;
				size_t vn = strlen(v);
				if (nn == 15 && strncasecmp(field, "Final-Recipient", nn) == 0) {
					value_copy(v, vn, cur.recipient, sizeof(cur.recipient));
					cur.any = true;
				} else if (nn == 6 && strncasecmp(field, "Action", nn) == 0) {
					value_copy(v, vn, cur.action, sizeof(cur.action));
					cur.any = true;
				} else if (nn == 6 && strncasecmp(field, "Status", nn) == 0) {
					value_copy(v, vn, cur.status, sizeof(cur.status));
					cur.any = true;
				} else if ((nn == 19 && strncasecmp(field, "Original-Message-ID", nn) == 0) ||
					   (nn == 21 && strncasecmp(field, "X-Original-Message-ID", nn) == 0)) {
					value_copy(v, vn, orig_msgid, sizeof(orig_msgid));
				}
			}
			fl = 0;
		}
		if (n == 0) {
			/* a blank line ends a block (per-message, then one per recipient) */
			if (block_better(&cur, &best))
				best = cur;
			if (cur.any)
				nblocks++;
			memset(&cur, 0, sizeof(cur));
			continue;
		}
		size_t k = n < sizeof(field) - 1 ? n : sizeof(field) - 1;
		memcpy(field, line, k);
		fl = k;
	}
	if (block_better(&cur, &best))
		best = cur;
	if (best.any) {
		recipient_strip(best.recipient);
		action_lower(best.action);
		if (best.recipient[0])
			msg->dsn_recipient = mime_utf8_clean(a, best.recipient, strlen(best.recipient),
							     true, FIELD_MAX, NULL, NULL);
		if (best.status[0])
			msg->dsn_status = mime_utf8_clean(a, best.status, strlen(best.status), true,
							  FIELD_MAX, NULL, NULL);
		if (best.action[0])
			msg->dsn_action = mime_utf8_clean(a, best.action, strlen(best.action), true,
							  FIELD_MAX, NULL, NULL);
	}
	if (orig_msgid[0] && !msg->dsn_original_message_id)
		msg->dsn_original_message_id = msgid_strip(a, orig_msgid);
}

const char *mime_dsn_header_msgid(struct arena *a, const char *s, size_t len)
{
	if (len > DSN_SCAN_MAX)
		len = DSN_SCAN_MAX;
	for (size_t i = 0; i < len;) {
		const char *line = s + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i;
		i += n + 1;
		if (n == 0 || (n == 1 && line[0] == '\r'))
			break; /* end of the header block */
		if (n >= 11 && strncasecmp(line, "Message-ID:", 11) == 0) {
			const char *v = line + 11;
			size_t vn = n - 11;
			/* the id may be folded onto the next line */
			while (vn && (*v == ' ' || *v == '\t' || *v == '\r')) {
				v++;
				vn--;
			}
			if (vn == 0 && i < len) {
				v = s + i;
				const char *nl2 = memchr(v, '\n', len - i);
				vn = nl2 ? (size_t)(nl2 - v) : len - i;
			}
			char buf[FIELD_MAX];
			value_copy(v, vn, buf, sizeof(buf));
			return msgid_strip(a, buf);
		}
	}
	return NULL;
}
