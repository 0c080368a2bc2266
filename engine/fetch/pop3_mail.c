/*
 * SECURITY: STAT, UIDL and LIST answers are untrusted: every number is
 * parsed with an overflow check and bounded (message numbers by STAT's
 * count, the count by POP3_LIST_MAX, sizes by 2^53), the listings' bodies
 * are capped by what STAT announced, UIDLs must be what RFC 1939 allows
 * (1-70 of 0x21-0x7E) and be unique, and a line that breaks any of it
 * fails the listing (ERR_SOURCE) rather than being guessed at. DELE is
 * only ever sent by the caller after COMMIT.
 *
 * Messages: STAT, UIDL, LIST; RETR one at a time, each body handed to the
 * caller in place from the parser's buffer; DELE.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/pop3_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define POP3_LIST_MAX 1000000       /* messages in one maildrop */
#define POP3_UIDL_MAX 70            /* RFC 1939 section 7 */
#define POP3_UIDL_LINE 82           /* "1000000 " + 70 + CRLF, rounded up */
#define POP3_LIST_LINE 32           /* "1000000 " + a size + CRLF */
#define POP3_SIZE_MAX (UINT64_C(1) << 53)

/* The next line of a listing body (without CRLF); false at its end. */
static bool next_line(const char **p, const char *end, const char **line_r, size_t *len_r)
{
	if (*p >= end)
		return false;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	*line_r = *p;
	*p += len + (nl ? 1 : 0);
	if (len && (*line_r)[len - 1] == '\r')
		len--;
	*len_r = len;
	return true;
}

/* "N REST": a message number in 1..max, then one space. */
static bool line_number(const char *s, size_t len, uint32_t max, uint32_t *n_r, size_t *rest_r)
{
	size_t i = 0;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	uint64_t n;
	if (i == 0 || i >= len || s[i] != ' ' || str_parse_u64(s, i, max, &n) < 0 || n == 0)
		return false;
	*n_r = (uint32_t)n;
	*rest_r = i + 1;
	return true;
}

