/*
 * mail2ticket test-job: what a job would do with its next messages (or
 * with saved mail files), shown step by step, with nothing changed
 * (engine/job/job_test.h). The report goes to the terminal (or JSON to
 * stdout) and, with --html, to a page an admin opens in a browser.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "engine/cli/cli.h"
#include "engine/cli/report.h"
#include "engine/config/config.h"
#include "engine/job/job_test.h"
#include "engine/mime/message.h"
#include "engine/util/str.h"
#include "rules/regex.h"
#include "storage/store.h"

#define TEST_MAX_FILES 1000

static void tj_usage(FILE *out)
{
	fprintf(out,
		"usage: mail2ticket [-c FILE] test-job JOB [--limit N] [--json] [--html FILE]\n"
		"                                      [--file MAIL.eml...]\n"
		"  --limit N     the next N new messages of the job's mailbox (default %d, at "
		"most %d)\n"
		"  --json        the report as JSON on stdout (schema: README, \"Test runs\")\n"
		"  --html FILE   also write the report as one self-contained HTML page\n"
		"  --file MAIL   saved mails instead of the mailbox (repeat, or list them after)\n"
		"Nothing is changed: the mailbox is opened read-only, the database transaction "
		"is rolled back.\n",
		JOB_TEST_DEFAULT_LIMIT, JOB_TEST_MAX_LIMIT);
}

struct sinks {
	struct report *r[2];
	size_t n;
};

static void on_message(void *ud, const struct job_test_msg *m)
{
	struct sinks *s = ud;
	for (size_t i = 0; i < s->n; i++)
		report_message(s->r[i], m);
}

/* NO_COLOR (no-color.org): present and not empty turns colour off. */
static bool want_colour(void)
{
	const char *nc = getenv("NO_COLOR");
	return isatty(STDOUT_FILENO) && !(nc && nc[0]);
}

int cli_test_job(const struct cli_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{"limit", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'J'},
		{"html", required_argument, NULL, 'H'},
		{"file", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *files[TEST_MAX_FILES];
	struct job_test_opts topts = {.limit = JOB_TEST_DEFAULT_LIMIT, .files = files};
	const char *html = NULL;
	bool json = false;
	struct config *cfg = NULL;
	struct store *store = NULL;
	struct sinks sinks = {0};
	struct job_test_summary sum;
	struct err err = {0};
	FILE *hf = NULL;
	uint64_t v;
	int ch, rc = EX_OK;

	/* 0: glibc re-reads the option string (main's "+" would stop at JOB) */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (str_parse_u64(optarg, strlen(optarg), JOB_TEST_MAX_LIMIT, &v) < 0 || !v) {
				fprintf(stderr, "mail2ticket: test-job: --limit wants 1..%d, got \"%s\"\n",
					JOB_TEST_MAX_LIMIT, optarg);
				return EX_USAGE;
			}
			topts.limit = (size_t)v;
			break;
		case 'J': json = true; break;
		case 'H': html = optarg; break;
		case 'f':
			if (topts.nfiles == TEST_MAX_FILES) {
				fprintf(stderr, "mail2ticket: test-job: at most %d files\n",
					TEST_MAX_FILES);
				return EX_USAGE;
			}
			files[topts.nfiles++] = optarg;
			break;
		case 'h': tj_usage(stdout); return EX_OK;
		default: tj_usage(stderr); return EX_USAGE;
		}
	}
	if (optind >= argc) {
		tj_usage(stderr);
		return EX_USAGE;
	}
	const char *job_name = argv[optind++];
	/* after --file, further names are files too (a shell glob) */
	for (; optind < argc; optind++) {
		if (!topts.nfiles || topts.nfiles == TEST_MAX_FILES) {
			fprintf(stderr, "mail2ticket: test-job: unexpected argument \"%s\"\n",
				argv[optind]);
			return EX_USAGE;
		}
		files[topts.nfiles++] = argv[optind];
	}
	if (config_load(o->config_path, &cfg, &err) < 0) {
		fprintf(stderr, "mail2ticket: %s\n", err.msg);
		return EX_CONFIG;
	}
	const struct config_job *job = config_find_job(cfg, job_name);
	if (!job) {
		fprintf(stderr, "mail2ticket: test-job: no job \"%s\" in %s\n", job_name,
			o->config_path);
		rc = EX_USAGE;
		goto out;
	}
	if (store_open(cfg->database_url, &store, &err) < 0 || store_check_schema(store, &err) < 0) {
		fprintf(stderr, "mail2ticket: database: %s\n", err.msg);
		rc = err.cls == ERR_TRANSIENT ? EX_TEMPFAIL : EX_CONFIG;
		goto out;
	}
	if (html && !(hf = fopen(html, "w"))) {
		fprintf(stderr, "mail2ticket: test-job: cannot write \"%s\"\n", html);
		rc = EX_CANTCREAT;
		goto out;
	}
	sinks.r[sinks.n++] = report_new(json ? REPORT_JSON : REPORT_TEXT, stdout,
					!json && want_colour(), job->name);
	if (hf)
		sinks.r[sinks.n++] = report_new(REPORT_HTML, hf, false, job->name);
	mime_global_init();
	int trc = job_test_run(job, store, &topts, on_message, &sinks, &sum, &err);
	mime_global_shutdown();
	for (size_t i = 0; i < sinks.n; i++)
		report_finish(sinks.r[i], &sum, trc < 0 ? err.msg : NULL);
	if (trc < 0) {
		fprintf(stderr, "mail2ticket: test-job %s: %s\n", job->name, err.msg);
		rc = cli_exit_code(&err);
	}
	if (hf && fclose(hf) != 0 && rc == EX_OK) {
		fprintf(stderr, "mail2ticket: test-job: cannot write \"%s\"\n", html);
		rc = EX_IOERR;
	}
	hf = NULL;
out:
	if (hf)
		fclose(hf);
	for (size_t i = 0; i < sinks.n; i++)
		report_free(&sinks.r[i]);
	store_free(&store);
	config_free(&cfg);
	regex_thread_release();
	return rc;
}
