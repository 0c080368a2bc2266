/*
 * `mail2ticket -c FILE deliver JOB < message`: mail piped in by an MTA
 * (Postfix pipe(8) or an alias, Exim's pipe transport), run the same way as
 * a job (job_run_source on the stdin source): parse, plan, store, COMMIT.
 *
 * The exit code is the MTA's instruction (sysexits.h), so it never says
 * "done" before COMMIT and never makes the MTA bounce a mail that was not
 * recorded:
 *   0   EX_OK        recorded (ticket, article, ignored), or recorded
 *                    before: a redelivery is "already done" by Message-ID
 *                    + sha256, one ticket however often it arrives
 *   65  EX_DATAERR   recorded as badmail (unparseable, over a limit, over
 *                    max_message_size): the MTA bounces it; the reason is
 *                    in processed_messages
 *   75  EX_TEMPFAIL  anything else — database unreachable or stopped,
 *                    configuration broken, unknown job, a read error:
 *                    nothing recorded, the MTA keeps the mail and retries
 * A bad command line is 75 too: a typo in an MTA's pipe line must leave
 * the mail queued, not bounce it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <sysexits.h>
#include <unistd.h>

#include "engine/cli/cli.h"
#include "engine/config/config.h"
#include "engine/fetch/source.h"
#include "engine/job/job_run.h"
#include "engine/mime/message.h"
#include "engine/util/log.h"
#include "storage/store.h"

static int tempfail(const char *what, const char *msg)
{
	fprintf(stderr, "mail2ticket: deliver: %s%s%s (EX_TEMPFAIL: the MTA will retry)\n", what,
		msg ? ": " : "", msg ? msg : "");
	return EX_TEMPFAIL;
}

int cli_deliver(const struct cli_opts *o, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *store = NULL;
	struct source *src = NULL;
	struct job_run_result res;
	struct err err = {0};
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: mail2ticket [-c FILE] deliver JOB < message\n");
		return EX_TEMPFAIL;
	}
	if (config_load(o->config_path, &cfg, &err) < 0)
		return tempfail("configuration", err.msg);
	if (!o->log_level_set && cfg->log_level) {
		int lv = log_level_parse(cfg->log_level);
		if (lv >= 0)
			log_set_level((enum log_level)lv);
	}
	const struct config_job *job = config_find_job(cfg, argv[1]);
	if (!job) {
		fprintf(stderr, "mail2ticket: deliver: no job \"%s\" in %s (EX_TEMPFAIL: the MTA "
			"will retry)\n", argv[1], o->config_path);
		rc = EX_TEMPFAIL;
		goto out;
	}
	/* the database first: when it is down, the MTA keeps the mail */
	if (store_open(cfg->database_url, &store, &err) < 0 ||
	    store_check_schema(store, &err) < 0) {
		rc = tempfail("database", err.msg);
		goto out;
	}
	if (source_stdin_open(STDIN_FILENO, job->limits.max_size, &src, &err) < 0) {
		rc = tempfail("stdin", err.msg);
		goto out;
	}
	mime_global_init();
	if (job_run_source(job, src, store, &res, &err) < 0) {
		rc = tempfail(job->name, err.msg);
	} else if (!res.has_outcome) {
		rc = tempfail(job->name, "the message was not recorded");
	} else if (res.last_outcome == OUTCOME_BADMAIL) {
		fprintf(stderr, "mail2ticket: deliver %s: the message cannot be processed and was "
			"recorded as badmail (EX_DATAERR)\n", job->name);
		rc = EX_DATAERR;
	} else {
		rc = EX_OK;
	}
	mime_global_shutdown();
out:
	store_free(&store);
	config_free(&cfg);
	return rc;
}
