/*
 * SECURITY: FETCH responses are untrusted: only UIDs that were asked for
 * are delivered, each at most once; a body is delivered only when the
 * server sent it, and a command whose tagged response is not OK fails the
 * call (DESIGN.md: never act on a short or failed FETCH). Moves never use
 * a bare EXPUNGE.
 *
 * The hot path: one UID FETCH per batch of UIDs (compact ranges), bodies
 * handed to the callback in place from the parser's buffer (one copy from
 * the socket buffer, none after).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/imap_int.h"
#include "engine/fetch/imap_uidset.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define IMAP_FETCH_BATCH 500        /* UIDs per FETCH command */
#define IMAP_MOVE_BATCH 5000        /* UIDs per MOVE/COPY/STORE/EXPUNGE */
#define IMAP_LIST_MAX 10000000      /* messages in one mailbox listing */

static int need_selected(struct imap_client *c, struct err *err)
{
	if (!c->selected)
		return err_set(err, ERR_FATAL, "no mailbox selected (bug)");
	return 0;
}

/* Looks up `name` in a FETCH attribute list (name value name value ...). */
static const struct imap_arg *fetch_item(const struct imap_arg *l, const char *name)
{
	for (size_t i = 0; i + 1 < l->count; i += 2)
		if (imap_arg_atom_is(&l->list[i], name))
			return &l->list[i + 1];
	return NULL;
}

static bool is_fetch(const struct imap_response *r)
{
	return r->kind == IMAP_RESP_UNTAGGED && r->has_number && slice_ieq(r->name, "FETCH") &&
	       r->nargs >= 1 && r->args[0].type == IMAP_ARG_LIST;
}

static int fetch_uid(const struct imap_arg *l, uint32_t *uid_r)
{
	const struct imap_arg *a = fetch_item(l, "UID");
	uint64_t v;
	if (!a || imap_arg_number(a, UINT32_MAX, &v) < 0 || v == 0)
		return -1;
	*uid_r = (uint32_t)v;
	return 0;
}

struct list_ctx {
	struct imap_msg_info *v;
	size_t n, cap;
};

static int list_cb(struct imap_client *c, void *ud, const struct imap_response *r,
		   struct err *err)
{
	struct list_ctx *lc = ud;
	if (!is_fetch(r))
		return 0;
	const struct imap_arg *l = &r->args[0];
	uint32_t uid;
	const struct imap_arg *size = fetch_item(l, "RFC822.SIZE");
	const struct imap_arg *flags = fetch_item(l, "FLAGS");
	uint64_t sz;
	/* unsolicited FETCHes (flag changes) lack the size: not ours */
	if (fetch_uid(l, &uid) < 0 || !size || imap_arg_number(size, UINT64_MAX, &sz) < 0)
		return 0;
	bool seen = false;
	if (flags && flags->type == IMAP_ARG_LIST)
		for (size_t i = 0; i < flags->count; i++) {
			if (imap_arg_atom_is(&flags->list[i], "\\Deleted"))
				return 0;  /* handled before, left by a server without UIDPLUS */
			if (imap_arg_atom_is(&flags->list[i], "\\Seen"))
				seen = true;
		}
	if (lc->n == IMAP_LIST_MAX)
		return err_set(err, ERR_SOURCE, "%s lists more than %d messages", c->host,
			       IMAP_LIST_MAX);
	if (lc->n == lc->cap) {
		lc->cap = lc->cap ? lc->cap * 2 : 256;
		lc->v = xreallocarray(lc->v, lc->cap, sizeof(*lc->v));
	}
	lc->v[lc->n].uid = uid;
	lc->v[lc->n].size = sz;
	lc->v[lc->n].seen = seen;
	lc->n++;
	return 0;
}

static int cmp_info(const void *a, const void *b)
{
	uint32_t x = ((const struct imap_msg_info *)a)->uid;
	uint32_t y = ((const struct imap_msg_info *)b)->uid;
	return x < y ? -1 : x > y;
}

