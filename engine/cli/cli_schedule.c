/*
 * `mail2ticket schedule EXPR [--tz ZONE] [--from TIME] [-n N]`: the next
 * fire times of a schedule, one ISO 8601 time with its offset per line, so
 * that an admin can see what a job's `schedule:` and `timezone:` mean,
 * across daylight-saving changes too. Needs no configuration file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "engine/cli/cli.h"
#include "engine/sched/cron.h"
#include "engine/sched/tz.h"
#include "engine/util/buf.h"
#include "engine/util/str.h"

#define SCHEDULE_DEFAULT_COUNT 5
#define SCHEDULE_MAX_COUNT 1000

static void schedule_usage(FILE *out)
{
	fputs("usage: mail2ticket schedule EXPR [--tz ZONE] [--from TIME] [-n N]\n"
	      "  EXPR         \"*/15 * * * *\", \"0 2 * * mon-fri\", @daily, \"@every 5m\", ...\n"
	      "  --tz ZONE    IANA zone (Europe/Berlin), UTC (default) or local\n"
	      "  --from TIME  start after this ISO 8601 time (default: now); without an\n"
	      "               offset (2026-03-29T01:30) it is read in ZONE\n"
	      "  -n N         how many times to print (default 5, at most 1000)\n",
	      out);
}

/* The expression and a caret under the position the error names. */
static void expr_error(const char *expr, size_t pos, const struct err *err)
{
	fprintf(stderr, "mail2ticket: schedule: %s\n", err->msg);
	if (strlen(expr) <= 120 && pos <= strlen(expr)) {
		fprintf(stderr, "  %s\n  %*s^\n", expr, (int)pos, "");
	}
}

int cli_schedule(const struct cli_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{"tz", required_argument, NULL, 't'},
		{"from", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *zone = NULL, *from = NULL;
	uint64_t n = SCHEDULE_DEFAULT_COUNT;
	struct cron *cron = NULL;
	struct tz *tz = NULL;
	struct err err = {0};
	struct buf expr;
	int rc = EX_USAGE, ch;
	(void)o;

	buf_init(&expr, CRON_MAX_LEN * 2);
	optind = 0;   /* glibc: start over for this command's own options */
	for (;;) {
		/* "+": stop at each word of the expression, take it, go on, so that
		 * options may come before or after it */
		ch = getopt_long(argc, argv, "+n:h", opts, NULL);
		if (ch == -1) {
			if (optind >= argc)
				break;
			/* an unquoted expression arrives as several words: join them */
			if (expr.len)
				buf_addc(&expr, ' ');
			buf_adds(&expr, argv[optind++]);
			continue;
		}
		switch (ch) {
		case 't':
			zone = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 'n':
			if (str_parse_u64(optarg, strlen(optarg), SCHEDULE_MAX_COUNT, &n) < 0 || !n) {
				fprintf(stderr, "mail2ticket: schedule: -n wants 1 to %d, got \"%s\"\n",
					SCHEDULE_MAX_COUNT, optarg);
				goto out;
			}
			break;
		case 'h':
			schedule_usage(stdout);
			rc = EX_OK;
			goto out;
		default:
			schedule_usage(stderr);
			goto out;
		}
	}
	if (!expr.len) {
		schedule_usage(stderr);
		goto out;
	}
	size_t pos = 0;
	if (expr.failed) {
		fprintf(stderr, "mail2ticket: schedule: expression longer than %d characters\n",
			CRON_MAX_LEN);
		goto out;
	}
	if (cron_parse(buf_str(&expr), &cron, &pos, &err) < 0) {
		expr_error(buf_str(&expr), pos, &err);
		goto out;
	}
	if (tz_load(zone, &tz, &err) < 0) {
		fprintf(stderr, "mail2ticket: schedule: --tz: %s\n", err.msg);
		goto out;
	}
	time_t t = time(NULL);
	if (from && strcmp(from, "now") != 0 && tz_parse_iso(tz, from, &t, &err) < 0) {
		fprintf(stderr, "mail2ticket: schedule: --from: %s\n", err.msg);
		goto out;
	}
	rc = EX_OK;
	if (cron_kind(cron) == CRON_IDLE) {
		fprintf(stderr, "mail2ticket: schedule: idle: no times, the job runs when the "
			"server reports new mail\n");
		goto out;
	}
	for (uint64_t i = 0; i < n; i++) {
		char iso[TZ_ISO_MAX];
		if (cron_next(cron, tz, t, &t) < 0 || tz_format_iso(tz, t, iso, sizeof(iso)) < 0) {
			if (i == 0)
				fprintf(stderr, "mail2ticket: schedule: no time before the year 10000\n");
			break;
		}
		puts(iso);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("mail2ticket: schedule: stdout");
		rc = EX_IOERR;
	}
out:
	buf_release(&expr);
	cron_free(&cron);
	tz_free(&tz);
	return rc;
}
