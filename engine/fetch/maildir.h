/*
 * Looking at a Maildir the way the Maildir driver (source_maildir.c) would
 * use it, without reading, renaming or creating anything: for
 * `test-connection` on a `protocol: maildir` account. Rights are checked
 * for the effective user of this process (faccessat AT_EACCESS): run it as
 * the user the daemon runs as.
 */
#ifndef M2T_MAILDIR_H
#define M2T_MAILDIR_H

#include <stdbool.h>
#include <stdint.h>

struct maildir_probe {
	bool exists;            /* the directory is there (a symlink is not followed) */
	bool is_maildir;        /* with cur/ new/ tmp/ */
	bool readable;          /* new/ and cur/ can be listed and their files read */
	bool renamable;         /* files can be renamed out of and into new/ and cur/ */
	bool can_create;        /* subfolders can be made in it (the Maildir itself) */
	uint32_t in_new, in_cur;  /* messages a job would take: plain files with a usable
				     name; in cur/ not flagged T (trashed) */
	unsigned uid, gid, mode;  /* of the directory */
	char problem[256];      /* the first thing wrong, in plain words; "" when none */
};

/*
 * Fills *p for `folder` of the Maildir at `path` ("INBOX" is the Maildir
 * itself, "A/B" or "A.B" its Maildir++ folder .A.B/). Never fails: what
 * could not be seen is false, with the reason in p->problem.
 */
void maildir_probe(const char *path, const char *folder, struct maildir_probe *p);

#endif
