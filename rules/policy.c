/*
 * A job's follow-up and loop settings, and the patterns made from them
 * (ticket tag formats, reply prefixes). The settings are admin input; the
 * patterns are built here by escaping it, never by pasting it in raw.
 */
#include "rules/policy.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/buf.h"
#include "engine/util/xalloc.h"

/* Reply prefixes in the languages help desks meet most; compared without
 * case, each may carry a counter ("Re[2]:", "AW(3):", "Re^2:") and a
 * full-width colon. */
const char *const policy_default_reply_prefixes[] = {
	"Re", "Aw", "Antw", "Antwort", "Sv", "Svar", "Vs", "Vast", "Odp", "Ynt", "R", "Rif",
	"Réf", "Rép", "Res", "Resp", "Atb", "Ats", "Vá", "Odg", "Отв", "Ответ", "Відп",
	"Σχετ", "ΑΠ", "תגובה", "رد", "回复", "回覆", "答复", "答覆", "返信", "답장", "TL",
	"Balas", NULL,
};

const char *const policy_default_forward_prefixes[] = {
	"Fwd", "Fw", "Wg", "Tr", "Rv", "Doorst", "Vb", "Vl", "Enc", "Pd", "İlt", "Fs",
	"Пересл", "Пер", "Προώθ", "转发", "轉寄", "转", "轉", "転送", "전달", NULL,
};

#define TAG_NUMBER "{number}"

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A literal for a pattern: ASCII punctuation escaped, a run of white space
 * matching any run (clients re-wrap subjects). */
static void add_literal(struct buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t') {
			while (i + 1 < len && (s[i + 1] == ' ' || s[i + 1] == '\t'))
				i++;
			buf_adds(b, "\\s*");
		} else if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
					 (c >= 'A' && c <= 'Z'))) {
			buf_addc(b, '\\');
			buf_addc(b, (char)c);
		} else {
			buf_addc(b, (char)c);
		}
	}
}

/* "[Ticket#{number}]" → \[Ticket\#([0-9]{5,20})\] (caseless). */
static int tag_compile(const char *fmt, char **fmt_r, struct regex **rx_r, struct err *err)
{
	free(*fmt_r);
	*fmt_r = NULL;
	regex_free(rx_r);
	if (!fmt || !fmt[0])
		return 0;
	const char *at = strstr(fmt, TAG_NUMBER);
	if (!at)
		return err_set(err, ERR_FATAL, "the format needs \"%s\" in it", TAG_NUMBER);
	if (strstr(at + strlen(TAG_NUMBER), TAG_NUMBER))
		return err_set(err, ERR_FATAL, "the format may hold \"%s\" only once", TAG_NUMBER);
	struct buf b;
	buf_init(&b, REGEX_MAX_PATTERN);
	add_literal(&b, fmt, (size_t)(at - fmt));
	/* our numbers are YYYYMMDD + at least 5 digits; the lookup decides */
	buf_adds(&b, "([0-9]{5,20})");
	const char *rest = at + strlen(TAG_NUMBER);
	add_literal(&b, rest, strlen(rest));
	size_t off;
	int rc = -1;
	if (b.failed)
		err_set(err, ERR_FATAL, "the format is too long");
	else
		rc = regex_compile(b.data, b.len, REGEX_CASELESS | REGEX_UCP, rx_r, &off, err);
	buf_release(&b);
	if (rc == 0)
		*fmt_r = xstrdup(fmt);
	return rc;
}

int policy_set_subject_tag(struct policy *p, const char *fmt, struct err *err)
{
	return tag_compile(fmt, &p->subject_tag, &p->subject_tag_rx, err);
}

int policy_set_body_marker(struct policy *p, const char *fmt, struct err *err)
{
	return tag_compile(fmt, &p->body_marker, &p->body_marker_rx, err);
}

/* ^\s*(?:w1|w2|...)\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s* */
static int prefix_compile(const char *const *words, size_t n, struct regex **rx_r,
			  struct err *err)
{
	struct buf b;
	size_t off;
	regex_free(rx_r);
	buf_init(&b, REGEX_MAX_PATTERN);
	buf_adds(&b, "\\s*(?:");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(&b, '|');
		add_literal(&b, words[i], strlen(words[i]));
	}
	buf_adds(&b, ")\\s*(?:\\[[0-9]{1,4}\\]|\\([0-9]{1,4}\\)|\\^[0-9]{1,4})?\\s*[:\xef\xbc\x9a]\\s*");
	int rc = -1;
	if (b.failed)
		err_set(err, ERR_FATAL, "too many reply prefixes");
	else
		rc = regex_compile(b.data, b.len, REGEX_CASELESS | REGEX_ANCHORED | REGEX_UCP, rx_r,
				   &off, err);
	buf_release(&b);
	return rc;
}

