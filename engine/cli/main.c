/*
 * mail2ticket — the command line. Exit codes follow sysexits.h so that
 * schedulers and MTAs can tell a retryable failure (EX_TEMPFAIL) from a
 * configuration error (EX_CONFIG) or a bug (EX_SOFTWARE).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sysexits.h>

#include "engine/cli/cli.h"
#include "engine/util/log.h"

static void usage(FILE *out)
{
	fputs("usage: mail2ticket [-c FILE] [--log-level LEVEL] COMMAND [ARGS]\n"
	      "\n"
	      "commands:\n"
	      "  check-config      validate the configuration and print a summary\n"
	      "  migrate           create or update the database schema\n"
	      "  run JOB           run a job once, now\n"
	      "  deliver JOB       take one mail on stdin (from an MTA) the way JOB would:\n"
	      "                    exit 0 recorded, 65 recorded as badmail, 75 retry later\n"
	      "  daemon [--workers N] [--max-workers N] [--once [--all]]\n"
	      "                    run the jobs by their schedules until SIGTERM\n"
	      "  status [--json]   each job: schedule, next and last run, holder, failures\n"
	      "  tickets [-n N]    list the newest tickets (number, requester, subject, articles)\n"
	      "  schedule EXPR [--tz ZONE] [--from TIME] [-n N]\n"
	      "                    print the next times a schedule fires\n"
	      "  preprocess [--rules FILE] [--json] [--trace] [--text] MAIL...\n"
	      "                    strip quotes and signatures from mail files, print the text\n"
	      "  test-connection ACCOUNT\n"
	      "                    connect and log in like a job; show TLS, certificate,\n"
	      "                    login, folders and timings\n"
	      "  oauth login ACCOUNT   sign an OAuth2 account in (device code: prints a URL\n"
	      "                    and a code, waits), stores its refresh token\n"
	      "  oauth status ACCOUNT  the account's tokens: expiry, last refresh and error\n"
	      "  oauth import ACCOUNT  store a refresh token read from stdin, and check it\n"
	      "  test-job JOB [--limit N] [--json] [--html FILE] [--file MAIL...]\n"
	      "                    what JOB would do with its next N mails (default 10),\n"
	      "                    step by step; changes nothing\n"
	      "  version           print the version\n"
	      "\n"
	      "options:\n"
	      "  -c, --config FILE     configuration file (default: $MAIL2TICKET_CONFIG,\n"
	      "                        else " CLI_DEFAULT_CONFIG ")\n"
	      "  -l, --log-level LEVEL debug, info, warn or error (default: info)\n"
	      "  -v, --verbose         same as --log-level debug\n"
	      "  -h, --help            this text\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"log-level", required_argument, NULL, 'l'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_opts o = {0};
	int c;

	/* a peer that closes mid-write is an error to report, not a reason to die */
	signal(SIGPIPE, SIG_IGN);
	o.config_path = getenv("MAIL2TICKET_CONFIG");
	if (!o.config_path || !o.config_path[0])
		o.config_path = CLI_DEFAULT_CONFIG;
	/* "+": stop at the command, so its own options stay its own */
	while ((c = getopt_long(argc, argv, "+c:l:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config_path = optarg;
			break;
		case 'l': {
			int lv = log_level_parse(optarg);
			if (lv < 0) {
				fprintf(stderr, "mail2ticket: unknown log level \"%s\"\n", optarg);
				return EX_USAGE;
			}
			o.log_level_set = 1;
			log_set_level((enum log_level)lv);
			break;
		}
		case 'v':
			o.log_level_set = 1;
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	const char *cmd = argv[optind];
	int cargc = argc - optind;
	char **cargv = argv + optind;

	if (strcmp(cmd, "check-config") == 0)
		return cli_check_config(&o, cargc, cargv);
	if (strcmp(cmd, "migrate") == 0)
		return cli_migrate(&o, cargc, cargv);
	if (strcmp(cmd, "run") == 0)
		return cli_run(&o, cargc, cargv);
	if (strcmp(cmd, "daemon") == 0)
		return cli_daemon(&o, cargc, cargv);
	if (strcmp(cmd, "status") == 0)
		return cli_status(&o, cargc, cargv);
	if (strcmp(cmd, "tickets") == 0)
		return cli_tickets(&o, cargc, cargv);
	if (strcmp(cmd, "schedule") == 0)
		return cli_schedule(&o, cargc, cargv);
	if (strcmp(cmd, "deliver") == 0)
		return cli_deliver(&o, cargc, cargv);
	if (strcmp(cmd, "preprocess") == 0)
		return cli_preprocess(&o, cargc, cargv);
	if (strcmp(cmd, "test-connection") == 0)
		return cli_test_connection(&o, cargc, cargv);
	if (strcmp(cmd, "oauth") == 0)
		return cli_oauth(&o, cargc, cargv);
	if (strcmp(cmd, "test-job") == 0)
		return cli_test_job(&o, cargc, cargv);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("mail2ticket %s\n", CLI_VERSION);
		return EX_OK;
	}
	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return EX_OK;
	}
	fprintf(stderr, "mail2ticket: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return EX_USAGE;
}
