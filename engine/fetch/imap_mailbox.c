/*
 * SECURITY: mailbox names and LIST results come from config and from the
 * server; names are sent only as quoted strings or literals (never raw),
 * and LIST results are decoded strictly (imap_mutf7.c) and matched
 * exactly, never used as patterns.
 *
 * Names are UTF-8 everywhere above this file (config, logs, the database);
 * they are encoded when sent (modified UTF-7, or UTF-8 after ENABLE
 * UTF8=ACCEPT) and decoded when read from LIST.
 *
 * Mailboxes: the hierarchy delimiter, resolving configured names, CREATE,
 * SELECT/EXAMINE.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/fetch/imap_int.h"
#include "engine/fetch/imap_mutf7.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

int imap_cmd_add_mailbox(struct imap_client *c, const char *name, struct err *err)
{
	if (!name || !*name)
		return err_set(err, ERR_FATAL, "empty mailbox name");
	if (strpbrk(name, "\r\n"))
		return err_set(err, ERR_FATAL, "mailbox name contains a line break");
	size_t len = strlen(name);
	if (!imap_utf8_valid(name, len))
		return err_set(err, ERR_FATAL, "mailbox name \"%s\" is not valid UTF-8", name);
	/* RFC 6855: after ENABLE UTF8=ACCEPT names go as UTF-8 quoted strings;
	 * otherwise always as modified UTF-7 (even ASCII: "&" is "&-") */
	if (c->utf8_enabled)
		return imap_cmd_add_string(c, name, len, !is_ascii(name), err);
	struct buf b;
	buf_init(&b, IMAP_MAILBOX_MAX);
	int r = imap_mutf7_encode(name, len, &b, err);
	if (r == 0)
		r = imap_cmd_add_string(c, buf_str(&b), b.len, false, err);
	else
		err_prefix(err, "mailbox \"%s\"", name);
	buf_release(&b);
	return r;
}

/*
 * A name from LIST in our form (UTF-8): decoded from modified UTF-7, or
 * checked as UTF-8 when UTF8=ACCEPT is on. NULL when the server's name is
 * not valid in that form: such a name can match no configured name.
 */
static char *name_from_server(struct imap_client *c, const char *s, size_t len)
{
	char clean[160];
	struct err err = {0};
	if (c->utf8_enabled) {
		if (len <= IMAP_MAILBOX_MAX && imap_utf8_valid(s, len))
			return xmemdup0(s, len);
		err_set(&err, ERR_SOURCE, "not valid UTF-8");
	} else {
		struct buf b;
		buf_init(&b, 4 * IMAP_MAILBOX_MAX);
		if (imap_mutf7_decode(s, len, &b, &err) == 0)
			return buf_detach(&b, NULL);
		buf_release(&b);
	}
	log_debug("imap.list", "host=%s mailbox=\"%s\" msg=\"name skipped: %s\"", c->host,
		  log_clean(s, len, clean, sizeof(clean)), err.msg);
	return NULL;
}

struct list_ctx {
	const char *want;       /* name to look for; NULL: take the delimiter */
	bool found;
	char delim;
	bool delim_seen;
	char *name;             /* server's spelling of want */
};

static bool names_equal(const char *a, const char *b, size_t blen)
{
	if (strlen(a) == blen && memcmp(a, b, blen) == 0)
		return true;
	/* INBOX is case-insensitive (RFC 3501 5.1) */
	return blen == 5 && str_ieq(a, "INBOX") && strncasecmp(b, "INBOX", 5) == 0;
}

/* "* LIST (flags) delim name" */
static int list_cb(struct imap_client *c, void *ud, const struct imap_response *r,
		   struct err *err)
{
	struct list_ctx *lc = ud;
	(void)err;
	if (r->kind != IMAP_RESP_UNTAGGED || !slice_ieq(r->name, "LIST") || r->nargs < 3 ||
	    r->args[0].type != IMAP_ARG_LIST || !imap_arg_is_string(&r->args[2]))
		return 0;
	const struct imap_arg *d = &r->args[1];
	if (!lc->delim_seen) {
		lc->delim_seen = true;
		lc->delim = d->type == IMAP_ARG_STRING && d->len == 1 ? d->str[0] : 0;
	}
	if (!lc->want || lc->found)
		return 0;
	const struct imap_arg *fl = &r->args[0];
	for (size_t i = 0; i < fl->count; i++)
		if (imap_arg_atom_is(&fl->list[i], "\\NonExistent"))
			return 0;
	char *name = name_from_server(c, r->args[2].str, r->args[2].len);
	if (!name || !names_equal(lc->want, name, strlen(name))) {
		free(name);
		return 0;
	}
	lc->found = true;
	lc->name = name;
	return 0;
}

