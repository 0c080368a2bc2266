/* The subcommands: load the configuration, open what they need, report. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "engine/cli/cli.h"
#include "engine/config/config.h"
#include "engine/job/job_run.h"
#include "engine/mime/message.h"
#include "engine/util/log.h"
#include "engine/util/str.h"
#include "storage/store.h"

int cli_exit_code(const struct err *err)
{
	switch (err->cls) {
	case ERR_NONE: return EX_OK;
	case ERR_TRANSIENT: return EX_TEMPFAIL;
	case ERR_SOURCE: return EX_UNAVAILABLE;
	case ERR_MESSAGE: return EX_DATAERR;
	case ERR_FATAL: return EX_SOFTWARE;
	}
	return EX_SOFTWARE;
}

void cli_apply_log_settings(const struct cli_opts *o, const struct config *cfg)
{
	if (!o->log_level_set && cfg->log_level) {
		int lv = log_level_parse(cfg->log_level);
		if (lv >= 0)
			log_set_level((enum log_level)lv);
	}
	int fmt = cfg->log_format ? log_format_parse(cfg->log_format) : LOG_FORMAT_KV;
	if (fmt >= 0)
		log_set_format((enum log_format)fmt);
}

/* Loads the config; on failure prints the positioned error and returns EX_CONFIG. */
int cli_load_config(const struct cli_opts *o, struct config **cfg_r)
{
	struct err err = {0};
	if (config_load(o->config_path, cfg_r, &err) < 0) {
		fprintf(stderr, "mail2ticket: %s\n", err.msg);
		return EX_CONFIG;
	}
	cli_apply_log_settings(o, *cfg_r);
	return EX_OK;
}

int cli_open_store(const struct config *cfg, struct store **store_r)
{
	struct err err = {0};
	if (store_open(cfg->database_url, store_r, &err) < 0) {
		fprintf(stderr, "mail2ticket: database: %s\n", err.msg);
		return cli_exit_code(&err);
	}
	return EX_OK;
}

static int no_args(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "mail2ticket: %s: unexpected argument \"%s\"\n", argv[0], argv[1]);
		return EX_USAGE;
	}
	return EX_OK;
}

int cli_check_config(const struct cli_opts *o, int argc, char **argv)
{
	struct config *cfg = NULL;
	int rc = no_args(argc, argv);
	if (rc != EX_OK)
		return rc;
	rc = cli_load_config(o, &cfg);
	if (rc != EX_OK)
		return rc;
	config_print_summary(cfg, stdout);
	printf("configuration ok: %s\n", o->config_path);
	config_free(&cfg);
	return EX_OK;
}

int cli_migrate(const struct cli_opts *o, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *store = NULL;
	struct err err = {0};
	int rc = no_args(argc, argv);
	if (rc != EX_OK)
		return rc;
	if ((rc = cli_load_config(o, &cfg)) != EX_OK)
		return rc;
	if ((rc = cli_open_store(cfg, &store)) != EX_OK)
		goto out;
	if (store_migrate(store, stdout, &err) < 0) {
		fprintf(stderr, "mail2ticket: migrate: %s\n", err.msg);
		rc = cli_exit_code(&err);
	}
out:
	store_free(&store);
	config_free(&cfg);
	return rc;
}

int cli_run(const struct cli_opts *o, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *store = NULL;
	struct job_run_result res;
	struct err err = {0};
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: mail2ticket [-c FILE] run JOB\n");
		return EX_USAGE;
	}
	if ((rc = cli_load_config(o, &cfg)) != EX_OK)
		return rc;
	const struct config_job *job = config_find_job(cfg, argv[1]);
	if (!job) {
		fprintf(stderr, "mail2ticket: run: no job \"%s\" in %s\n", argv[1], o->config_path);
		config_free(&cfg);
		return EX_USAGE;
	}
	if ((rc = cli_open_store(cfg, &store)) != EX_OK)
		goto out;
	if (store_check_schema(store, &err) < 0) {
		fprintf(stderr, "mail2ticket: database: %s\n", err.msg);
		rc = err.cls == ERR_TRANSIENT ? EX_TEMPFAIL : EX_CONFIG;
		goto out;
	}
	mime_global_init();
	if (job_run(job, store, &res, &err) < 0) {
		fprintf(stderr, "mail2ticket: run %s: %s\n", job->name, err.msg);
		rc = cli_exit_code(&err);
	}
	printf("job %s: fetched %" PRIu64 ", tickets %" PRIu64 ", appended %" PRIu64
	       ", ignored %" PRIu64 ", badmail %" PRIu64 ", already done %" PRIu64
	       ", %.2f MB in %.2f s\n",
	       job->name, res.counts.fetched, res.counts.tickets, res.counts.appended,
	       res.counts.ignored, res.counts.badmail, res.counts.already_done,
	       (double)res.counts.bytes / (1024.0 * 1024.0), res.seconds);
	mime_global_shutdown();
out:
	store_free(&store);
	config_free(&cfg);
	return rc;
}

int cli_tickets(const struct cli_opts *o, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *store = NULL;
	struct err err = {0};
	uint64_t limit = 50;
	int rc;

	if (argc == 3 && strcmp(argv[1], "-n") == 0) {
		if (str_parse_u64(argv[2], strlen(argv[2]), 1000000, &limit) < 0) {
			fprintf(stderr, "mail2ticket: tickets: -n wants a number, got \"%s\"\n", argv[2]);
			return EX_USAGE;
		}
	} else if (argc != 1) {
		fprintf(stderr, "usage: mail2ticket [-c FILE] tickets [-n N]\n");
		return EX_USAGE;
	}
	if ((rc = cli_load_config(o, &cfg)) != EX_OK)
		return rc;
	if ((rc = cli_open_store(cfg, &store)) != EX_OK)
		goto out;
	if (store_print_tickets(store, stdout, (unsigned)limit, &err) < 0) {
		fprintf(stderr, "mail2ticket: tickets: %s\n", err.msg);
		rc = cli_exit_code(&err);
	}
out:
	store_free(&store);
	config_free(&cfg);
	return rc;
}
