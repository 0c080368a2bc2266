/* The subcommands of mail2ticket; each returns a sysexits.h code. */
#ifndef M2T_CLI_H
#define M2T_CLI_H

#include "engine/config/config.h"
#include "engine/util/err.h"
#include "engine/util/version.h"
#include "storage/store.h"

#define CLI_VERSION M2T_VERSION
#define CLI_DEFAULT_CONFIG "/etc/mail2ticket/mail2ticket.yaml"

struct cli_opts {
	const char *config_path;
	int log_level_set;   /* the command line wins over log_level in the file */
};

int cli_check_config(const struct cli_opts *o, int argc, char **argv);
int cli_migrate(const struct cli_opts *o, int argc, char **argv);
int cli_run(const struct cli_opts *o, int argc, char **argv);
int cli_tickets(const struct cli_opts *o, int argc, char **argv);
/* schedule EXPR [--tz ZONE] [--from TIME] [-n N]: next fire times; no config. */
int cli_schedule(const struct cli_opts *o, int argc, char **argv);
/* deliver JOB < message (cli_deliver.c): 0 recorded, 65 badmail, 75 retry. */
int cli_deliver(const struct cli_opts *o, int argc, char **argv);
int cli_preprocess(const struct cli_opts *o, int argc, char **argv);
int cli_test_connection(const struct cli_opts *o, int argc, char **argv);
/* oauth login|status|import ACCOUNT (cli_oauth.c). */
int cli_oauth(const struct cli_opts *o, int argc, char **argv);

struct config_account;
/* The token lines of `oauth status`, also shown by test-connection. */
void cli_oauth_print_status(const struct config_account *a, const char *indent);

/* daemon [--workers N] [--once [--all]]: scheduled jobs on a pool of workers. */
int cli_daemon(const struct cli_opts *o, int argc, char **argv);
/* status [--json]: each job's schedule, next run, last run, holder, failures. */
int cli_status(const struct cli_opts *o, int argc, char **argv);

/* Loads the configuration and applies its log settings; on failure prints
 * the positioned error and returns EX_CONFIG. */
int cli_load_config(const struct cli_opts *o, struct config **cfg_r);
/* log_level (unless given on the command line) and log_format of cfg. */
void cli_apply_log_settings(const struct cli_opts *o, const struct config *cfg);
/* Opens the database; on failure prints why and returns the exit code. */
int cli_open_store(const struct config *cfg, struct store **store_r);
/* test-job JOB [--limit N] [--json] [--html FILE] [--file MAIL...] (cli_test_job.c). */
int cli_test_job(const struct cli_opts *o, int argc, char **argv);

/* Maps an error class to an exit code: transient → EX_TEMPFAIL, source →
 * EX_UNAVAILABLE, message → EX_DATAERR, fatal → EX_SOFTWARE. */
int cli_exit_code(const struct err *err);

#endif