static bool uidl_ok(const char *s, size_t len)
{
	if (len == 0 || len > POP3_UIDL_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static int bad_listing(struct pop3_client *c, const char *what, const char *line, size_t len,
		       struct err *err)
{
	char clean[120];
	log_clean(line, len, clean, sizeof(clean));
	return err_set(err, ERR_SOURCE, "protocol error from %s: bad %s line \"%s\"", c->host,
		       what, clean);
}

int pop3_stat(struct pop3_client *c, uint32_t *count_r, uint64_t *octets_r, struct err *err)
{
	const struct pop3_response *r;
	*count_r = 0;
	*octets_r = 0;
	if (pop3_cmd(c, "STAT", false, POP3_EXPECT_SINGLE, 0, &r, err) < 0)
		return -1;
	if (r->status != POP3_OK)
		return pop3_err_from(c, r, ERR_TRANSIENT, "STAT refused", err);
	/* "+OK nn mm" */
	uint64_t n, octets;
	size_t i = 0, j;
	while (i < r->text.len && r->text.p[i] >= '0' && r->text.p[i] <= '9')
		i++;
	if (i == 0 || str_parse_u64(r->text.p, i, UINT32_MAX, &n) < 0)
		return bad_listing(c, "STAT", r->text.p, r->text.len, err);
	if (n > POP3_LIST_MAX)
		return err_set(err, ERR_SOURCE, "%s holds %" PRIu64 " messages, more than the %d "
			       "one run reads", c->host, n, POP3_LIST_MAX);
	/* the octets only inform (test-connection): a server that omits them is not refused */
	for (j = i + 1; j < r->text.len && r->text.p[j] >= '0' && r->text.p[j] <= '9'; j++)
		;
	if (i < r->text.len && r->text.p[i] == ' ' && j > i + 1 &&
	    str_parse_u64(r->text.p + i + 1, j - i - 1, POP3_SIZE_MAX, &octets) == 0)
		*octets_r = octets;
	*count_r = (uint32_t)n;
	return 0;
}

/* UIDL: the unique ids into c->uidl_pool, by message number. */
static int read_uidls(struct pop3_client *c, uint32_t count, const char **uidl_by_num,
		      struct err *err)
{
	const struct pop3_response *r;
	uint64_t cap = (uint64_t)count * POP3_UIDL_LINE + 64;
	if (c->caps_known && !pop3_has_capability(c, "UIDL"))
		goto no_uidl;
	if (pop3_cmd(c, "UIDL", false, POP3_EXPECT_MULTI, cap, &r, err) < 0)
		return -1;
	if (r->status != POP3_OK)
		goto no_uidl;
	if (r->truncated)
		return err_set(err, ERR_SOURCE, "protocol error from %s: UIDL listing longer than "
			       "%u messages allow", c->host, count);
	free(c->uidl_pool);
	c->uidl_pool = xmemdup0(r->body, r->body_len);
	const char *p = c->uidl_pool, *end = p + r->body_len;
	const char *line;
	size_t len;
	while (next_line(&p, end, &line, &len)) {
		uint32_t n;
		size_t at;
		if (!line_number(line, len, count, &n, &at) || !uidl_ok(line + at, len - at))
			return bad_listing(c, "UIDL", line, len, err);
		if (uidl_by_num[n - 1])
			return bad_listing(c, "UIDL (number repeated)", line, len, err);
		/* NUL-terminate in the pool: the CR or LF after it is not needed */
		c->uidl_pool[(size_t)(line - c->uidl_pool) + len] = '\0';
		uidl_by_num[n - 1] = line + at;
	}
	return 0;
no_uidl:
	return err_set(err, ERR_SOURCE, "%s does not support UIDL (RFC 1939): without unique "
		       "ids no message could be recognised in a later run, so POP3 without UIDL "
		       "is refused; use IMAP for this mailbox", c->host);
}

/* LIST: sizes by message number (0 = not listed). */
static int read_sizes(struct pop3_client *c, uint32_t count, uint64_t *size_by_num,
		      bool *listed, struct err *err)
{
	const struct pop3_response *r;
	uint64_t cap = (uint64_t)count * POP3_LIST_LINE + 64;
	if (pop3_cmd(c, "LIST", false, POP3_EXPECT_MULTI, cap, &r, err) < 0)
		return -1;
	if (r->status != POP3_OK)
		return pop3_err_from(c, r, ERR_TRANSIENT, "LIST refused", err);
	if (r->truncated)
		return err_set(err, ERR_SOURCE, "protocol error from %s: LIST longer than %u "
			       "messages allow", c->host, count);
	const char *p = r->body, *end = r->body + r->body_len, *line;
	size_t len;
	while (next_line(&p, end, &line, &len)) {
		uint32_t n;
		size_t at, i;
		uint64_t size;
		if (!line_number(line, len, count, &n, &at))
			return bad_listing(c, "LIST", line, len, err);
		/* RFC 1939 allows more after the size; take the number only */
		for (i = at; i < len && line[i] >= '0' && line[i] <= '9'; i++)
			;
		if (i == at || str_parse_u64(line + at, i - at, POP3_SIZE_MAX, &size) < 0 ||
		    listed[n - 1])
			return bad_listing(c, "LIST", line, len, err);
		size_by_num[n - 1] = size;
		listed[n - 1] = true;
	}
	return 0;
}

static int cmp_uidl(const void *a, const void *b)
{
	return strcmp(((const struct pop3_msg *)a)->uidl, ((const struct pop3_msg *)b)->uidl);
}

static int cmp_number(const void *a, const void *b)
{
	uint32_t x = ((const struct pop3_msg *)a)->number;
	uint32_t y = ((const struct pop3_msg *)b)->number;
	return (x > y) - (x < y);
}

/*
 * Two messages under one UIDL cannot both be told apart later: the second
 * would be taken for the first, already done, and deleted unread. Both are
 * left out (and on the server); the admin sees the warning.
 */
static size_t drop_duplicates(struct pop3_client *c, struct pop3_msg *v, size_t n)
{
	if (n < 2)
		return n;
	qsort(v, n, sizeof(*v), cmp_uidl);
	size_t o = 0, dropped = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && strcmp(v[j].uidl, v[i].uidl) == 0)
			j++;
		if (j - i == 1)
			v[o++] = v[i];
		else
			dropped += j - i;
		i = j;
	}
	if (dropped)
		log_warn("pop3.duplicate_uidl", "host=%s count=%zu msg=\"messages sharing a UIDL "
			 "are left on the server, unprocessed\"", c->host, dropped);
	qsort(v, o, sizeof(*v), cmp_number);
	return o;
}

