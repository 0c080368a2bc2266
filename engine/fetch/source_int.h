/*
 * Private to the source drivers (engine/fetch/source*.c): the vtable and the
 * part of a source every driver shares. A driver's own struct starts with
 * `struct source base;` and is reached from the vtable's functions with a
 * cast (isync's store_t habit).
 */
#ifndef M2T_SOURCE_INT_H
#define M2T_SOURCE_INT_H

#include "engine/fetch/source.h"

struct source_ops {
	/* Fills src->msgs / src->nmsgs (the driver owns the array and the keys). */
	int (*list)(struct source *src, struct err *err);
	int (*fetch)(struct source *src, const uint32_t *ids, size_t n, source_body_cb cb,
		     void *ud, struct err *err);
	/* Makes names[0..n) ready as SOURCE_FOLDER targets (n > 0; never in
	 * read-only mode); NULL: the source needs nothing for them. */
	int (*prepare)(struct source *src, const char *const *names, size_t n,
		       struct err *err);
	/* Never called in read-only mode, nor with n == 0. folder: for
	 * SOURCE_FOLDER, the index of the target in the prepared names. */
	int (*dispose)(struct source *src, const uint32_t *ids, size_t n,
		       enum source_dispose d, size_t folder, struct err *err);
	/* Ends the session and frees everything, the struct included. */
	int (*close)(struct source *src, struct err *err);
};

struct source {
	const struct source_ops *ops;
	struct source_info info;
	enum source_mode mode;
	struct source_msg *msgs;
	size_t nmsgs;
	char **folders;         /* prepared SOURCE_FOLDER targets (source.c frees them) */
	size_t nfolders;
};

/* The drivers' open functions, called by source_open(). */
int source_imap_open(const struct config_job *job, enum source_mode mode,
		     const struct source_limits *lim, struct source **src_r, struct err *err);
int source_pop3_open(const struct config_job *job, enum source_mode mode,
		     const struct source_limits *lim, struct source **src_r, struct err *err);
int source_maildir_open(const struct config_job *job, enum source_mode mode,
			const struct source_limits *lim, struct source **src_r,
			struct err *err);

#endif
