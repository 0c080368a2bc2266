/*
 * SECURITY: a Maildir is written by other programs while we look: only
 * directory descriptors opened without following symlinks are used, file
 * names are counted, never opened or printed. Nothing is changed.
 *
 * What test-connection shows of a Maildir: is it there, is it a Maildir,
 * may this process read and rename in it, how many messages a job would
 * take. The counting rules are the driver's (maildir_key_len,
 * maildir_trashed), so the number is the one a run would see.
 */
#include "engine/fetch/maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/fetch/maildir_int.h"

/* Why a directory would not open (errno set by the open), in plain words. */
static const char *open_error(int at, const char *name)
{
	int e = errno;
	struct stat st;
	/* O_NOFOLLOW | O_DIRECTORY: ELOOP or ENOTDIR for a symlink, as the driver sees it */
	if ((e == ELOOP || e == ENOTDIR) && fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return "it is a symbolic link (not followed)";
	return strerror(e);
}

/* Messages in one of new/ and cur/, as the driver would list them. */
static uint32_t count_sub(int fd, enum maildir_sub sub)
{
	int dfd = openat(fd, maildir_sub_name[sub], O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			 O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	uint32_t n = 0;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < UINT32_MAX) {
		if (e->d_name[0] == '.' || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
			continue;
		if (!maildir_key_len(e->d_name))
			continue;
		if (sub == SUB_CUR && maildir_trashed(e->d_name))
			continue;
		n++;
	}
	closedir(d);
	return n;
}

/* The rights on new/ and cur/ (and the folder itself) for this process. */
static void check_rights(int fd, struct maildir_probe *p)
{
	p->readable = faccessat(fd, ".", R_OK | X_OK, AT_EACCESS) == 0;
	p->renamable = p->readable;
	for (int sub = SUB_NEW; sub <= SUB_CUR; sub++) {
		const char *name = maildir_sub_name[sub];
		if (faccessat(fd, name, R_OK | X_OK, AT_EACCESS) < 0) {
			p->readable = false;
			if (!p->problem[0])
				snprintf(p->problem, sizeof(p->problem), "%s/ cannot be read: %s",
					 name, strerror(errno));
		}
		/* a rename needs write and search rights on both directories */
		if (faccessat(fd, name, W_OK | X_OK, AT_EACCESS) < 0) {
			p->renamable = false;
			if (!p->problem[0])
				snprintf(p->problem, sizeof(p->problem), "no right to rename files "
					 "in %s/: %s", name, strerror(errno));
		}
	}
	p->can_create = faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) == 0;
}

void maildir_probe(const char *path, const char *folder, struct maildir_probe *p)
{
	memset(p, 0, sizeof(*p));
	int root = -1, fd = -1;
	char *dir = maildir_folder_dir(folder);
	struct stat st;
	if (maildir_open_dir(AT_FDCWD, path, &root) < 0) {
		snprintf(p->problem, sizeof(p->problem), "cannot open the Maildir: %s",
			 open_error(AT_FDCWD, path));
		goto out;
	}
	if (maildir_open_dir(root, dir, &fd) < 0) {
		snprintf(p->problem, sizeof(p->problem), "%s",
			 errno == ENOENT ? "missing" : open_error(root, dir));
		goto out;
	}
	p->exists = true;
	if (fstat(fd, &st) == 0) {
		p->uid = (unsigned)st.st_uid;
		p->gid = (unsigned)st.st_gid;
		p->mode = (unsigned)(st.st_mode & 07777);
	}
	struct err err = {0};
	if (maildir_check(fd, folder, &err) < 0) {
		snprintf(p->problem, sizeof(p->problem), "not a Maildir: %.200s",
			 strstr(err.msg, "no ") ? strstr(err.msg, "no ") : err.msg);
		goto out;
	}
	p->is_maildir = true;
	check_rights(fd, p);
	if (p->readable) {
		p->in_new = count_sub(fd, SUB_NEW);
		p->in_cur = count_sub(fd, SUB_CUR);
	}
out:
	if (fd >= 0)
		close(fd);
	if (root >= 0)
		close(root);
	free(dir);
}
