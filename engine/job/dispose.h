/*
 * Where committed messages go on the server, and the moves themselves:
 * the archive folder, the badmail folder, and the folders the rules'
 * move_to actions name. Moves are gathered and done in ranges (one UID
 * MOVE per folder), only ever for messages whose transaction committed.
 */
#ifndef M2T_DISPOSE_H
#define M2T_DISPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/config/config.h"
#include "engine/fetch/imap.h"
#include "engine/job/uid_list.h"
#include "engine/util/err.h"
#include "storage/store.h"

struct dispose {
	char *archive;          /* server names, resolved with LIST */
	char *badmail;
	char **folders;         /* move_to targets, in the ruleset's order */
	size_t nfolders;
	struct uid_list to_archive;
	struct uid_list to_badmail;
	struct uid_list *to_folder;
};

/* Resolves (creating when missing) the archive, badmail and every move_to
 * folder of job's rules. */
int dispose_open(struct dispose *d, struct imap_client *imap, const struct config_job *job,
		 struct err *err);
void dispose_release(struct dispose *d);

/* The folder number of a move_to target (0: the archive). */
unsigned dispose_folder_of(const struct config_job *job, const char *name);
/* Queues uid: badmail for OUTCOME_BADMAIL, else folder (0: the archive). */
void dispose_queue(struct dispose *d, uint32_t uid, enum outcome o, unsigned folder);
size_t dispose_pending(const struct dispose *d);
/* Moves everything queued; the lists are empty afterwards. */
int dispose_run(struct dispose *d, struct imap_client *imap, struct err *err);

#endif
