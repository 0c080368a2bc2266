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
 * folders are created when missing, with cur/ new/ tmp/ and the
 * maildirfolder marker, owned like the Maildir.
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

#include "engine/fetch/source_int.h"
#include "engine/util/buf.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define MAILDIR_LIST_MAX 1000000    /* files in one folder */
#define MAILDIR_NAME_MAX 255
#define MAILDIR_DUP_TRIES 10        /* another name when the target exists */

enum sub { SUB_NEW, SUB_CUR };
static const char *const sub_name[] = {"new", "cur"};

struct md_file {
	char *name;         /* current file name (flags may change) */
	enum sub sub;
	char *key;          /* unique part, before ':' */
};

/* A folder's directory and its new/ and cur/; -1 when not open. */
struct md_folder {
	int fd;
	int sub[2];
};

struct maildir_source {
	struct source base;
	char *mailbox;      /* as configured */
	struct md_folder dir;      /* the job's folder */
	struct md_folder archive;  /* targets; not opened when nothing is disposed */
	struct md_folder badmail;
	struct md_file *files;
	size_t nfiles;
	uint64_t max_message;
	struct buf body;    /* one message at a time */
};

/* "INBOX" → ".", "A/B" or "A.B" → ".A.B" (config_job.c checked the parts). */
static char *folder_dir(const char *name)
{
	if (strcmp(name, "INBOX") == 0)
		return xstrdup(".");
	char *d = xasprintf(".%s", name);
	for (char *p = d + 1; *p; p++)
		if (*p == '/')
			*p = '.';
	return d;
}

