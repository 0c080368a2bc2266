/*
 * Where committed messages go, and the disposes themselves, for any source
 * behind engine/fetch/source.h: the archive, badmail, and the folders the
 * rules' move_to actions name. Messages are gathered per target and
 * disposed in ranges (one source_dispose per target), only ever for
 * messages whose transaction committed.
 *
 * What stays where it is: everything of a job with keep_on_server, and
 * badmail on a source without folders (POP3; source_info.badmail_stays).
 * Those are remembered by the database alone. An IMAP job that keeps its
 * mail marks it \Seen instead (source_info.marks_seen), all but badmail:
 * in a mailbox people read too, badmail is left unread for a person to
 * notice.
 */
#ifndef M2T_DISPOSE_H
#define M2T_DISPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/config/config.h"
#include "engine/fetch/source.h"
#include "engine/job/uid_list.h"
#include "engine/util/err.h"
#include "storage/store.h"

struct dispose {
	struct source *src;         /* borrowed */
	const struct ruleset *rules; /* the job's; NULL: no move_to folders */
	bool keep;                  /* keep_on_server: nothing is moved */
	bool mark_seen;             /* ... and done mail is marked \Seen (SOURCE_SEEN) */
	bool badmail_stays;
	struct uid_list to_archive;
	struct uid_list to_badmail;
	struct uid_list to_seen;
	struct uid_list *to_folder; /* one per ruleset_folder() */
	size_t nfolders;
};

/* Makes the job's move_to folders ready on src (source_prepare_folders),
 * before the first message: a dispose after COMMIT must never meet a
 * missing folder. src must stay open while d is used. */
int dispose_open(struct dispose *d, struct source *src, const struct config_job *job,
		 struct err *err);
void dispose_release(struct dispose *d);

/* The folder number of a move_to target (0: none, the archive), as
 * dispose_queue takes it. A name the current rules no longer use (a mail
 * committed under older rules) is 0. */
unsigned dispose_folder_of(const struct dispose *d, const char *name);
/*
 * Queues a committed message: badmail for OUTCOME_BADMAIL, else folder (0:
 * the archive); for a job that keeps its mail, \Seen (not for badmail).
 * Returns false when nothing is done with it (see above).
 */
bool dispose_queue(struct dispose *d, uint32_t id, enum outcome o, unsigned folder);
/*
 * A listed message found committed by an earlier run: dispose_queue once
 * more (a move that failed or never came after COMMIT). Mail kept on the
 * server is marked \Seen again only when it is not (a STORE that failed,
 * or a person marked it unread) and the source can store the flag: a
 * read-only mailbox is not tried, and not warned about, at every run.
 */
bool dispose_queue_again(struct dispose *d, const struct source_msg *m, enum outcome o,
			 unsigned folder);
size_t dispose_pending(const struct dispose *d);
/* Disposes everything queued: archive, badmail, each folder, then \Seen. A
 * list that failed stays queued (and the ones after it). */
int dispose_run(struct dispose *d, struct err *err);

#endif
