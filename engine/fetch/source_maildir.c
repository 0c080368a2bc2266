/*
 * SECURITY: a Maildir is a directory other programs (the MDA, Dovecot, a
 * mail client) write to while we read it. File names are untrusted: only
 * plain names are used, relative to directory descriptors opened once
 * (never a path built from a name and opened from the root); a name must
 * be printable ASCII to become a message's key. Files are opened with
 * O_NOFOLLOW | O_NONBLOCK and must be regular files (a symlink or a FIFO
 * planted in new/ is skipped, not followed or waited on), and a file's
 * bytes are read only up to the job's size limit.
 *
 * The Maildir driver of the source interface (protocol: maildir, path:).
 * Messages are the files of the folder's new/ and cur/, sorted by name
 * (unique names start with the delivery time); tmp/ belongs to deliveries
 * in progress and is never read. A message's identity is its unique name,
 * the file name before ":2," (SOURCE_ID_KEY): flags after it change, the
 * name does not, also when the file moves to another folder.
 *
 * Files in cur/ flagged T (trashed: deleted in a mail client, waiting for
 * an expunge) are skipped: whoever deleted them did not mean them for the
 * help desk.
 *
 * Folders are Maildir++: "INBOX" is the Maildir itself, "Support/Level2"
 * (or "Support.Level2") is .Support.Level2/ inside it. Archive and badmail
 * folders, and the rules' move_to folders, are created when missing, with
 * cur/ new/ tmp/ and the maildirfolder marker, owned like the Maildir.
 *
 * Dispose is rename() after COMMIT, into the same subdirectory (new/ or
 * cur/) of the target folder, keeping name and flags, with
 * RENAME_NOREPLACE so an existing file is never overwritten (link + unlink
 * where the file system lacks it). Safe against concurrent delivery (new
 * files appear by rename into new/; we only move what we listed) and
 * against a client renaming a file meanwhile (new/ to cur/, a flag change):
 * a file missing under its listed name is looked up again by its unique
 * name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/fetch/maildir_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

static void files_free(struct maildir_source *s)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		free(s->files[i].name);
		free(s->files[i].key);
	}
	free(s->files);
	s->files = NULL;
	s->nfiles = 0;
}

static int cmp_file(const void *a, const void *b)
{
	const struct md_file *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	/* the same message seen in new/ and in cur/ (moved between our two
	 * readdirs): cur/ first, it is where the file is now */
	return c ? c : (int)y->sub - (int)x->sub;
}

static int read_sub(struct maildir_source *s, enum maildir_sub sub, size_t *cap, size_t *skipped,
		    struct err *err)
{
	int fd = dup(s->dir.sub[sub]);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return err_set(err, ERR_SOURCE, "cannot read %s/ of \"%s\": %s", maildir_sub_name[sub],
			       s->mailbox, strerror(errno));
	}
	rewinddir(d);
	struct dirent *e;
	int rc = 0;
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) {
			(*skipped)++;
			continue;
		}
		size_t kl = maildir_key_len(e->d_name);
		if (!kl) {
			(*skipped)++;
			continue;
		}
		if (sub == SUB_CUR && maildir_trashed(e->d_name))
			continue;
		if (sub == SUB_CUR && s->unseen_only && maildir_flagged(e->d_name, 'S'))
			continue;
		if (s->nfiles == MAILDIR_LIST_MAX) {
			rc = err_set(err, ERR_SOURCE, "\"%s\" holds more than %d messages",
				     s->mailbox, MAILDIR_LIST_MAX);
			break;
		}
		if (s->nfiles == *cap) {
			*cap = *cap ? *cap * 2 : 256;
			s->files = xreallocarray(s->files, *cap, sizeof(*s->files));
		}
		struct md_file *f = &s->files[s->nfiles++];
		f->name = xstrdup(e->d_name);
		f->key = xstrndup(e->d_name, kl);
		f->sub = sub;
	}
	if (rc == 0 && errno)
		rc = err_set(err, ERR_SOURCE, "cannot read %s/ of \"%s\": %s", maildir_sub_name[sub],
			     s->mailbox, strerror(errno));
	closedir(d);
	return rc;
}

