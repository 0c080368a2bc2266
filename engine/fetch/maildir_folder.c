/*
 * SECURITY: folder names come from the configuration (config_job.c checked
 * they cannot leave the Maildir) and become paths relative to the
 * Maildir's descriptor; nothing is opened through a symlink.
 *
 * Maildir++ folders of the Maildir driver: "INBOX" is the Maildir itself,
 * "Support/Level2" (or "Support.Level2") is .Support.Level2/. Missing
 * archive and badmail folders are created with cur/ new/ tmp/ and the
 * maildirfolder marker, with the Maildir's mode and owner, so the mail
 * server can still use them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/fetch/maildir_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

const char *const maildir_sub_name[2] = {"new", "cur"};

char *maildir_folder_dir(const char *name)
{
	if (strcmp(name, "INBOX") == 0)
		return xstrdup(".");
	char *d = xasprintf(".%s", name);
	for (char *p = d + 1; *p; p++)
		if (*p == '/')
			*p = '.';
	return d;
}

size_t maildir_key_len(const char *name)
{
	size_t n = strcspn(name, ":");
	if (n == 0 || n > MAILDIR_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			return 0;
	return n;
}

bool maildir_flagged(const char *name, char flag)
{
	const char *info = strchr(name, ':');
	return info && strncmp(info, ":2,", 3) == 0 && strchr(info + 3, flag);
}

bool maildir_trashed(const char *name)
{
	return maildir_flagged(name, 'T');
}

int maildir_open_dir(int at, const char *path, int *fd_r)
{
	*fd_r = openat(at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return *fd_r < 0 ? -1 : 0;
}

/* The folder `fd` has cur/ new/ tmp/. */
int maildir_check(int fd, const char *what, struct err *err)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	for (size_t i = 0; i < 3; i++) {
		struct stat st;
		if (fstatat(fd, subs[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			return err_set(err, ERR_SOURCE, "%s is not a Maildir: no %s/ in it", what,
				       subs[i]);
	}
	return 0;
}

/* mkdir that accepts an existing directory, owned like the Maildir. */
static int make_dir(int at, const char *name, const struct stat *like, struct err *err,
		    const char *what)
{
	if (mkdirat(at, name, like->st_mode & 07777) < 0) {
		if (errno == EEXIST)
			return 0;
		return err_set(err, ERR_SOURCE, "cannot create %s: %s", what, strerror(errno));
	}
	/* root (a test, a misconfigured service) must not leave root-owned folders
	 * behind that the mail server cannot write; others cannot chown anyway */
	if (geteuid() == 0 && fchownat(at, name, like->st_uid, like->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		log_warn("maildir.chown", "folder=\"%s\" error=\"%s\"", what, strerror(errno));
	return 0;
}

void maildir_folder_close(struct md_folder *f)
{
	int *fds[3] = {&f->fd, &f->sub[SUB_NEW], &f->sub[SUB_CUR]};
	for (size_t i = 0; i < 3; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* Opens a folder (name relative to the Maildir) and its new/ and cur/. */
int maildir_folder_open(int root, const char *name, struct md_folder *f, struct err *err)
{
	char *d = maildir_folder_dir(name);
	int r = maildir_open_dir(root, d, &f->fd);
	free(d);
	if (r < 0)
		return err_set(err, ERR_SOURCE, "folder \"%s\" cannot be opened: %s", name,
			       strerror(errno));
	if (maildir_check(f->fd, name, err) < 0)
		return -1;
	if (maildir_open_dir(f->fd, "new", &f->sub[SUB_NEW]) < 0 ||
	    maildir_open_dir(f->fd, "cur", &f->sub[SUB_CUR]) < 0)
		return err_set(err, ERR_SOURCE, "folder \"%s\" cannot be opened: %s", name,
			       strerror(errno));
	return 0;
}

/* A Maildir++ folder with cur/ new/ tmp/ and maildirfolder, created when missing. */
int maildir_folder_ensure(int root, const struct stat *root_st, const char *name,
			 struct md_folder *f, struct err *err)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	char *d = maildir_folder_dir(name);
	int fd = -1, rc = -1;
	if (make_dir(root, d, root_st, err, name) < 0)
		goto out;
	if (maildir_open_dir(root, d, &fd) < 0) {
		err_set(err, ERR_SOURCE, "cannot open folder \"%s\": %s", name, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < 3; i++)
		if (make_dir(fd, subs[i], root_st, err, name) < 0)
			goto out;
	if (strcmp(d, ".") != 0) {
		int m = openat(fd, "maildirfolder", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
			       root_st->st_mode & 0666);
		if (m >= 0) {
			if (geteuid() == 0 && fchown(m, root_st->st_uid, root_st->st_gid) < 0)
				log_debug("maildir.chown", "folder=\"%s\"", name);
			close(m);
		}
	}
	rc = maildir_folder_open(root, name, f, err);
out:
	if (fd >= 0)
		close(fd);
	free(d);
	return rc;
}

