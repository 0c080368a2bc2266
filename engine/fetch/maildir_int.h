/*
 * Private to the Maildir driver (source_maildir.c, maildir_folder.c,
 * maildir_move.c): the driver's state and the helpers its files share.
 * Every path here is relative to a directory descriptor (see the SECURITY
 * note in source_maildir.c).
 */
#ifndef M2T_MAILDIR_INT_H
#define M2T_MAILDIR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "engine/fetch/source_int.h"
#include "engine/util/buf.h"

#define MAILDIR_LIST_MAX 1000000    /* files in one folder */
#define MAILDIR_NAME_MAX 255
#define MAILDIR_DUP_TRIES 10        /* another name when the target exists */

enum maildir_sub { SUB_NEW, SUB_CUR };
extern const char *const maildir_sub_name[2];   /* "new", "cur" */

struct md_file {
	char *name;         /* current file name (flags may change) */
	enum maildir_sub sub;
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
	int root;           /* the Maildir, for the folders prepared later; -1 when closed */
	struct stat root_st;
	struct md_folder dir;      /* the job's folder */
	struct md_folder archive;  /* targets; not opened when nothing is disposed */
	struct md_folder badmail;
	struct md_folder *folders; /* the rules' move_to targets (prepared) */
	size_t nfolders;
	struct md_file *files;     /* the listing, by id - 1 */
	size_t nfiles;
	uint64_t max_message;
	bool unseen_only;   /* fetch: unseen: new/, and cur/ without S */
	struct buf body;    /* one message at a time */
};

/* maildir_folder.c */
/* "INBOX" → ".", "A/B" or "A.B" → ".A.B" (config_job.c checked the parts); malloc'd. */
char *maildir_folder_dir(const char *name);
/* The unique part of a file name (before ':'); its length, 0 when the name is
 * not usable as a key (empty, too long, not printable ASCII). */
size_t maildir_key_len(const char *name);
/* A file in cur/ with the T (trashed) flag: ":2," then the flag letters. */
bool maildir_trashed(const char *name);
/* The file name's info (":2,") holds the flag letter (S seen, T trashed ...). */
bool maildir_flagged(const char *name, char flag);
/* openat(at, path) as a directory, never through a symlink; -1 with errno. */
int maildir_open_dir(int at, const char *path, int *fd_r);
/* The directory fd has cur/ new/ tmp/; else ERR_SOURCE naming `what`. */
int maildir_check(int fd, const char *what, struct err *err);
/* Opens a folder ("INBOX", "A/B" = .A.B) of the Maildir and its new/ and cur/. */
int maildir_folder_open(int root, const char *name, struct md_folder *f, struct err *err);
/* The same, creating the Maildir++ folder first when missing, owned like root_st. */
int maildir_folder_ensure(int root, const struct stat *root_st, const char *name,
			  struct md_folder *f, struct err *err);
void maildir_folder_close(struct md_folder *f);

/* maildir_move.c */
/*
 * The file of a listed message under its name now: a client may have moved
 * it from new/ to cur/ or changed its flags since the listing. 0 found (f
 * updated), -1 gone.
 */
int maildir_relocate(struct maildir_source *s, struct md_file *f);
/* The source_ops prepare: the move_to folders, created when missing. */
int maildir_prepare(struct source *src, const char *const *names, size_t n, struct err *err);
/* The source_ops dispose: rename into the target folder, after COMMIT. */
int maildir_dispose(struct source *src, const uint32_t *ids, size_t n, enum source_dispose d,
		    size_t folder, struct err *err);

#endif
