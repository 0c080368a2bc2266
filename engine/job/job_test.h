/*
 * A job test run (DESIGN.md, "A job test run shows"): the whole way of a
 * job run for the next messages the job would take, with nothing changed
 * anywhere. The source is opened read-only (IMAP EXAMINE and BODY.PEEK;
 * POP3 without DELE; Maildir files only read), every message is parsed,
 * preprocessed, decided with a trace and stored inside ONE database
 * transaction that is rolled back at the end, and nothing is disposed. So
 * the report shows what the database would really have received (the
 * ticket number it would get, the follow-up ticket found, the policies'
 * changes), computed by the same code as a run. Saved mail files can stand
 * in for the source.
 *
 * What stays: sequence values (ids) the rolled-back inserts took, as with
 * any rolled-back transaction. No job_runs row and no mailbox state are
 * written. While it runs, the transaction holds the ticket-number counter
 * row once a ticket is numbered: a real run of the same database waits for
 * it (a test run of 100 mails takes about a second).
 *
 * Each message is handed to a callback with everything borrowed: it must
 * print (or copy) what it needs before it returns.
 */
#ifndef M2T_JOB_TEST_H
#define M2T_JOB_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/config/config.h"
#include "engine/mime/message.h"
#include "engine/util/err.h"
#include "rules/preprocess.h"
#include "rules/trace.h"
#include "storage/store.h"

#define JOB_TEST_DEFAULT_LIMIT 10
#define JOB_TEST_MAX_LIMIT 1000

/* One message's way; every pointer is borrowed for the callback's duration. */
struct job_test_msg {
	size_t index;                 /* 1, 2, ... in the order taken */
	const char *id;               /* "uid 42", the source key, or the file name */
	uint64_t size;
	const struct message *msg;    /* NULL: not fetched (too big) or unparsable */
	const struct preprocess_result *pre; /* NULL when preprocessing did not run */
	const struct trace *trace;    /* NULL when the rules did not run */
	const struct store_item *item; /* what the database received (results filled) */
	const char *failure;          /* why it became badmail on the way, else NULL */
	uint64_t elapsed_us;          /* parse to stored */
};

struct job_test_summary {
	char source[16];              /* "imap", "pop3", "maildir", "files" */
	char mailbox[256];            /* copied: the source is closed by then */
	size_t listed;                /* messages in the mailbox (files given) */
	size_t done_before;           /* already processed: a run would only dispose them */
	size_t taken;                 /* messages shown */
	size_t left;                  /* new ones past the limit */
	struct run_counts counts;     /* by outcome; already_done: found done in this run */
	double seconds;
};

typedef void (*job_test_cb)(void *ud, const struct job_test_msg *m);

struct job_test_opts {
	size_t limit;                 /* 1..JOB_TEST_MAX_LIMIT */
	const char *const *files;     /* saved mails instead of the source, when nfiles */
	size_t nfiles;
};

/*
 * Runs the test: cb once per message, then *sum. Returns 0, or -1 with err
 * (the source or the database failed; nothing was changed either way). A
 * message that cannot go the whole way is reported as the badmail it would
 * become, not as an error. A file that cannot be read is ERR_SOURCE.
 */
int job_test_run(const struct config_job *job, struct store *store,
		 const struct job_test_opts *opts, job_test_cb cb, void *ud,
		 struct job_test_summary *sum, struct err *err);

#endif