static void list_finish(struct list_ctx *lc, struct imap_msg_info **v_r, size_t *n_r)
{
	if (lc->n) {
		qsort(lc->v, lc->n, sizeof(*lc->v), cmp_info);
		size_t o = 1;
		for (size_t i = 1; i < lc->n; i++)
			if (lc->v[i].uid != lc->v[o - 1].uid)
				lc->v[o++] = lc->v[i];
		lc->n = o;
	}
	*v_r = lc->v;
	*n_r = lc->n;
}

int imap_list_messages(struct imap_client *c, struct imap_msg_info **v_r, size_t *n_r,
		       struct err *err)
{
	struct list_ctx lc = {0};
	*v_r = NULL;
	*n_r = 0;
	if (need_selected(c, err) < 0)
		return -1;
	/* "1:*" on an empty mailbox is an error on some servers: do not ask */
	if (c->exists == 0)
		return 0;
	imap_cmd_begin(c, "UID FETCH 1:* (UID RFC822.SIZE FLAGS)");
	if (imap_cmd_ok(c, list_cb, &lc, ERR_TRANSIENT, err) < 0) {
		free(lc.v);
		return -1;
	}
	list_finish(&lc, v_r, n_r);
	return 0;
}

int imap_list_uids(struct imap_client *c, const uint32_t *uids, size_t n,
		   struct imap_msg_info **v_r, size_t *n_r, struct err *err)
{
	struct list_ctx lc = {0};
	*v_r = NULL;
	*n_r = 0;
	if (need_selected(c, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i += IMAP_MOVE_BATCH) {
		size_t m = n - i < IMAP_MOVE_BATCH ? n - i : IMAP_MOVE_BATCH;
		imap_cmd_begin(c, "UID FETCH ");
		if (imap_uidset_format(&c->cmd, uids + i, m) < 0) {
			free(lc.v);
			return err_set(err, ERR_FATAL, "UID set too long (bug)");
		}
		imap_cmd_addf(c, " (UID RFC822.SIZE FLAGS)");
		if (imap_cmd_ok(c, list_cb, &lc, ERR_TRANSIENT, err) < 0) {
			free(lc.v);
			return -1;
		}
	}
	/* only what was asked for: a server may add unrequested FETCH data */
	size_t o = 0;
	for (size_t i = 0; i < lc.n; i++) {
		size_t idx;
		if (imap_uids_find(uids, n, lc.v[i].uid, &idx))
			lc.v[o++] = lc.v[i];
	}
	lc.n = o;
	list_finish(&lc, v_r, n_r);
	return 0;
}

struct body_ctx {
	const char *item;       /* "BODY[]" or "BODY[HEADER]" */
	const uint32_t *uids;   /* this batch, ascending */
	size_t n;
	unsigned char *done;    /* per UID of the batch: delivered */
	size_t ndone;
	imap_body_cb cb;
	void *ud;
};

static int body_cb(struct imap_client *c, void *ud, const struct imap_response *r,
		   struct err *err)
{
	struct body_ctx *bc = ud;
	if (!is_fetch(r))
		return 0;
	const struct imap_arg *l = &r->args[0];
	uint32_t uid;
	if (fetch_uid(l, &uid) < 0)
		return 0;
	const struct imap_arg *body = fetch_item(l, bc->item);
	if (!body)
		return 0;  /* e.g. a flag update for a message of the batch */
	size_t idx;
	if (!imap_uids_find(bc->uids, bc->n, uid, &idx) || bc->done[idx]) {
		log_debug("imap.fetch", "host=%s uid=%u msg=\"unrequested or repeated body "
			  "ignored\"", c->host, uid);
		return 0;
	}
	if (body->type != IMAP_ARG_LITERAL && body->type != IMAP_ARG_STRING) {
		/* NIL: the server cannot give this message now; not delivered */
		log_warn("imap.fetch", "host=%s uid=%u msg=\"server returned no body\"", c->host,
			 uid);
		return 0;
	}
	bc->done[idx] = 1;
	bc->ndone++;
	if (body->skipped) {
		log_warn("imap.fetch", "host=%s uid=%u size=%llu msg=\"server sent more than the "
			 "limit for a message it listed smaller; dropped\"", c->host, uid,
			 (unsigned long long)body->declared);
		size_t len = body->declared > SIZE_MAX ? SIZE_MAX : (size_t)body->declared;
		return bc->cb(bc->ud, uid, NULL, len, err);
	}
	return bc->cb(bc->ud, uid, body->str, body->len, err);
}

static int fetch_items(struct imap_client *c, const uint32_t *uids, size_t n,
		       const char *section, const char *item, imap_body_cb cb, void *ud,
		       struct err *err)
{
	int ret = -1;
	if (need_selected(c, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	uint32_t *v = xreallocarray(NULL, n, sizeof(*v));
	memcpy(v, uids, n * sizeof(*v));
	n = imap_uids_sort_unique(v, n);
	unsigned char *done = xmalloc(IMAP_FETCH_BATCH);
	for (size_t i = 0; i < n; i += IMAP_FETCH_BATCH) {
		size_t m = n - i < IMAP_FETCH_BATCH ? n - i : IMAP_FETCH_BATCH;
		struct body_ctx bc = {
			.item = item, .uids = v + i, .n = m, .done = done, .cb = cb, .ud = ud,
		};
		memset(done, 0, m);
		imap_cmd_begin(c, "UID FETCH ");
		if (imap_uidset_format(&c->cmd, v + i, m) < 0) {
			err_set(err, ERR_FATAL, "UID set too long (bug)");
			goto out;
		}
		imap_cmd_addf(c, " (UID %s)", section);
		if (imap_cmd_ok(c, body_cb, &bc, ERR_TRANSIENT, err) < 0)
			goto out;
		if (bc.ndone < m)
			log_info("imap.fetch", "host=%s requested=%zu returned=%zu msg=\"some "
				 "messages were not returned (expunged meanwhile?)\"", c->host, m,
				 bc.ndone);
	}
	ret = 0;
out:
	free(done);
	free(v);
	return ret;
}

int imap_fetch_bodies(struct imap_client *c, const uint32_t *uids, size_t n,
		      imap_body_cb cb, void *ud, struct err *err)
{
	return fetch_items(c, uids, n, "BODY.PEEK[]", "BODY[]", cb, ud, err);
}

int imap_fetch_headers(struct imap_client *c, const uint32_t *uids, size_t n,
		       imap_body_cb cb, void *ud, struct err *err)
{
	return fetch_items(c, uids, n, "BODY.PEEK[HEADER]", "BODY[HEADER]", cb, ud, err);
}

/* One UID command over a batch: "UID <verb> <set><rest>". */
static int uid_cmd_once(struct imap_client *c, const char *verb, const uint32_t *v, size_t m,
			const char *rest, const char *dest, bool *expunged_r, bool *refused_r,
			struct err *err)
{
	const struct imap_response *t;
	char text[256];
	*expunged_r = false;
	if (refused_r)
		*refused_r = false;
	imap_cmd_begin(c, "UID ");
	imap_cmd_addf(c, "%s ", verb);
	if (imap_uidset_format(&c->cmd, v, m) < 0)
		return err_set(err, ERR_FATAL, "UID set too long (bug)");
	if (rest)
		imap_cmd_addf(c, "%s", rest);
	if (dest && imap_cmd_add_mailbox(c, dest, err) < 0)
		return -1;
	if (imap_cmd_run(c, NULL, NULL, &t, err) < 0)
		return -1;
	if (t->status == IMAP_STATUS_OK)
		return 0;
	*expunged_r = t->status == IMAP_STATUS_NO && slice_ieq(t->code, "EXPUNGEISSUED");
	if (refused_r)
		*refused_r = t->status == IMAP_STATUS_NO;
	/* a missing destination will not fix itself; anything else may */
	enum err_class cls = t->status == IMAP_STATUS_BAD || slice_ieq(t->code, "TRYCREATE")
				     ? ERR_SOURCE : ERR_TRANSIENT;
	return err_set(err, cls, "UID %s on %s failed: %s%s%.*s", verb, c->host,
		       imap_clean(&t->text, text, sizeof(text)), t->code.len ? " code=" : "",
		       (int)(t->code.len > 40 ? 40 : t->code.len), t->code.p);
}

/*
 * One UID command over a batch. NO [EXPUNGEISSUED] (RFC 5530) means some of
 * the messages were expunged by another session (another daemon that moved
 * them after COMMIT, or a user) before this one heard of it: a NOOP takes
 * in the EXPUNGEs, and the command is sent once more, for the rest.
 * *refused_r (may be NULL): the command's last answer was a tagged NO.
 */
static int uid_cmd(struct imap_client *c, const char *verb, const uint32_t *v, size_t m,
		   const char *rest, const char *dest, bool *refused_r, struct err *err)
{
	bool expunged;
	if (refused_r)
		*refused_r = false;
	int r = uid_cmd_once(c, verb, v, m, rest, dest, &expunged, refused_r, err);
	if (r == 0 || !expunged)
		return r;
	log_info("imap.expunged", "host=%s command=\"UID %s\" msg=\"some messages were "
		 "expunged by another session; trying again for the rest\"", c->host, verb);
	imap_cmd_begin(c, "NOOP");
	if (imap_cmd_ok(c, NULL, NULL, ERR_TRANSIENT, err) < 0)
		return -1;
	return uid_cmd_once(c, verb, v, m, rest, dest, &expunged, refused_r, err);
}

int imap_mark_seen(struct imap_client *c, const uint32_t *uids, size_t n, bool *refused_r,
		   struct err *err)
{
	int ret = -1;
	*refused_r = false;
	if (need_selected(c, err) < 0)
		return -1;
	if (c->readonly)
		return err_set(err, ERR_FATAL, "mailbox opened read-only (bug)");
	if (n == 0)
		return 0;
	uint32_t *v = xreallocarray(NULL, n, sizeof(*v));
	memcpy(v, uids, n * sizeof(*v));
	n = imap_uids_sort_unique(v, n);
	for (size_t i = 0; i < n; i += IMAP_MOVE_BATCH) {
		size_t m = n - i < IMAP_MOVE_BATCH ? n - i : IMAP_MOVE_BATCH;
		/* .SILENT: no FETCH back per message; the flag is all we change */
		if (uid_cmd(c, "STORE", v + i, m, " +FLAGS.SILENT (\\Seen)", NULL, refused_r,
			    err) < 0) {
			if (*refused_r)
				err->cls = ERR_SOURCE;
			goto out;
		}
	}
	ret = 0;
out:
	free(v);
	return ret;
}

int imap_move(struct imap_client *c, const uint32_t *uids, size_t n, const char *dest,
	      struct err *err)
{
	int ret = -1;
	if (need_selected(c, err) < 0)
		return -1;
	if (c->readonly)
		return err_set(err, ERR_FATAL, "mailbox opened read-only (bug)");
	if (n == 0)
		return 0;
	uint32_t *v = xreallocarray(NULL, n, sizeof(*v));
	memcpy(v, uids, n * sizeof(*v));
	n = imap_uids_sort_unique(v, n);
	bool move = imap_has_capability(c, "MOVE");
	bool uidplus = imap_has_capability(c, "UIDPLUS");
	for (size_t i = 0; i < n; i += IMAP_MOVE_BATCH) {
		size_t m = n - i < IMAP_MOVE_BATCH ? n - i : IMAP_MOVE_BATCH;
		if (move) {
			if (uid_cmd(c, "MOVE", v + i, m, NULL, dest, NULL, err) < 0)
				goto out;
			continue;
		}
		if (uid_cmd(c, "COPY", v + i, m, NULL, dest, NULL, err) < 0 ||
		    uid_cmd(c, "STORE", v + i, m, " +FLAGS.SILENT (\\Deleted)", NULL, NULL, err) < 0)
			goto out;
		/* only the UIDs we copied; never a bare EXPUNGE */
		if (uidplus && uid_cmd(c, "EXPUNGE", v + i, m, NULL, NULL, NULL, err) < 0)
			goto out;
	}
	if (!move && !uidplus)
		log_warn("imap.move", "host=%s count=%zu msg=\"server has neither MOVE nor "
			 "UIDPLUS: originals copied and flagged \\\\Deleted, not expunged\"",
			 c->host, n);
	ret = 0;
out:
	free(v);
	return ret;
}