static int get_delim(struct imap_client *c, struct err *err)
{
	if (c->delim_known)
		return 0;
	struct list_ctx lc = {0};
	imap_cmd_begin(c, "LIST \"\" \"\"");
	if (imap_cmd_ok(c, list_cb, &lc, ERR_SOURCE, err) < 0)
		return -1;
	c->delim = lc.delim;
	c->delim_known = true;
	log_debug("imap.delimiter", "host=%s delimiter=\"%c\"", c->host,
		  c->delim ? c->delim : ' ');
	return 0;
}

/* LIST "" name: the server's spelling when it exists, else NULL. */
static int list_find(struct imap_client *c, const char *name, char **found_r, struct err *err)
{
	struct list_ctx lc = {.want = name};
	*found_r = NULL;
	imap_cmd_begin(c, "LIST \"\"");
	if (imap_cmd_add_mailbox(c, name, err) < 0)
		return -1;
	if (imap_cmd_ok(c, list_cb, &lc, ERR_SOURCE, err) < 0) {
		free(lc.name);
		return -1;
	}
	*found_r = lc.name;
	return 0;
}

int imap_resolve_mailbox(struct imap_client *c, const char *name, bool create,
			 char **name_r, struct err *err)
{
	char text[256];
	*name_r = NULL;
	if (!name || !*name || strpbrk(name, "\r\n"))
		return err_set(err, ERR_FATAL, "bad mailbox name \"%s\"", name ? name : "");
	if (!imap_utf8_valid(name, strlen(name)))
		return err_set(err, ERR_FATAL, "mailbox name \"%s\" is not valid UTF-8", name);
	if (get_delim(c, err) < 0)
		return -1;
	/* "INBOX/Support" and "INBOX.Support" both mean the server's own
	 * separator; a name that exists as written is taken as written. */
	char *conv = xstrdup(name);
	if (c->delim)
		for (char *p = conv; *p; p++)
			if (*p == '/' || *p == '.')
				*p = c->delim;
	char *found = NULL;
	if (list_find(c, name, &found, err) < 0)
		goto fail;
	if (!found && strcmp(conv, name) != 0 && list_find(c, conv, &found, err) < 0)
		goto fail;
	if (found) {
		free(conv);
		*name_r = found;
		return 0;
	}
	if (!create) {
		err_set(err, ERR_SOURCE, "mailbox \"%s\" not found on %s", conv, c->host);
		goto fail;
	}
	imap_cmd_begin(c, "CREATE");
	if (imap_cmd_add_mailbox(c, conv, err) < 0)
		goto fail;
	const struct imap_response *t;
	if (imap_cmd_run(c, NULL, NULL, &t, err) < 0)
		goto fail;
	if (t->status != IMAP_STATUS_OK && !slice_ieq(t->code, "ALREADYEXISTS")) {
		err_set(err, ERR_SOURCE, "cannot create mailbox \"%s\" on %s: %s", conv, c->host,
			imap_clean(&t->text, text, sizeof(text)));
		goto fail;
	}
	log_info("imap.create", "host=%s mailbox=\"%s\"", c->host, conv);
	/* so that mail clients show it; failing to subscribe changes nothing here */
	imap_cmd_begin(c, "SUBSCRIBE");
	if (imap_cmd_add_mailbox(c, conv, err) == 0 && imap_cmd_run(c, NULL, NULL, &t, err) < 0)
		goto fail;
	*name_r = conv;
	return 0;
fail:
	free(conv);
	return -1;
}

struct select_ctx {
	uint32_t uidvalidity;
	bool permanentflags;    /* a PERMANENTFLAGS code came */
	bool seen_permanent;    /* ... listing \Seen */
};

/*
 * "[PERMANENTFLAGS (\Answered \Seen \*)]": is \Seen among them? The code's
 * arguments are raw text up to ']' (bounded by the line limit); flags are
 * atoms, so splitting at spaces and parentheses is exact.
 */
static bool flags_have_seen(const struct slice *args)
{
	size_t i = 0;
	while (i < args->len) {
		while (i < args->len && (args->p[i] == ' ' || args->p[i] == '(' || args->p[i] == ')'))
			i++;
		size_t start = i;
		while (i < args->len && args->p[i] != ' ' && args->p[i] != '(' && args->p[i] != ')')
			i++;
		if (i - start == 5 && strncasecmp(args->p + start, "\\Seen", 5) == 0)
			return true;
	}
	return false;
}

