/*
 * The IMAP driver of the source interface: a thin adapter over the IMAP
 * client (imap.h), which keeps its own API. Open resolves the job's three
 * folders with LIST (creating archive and badmail when missing) and
 * SELECTs the mailbox; prepare resolves the rules' move_to folders the same
 * way (creating them when missing); list is UID FETCH 1:* (RFC822.SIZE);
 * fetch is one UID FETCH BODY.PEEK[] per batch, bodies handed to the
 * caller in place; dispose is UID MOVE (or COPY + STORE + UID EXPUNGE),
 * gathered by the caller into large sets. Nothing here is on the
 * per-message path except the pointer hop into imap_fetch_bodies.
 *
 * A job that keeps its mail (keep_on_server) needs no folders. With
 * mark_seen (the default) it SELECTs the mailbox and its dispose is UID
 * STORE +FLAGS.SILENT (\Seen); without, it EXAMINEs it and changes
 * nothing. A mailbox where \Seen cannot be stored (SELECT answered
 * [READ-ONLY], \Seen is not among its PERMANENTFLAGS, or a STORE is
 * refused) does not fail the run: the mail stays unread, one warning per
 * session says why, and the database remembers the mail all the same.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/imap.h"
#include "engine/fetch/source_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define IMAP_SOURCE_MAX_LINE (64 * 1024)

struct imap_source {
	struct source base;
	struct imap_client *c;
	char *mailbox;          /* server names, resolved with LIST */
	char *archive;          /* NULL when the job keeps its mail or reads only */
	char *badmail;
	char **folders;         /* the prepared move_to targets, resolved */
	size_t nfolders;
	char *query;            /* UID SEARCH for fetch: unseen / search:; NULL: all */
	const char *seen_why;   /* why \Seen cannot be stored (a constant); NULL: it can */
	bool seen_warned;       /* the warning about it was logged this session */
};

static int imap_source_list(struct source *src, struct err *err)
{
	struct imap_source *s = (struct imap_source *)src;
	struct imap_msg_info *infos = NULL;
	size_t n = 0;
	if (s->query) {
		/* only the found UIDs are listed with their sizes */
		uint32_t *uids = NULL;
		size_t nu = 0;
		int r = imap_search_uids(s->c, s->query, &uids, &nu, err);
		if (r == 0 && nu)
			r = imap_list_uids(s->c, uids, nu, &infos, &n, err);
		free(uids);
		if (r < 0)
			return -1;
	} else if (imap_list_messages(s->c, &infos, &n, err) < 0) {
		return -1;
	}
	free(src->msgs);
	src->msgs = xcalloc(n ? n : 1, sizeof(*src->msgs));
	for (size_t i = 0; i < n; i++) {
		src->msgs[i].id = infos[i].uid;
		src->msgs[i].size = infos[i].size;
		src->msgs[i].seen = infos[i].seen;
	}
	src->nmsgs = n;
	free(infos);
	return 0;
}

static int imap_source_fetch(struct source *src, const uint32_t *ids, size_t n,
			     source_body_cb cb, void *ud, struct err *err)
{
	struct imap_source *s = (struct imap_source *)src;
	/* same contract: a body the server sent bigger than the limit comes as
	 * raw NULL with its announced size */
	return imap_fetch_bodies(s->c, ids, n, cb, ud, err);
}

static int imap_source_prepare(struct source *src, const char *const *names, size_t n,
			       struct err *err)
{
	struct imap_source *s = (struct imap_source *)src;
	s->folders = xcalloc(n, sizeof(*s->folders));
	for (size_t i = 0; i < n; i++) {
		if (imap_resolve_mailbox(s->c, names[i], true, &s->folders[i], err) < 0)
			return err_prefix(err, "move_to folder \"%s\"", names[i]);
		s->nfolders = i + 1;
	}
	return 0;
}

/* \Seen cannot be stored: the mail stays unread, said once per session
 * (a read-only mailbox would otherwise warn at every dispose). No mail
 * text: the reason is ours or the server's answer, cleaned. */
static void seen_refused(struct imap_source *s, size_t n, const char *why)
{
	s->base.info.seen_refused = true;
	if (s->seen_warned) {
		log_debug("job.seen_refused", "mailbox=\"%s\" count=%zu", s->mailbox, n);
		return;
	}
	s->seen_warned = true;
	char clean[300];
	log_warn("job.seen_refused", "mailbox=\"%s\" count=%zu reason=\"%s\" msg=\"mail left "
		 "unread; it is remembered and not fetched again\"", s->mailbox, n,
		 log_clean(why, strlen(why), clean, sizeof(clean)));
}