static int maildir_list(struct source *src, struct err *err)
{
	struct maildir_source *s = (struct maildir_source *)src;
	size_t cap = 0, skipped = 0;
	files_free(s);
	if (read_sub(s, SUB_NEW, &cap, &skipped, err) < 0 ||
	    read_sub(s, SUB_CUR, &cap, &skipped, err) < 0)
		return -1;
	if (skipped)
		log_warn("maildir.skipped", "mailbox=\"%s\" count=%zu msg=\"entries that are not "
			 "plain files with a printable name were left alone\"", s->mailbox, skipped);
	if (s->nfiles > 1)
		qsort(s->files, s->nfiles, sizeof(*s->files), cmp_file);
	size_t o = 0;
	for (size_t i = 0; i < s->nfiles; i++) {
		if (o && strcmp(s->files[o - 1].key, s->files[i].key) == 0) {
			free(s->files[i].name);
			free(s->files[i].key);
			continue;
		}
		s->files[o++] = s->files[i];
	}
	s->nfiles = o;
	free(src->msgs);
	src->msgs = xcalloc(o ? o : 1, sizeof(*src->msgs));
	for (size_t i = 0; i < o; i++) {
		struct stat st;
		src->msgs[i].id = (uint32_t)i + 1;
		src->msgs[i].key = s->files[i].key;
		/* a file gone since readdir: size 0, fetch will find it gone too */
		if (fstatat(s->dir.sub[s->files[i].sub], s->files[i].name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0)
			src->msgs[i].size = (uint64_t)st.st_size;
	}
	src->nmsgs = o;
	return 0;
}


static int open_message(struct maildir_source *s, struct md_file *f)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = openat(s->dir.sub[f->sub], f->name,
				O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT || attempt == 1)
			return fd;
		if (maildir_relocate(s, f) < 0) {
			errno = ENOENT;
			return -1;
		}
	}
	return -1;
}