int pop3_list_messages(struct pop3_client *c, const struct pop3_msg **v_r, size_t *n_r,
		       struct err *err)
{
	uint32_t count = 0;
	uint64_t octets;
	int rc = -1;
	*v_r = NULL;
	*n_r = 0;
	free(c->msgs);
	c->msgs = NULL;
	c->nmsgs = 0;
	if (pop3_stat(c, &count, &octets, err) < 0)
		return -1;
	if (count == 0 && c->caps_known && !pop3_has_capability(c, "UIDL"))
		return read_uidls(c, 0, NULL, err);  /* refused now, not at the first mail */
	if (count == 0)
		return 0;
	const char **uidl = xcalloc(count, sizeof(*uidl));
	uint64_t *size = xcalloc(count, sizeof(*size));
	bool *listed = xcalloc(count, sizeof(*listed));
	if (read_uidls(c, count, uidl, err) < 0 || read_sizes(c, count, size, listed, err) < 0)
		goto out;
	c->msgs = xcalloc(count, sizeof(*c->msgs));
	size_t n = 0, unlisted = 0;
	for (uint32_t i = 0; i < count; i++) {
		/* deleted by another session since STAT, or a server that forgot one */
		if (!uidl[i] || !listed[i]) {
			unlisted++;
			continue;
		}
		c->msgs[n].number = i + 1;
		c->msgs[n].size = size[i];
		c->msgs[n].uidl = uidl[i];
		n++;
	}
	if (unlisted)
		log_info("pop3.list", "host=%s count=%zu msg=\"messages missing from UIDL or LIST "
			 "skipped\"", c->host, unlisted);
	c->nmsgs = drop_duplicates(c, c->msgs, n);
	*v_r = c->msgs;
	*n_r = c->nmsgs;
	rc = 0;
out:
	free(uidl);
	free(size);
	free(listed);
	return rc;
}

int pop3_retr(struct pop3_client *c, uint32_t number, pop3_body_cb cb, void *ud,
	      struct err *err)
{
	const struct pop3_response *r;
	char line[32], text[256];
	snprintf(line, sizeof(line), "RETR %" PRIu32, number);
	if (pop3_cmd(c, line, false, POP3_EXPECT_MULTI, c->lim.max_message, &r, err) < 0)
		return -1;
	if (r->status != POP3_OK) {
		log_warn("pop3.retr", "host=%s number=%" PRIu32 " text=\"%s\" msg=\"server did not "
			 "give the message; it stays for the next run\"", c->host, number,
			 pop3_clean(&r->text, text, sizeof(text)));
		return 0;
	}
	if (r->truncated) {
		uint64_t total = r->body_total;
		return cb(ud, number, NULL, total > SIZE_MAX ? SIZE_MAX : (size_t)total, err);
	}
	return cb(ud, number, r->body, r->body_len, err);
}

int pop3_dele(struct pop3_client *c, uint32_t number, struct err *err)
{
	const struct pop3_response *r;
	char line[32];
	snprintf(line, sizeof(line), "DELE %" PRIu32, number);
	if (pop3_cmd(c, line, false, POP3_EXPECT_SINGLE, 0, &r, err) < 0)
		return -1;
	if (r->status != POP3_OK) {
		char what[48];
		snprintf(what, sizeof(what), "DELE %" PRIu32 " refused", number);
		pop3_err_from(c, r, ERR_TRANSIENT, what, err);
		err->cls = ERR_TRANSIENT;  /* the message stays; the next run tries again */
		return -1;
	}
	return 0;
}