static int mark_seen(struct imap_source *s, const uint32_t *ids, size_t n, struct err *err)
{
	if (s->base.info.seen_refused) {
		seen_refused(s, n, s->seen_why);
		return 0;
	}
	bool refused;
	if (imap_mark_seen(s->c, ids, n, &refused, err) < 0) {
		if (!refused)
			return err_prefix(err, "marking \\Seen in \"%s\"", s->mailbox);
		/* the session goes on; the message keeps the server's answer */
		seen_refused(s, n, err->msg);
		*err = (struct err){0};
		return 0;
	}
	log_debug("job.marked_seen", "mailbox=\"%s\" count=%zu", s->mailbox, n);
	return 0;
}

static int imap_source_dispose(struct source *src, const uint32_t *ids, size_t n,
			       enum source_dispose d, size_t folder, struct err *err)
{
	struct imap_source *s = (struct imap_source *)src;
	if (d == SOURCE_SEEN)
		return mark_seen(s, ids, n, err);
	const char *dest = d == SOURCE_BADMAIL ? s->badmail
			   : d == SOURCE_ARCHIVE ? s->archive
			   : folder < s->nfolders ? s->folders[folder] : NULL;
	if (!dest)
		return err_set(err, ERR_FATAL, "no %s folder resolved (bug)",
			       d == SOURCE_BADMAIL ? "badmail" : d == SOURCE_ARCHIVE ? "archive"
										   : "move_to");
	if (imap_move(s->c, ids, n, dest, err) < 0)
		return err_prefix(err, "moving to \"%s\"", dest);
	log_debug("job.moved", "folder=\"%s\" count=%zu", dest, n);
	return 0;
}

static int imap_source_close(struct source *src, struct err *err)
{
	struct imap_source *s = (struct imap_source *)src;
	(void)err;  /* LOGOUT failing loses nothing: every move was answered */
	imap_client_free(&s->c);
	free(s->mailbox);
	free(s->archive);
	free(s->badmail);
	for (size_t i = 0; i < s->nfolders; i++)
		free(s->folders[i]);
	free(s->folders);
	free(s->query);
	free(src->msgs);
	free(s);
	return 0;
}

static const struct source_ops imap_source_ops = {
	.list = imap_source_list,
	.fetch = imap_source_fetch,
	.prepare = imap_source_prepare,
	.dispose = imap_source_dispose,
	.close = imap_source_close,
};

int source_imap_open(const struct config_job *job, enum source_mode mode,
		     const struct source_limits *lim, struct source **src_r, struct err *err)
{
	struct imap_limits il = {
		.max_line = lim->max_line ? lim->max_line : IMAP_SOURCE_MAX_LINE,
		.max_literal = lim->max_message,
	};
	struct imap_source *s = xcalloc(1, sizeof(*s));
	uint32_t exists = 0;
	/* a test run changes nothing; a job that keeps its mail changes only
	 * \Seen, and with mark_seen: false nothing at all */
	bool marks_seen = mode == SOURCE_READ_WRITE && job->keep_on_server && job->mark_seen;
	bool examine = mode == SOURCE_READ_ONLY || (job->keep_on_server && !marks_seen);
	bool moves = mode == SOURCE_READ_WRITE && !job->keep_on_server;
	s->base.ops = &imap_source_ops;
	s->base.mode = mode;
	s->base.info.kind = "imap";
	s->base.info.identity = SOURCE_ID_UID;

	if (imap_connect(job->account, &il, &s->c, err) < 0)
		goto fail;
	if (imap_resolve_mailbox(s->c, job->mailbox, false, &s->mailbox, err) < 0)
		goto fail;
	/* a job that moves nothing needs no folders (nor the right to create them) */
	if (moves) {
		if (imap_resolve_mailbox(s->c, job->archive_folder, true, &s->archive, err) < 0 ||
		    imap_resolve_mailbox(s->c, job->badmail_folder, true, &s->badmail, err) < 0)
			goto fail;
	}
	if (imap_select(s->c, s->mailbox, examine, &s->base.info.uidvalidity, &exists, err) < 0)
		goto fail;
	s->base.info.mailbox = s->mailbox;
	s->base.info.marks_seen = marks_seen;
	if (marks_seen && !imap_seen_storable(s->c, &s->seen_why))
		s->base.info.seen_refused = true;
	if (job->fetch == JOB_FETCH_UNSEEN && job->search)
		s->query = xasprintf("UNSEEN %s", job->search);
	else if (job->fetch == JOB_FETCH_UNSEEN)
		s->query = xstrdup("UNSEEN");
	else if (job->search)
		s->query = xstrdup(job->search);
	log_info("job.selected", "mailbox=\"%s\" uidvalidity=%" PRIu32 " exists=%" PRIu32
		 " mode=%s", s->mailbox, s->base.info.uidvalidity, exists,
		 examine ? "examine" : s->base.info.seen_refused ? "select-read-only" : "select");
	*src_r = &s->base;
	return 0;
fail:
	imap_source_close(&s->base, NULL);
	return -1;
}
