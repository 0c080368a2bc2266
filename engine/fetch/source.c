/*
 * The source interface's dispatch: picks the driver by the account's
 * protocol and checks what every driver may assume (no dispose in
 * read-only mode, no empty calls). It also routes the account's server
 * through its proxy (engine/net), whichever driver connects.
 */
#include "engine/fetch/source_int.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"

#include "engine/net/net.h"

int source_open(const struct config_job *job, enum source_mode mode,
		const struct source_limits *lim, struct source **src_r, struct err *err)
{
	static const struct source_limits none;
	*src_r = NULL;
	if (!lim)
		lim = &none;
	/* every later connection to this server takes the account's proxy */
	switch (job->account->protocol) {
	case PROTO_IMAP:
		return source_imap_open(job, mode, lim, src_r, err);
	case PROTO_POP3:
		return source_pop3_open(job, mode, lim, src_r, err);
	case PROTO_MAILDIR:
		return source_maildir_open(job, mode, lim, src_r, err);
	}
	return err_set(err, ERR_FATAL, "account \"%s\": unknown protocol", job->account->name);
}

const struct source_info *source_info(const struct source *src)
{
	return &src->info;
}

int source_list(struct source *src, const struct source_msg **v_r, size_t *n_r,
		struct err *err)
{
	*v_r = NULL;
	*n_r = 0;
	if (src->ops->list(src, err) < 0)
		return -1;
	*v_r = src->msgs;
	*n_r = src->nmsgs;
	return 0;
}

int source_fetch(struct source *src, const uint32_t *ids, size_t n, source_body_cb cb,
		 void *ud, struct err *err)
{
	if (n == 0)
		return 0;
	return src->ops->fetch(src, ids, n, cb, ud, err);
}

int source_prepare_folders(struct source *src, const char *const *names, size_t n,
			   struct err *err)
{
	if (src->nfolders)
		return err_set(err, ERR_FATAL, "%s source: folders prepared twice (bug)",
			       src->info.kind);
	if (n == 0 || src->mode == SOURCE_READ_ONLY)
		return 0;
	if (src->ops->prepare && src->ops->prepare(src, names, n, err) < 0)
		return -1;
	src->folders = xcalloc(n, sizeof(*src->folders));
	for (size_t i = 0; i < n; i++)
		src->folders[i] = xstrdup(names[i]);
	src->nfolders = n;
	return 0;
}

int source_dispose(struct source *src, const uint32_t *ids, size_t n, enum source_dispose d,
		   const char *folder, struct err *err)
{
	size_t f = 0;
	if (src->mode == SOURCE_READ_ONLY)
		return err_set(err, ERR_FATAL, "%s source opened read-only (bug)", src->info.kind);
	if (d == SOURCE_SEEN && !src->info.marks_seen)
		return err_set(err, ERR_FATAL, "%s source marks nothing \\Seen (bug)", src->info.kind);
	if (d == SOURCE_FOLDER) {
		/* a handful of folders: a linear search is all it takes */
		while (folder && f < src->nfolders && strcmp(src->folders[f], folder) != 0)
			f++;
		if (!folder || f == src->nfolders)
			return err_set(err, ERR_FATAL, "%s source: folder \"%s\" was not prepared "
				       "(bug)", src->info.kind, folder ? folder : "");
	}
	if (n == 0)
		return 0;
	return src->ops->dispose(src, ids, n, d, f, err);
}

int source_close(struct source **srcp, struct err *err)
{
	struct source *src = *srcp;
	struct err ignored;
	if (!src)
		return 0;
	*srcp = NULL;
	char **folders = src->folders;
	size_t nfolders = src->nfolders;
	int rc = src->ops->close(src, err ? err : &ignored);
	/* the driver freed src itself */
	for (size_t i = 0; i < nfolders; i++)
		free(folders[i]);
	free(folders);
	return rc;
}
