/*
 * SECURITY: the files moved are named as readdir() gave them, relative to
 * directory descriptors; a rename never replaces an existing file.
 *
 * The Maildir driver's dispose: after COMMIT, a message is renamed into
 * the same subdirectory (new/ or cur/) of the archive or badmail folder,
 * or of the Maildir++ folder a rule's move_to named (prepared before the
 * batch, see maildir_prepare),
 * keeping its name and flags, with RENAME_NOREPLACE (link + unlink where
 * the file system lacks it). A client may have renamed the file since the
 * listing (new/ to cur/, a flag change): it is looked up again by its
 * unique name. A file gone meanwhile is logged and forgotten (it is
 * committed); a link + unlink interrupted halfway is completed; a
 * different file already under the name in the target is kept beside it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/fetch/maildir_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

/* A scan of new/ and cur/: rare (only after ENOENT), so no index is kept. */
int maildir_relocate(struct maildir_source *s, struct md_file *f)
{
	size_t kl = strlen(f->key);
	for (int sub = SUB_NEW; sub <= SUB_CUR; sub++) {
		int fd = dup(s->dir.sub[sub]);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		if (!d) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		rewinddir(d);
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, f->key, kl) == 0 &&
			    (e->d_name[kl] == '\0' || e->d_name[kl] == ':')) {
				free(f->name);
				f->name = xstrdup(e->d_name);
				f->sub = (enum maildir_sub)sub;
				closedir(d);
				return 0;
			}
		}
		closedir(d);
	}
	return -1;
}

/*
 * rename without replacing: renameat2(RENAME_NOREPLACE), or link + unlink
 * where the file system has no such rename. -1 with errno (EEXIST: the
 * target exists).
 */
static int move_noreplace(int from, const char *name, int to, const char *newname)
{
	if (renameat2(from, name, to, newname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (linkat(from, name, to, newname, 0) < 0)
		return -1;
	return unlinkat(from, name, 0);
}

/* Same file (a link + unlink that was interrupted between the two)? */
static bool same_file(int a, const char *an, int b, const char *bn)
{
	struct stat x, y;
	return fstatat(a, an, &x, AT_SYMLINK_NOFOLLOW) == 0 &&
	       fstatat(b, bn, &y, AT_SYMLINK_NOFOLLOW) == 0 && x.st_dev == y.st_dev &&
	       x.st_ino == y.st_ino;
}

static int move_one(struct maildir_source *s, struct md_file *f,
		    const struct md_folder *dest, const char *what, struct err *err)
{
	char key[128];
	/* the unique part is printable, but may hold a '"' */
	log_clean(f->key, strlen(f->key), key, sizeof(key));
	for (int attempt = 0; attempt < 2; attempt++) {
		int from = s->dir.sub[f->sub], to = dest->sub[f->sub];
		if (move_noreplace(from, f->name, to, f->name) == 0)
			return 0;
		int e = errno;
		if (e == ENOENT && attempt == 0 && maildir_relocate(s, f) == 0)
			continue;
		if (e == ENOENT) {
			/* moved or deleted by someone else: it is committed, nothing is lost */
			log_info("maildir.vanished", "mailbox=\"%s\" key=\"%s\"", s->mailbox, key);
			return 0;
		}
		errno = e;
		if (e != EEXIST)
			break;
		if (same_file(from, f->name, to, f->name)) {
			/* an earlier link + unlink stopped halfway: finish it */
			unlinkat(from, f->name, 0);
			return 0;
		}
		/* a different file under this name in the target: keep both */
		const char *info = strchr(f->name, ':');
		for (int i = 1; i <= MAILDIR_DUP_TRIES; i++) {
			char *alt = xasprintf("%s.m2t%d%s", f->key, i, info ? info : "");
			int r = move_noreplace(from, f->name, to, alt);
			free(alt);
			if (r == 0)
				return 0;
			if (errno != EEXIST)
				break;
		}
		break;
	}
	int e = errno;
	return err_set(err, ERR_SOURCE, "moving \"%s\" to the %s folder: %s", key, what,
		       strerror(e));
}

int maildir_prepare(struct source *src, const char *const *names, size_t n, struct err *err)
{
	struct maildir_source *s = (struct maildir_source *)src;
	if (s->root < 0)
		return err_set(err, ERR_FATAL, "maildir folders prepared after open (bug)");
	s->folders = xcalloc(n, sizeof(*s->folders));
	for (size_t i = 0; i < n; i++) {
		s->folders[i] = (struct md_folder){.fd = -1, .sub = {-1, -1}};
		s->nfolders = i + 1;
		/* the configuration checked the name stays inside the Maildir */
		if (maildir_folder_ensure(s->root, &s->root_st, names[i], &s->folders[i], err) < 0)
			return err_prefix(err, "move_to folder");
	}
	return 0;
}

int maildir_dispose(struct source *src, const uint32_t *ids, size_t n,
			   enum source_dispose d, size_t folder, struct err *err)
{
	struct maildir_source *s = (struct maildir_source *)src;
	const struct md_folder *dest = d == SOURCE_BADMAIL ? &s->badmail
				       : d == SOURCE_ARCHIVE ? &s->archive
				       : folder < s->nfolders ? &s->folders[folder] : NULL;
	const char *what = d == SOURCE_BADMAIL ? "badmail" : d == SOURCE_ARCHIVE ? "archive"
										 : "move_to";
	if (!dest || dest->fd < 0)
		return err_set(err, ERR_FATAL, "no %s folder opened (bug)", what);
	for (size_t i = 0; i < n; i++) {
		if (ids[i] == 0 || ids[i] > s->nfiles)
			return err_set(err, ERR_FATAL, "maildir dispose of unknown id %" PRIu32 " (bug)",
				       ids[i]);
		if (move_one(s, &s->files[ids[i] - 1], dest, what, err) < 0)
			return -1;
	}
	log_debug("job.moved", "folder=\"%s\" count=%zu", what, n);
	return 0;
}

