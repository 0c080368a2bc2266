/*
 * SECURITY: the query comes from the config and passed
 * config_search_check (no CR/LF, no literals, balanced parentheses); the
 * "* SEARCH" numbers come from the server and are each checked (1 to
 * 2^32-1) and counted against IMAP_SEARCH_MAX.
 *
 * UID SEARCH for a job's `fetch: unseen` and `search:` keys.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/imap_int.h"
#include "engine/fetch/imap_uidset.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define IMAP_SEARCH_MAX 10000000    /* UIDs in one answer, as a mailbox listing */

struct search_ctx {
	uint32_t *v;
	size_t n, cap;
};

static int search_cb(struct imap_client *c, void *ud, const struct imap_response *r,
		     struct err *err)
{
	struct search_ctx *sc = ud;
	if (r->kind != IMAP_RESP_UNTAGGED || !slice_ieq(r->name, "SEARCH"))
		return 0;
	for (size_t i = 0; i < r->nargs; i++) {
		uint64_t v;
		if (imap_arg_number(&r->args[i], UINT32_MAX, &v) < 0 || v == 0)
			return err_set(err, ERR_SOURCE, "%s sent a SEARCH result that is not a "
				       "UID", c->host);
		if (sc->n == IMAP_SEARCH_MAX)
			return err_set(err, ERR_SOURCE, "%s found more than %d messages",
				       c->host, IMAP_SEARCH_MAX);
		if (sc->n == sc->cap) {
			sc->cap = sc->cap ? sc->cap * 2 : 256;
			sc->v = xreallocarray(sc->v, sc->cap, sizeof(*sc->v));
		}
		sc->v[sc->n++] = (uint32_t)v;
	}
	return 0;
}

static bool has_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/*
 * The query as checked, except that a quoted string with 8-bit text goes
 * as a literal (with CHARSET UTF-8) when the server has not accepted UTF-8
 * in quoted strings (RFC 3501 allows only 7-bit there; RFC 6855 lifts that).
 */
static int add_query(struct imap_client *c, const char *q, struct err *err)
{
	const char *p = q;
	while (*p) {
		const char *quote = strchr(p, '"');
		if (!quote) {
			buf_adds(&c->cmd, p);
			break;
		}
		buf_add(&c->cmd, p, (size_t)(quote - p));
		const char *end = quote + 1;
		while (*end && *end != '"')
			end += end[0] == '\\' && end[1] ? 2 : 1;
		if (!*end)
			return err_set(err, ERR_FATAL, "unterminated quoted string in search (bug)");
		size_t inner = (size_t)(end - quote - 1);
		if (c->utf8_enabled || !has_8bit(quote + 1, inner)) {
			buf_add(&c->cmd, quote, inner + 2);
		} else {
			/* unescape \" and \\ into the literal's bytes */
			char *raw = xmalloc(inner + 1);
			size_t o = 0;
			for (const char *s = quote + 1; s < end; s++) {
				if (*s == '\\')
					s++;
				raw[o++] = *s;
			}
			int r = imap_cmd_add_literal(c, raw, o, err);
			free(raw);
			if (r < 0)
				return -1;
		}
		p = end + 1;
	}
	return 0;
}

int imap_search_uids(struct imap_client *c, const char *query, uint32_t **v_r, size_t *n_r,
		     struct err *err)
{
	struct search_ctx sc = {0};
	*v_r = NULL;
	*n_r = 0;
	if (!c->selected)
		return err_set(err, ERR_FATAL, "no mailbox selected (bug)");
	/* the verb alone, so that a refusal names it cleanly */
	imap_cmd_begin(c, "UID SEARCH");
	/* After ENABLE UTF8=ACCEPT a charset label is forbidden (RFC 6855
	 * section 3: the strings are UTF-8 by then); Courier refuses it. */
	if (!c->utf8_enabled && has_8bit(query, strlen(query)))
		imap_cmd_addf(c, " CHARSET UTF-8");
	imap_cmd_addf(c, " ");
	if (add_query(c, query, err) < 0)
		return -1;
	/* a query the server refuses (BAD, or NO [BADCHARSET]) will not fix itself */
	if (imap_cmd_ok(c, search_cb, &sc, ERR_SOURCE, err) < 0) {
		free(sc.v);
		return err_prefix(err, "search \"%s\"", query);
	}
	sc.n = sc.n ? imap_uids_sort_unique(sc.v, sc.n) : 0;
	log_debug("imap.search", "host=%s found=%zu", c->host, sc.n);
	*v_r = sc.v;
	*n_r = sc.n;
	return 0;
}
