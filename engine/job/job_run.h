/*
 * One run of one job: the whole way of DESIGN.md for every new message of
 * the job's mailbox — list, size check, fetch, parse, plan, store (several
 * messages per transaction), COMMIT, and only then dispose on the server.
 */
#ifndef M2T_JOB_RUN_H
#define M2T_JOB_RUN_H

#include <stdatomic.h>
#include <stdbool.h>

#include "engine/config/config.h"
#include "engine/fetch/source.h"
#include "engine/util/err.h"
#include "storage/store.h"

struct job_run_result {
	struct run_counts counts;
	double seconds;
	int64_t run_id;
	bool has_outcome;           /* a message was recorded (or found recorded) */
	enum outcome last_outcome;  /* ... with this outcome: what `deliver` reports */
	bool stopped;           /* ended early because job_run_ctl.stop was set */
};

/* How another thread (the daemon) steers a run. */
struct job_run_ctl {
	/*
	 * Polled between messages: once true, the message in hand is finished,
	 * the rest of the batch is left in the mailbox untouched, what was
	 * stored is committed and moved, and the run ends with status
	 * "stopped" (res->stopped). NULL: never stops early.
	 */
	const atomic_bool *stop;
};

/*
 * Runs `job` once. A message-level failure (unparsable, over a limit) sends
 * that message to badmail and the run goes on. A transient failure (network,
 * database) ends the run; the messages not yet committed stay where they
 * are, to be retried. Returns 0, or -1 with err's class saying how far the
 * failure reaches. The run is recorded in job_runs either way (best effort
 * when the database itself failed).
 */
int job_run(const struct config_job *job, struct store *store, struct job_run_result *res,
	    struct err *err);
/* job_run() that another thread can stop between two messages. ctl may be NULL. */
int job_run_ctl(const struct config_job *job, struct store *store, const struct job_run_ctl *ctl,
		struct job_run_result *res, struct err *err);

/*
 * The same run on a source the caller opened (`deliver`: the stdin source).
 * Takes src over: it is closed before this returns, whatever happens.
 */
int job_run_source(const struct config_job *job, struct source *src, struct store *store,
		   struct job_run_result *res, struct err *err);

#endif