/* Reads one message (at most max_message bytes kept) and hands it on. */
static int deliver_file(struct maildir_source *s, uint32_t id, source_body_cb cb, void *ud,
			struct err *err)
{
	struct md_file *f = &s->files[id - 1];
	char key[128];
	/* printable, but may hold a '"': cleaned like any text from outside */
	log_clean(f->key, strlen(f->key), key, sizeof(key));
	int fd = open_message(s, f);
	if (fd < 0) {
		/* deleted or expunged by someone else since the listing: nothing to do */
		log_info("maildir.vanished", "mailbox=\"%s\" key=\"%s\" error=\"%s\"", s->mailbox,
			 key, strerror(errno));
		return 0;
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_warn("maildir.skipped", "mailbox=\"%s\" key=\"%s\" msg=\"not a plain file\"",
			 s->mailbox, key);
		goto out;
	}
	if ((uint64_t)st.st_size > s->max_message) {
		rc = cb(ud, id, NULL, (size_t)st.st_size, err);
		goto out;
	}
	/* read one byte more than allowed: a file that grew past the limit is seen */
	uint64_t cap = s->max_message + 1;
	buf_reset(&s->body);
	if (buf_reserve(&s->body, (size_t)st.st_size + 1) < 0) {
		rc = cb(ud, id, NULL, (size_t)st.st_size, err);
		goto out;
	}
	while (s->body.len < cap) {
		uint64_t left = cap - s->body.len;
		size_t want = left < 64 * 1024 ? (size_t)left : 64 * 1024;
		if (buf_reserve(&s->body, want) < 0)
			break;
		ssize_t n = read(fd, s->body.data + s->body.len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_set(err, ERR_TRANSIENT, "reading \"%s\" of \"%s\": %s", key,
				     s->mailbox, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		s->body.len += (size_t)n;
		s->body.data[s->body.len] = '\0';
	}
	if (s->body.len > s->max_message)
		rc = cb(ud, id, NULL, s->body.len, err);
	else
		rc = cb(ud, id, buf_str(&s->body), s->body.len, err);
out:
	close(fd);
	return rc;
}

static int maildir_fetch(struct source *src, const uint32_t *ids, size_t n, source_body_cb cb,
			 void *ud, struct err *err)
{
	struct maildir_source *s = (struct maildir_source *)src;
	unsigned char *seen = xcalloc(s->nfiles ? s->nfiles : 1, 1);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint32_t id = ids[i];
		if (id == 0 || id > s->nfiles || seen[id - 1])
			continue;
		seen[id - 1] = 1;
		rc = deliver_file(s, id, cb, ud, err);
	}
	free(seen);
	return rc;
}

static int maildir_close(struct source *src, struct err *err)
{
	struct maildir_source *s = (struct maildir_source *)src;
	(void)err;
	files_free(s);
	maildir_folder_close(&s->dir);
	maildir_folder_close(&s->archive);
	maildir_folder_close(&s->badmail);
	for (size_t i = 0; i < s->nfolders; i++)
		maildir_folder_close(&s->folders[i]);
	free(s->folders);
	if (s->root >= 0)
		close(s->root);
	buf_release(&s->body);
	free(s->mailbox);
	free(src->msgs);
	free(s);
	return 0;
}

static const struct source_ops maildir_ops = {
	.list = maildir_list,
	.fetch = maildir_fetch,
	.prepare = maildir_prepare,
	.dispose = maildir_dispose,
	.close = maildir_close,
};

int source_maildir_open(const struct config_job *job, enum source_mode mode,
			const struct source_limits *lim, struct source **src_r,
			struct err *err)
{
	const char *path = job->account->path;
	struct maildir_source *s = xcalloc(1, sizeof(*s));
	int root = -1;
	struct stat root_st;
	s->root = -1;
	s->base.ops = &maildir_ops;
	s->base.mode = mode;
	s->base.info.kind = "maildir";
	s->base.info.identity = SOURCE_ID_KEY;
	s->mailbox = xstrdup(job->mailbox);
	s->unseen_only = job->fetch == JOB_FETCH_UNSEEN;
	s->base.info.mailbox = s->mailbox;
	struct md_folder none = {.fd = -1, .sub = {-1, -1}};
	s->dir = s->archive = s->badmail = none;
	s->max_message = lim->max_message ? lim->max_message : UINT64_MAX / 2;
	/* a message is kept whole in memory: its size, plus room to see one byte more */
	buf_init(&s->body, s->max_message > SIZE_MAX / 2 ? SIZE_MAX / 2
							 : (size_t)s->max_message + 64 * 1024);

	if (!path || maildir_open_dir(AT_FDCWD, path, &root) < 0 || fstat(root, &root_st) < 0) {
		err_set(err, ERR_SOURCE, "cannot open Maildir \"%s\": %s", path ? path : "",
			strerror(path ? errno : EINVAL));
		goto fail;
	}
	if (maildir_check(root, path, err) < 0)
		goto fail;
	if (maildir_folder_open(root, job->mailbox, &s->dir, err) < 0) {
		err_prefix(err, "mailbox of %s", path);
		goto fail;
	}
	if (mode == SOURCE_READ_WRITE && !job->keep_on_server &&
	    (maildir_folder_ensure(root, &root_st, job->archive_folder, &s->archive, err) < 0 ||
	     maildir_folder_ensure(root, &root_st, job->badmail_folder, &s->badmail, err) < 0))
		goto fail;
	/* kept for the rules' folders (source_prepare_folders) */
	s->root = root;
	s->root_st = root_st;
	log_info("job.selected", "maildir=\"%s\" mailbox=\"%s\"", path, job->mailbox);
	*src_r = &s->base;
	return 0;
fail:
	if (root >= 0)
		close(root);
	maildir_close(&s->base, NULL);
	return -1;
}
