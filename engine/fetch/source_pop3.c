/*
 * The POP3 driver of the source interface. A message's identity is its
 * UIDL (SOURCE_ID_KEY, per account); its id is its place in this session's
 * listing, from 1, mapped to the session's message number here.
 *
 * POP3 has no folders: archiving a message deletes it (DELE after COMMIT,
 * applied by the server at QUIT), badmail stays on the server and is only
 * remembered, in the database. So a crash between COMMIT and QUIT loses
 * nothing and duplicates nothing: the message is still there at the next
 * run, its UIDL is found processed, and it is only deleted.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "engine/fetch/pop3.h"
#include "engine/fetch/source_int.h"
#include "engine/util/fault.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

struct pop3_source {
	struct source base;
	struct pop3_client *c;
	const struct pop3_msg *list;    /* the client's, by id - 1 */
	size_t nlist;
	size_t deleted;                 /* DELEs answered +OK: QUIT must succeed */
};

struct retr_ctx {
	source_body_cb cb;
	void *ud;
	uint32_t id;
};

static int pop3_source_list(struct source *src, struct err *err)
{
	struct pop3_source *s = (struct pop3_source *)src;
	if (pop3_list_messages(s->c, &s->list, &s->nlist, err) < 0)
		return -1;
	free(src->msgs);
	src->msgs = xcalloc(s->nlist ? s->nlist : 1, sizeof(*src->msgs));
	for (size_t i = 0; i < s->nlist; i++) {
		src->msgs[i].id = (uint32_t)i + 1;
		src->msgs[i].size = s->list[i].size;
		src->msgs[i].key = s->list[i].uidl;
	}
	src->nmsgs = s->nlist;
	return 0;
}

static int retr_cb(void *ud, uint32_t number, const char *raw, size_t len, struct err *err)
{
	const struct retr_ctx *rc = ud;
	(void)number;
	return rc->cb(rc->ud, rc->id, raw, len, err);
}

static int pop3_source_fetch(struct source *src, const uint32_t *ids, size_t n,
			     source_body_cb cb, void *ud, struct err *err)
{
	struct pop3_source *s = (struct pop3_source *)src;
	unsigned char *seen = xcalloc(s->nlist ? s->nlist : 1, 1);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint32_t id = ids[i];
		if (id == 0 || id > s->nlist || seen[id - 1])
			continue;  /* each listed message at most once */
		seen[id - 1] = 1;
		struct retr_ctx ctx = {.cb = cb, .ud = ud, .id = id};
		rc = pop3_retr(s->c, s->list[id - 1].number, retr_cb, &ctx, err);
	}
	free(seen);
	return rc;
}

/* config_rules.c refuses move_to on a POP3 account: this is the last guard */
static int pop3_source_prepare(struct source *src, const char *const *names, size_t n,
			       struct err *err)
{
	(void)src;
	(void)n;
	return err_set(err, ERR_FATAL, "pop3 has no folders to move mail to (\"%s\")", names[0]);
}

static int pop3_source_dispose(struct source *src, const uint32_t *ids, size_t n,
			       enum source_dispose d, size_t folder, struct err *err)
{
	struct pop3_source *s = (struct pop3_source *)src;
	(void)folder;
	if (d == SOURCE_BADMAIL)
		return 0;  /* stays on the server; the database remembers it */
	if (d == SOURCE_FOLDER)
		return err_set(err, ERR_FATAL, "pop3 has no folders (bug)");
	int rc = 0;
	size_t refused = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = ids[i];
		if (id == 0 || id > s->nlist)
			return err_set(err, ERR_FATAL, "POP3 dispose of unknown id %" PRIu32 " (bug)",
				       id);
		struct err derr = {0};
		if (pop3_dele(s->c, s->list[id - 1].number, &derr) == 0) {
			s->deleted++;
			continue;
		}
		/* the first error is the one reported; the others still get their DELE */
		if (rc == 0) {
			*err = derr;
			rc = -1;
		}
		refused++;
		if (!pop3_usable(s->c))
			break;
	}
	if (refused)
		log_warn("pop3.dele", "refused=%zu msg=\"committed messages stay on the server; "
			 "the next run deletes them\"", refused);
	return rc;
}

static int pop3_source_close(struct source *src, struct err *err)
{
	struct pop3_source *s = (struct pop3_source *)src;
	int rc = 0;
	if (s->c && pop3_usable(s->c)) {
		fault_point("pop3-before-quit");
		struct err qerr = {0};
		/* without deletions a failed QUIT loses nothing worth a failed run */
		if (pop3_quit(s->c, &qerr) < 0 && s->deleted) {
			*err = qerr;
			rc = -1;
		}
	} else if (s->deleted) {
		rc = err_set(err, ERR_TRANSIENT, "POP3 session broken before QUIT: %zu deletions "
			     "not applied; the next run deletes them", s->deleted);
	}
	pop3_client_free(&s->c);
	free(src->msgs);
	free(s);
	return rc;
}

static const struct source_ops pop3_source_ops = {
	.list = pop3_source_list,
	.fetch = pop3_source_fetch,
	.prepare = pop3_source_prepare,
	.dispose = pop3_source_dispose,
	.close = pop3_source_close,
};

int source_pop3_open(const struct config_job *job, enum source_mode mode,
		     const struct source_limits *lim, struct source **src_r, struct err *err)
{
	struct pop3_limits pl = {.max_line = lim->max_line, .max_message = lim->max_message};
	struct pop3_source *s = xcalloc(1, sizeof(*s));
	s->base.ops = &pop3_source_ops;
	s->base.mode = mode;
	s->base.info.kind = "pop3";
	s->base.info.mailbox = "INBOX";
	s->base.info.identity = SOURCE_ID_KEY;
	s->base.info.badmail_stays = true;
	if (pop3_connect(job->account, &pl, &s->c, err) < 0) {
		free(s);
		return -1;
	}
	*src_r = &s->base;
	return 0;
}
