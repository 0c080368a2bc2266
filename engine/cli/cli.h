/* The subcommands of mail2ticket; each returns a sysexits.h code. */
#ifndef M2T_CLI_H
#define M2T_CLI_H

#include "engine/util/err.h"

#define CLI_VERSION "0.1.0"
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
/* test-job JOB [--limit N] [--json] [--html FILE] [--file MAIL...] (cli_test_job.c). */
int cli_test_job(const struct cli_opts *o, int argc, char **argv);

/* Maps an error class to an exit code: transient → EX_TEMPFAIL, source →
 * EX_UNAVAILABLE, message → EX_DATAERR, fatal → EX_SOFTWARE. */
int cli_exit_code(const struct err *err);

#endif
