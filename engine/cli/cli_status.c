/*
 * `mail2ticket status [--json]`: for each configured job, its schedule, the
 * next run (as the daemons compute it: engine/sched/due.h, from the lease
 * row), the last run and its result, who holds the job now, and the
 * failures in a row. Reads the database only.
 *
 * --json prints one object, stable (README "Status"): new members may be
 * added, none is renamed or removed. Times are ISO 8601 in UTC ("+00:00"),
 * null when unknown.
 *
 * SECURITY: error texts come from the database and may quote mail; the
 * storage layer cleans them (control characters) and cuts them.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "engine/cli/cli.h"
#include "engine/sched/cron.h"
#include "engine/sched/due.h"
#include "engine/util/buf.h"
#include "engine/util/json.h"
#include "engine/util/xalloc.h"

struct next_run {
	int state;      /* due_check: 1 due now, 0 at `at`, -1 never */
	time_t at;
};

static struct next_run next_of(const struct config_job *job, const struct store_job_status *s,
			       time_t now)
{
	struct due_state st = { .last_slot = s->lease.last_slot, .retry_at = s->lease.retry_at };
	struct next_run n = {0};
	time_t slot;
	n.state = due_check(job->cron, job->tz, &st, now, &slot, &n.at);
	return n;
}

/* The last run ended with a fatal error (configuration or a bug): the daemon
 * that ran it does not run the job again until a reload or restart, so the
 * "due now" the lease row says (a retry of 0 ms) is not what will happen. */
static bool stopped_by_fatal(const struct store_job_status *s)
{
	return !s->lease.held && s->has_run && strcmp(s->run_status, "failed") == 0 &&
	       strcmp(s->run_error_class, "fatal") == 0;
}

static const char *iso(const struct tz *tz, int64_t t, char *out, size_t outlen)
{
	if (t <= 0 || tz_format_iso(tz, (time_t)t, out, outlen) < 0)
		snprintf(out, outlen, "-");
	return out;
}

static void print_counts(FILE *out, const struct run_counts *c)
{
	fprintf(out, "fetched %" PRIu64 ", tickets %" PRIu64 ", appended %" PRIu64 ", ignored %" PRIu64
		", badmail %" PRIu64 ", already done %" PRIu64, c->fetched, c->tickets, c->appended,
		c->ignored, c->badmail, c->already_done);
}

static void print_text(FILE *out, const struct config_job *job, const struct store_job_status *s,
		       time_t now)
{
	char a[TZ_ISO_MAX], b[CRON_DESCRIBE_MAX];
	const struct tz *tz = job->tz;
	struct next_run n = next_of(job, s, now);

	fprintf(out, "%s\n", job->name);
	fprintf(out, "  schedule     %s (%s), %s\n", job->schedule,
		cron_describe(job->cron, b, sizeof(b)), tz_name(tz));
	if (s->lease.held)
		fprintf(out, "  next run     running now\n");
	else if (stopped_by_fatal(s))
		fprintf(out, "  next run     stopped by a fatal error: not run again by the daemon that "
			"ran it until its configuration is reloaded (SIGHUP) or it restarts\n");
	else if (n.state == 1)
		fprintf(out, "  next run     now (due%s)\n", s->lease.retry_at ? ": retry" : "");
	else if (n.state == 0)
		fprintf(out, "  next run     %s%s\n", iso(tz, n.at, a, sizeof(a)),
			s->lease.retry_at ? " (retry after a failure)" : "");
	else
		fprintf(out, "  next run     never by time (%s)\n",
			cron_kind(job->cron) == CRON_IDLE ? "idle: pushed" : "no fire time left");
	if (s->has_run) {
		fprintf(out, "  last run     #%" PRId64 " %s, started %s", s->run_id, s->run_status,
			iso(tz, s->run_started, a, sizeof(a)));
		if (s->run_finished >= s->run_started && s->run_finished > 0)
			fprintf(out, ", %" PRId64 " s", s->run_finished - s->run_started);
		if (s->run_host[0])
			fprintf(out, ", on %s pid %d", s->run_host, s->run_pid);
		fprintf(out, "\n               ");
		print_counts(out, &s->run_counts);
		fputc('\n', out);
		if (s->run_error[0])
			fprintf(out, "  last error   %s%s%s%s\n", s->run_error_class[0] ? "(" : "",
				s->run_error_class, s->run_error_class[0] ? ") " : "", s->run_error);
	} else {
		fprintf(out, "  last run     never\n");
	}
	fprintf(out, "  last success %s\n", iso(tz, s->lease.last_success_at, a, sizeof(a)));
	if (s->lease.held)
		fprintf(out, "  held by      %s pid %d (daemon %s), lease until %s\n",
			s->lease.holder_host, s->lease.holder_pid, s->lease.holder_id,
			iso(tz, s->lease.expires_at, a, sizeof(a)));
	else
		fprintf(out, "  held by      nobody\n");
	fprintf(out, "  failures     %u in a row\n", s->lease.failures);
}

static void json_time(struct buf *b, const struct tz *utc, int64_t t)
{
	char a[TZ_ISO_MAX];
	if (t <= 0 || tz_format_iso(utc, (time_t)t, a, sizeof(a)) < 0)
		buf_adds(b, "null");
	else
		json_add_str(b, a);
}