static int open_dir(int at, const char *path, int *fd_r)
{
	*fd_r = openat(at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return *fd_r < 0 ? -1 : 0;
}

/* The folder `fd` has cur/ new/ tmp/. */
static int check_maildir(int fd, const char *what, struct err *err)
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

static void folder_close(struct md_folder *f)
{
	int *fds[3] = {&f->fd, &f->sub[SUB_NEW], &f->sub[SUB_CUR]};
	for (size_t i = 0; i < 3; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* Opens a folder (name relative to the Maildir) and its new/ and cur/. */
static int folder_open(int root, const char *name, struct md_folder *f, struct err *err)
{
	char *d = folder_dir(name);
	int r = open_dir(root, d, &f->fd);
	free(d);
	if (r < 0)
		return err_set(err, ERR_SOURCE, "folder \"%s\" cannot be opened: %s", name,
			       strerror(errno));
	if (check_maildir(f->fd, name, err) < 0)
		return -1;
	if (open_dir(f->fd, "new", &f->sub[SUB_NEW]) < 0 ||
	    open_dir(f->fd, "cur", &f->sub[SUB_CUR]) < 0)
		return err_set(err, ERR_SOURCE, "folder \"%s\" cannot be opened: %s", name,
			       strerror(errno));
	return 0;
}

/* A Maildir++ folder with cur/ new/ tmp/ and maildirfolder, created when missing. */
static int ensure_folder(int root, const struct stat *root_st, const char *name,
			 struct md_folder *f, struct err *err)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	char *d = folder_dir(name);
	int fd = -1, rc = -1;
	if (make_dir(root, d, root_st, err, name) < 0)
		goto out;
	if (open_dir(root, d, &fd) < 0) {
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
	rc = folder_open(root, name, f, err);
out:
	if (fd >= 0)
		close(fd);
	free(d);
	return rc;
}

/* The unique part of a name; its length, 0 when the name is not usable as a key. */
static size_t key_len(const char *name)
{
	size_t n = strcspn(name, ":");
	if (n == 0 || n > MAILDIR_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			return 0;
	return n;
}

/* A file in cur/ with the T (trashed) flag: ":2," then the flag letters. */
static bool trashed(const char *name)
{
	const char *info = strchr(name, ':');
	return info && strncmp(info, ":2,", 3) == 0 && strchr(info + 3, 'T');
}

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

static int read_sub(struct maildir_source *s, enum sub sub, size_t *cap, size_t *skipped,
		    struct err *err)
{
	int fd = dup(s->dir.sub[sub]);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return err_set(err, ERR_SOURCE, "cannot read %s/ of \"%s\": %s", sub_name[sub],
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
		size_t kl = key_len(e->d_name);
		if (!kl) {
			(*skipped)++;
			continue;
		}
		if (sub == SUB_CUR && trashed(e->d_name))
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
		rc = err_set(err, ERR_SOURCE, "cannot read %s/ of \"%s\": %s", sub_name[sub],
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

/*
 * The file of a listed message under its name now: a client may have moved
 * it from new/ to cur/ or changed its flags since the listing. 0 found
 * (f updated), -1 gone.
 */
static int relocate(struct maildir_source *s, struct md_file *f)
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
				f->sub = (enum sub)sub;
				closedir(d);
				return 0;
			}
		}
		closedir(d);
	}
	return -1;
}

static int open_message(struct maildir_source *s, struct md_file *f)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = openat(s->dir.sub[f->sub], f->name,
				O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT || attempt == 1)
			return fd;
		if (relocate(s, f) < 0) {
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
	int fd = open_message(s, f);
	if (fd < 0) {
		/* deleted or expunged by someone else since the listing: nothing to do */
		log_info("maildir.vanished", "mailbox=\"%s\" key=\"%s\" error=\"%s\"", s->mailbox,
			 f->key, strerror(errno));
		return 0;
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_warn("maildir.skipped", "mailbox=\"%s\" key=\"%s\" msg=\"not a plain file\"",
			 s->mailbox, f->key);
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
			rc = err_set(err, ERR_TRANSIENT, "reading \"%s\" of \"%s\": %s", f->name,
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
	for (int attempt = 0; attempt < 2; attempt++) {
		int from = s->dir.sub[f->sub], to = dest->sub[f->sub];
		if (move_noreplace(from, f->name, to, f->name) == 0)
			return 0;
		int e = errno;
		if (e == ENOENT && attempt == 0 && relocate(s, f) == 0)
			continue;
		if (e == ENOENT) {
			/* moved or deleted by someone else: it is committed, nothing is lost */
			log_info("maildir.vanished", "mailbox=\"%s\" key=\"%s\"", s->mailbox, f->key);
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
	return err_set(err, ERR_SOURCE, "moving \"%s\" to the %s folder: %s", f->name, what,
		       strerror(errno));
}

static int maildir_dispose(struct source *src, const uint32_t *ids, size_t n,
			   enum source_dispose d, struct err *err)
{
	struct maildir_source *s = (struct maildir_source *)src;
	const struct md_folder *dest = d == SOURCE_BADMAIL ? &s->badmail : &s->archive;
	const char *what = d == SOURCE_BADMAIL ? "badmail" : "archive";
	if (dest->fd < 0)
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

static int maildir_close(struct source *src, struct err *err)
{
	struct maildir_source *s = (struct maildir_source *)src;
	(void)err;
	files_free(s);
	folder_close(&s->dir);
	folder_close(&s->archive);
	folder_close(&s->badmail);
	buf_release(&s->body);
	free(s->mailbox);
	free(src->msgs);
	free(s);
	return 0;
}

static const struct source_ops maildir_ops = {
	.list = maildir_list,
	.fetch = maildir_fetch,
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
	s->base.ops = &maildir_ops;
	s->base.mode = mode;
	s->base.info.kind = "maildir";
	s->base.info.identity = SOURCE_ID_KEY;
	s->mailbox = xstrdup(job->mailbox);
	s->base.info.mailbox = s->mailbox;
	struct md_folder none = {.fd = -1, .sub = {-1, -1}};
	s->dir = s->archive = s->badmail = none;
	s->max_message = lim->max_message ? lim->max_message : UINT64_MAX / 2;
	/* a message is kept whole in memory: its size, plus room to see one byte more */
	buf_init(&s->body, s->max_message > SIZE_MAX / 2 ? SIZE_MAX / 2
							 : (size_t)s->max_message + 64 * 1024);

	if (!path || open_dir(AT_FDCWD, path, &root) < 0 || fstat(root, &root_st) < 0) {
		err_set(err, ERR_SOURCE, "cannot open Maildir \"%s\": %s", path ? path : "",
			strerror(path ? errno : EINVAL));
		goto fail;
	}
	if (check_maildir(root, path, err) < 0)
		goto fail;
	if (folder_open(root, job->mailbox, &s->dir, err) < 0) {
		err_prefix(err, "mailbox of %s", path);
		goto fail;
	}
	if (mode == SOURCE_READ_WRITE && !job->keep_on_server &&
	    (ensure_folder(root, &root_st, job->archive_folder, &s->archive, err) < 0 ||
	     ensure_folder(root, &root_st, job->badmail_folder, &s->badmail, err) < 0))
		goto fail;
	close(root);
	log_info("job.selected", "maildir=\"%s\" mailbox=\"%s\"", path, job->mailbox);
	*src_r = &s->base;
	return 0;
fail:
	if (root >= 0)
		close(root);
	maildir_close(&s->base, NULL);
	return -1;
}