int policy_set_reply_prefixes(struct policy *p, const char *const *words, size_t n,
			      struct err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!words[i][0])
			return err_set(err, ERR_FATAL, "a reply prefix must not be empty");
		if (strchr(words[i], ':'))
			return err_set(err, ERR_FATAL, "write the prefix without its colon (\"%s\")",
				       words[i]);
	}
	if (prefix_compile(words, n, &p->reply_rx, err) < 0)
		return -1;
	strv_free(p->reply_prefixes, p->nreply_prefixes);
	p->reply_prefixes = xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		p->reply_prefixes[i] = xstrdup(words[i]);
	p->nreply_prefixes = n;
	return 0;
}

int policy_add_foreign_tag(struct policy *p, const char *name, const char *pattern,
			   bool in_body, size_t *offset_r, struct err *err)
{
	struct regex *rx = NULL;
	if (regex_compile(pattern, strlen(pattern), REGEX_UCP, &rx, offset_r, err) < 0)
		return -1;
	int ref = regex_group_index(rx, "ref");
	if (ref > REGEX_MAX_GROUPS) {
		regex_free(&rx);
		return err_set(err, ERR_FATAL, "group \"ref\" is group %d: only groups 1 to %d "
			       "can be used", ref, REGEX_MAX_GROUPS);
	}
	uint32_t g = ref > 0 ? (uint32_t)ref : 0;
	if (!g && regex_groups(rx) >= 1)
		g = 1;
	p->foreign = xreallocarray(p->foreign, p->nforeign + 1, sizeof(*p->foreign));
	p->foreign[p->nforeign++] = (struct foreign_tag){
		.name = xstrdup(name), .rx = rx, .group = g, .in_body = in_body};
	return 0;
}

static char *lower_dup(const char *s)
{
	char *d = xstrdup(s);
	for (char *c = d; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return d;
}

void policy_add_trusted_domain(struct policy *p, const char *domain)
{
	p->trusted_domains = xreallocarray(p->trusted_domains, p->ntrusted + 1, sizeof(char *));
	p->trusted_domains[p->ntrusted++] = lower_dup(domain);
}

void policy_add_own_address(struct policy *p, const char *email)
{
	p->own_addresses = xreallocarray(p->own_addresses, p->nown + 1, sizeof(char *));
	p->own_addresses[p->nown++] = lower_dup(email);
}

int policy_set_closed_statuses(struct policy *p, const char *const *names, size_t n,
			       struct err *err)
{
	struct buf b;
	buf_init(&b, 64 * 1024);
	for (size_t i = 0; i < n; i++) {
		if (!names[i][0] || strchr(names[i], ',')) {
			buf_release(&b);
			return err_set(err, ERR_FATAL, "a status name must not be empty or hold a comma");
		}
		if (i)
			buf_addc(&b, ',');
		buf_adds(&b, names[i]);
	}
	free(p->closed_statuses);
	p->closed_statuses = buf_detach(&b, NULL);
	return 0;
}

void policy_init(struct policy *p)
{
	struct err err;
	size_t n = 0, nf = 0;
	memset(p, 0, sizeof(*p));
	while (policy_default_reply_prefixes[n])
		n++;
	while (policy_default_forward_prefixes[nf])
		nf++;
	/* the built-in formats and words compile: a failure here is a bug */
	if (policy_set_subject_tag(p, "[Ticket#{number}]", &err) < 0 ||
	    policy_set_body_marker(p, "[m2t:{number}]", &err) < 0 ||
	    policy_set_reply_prefixes(p, policy_default_reply_prefixes, n, &err) < 0 ||
	    prefix_compile(policy_default_forward_prefixes, nf, &p->forward_rx, &err) < 0)
		abort();
	p->references = true;
	p->subject_days = 14;
	p->stranger = PLAN_STRANGER_NOTE;
	p->closed = PLAN_CLOSED_REOPEN;
	p->closed_statuses = xstrdup("closed,resolved");
	p->reopen_status = xstrdup("open");
	p->auto_replies = LOOP_NOTE;
	p->bulk = LOOP_NOTE;
	p->bounces = BOUNCE_ATTACH;
	p->sender_cap = 40;
}

void policy_release(struct policy *p)
{
	free(p->subject_tag);
	regex_free(&p->subject_tag_rx);
	free(p->body_marker);
	regex_free(&p->body_marker_rx);
	strv_free(p->reply_prefixes, p->nreply_prefixes);
	regex_free(&p->reply_rx);
	regex_free(&p->forward_rx);
	for (size_t i = 0; i < p->nforeign; i++) {
		free(p->foreign[i].name);
		regex_free(&p->foreign[i].rx);
	}
	free(p->foreign);
	strv_free(p->trusted_domains, p->ntrusted);
	free(p->closed_statuses);
	free(p->reopen_status);
	strv_free(p->own_addresses, p->nown);
	memset(p, 0, sizeof(*p));
}