static void json_job(struct buf *b, const struct tz *utc, const struct config_job *job,
		     const struct store_job_status *s, time_t now)
{
	char d[CRON_DESCRIBE_MAX];
	struct next_run n = next_of(job, s, now);
	const struct run_counts *c = &s->run_counts;

	buf_adds(b, "{\"name\":");
	json_add_str(b, job->name);
	buf_adds(b, ",\"account\":");
	json_add_str(b, job->account->name);
	buf_adds(b, ",\"mailbox\":");
	json_add_str(b, job->mailbox);
	buf_adds(b, ",\"schedule\":");
	json_add_str(b, job->schedule);
	buf_adds(b, ",\"schedule_text\":");
	json_add_str(b, cron_describe(job->cron, d, sizeof(d)));
	buf_adds(b, ",\"timezone\":");
	json_add_str(b, tz_name(job->tz));
	buf_addf(b, ",\"running\":%s,\"due_now\":%s,\"next_run\":", s->lease.held ? "true" : "false",
		 n.state == 1 && !s->lease.held ? "true" : "false");
	json_time(b, utc, n.state == 1 ? (int64_t)now : n.state == 0 ? (int64_t)n.at : 0);
	buf_adds(b, ",\"retry_at\":");
	json_time(b, utc, s->lease.retry_at);
	buf_adds(b, ",\"last_slot\":");
	json_time(b, utc, s->lease.last_slot);
	buf_addf(b, ",\"stopped_by_fatal_error\":%s", stopped_by_fatal(s) ? "true" : "false");
	buf_addf(b, ",\"failures\":%u,\"last_success\":", s->lease.failures);
	json_time(b, utc, s->lease.last_success_at);
	buf_adds(b, ",\"holder\":");
	if (s->lease.held) {
		buf_adds(b, "{\"host\":");
		json_add_str(b, s->lease.holder_host);
		buf_addf(b, ",\"pid\":%d,\"daemon_id\":", s->lease.holder_pid);
		json_add_str(b, s->lease.holder_id);
		buf_adds(b, ",\"expires_at\":");
		json_time(b, utc, s->lease.expires_at);
		buf_addc(b, '}');
	} else {
		buf_adds(b, "null");
	}
	buf_adds(b, ",\"last_run\":");
	if (!s->has_run) {
		buf_adds(b, "null}");
		return;
	}
	buf_addf(b, "{\"id\":%" PRId64 ",\"status\":", s->run_id);
	json_add_str(b, s->run_status);
	buf_adds(b, ",\"started_at\":");
	json_time(b, utc, s->run_started);
	buf_adds(b, ",\"finished_at\":");
	json_time(b, utc, s->run_finished);
	buf_addf(b, ",\"fetched\":%" PRIu64 ",\"tickets\":%" PRIu64 ",\"appended\":%" PRIu64
		 ",\"ignored\":%" PRIu64 ",\"badmail\":%" PRIu64 ",\"already_done\":%" PRIu64
		 ",\"bytes\":%" PRIu64 ",\"error\":", c->fetched, c->tickets, c->appended, c->ignored,
		 c->badmail, c->already_done, c->bytes);
	json_add_str(b, s->run_error[0] ? s->run_error : NULL);
	buf_adds(b, ",\"error_class\":");
	json_add_str(b, s->run_error_class[0] ? s->run_error_class : NULL);
	buf_adds(b, ",\"daemon\":");
	if (s->run_host[0]) {
		buf_adds(b, "{\"host\":");
		json_add_str(b, s->run_host);
		buf_addf(b, ",\"pid\":%d,\"daemon_id\":", s->run_pid);
		json_add_str(b, s->run_daemon_id);
		buf_addc(b, '}');
	} else {
		buf_adds(b, "null");
	}
	buf_adds(b, "}}");
}

int cli_status(const struct cli_opts *o, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *store = NULL;
	struct store_job_status *st = NULL;
	const char **names = NULL;
	struct tz *utc = NULL;
	struct err err = {0};
	bool json = false;
	int rc;

	if (argc == 2 && strcmp(argv[1], "--json") == 0) {
		json = true;
	} else if (argc != 1) {
		fprintf(stderr, "usage: mail2ticket [-c FILE] status [--json]\n");
		return EX_USAGE;
	}
	if ((rc = cli_load_config(o, &cfg)) != EX_OK)
		return rc;
	if ((rc = cli_open_store(cfg, &store)) != EX_OK)
		goto out;
	if (store_check_schema(store, &err) < 0)
		goto fail;
	names = xcalloc(cfg->njobs, sizeof(*names));
	st = xcalloc(cfg->njobs, sizeof(*st));
	for (size_t i = 0; i < cfg->njobs; i++)
		names[i] = cfg->jobs[i].name;
	if (store_job_status_read(store, names, cfg->njobs, st, &err) < 0)
		goto fail;
	/* the database's clock: the one the leases and backoffs were written with */
	time_t now = (time_t)st[0].db_now;
	if (json) {
		struct buf b;
		buf_init(&b, 64u * 1024 * 1024);
		if (tz_load("UTC", &utc, &err) < 0)
			goto fail;
		buf_adds(&b, "{\"jobs\":[");
		for (size_t i = 0; i < cfg->njobs; i++) {
			if (i)
				buf_addc(&b, ',');
			json_job(&b, utc, &cfg->jobs[i], &st[i], now);
		}
		buf_adds(&b, "]}\n");
		fputs(buf_str(&b), stdout);
		buf_release(&b);
	} else {
		for (size_t i = 0; i < cfg->njobs; i++) {
			if (i)
				fputc('\n', stdout);
			print_text(stdout, &cfg->jobs[i], &st[i], now);
		}
	}
	rc = EX_OK;
	goto out;
fail:
	fprintf(stderr, "mail2ticket: status: %s\n", err.msg);
	rc = err.cls == ERR_TRANSIENT ? EX_TEMPFAIL : cli_exit_code(&err);
out:
	tz_free(&utc);
	free(names);
	free(st);
	store_free(&store);
	config_free(&cfg);
	return rc;
}