static int select_cb(struct imap_client *c, void *ud, const struct imap_response *r,
		     struct err *err)
{
	struct select_ctx *sc = ud;
	(void)c;
	(void)err;
	uint64_t v;
	if (r->kind != IMAP_RESP_UNTAGGED || r->status != IMAP_STATUS_OK)
		return 0;
	if (slice_ieq(r->code, "UIDVALIDITY") &&
	    str_parse_u64(r->code_args.p, r->code_args.len, UINT32_MAX, &v) == 0)
		sc->uidvalidity = (uint32_t)v;
	if (slice_ieq(r->code, "PERMANENTFLAGS")) {
		sc->permanentflags = true;
		sc->seen_permanent = flags_have_seen(&r->code_args);
	}
	return 0;
}

int imap_select(struct imap_client *c, const char *mailbox, bool readonly,
		uint32_t *uidvalidity_r, uint32_t *exists_r, struct err *err)
{
	struct select_ctx sc = {0};
	const struct imap_response *t;
	char text[256];
	c->selected = false;
	c->exists = 0;
	imap_cmd_begin(c, readonly ? "EXAMINE" : "SELECT");
	if (imap_cmd_add_mailbox(c, mailbox, err) < 0)
		return -1;
	if (imap_cmd_run(c, select_cb, &sc, &t, err) < 0)
		return -1;
	if (t->status != IMAP_STATUS_OK)
		return err_set(err, ERR_SOURCE, "%s %s on %s: %s", readonly ? "EXAMINE" : "SELECT",
			       t->status == IMAP_STATUS_NO ? "refused" : "failed", c->host,
			       imap_clean(&t->text, text, sizeof(text)));
	if (sc.uidvalidity == 0)
		return err_set(err, ERR_SOURCE, "%s sent no UIDVALIDITY for \"%s\"", c->host,
			       mailbox);
	c->selected = true;
	c->readonly = readonly;
	/* RFC 3501 6.3.1: the tagged OK says [READ-WRITE] or [READ-ONLY]; without
	 * PERMANENTFLAGS every flag may be assumed permanent (7.1) */
	c->server_readonly = readonly || slice_ieq(t->code, "READ-ONLY");
	c->seen_permanent = !sc.permanentflags || sc.seen_permanent;
	c->uidvalidity = sc.uidvalidity;
	*uidvalidity_r = sc.uidvalidity;
	*exists_r = c->exists;
	return 0;
}

bool imap_seen_storable(const struct imap_client *c, const char **why_r)
{
	*why_r = NULL;
	if (!c->selected || c->server_readonly)
		*why_r = "the mailbox is read-only for this user ([READ-ONLY])";
	else if (!c->seen_permanent)
		*why_r = "\\Seen is not among the mailbox's PERMANENTFLAGS";
	return *why_r == NULL;
}

struct status_ctx {
	bool seen;
	uint32_t messages;
};

/* "* STATUS name (MESSAGES n)" */
static int status_cb(struct imap_client *c, void *ud, const struct imap_response *r,
		     struct err *err)
{
	struct status_ctx *sc = ud;
	(void)c;
	(void)err;
	uint64_t v;
	if (r->kind != IMAP_RESP_UNTAGGED || !slice_ieq(r->name, "STATUS") || r->nargs < 2 ||
	    r->args[1].type != IMAP_ARG_LIST)
		return 0;
	const struct imap_arg *l = &r->args[1];
	for (size_t i = 0; i + 1 < l->count; i += 2) {
		if (imap_arg_atom_is(&l->list[i], "MESSAGES") &&
		    l->list[i + 1].type == IMAP_ARG_ATOM &&
		    str_parse_u64(l->list[i + 1].str, l->list[i + 1].len, UINT32_MAX, &v) == 0) {
			sc->messages = (uint32_t)v;
			sc->seen = true;
		}
	}
	return 0;
}

int imap_status_messages(struct imap_client *c, const char *mailbox, uint32_t *n_r,
			 struct err *err)
{
	struct status_ctx sc = {0};
	imap_cmd_begin(c, "STATUS");
	if (imap_cmd_add_mailbox(c, mailbox, err) < 0)
		return -1;
	imap_cmd_addf(c, " (MESSAGES)");
	if (imap_cmd_ok(c, status_cb, &sc, ERR_SOURCE, err) < 0)
		return -1;
	if (!sc.seen)
		return err_set(err, ERR_SOURCE, "%s sent no message count for \"%s\"", c->host,
			       mailbox);
	*n_r = sc.messages;
	return 0;
}
