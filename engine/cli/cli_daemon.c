/*
 * `mail2ticket daemon [--workers N] [--max-workers N] [--once [--all]]`: the
 * scheduled jobs on a pool of worker threads (engine/sched/daemon.h), until
 * SIGTERM/SIGINT. --workers and --max-workers override the configuration's
 * workers: and max_workers:.
 *
 * --once runs every job that is due now — its schedule fired since its
 * last recorded run (once, however many slots passed), it never ran, or its
 * backoff after a failure is over — and exits: what a cron line or a
 * systemd timer calling `daemon --once` every few minutes expects (a job at
 * "0 2 * * *" runs on the first call after 02:00, not on every call).
 * --all runs every job once, due or not.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "engine/cli/cli.h"
#include "engine/sched/daemon.h"
#include "engine/util/str.h"

static void daemon_usage(FILE *out)
{
	fputs("usage: mail2ticket [-c FILE] daemon [--workers N] [--max-workers N] [--once [--all]]\n"
	      "  --workers N  runs doing work at once (default 4, at most 256)\n"
	      "  --max-workers N\n"
	      "               worker threads at most, each with its own database\n"
	      "               connection: more start while the others wait on\n"
	      "               stalled servers (default 32, at most 256)\n"
	      "  --once       run the jobs that are due now, once, and exit\n"
	      "  --all        with --once: every job, due or not\n",
	      out);
}

int cli_daemon(const struct cli_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{"workers", required_argument, NULL, 'w'},
		{"max-workers", required_argument, NULL, 'm'},
		{"once", no_argument, NULL, 'o'},
		{"all", no_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct daemon_opts dopts = { .config_path = o->config_path,
				     .log_level_from_cli = o->log_level_set != 0,
				     .version = CLI_VERSION };
	struct config *cfg = NULL;
	struct store *store = NULL;
	struct err err = {0};
	uint64_t n;
	int ch, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "+w:m:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			if (str_parse_u64(optarg, strlen(optarg), DAEMON_WORKERS_MAX, &n) < 0 || n == 0) {
				fprintf(stderr, "mail2ticket: daemon: --workers wants 1 to %d, got \"%s\"\n",
					DAEMON_WORKERS_MAX, optarg);
				return EX_USAGE;
			}
			dopts.workers = (unsigned)n;
			break;
		case 'm':
			if (str_parse_u64(optarg, strlen(optarg), DAEMON_WORKERS_MAX, &n) < 0 || n == 0) {
				fprintf(stderr, "mail2ticket: daemon: --max-workers wants 1 to %d, got "
					"\"%s\"\n", DAEMON_WORKERS_MAX, optarg);
				return EX_USAGE;
			}
			dopts.max_workers = (unsigned)n;
			break;
		case 'o':
			dopts.once = true;
			break;
		case 'a':
			dopts.all = true;
			break;
		case 'h':
			daemon_usage(stdout);
			return EX_OK;
		default:
			daemon_usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc || (dopts.all && !dopts.once)) {
		daemon_usage(stderr);
		return EX_USAGE;
	}
	if (dopts.workers && dopts.max_workers && dopts.max_workers < dopts.workers) {
		fprintf(stderr, "mail2ticket: daemon: --max-workers (%u) is below --workers (%u)\n",
			dopts.max_workers, dopts.workers);
		return EX_USAGE;
	}
	if ((rc = cli_load_config(o, &cfg)) != EX_OK)
		return rc;
	/* refuse to start against a database the binary does not match */
	if ((rc = cli_open_store(cfg, &store)) != EX_OK)
		goto out;
	if (store_check_schema(store, &err) < 0) {
		fprintf(stderr, "mail2ticket: database: %s\n", err.msg);
		rc = err.cls == ERR_TRANSIENT ? EX_TEMPFAIL : EX_CONFIG;
		goto out;
	}
	store_free(&store);
	enum err_class worst;
	struct config *run_cfg = cfg;
	cfg = NULL;  /* daemon_run owns it now */
	if (daemon_run(&dopts, run_cfg, &worst, &err) < 0) {
		fprintf(stderr, "mail2ticket: daemon: %s\n", err.msg);
		rc = strncmp(err.msg, "metrics_listen", 14) == 0 ? EX_CONFIG : EX_OSERR;
		goto out;
	}
	rc = EX_OK;
	if (dopts.once && worst != ERR_NONE) {
		struct err w = { .cls = worst };
		rc = cli_exit_code(&w);
	}
out:
	store_free(&store);
	config_free(&cfg);
	return rc;
}
