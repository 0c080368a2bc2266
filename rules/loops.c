/*
 * Loop protection's flags and delivery reports (see loops.h).
 *
 * SECURITY: header values and report fields are mail text. Nothing here
 * trusts a report to name a ticket: the original Message-ID only says
 * which of our articles to look for, and the store attaches the report
 * (and marks the address as bouncing) only when that article exists.
 */
#include "rules/loops.h"

#include <string.h>
#include <strings.h>

#include "rules/rules_int.h"

/* ------------------------------------------------------------ header helpers */

static const char *header(const struct message *m, const char *name)
{
	return message_header(m, name);
}

/* The first word of a header value, lower-case, into out. */
static const char *first_word(const char *v, char *out, size_t outlen)
{
	size_t o = 0;
	while (*v == ' ' || *v == '\t')
		v++;
	while (*v && *v != ';' && *v != ',' && *v != ' ' && *v != '\t' && o + 1 < outlen) {
		char c = *v++;
		out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[o] = '\0';
	return out;
}

static bool contains_word(const char *v, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = v; (p = strcasestr(p, word)) != NULL; p += wl) {
		bool start = p == v || !((p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z'));
		char e = p[wl];
		bool end = !((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'));
		if (start && end)
			return true;
	}
	return false;
}

/* Parses a decimal score ("7.2", "-0.5") at s; false when there is none. */
static bool parse_score(const char *s, double *v)
{
	while (*s == ' ' || *s == '\t')
		s++;
	bool neg = *s == '-';
	if (*s == '-' || *s == '+')
		s++;
	if (*s < '0' || *s > '9')
		return false;
	double d = 0, scale = 1;
	bool frac = false;
	int digits = 0;
	for (; ((*s >= '0' && *s <= '9') || (*s == '.' && !frac)) && digits < 12; s++) {
		if (*s == '.') {
			frac = true;
			continue;
		}
		digits++;
		if (frac) {
			scale /= 10;
			d += (*s - '0') * scale;
		} else {
			d = d * 10 + (*s - '0');
		}
	}
	*v = neg ? -d : d;
	return true;
}

static bool is_daemon(const char *email)
{
	if (!email)
		return false;
	const char *at = strchr(email, '@');
	size_t l = at ? (size_t)(at - email) : strlen(email);
	return (l == 13 && strncasecmp(email, "mailer-daemon", 13) == 0) ||
	       (l == 10 && strncasecmp(email, "postmaster", 10) == 0);
}

static bool is_own(const struct policy *p, const char *email)
{
	for (size_t i = 0; email && email[0] && i < p->nown; i++)
		if (strcasecmp(email, p->own_addresses[i]) == 0)
			return true;
	return false;
}

void loops_scan(const struct policy *p, const struct message *msg, const struct dsn_info *d,
		struct arena *arena, struct msg_flags *f)
{
	char w[64];
	const char *v;
	memset(f, 0, sizeof(*f));

	if ((v = header(msg, "Auto-Submitted")) && strcmp(first_word(v, w, sizeof(w)), "no") != 0 &&
	    w[0]) {
		f->auto_reply = true;
		f->why_auto = arena_printf(arena, "Auto-Submitted: %s", w);
	} else if ((v = header(msg, "X-Autoreply")) || (v = header(msg, "X-Autorespond")) ||
		   (v = header(msg, "X-Autoresponder"))) {
		f->auto_reply = true;
		f->why_auto = "X-Autoreply / X-Autorespond";
	} else if ((v = header(msg, "X-Auto-Response-Suppress")) &&
		   (contains_word(v, "all") || contains_word(v, "oof") ||
		    contains_word(v, "autoreply"))) {
		/* Exchange sets it on its own automatic replies */
		f->auto_reply = true;
		f->why_auto = "X-Auto-Response-Suppress";
	} else if ((v = header(msg, "Precedence")) &&
		   strcmp(first_word(v, w, sizeof(w)), "auto_reply") == 0) {
		f->auto_reply = true;
		f->why_auto = "Precedence: auto_reply";
	}

	if ((v = header(msg, "Precedence"))) {
		first_word(v, w, sizeof(w));
		if (strcmp(w, "bulk") == 0 || strcmp(w, "junk") == 0 || strcmp(w, "list") == 0) {
			f->bulk = true;
			f->why_bulk = arena_printf(arena, "Precedence: %s", w);
		}
	}
	if (!f->bulk && header(msg, "List-Id")) {
		f->bulk = true;
		f->why_bulk = "List-Id";
	}

	const char *rp = header(msg, "Return-Path");
	bool null_sender = rp && strspn(rp, " \t<>") == strlen(rp);
	if (d->is_dsn) {
		f->bounce = true;
		f->why_bounce = "delivery status notification";
	} else if (is_daemon(msg->from.email)) {
		f->bounce = true;
		f->why_bounce = arena_printf(arena, "from %s", msg->from.email);
	} else if (null_sender && !f->auto_reply) {
		/* RFC 3834: responders send with a null sender */
		f->auto_reply = true;
		f->why_auto = "Return-Path: <>";
	}

	if (is_own(p, msg->from.email)) {
		f->own = true;
		f->why_own = arena_printf(arena, "from our own address %s", msg->from.email);
	} else if ((v = header(msg, "X-Loop"))) {
		for (size_t i = 0; i < p->nown; i++) {
			if (strcasestr(v, p->own_addresses[i])) {
				f->own = true;
				f->why_own = arena_printf(arena, "X-Loop names our address %s",
							  p->own_addresses[i]);
				break;
			}
		}
	}

	double score;
	if (((v = header(msg, "X-Spam-Score")) || (v = header(msg, "X-Rspamd-Score"))) &&
	    parse_score(v, &score)) {
		f->has_spam_score = true;
		f->spam_score = score;
	} else if ((v = header(msg, "X-Spam-Status")) && (v = strcasestr(v, "score=")) &&
		   parse_score(v + 6, &score)) {
		f->has_spam_score = true;
		f->spam_score = score;
	}
	if (((v = header(msg, "X-Spam-Flag")) && strcmp(first_word(v, w, sizeof(w)), "yes") == 0) ||
	    ((v = header(msg, "X-Spam-Status")) && strcmp(first_word(v, w, sizeof(w)), "yes") == 0) ||
	    (f->has_spam_score && f->spam_score >= SPAM_SCORE_DEFAULT))
		f->spam = true;
}

/* ------------------------------------------------------------ delivery reports */

/* The value of field `name` at the start of a line in text[0..len), up to
 * the end of the line; NULL when absent. Folded lines are not joined:
 * report fields are short. */
static char *field_value(const char *text, size_t len, const char *name, struct arena *a)
{
	size_t nl = strlen(name);
	if (len > DSN_SCAN_MAX)
		len = DSN_SCAN_MAX;
	for (size_t i = 0; i + nl < len;) {
		if ((i == 0 || text[i - 1] == '\n') && strncasecmp(text + i, name, nl) == 0 &&
		    text[i + nl] == ':') {
			size_t s = i + nl + 1, e = s;
			while (e < len && text[e] != '\n' && text[e] != '\r')
				e++;
			while (s < e && (text[s] == ' ' || text[s] == '\t'))
				s++;
			while (e > s && (text[e - 1] == ' ' || text[e - 1] == '\t'))
				e--;
			if (e - s > 300)
				return NULL;
			return arena_memdup0(a, text + s, e - s);
		}
		const char *nlp = memchr(text + i, '\n', len - i);
		if (!nlp)
			break;
		i = (size_t)(nlp - text) + 1;
	}
	return NULL;
}

/* "<abc@x>" → "abc@x"; NULL when there is no well-formed id. */
static const char *strip_angles(const char *v, struct arena *a)
{
	if (!v)
		return NULL;
	const char *lt = strchr(v, '<');
	const char *gt = lt ? strchr(lt + 1, '>') : NULL;
	if (!lt || !gt || gt == lt + 1)
		return NULL;
	for (const char *p = lt + 1; p < gt; p++)
		if ((unsigned char)*p <= ' ')
			return NULL;
	return arena_memdup0(a, lt + 1, (size_t)(gt - lt - 1));
}

static char *lower(char *s)
{
	for (char *p = s; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	return s;
}

void dsn_scan(const struct message *msg, struct arena *arena, struct dsn_info *d)
{
	char w[64];
	memset(d, 0, sizeof(*d));
	/* the message model read the report (engine/mime/mime_dsn.c) */
	if (msg->is_dsn) {
		d->is_dsn = true;
		d->dsn_original_message_id = msg->dsn_original_message_id;
		if (msg->dsn_recipient && msg->dsn_recipient[0] && !strchr(msg->dsn_recipient, ' '))
			d->dsn_recipient = lower(arena_strdup(arena, msg->dsn_recipient));
		/* "5.1.1 (comment)": the code is what the contact keeps */
		if (msg->dsn_status && msg->dsn_status[0])
			d->dsn_status = arena_strdup(arena, first_word(msg->dsn_status, w, sizeof(w)));
		d->dsn_action = msg->dsn_action;
	}
	/* Reports that quote the original's headers in their text only, and
	 * bounces without a report at all (qmail, old Exim): the Message-ID the
	 * text quotes is the only pointer to our mail. */
	if (!d->dsn_original_message_id && (d->is_dsn || is_daemon(msg->from.email)))
		d->dsn_original_message_id = strip_angles(
			field_value(msg->text, msg->text_len, "Message-ID", arena), arena);
}
