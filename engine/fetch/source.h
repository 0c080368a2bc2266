/*
 * The source interface: where a job's mail comes from (DESIGN.md, "One
 * message's way"). IMAP, POP3, Maildir and mail piped in on stdin are
 * drivers behind one vtable (isync's driver.h habit); the job run only ever
 * talks to this header.
 *
 * A session: open → prepare the rules' folders → list → fetch (in
 * batches) → dispose what the database has committed → close. Messages are named by an id that is stable for the
 * session (the IMAP UID; POP3 and Maildir: position in the listing, from 1),
 * and identified across sessions by source_info.identity:
 *   SOURCE_ID_UID      (mailbox, uidvalidity, id)       IMAP
 *   SOURCE_ID_KEY      source_msg.key                   POP3 UIDL, Maildir unique name
 *   SOURCE_ID_CONTENT  Message-ID + sha256 only         stdin
 *
 * Errors: as imap.h. ERR_TRANSIENT for the network and timeouts (retry the
 * run), ERR_SOURCE when the account or mailbox is broken (this job stops),
 * ERR_FATAL for bad configuration or a bug.
 */
#ifndef M2T_SOURCE_H
#define M2T_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/config/config.h"
#include "engine/util/err.h"

struct source;

enum source_mode {
	SOURCE_READ_WRITE,
	SOURCE_READ_ONLY,       /* a test run: IMAP EXAMINE, nothing created, no dispose */
};

enum source_identity {
	SOURCE_ID_UID,
	SOURCE_ID_KEY,
	SOURCE_ID_CONTENT,
};

/*
 * What happens to a message after COMMIT. POP3 has no folders: ARCHIVE
 * deletes it (DELE, applied at QUIT) and BADMAIL leaves it on the server
 * (source_info.badmail_stays); the database remembers both. FOLDER moves
 * it to a folder a rule named (move_to), made ready by
 * source_prepare_folders(); POP3 has none (the configuration refuses
 * move_to on a POP3 account). SEEN leaves it where it is and flags it
 * \Seen: the done mail of an IMAP job that keeps it on the server
 * (source_info.marks_seen); where the flag cannot be stored
 * (source_info.seen_refused) the mail stays unread, with one warning per
 * session, and the call succeeds: the database remembers it all the same.
 */
enum source_dispose {
	SOURCE_ARCHIVE,
	SOURCE_BADMAIL,
	SOURCE_FOLDER,
	SOURCE_SEEN,
};

struct source_msg {
	uint32_t id;            /* for fetch and dispose, this session */
	uint64_t size;          /* as the source announces it, before fetching */
	const char *key;        /* SOURCE_ID_KEY: printable ASCII; NULL otherwise */
	const char *sha256;     /* hex, when known without fetching (stdin), else NULL */
	bool seen;              /* IMAP: flagged \Seen when listed; false elsewhere */
};

struct source_info {
	const char *kind;       /* "imap", "pop3", "maildir", "stdin" */
	const char *mailbox;    /* recorded with each message: the server's folder name,
				   "INBOX" for POP3, "stdin" */
	enum source_identity identity;
	uint32_t uidvalidity;   /* SOURCE_ID_UID */
	bool badmail_stays;     /* SOURCE_BADMAIL leaves the message in place (POP3) */
	bool marks_seen;        /* SOURCE_SEEN is this session's dispose: an IMAP job with
				   keep_on_server and mark_seen, the mailbox SELECTed */
	bool seen_refused;      /* ... but \Seen cannot be stored ([READ-ONLY], not among
				   PERMANENTFLAGS, or a STORE was refused); may turn true
				   during the session */
};

/*
 * Limits the caller imposes on what it is given: max_message is the job's
 * max_message_size (a listed size above it is never fetched; a message
 * that turns out bigger while fetching is reported, not delivered), 0 = no
 * limit beyond the driver's own; max_line caps protocol lines (0: 64 KB).
 */
struct source_limits {
	uint64_t max_message;
	size_t max_line;
};

/*
 * Opens the job's source as its account's protocol says (IMAP, POP3,
 * Maildir): connects and logs in, resolves the mailbox, and in read-write
 * mode makes sure the archive and badmail folders exist (unless the job
 * keeps its mail on the server). *src_r is owned by the caller:
 * source_close().
 */
int source_open(const struct config_job *job, enum source_mode mode,
		const struct source_limits *lim, struct source **src_r, struct err *err);

/* Borrowed from the source, valid until source_close(). */
const struct source_info *source_info(const struct source *src);

/*
 * The folders the job's rules may move mail to (move_to), made ready
 * before the first message is fetched, so that a dispose after COMMIT
 * never meets a missing folder: IMAP resolves each name with LIST and
 * creates it when missing, Maildir creates the Maildir++ subfolder, stdin
 * needs nothing. POP3 has no folders: ERR_FATAL when n > 0. In read-only
 * mode nothing is created (a test run disposes nothing). Call it once;
 * names are copied.
 */
int source_prepare_folders(struct source *src, const char *const *names, size_t n,
			   struct err *err);

/*
 * Every message of the mailbox, ascending by id (IMAP by UID, POP3 in
 * server order, Maildir by file name). *v_r is owned by the source and
 * valid until the next source_list() or source_close().
 */
int source_list(struct source *src, const struct source_msg **v_r, size_t *n_r,
		struct err *err);

/*
 * Called once per message of a fetch, in the source's order. `raw` is
 * valid only during the call. raw NULL: the message turned out larger than
 * max_message while being fetched (the server announced less); len is the
 * size seen so far (more than max_message) and nothing of it was kept.
 * Returning <0 stops the fetch and source_fetch returns that error.
 */
typedef int (*source_body_cb)(void *ud, uint32_t id, const char *raw, size_t len,
			      struct err *err);

/*
 * The raw bytes of the listed messages `ids` (each at most once, a message
 * that vanished meanwhile is skipped). Never changes a message's state on
 * the server (IMAP BODY.PEEK; POP3 RETR does not delete).
 */
int source_fetch(struct source *src, const uint32_t *ids, size_t n, source_body_cb cb,
		 void *ud, struct err *err);

/*
 * Only ever after COMMIT: moves (IMAP, Maildir), deletes (POP3) or marks
 * \Seen (IMAP, SOURCE_SEEN) the messages. `folder` names the target of
 * SOURCE_FOLDER (one of the prepared folders) and is NULL otherwise. A
 * failure leaves them where they are; the database knows them as
 * processed, so the next run only disposes them. ERR_FATAL in read-only
 * mode, for a folder that was not prepared, and for SOURCE_SEEN on a
 * session that does not mark (source_info.marks_seen false).
 */
int source_dispose(struct source *src, const uint32_t *ids, size_t n, enum source_dispose d,
		   const char *folder, struct err *err);

/*
 * Ends the session (IMAP LOGOUT, POP3 QUIT) and frees; sets *src to NULL.
 * Returns <0 only when that loses work the caller believes done: POP3
 * deletions take effect at QUIT, so a failed QUIT is reported (the mail is
 * still on the server, recorded as processed, and disposed next run).
 * err may be NULL.
 */
int source_close(struct source **src, struct err *err);

/*
 * The stdin driver: reads all of fd now (the MTA's pipe) and offers it as
 * one message (SOURCE_ID_CONTENT, mailbox "stdin"). Up to max_message bytes
 * are kept; anything longer is read to its end and hashed only, and listed
 * with its size and sha256 so it can be recorded as badmail unfetched.
 * Read errors are ERR_TRANSIENT (the MTA retries).
 */
int source_stdin_open(int fd, uint64_t max_message, struct source **src_r, struct err *err);

#endif
