/*
 * Observability: the Prometheus text of the metrics registry, the health
 * verdict, JSON strings from any bytes, and log lines as JSON objects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/sched/metrics.h"
#include "engine/util/json.h"
#include "engine/util/log.h"
#include "tests/unit/test.h"

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

TEST(prometheus_text_counts_runs_and_messages)
{
	struct metrics *m = metrics_new("abc123", "node\"1", "0.1.0", 4);
	const char *names[2] = { "support", "billing" };
	metrics_set_jobs(m, names, 2);
	struct run_counts c = { .fetched = 5, .tickets = 3, .appended = 1, .badmail = 1, .already_done = 2 };
	metrics_run_done(m, "support", &c, 0.3, "ok", 1700000000);
	metrics_run_done(m, "support", &c, 7.0, "failed", 1700000100);
	metrics_run_done(m, "nosuchjob", &c, 1.0, "ok", 1700000200);
	metrics_job_state(m, "billing", 3, true, false, 0);
	metrics_lease_held(m, "support", true);
	struct metrics_pool pool = { .workers = 7, .min = 4, .max = 32, .busy = 6, .waiting = 3,
				     .queued = 2, .held = 5, .oldest_s = 0.25 };
	metrics_pool(m, &pool, 3);
	metrics_pool(m, &pool, 0);
	metrics_task_wait(m, 0.002);
	metrics_task_wait(m, 0.3);
	metrics_task_wait(m, 100);
	metrics_reload(m, false);
	struct buf b;
	buf_init(&b, 1u << 20);
	CHECK_INT(metrics_render(m, &b), 0);
	const char *t = buf_str(&b);
	CHECK(has_line(t, "mail2ticket_daemon_info{daemon_id=\"abc123\",host=\"node\\\"1\",version=\"0.1.0\"} 1"));
	CHECK(has_line(t, "mail2ticket_messages_total{job=\"support\",outcome=\"ticket\"} 6"));
	CHECK(has_line(t, "mail2ticket_messages_total{job=\"support\",outcome=\"badmail\"} 2"));
	CHECK(has_line(t, "mail2ticket_messages_total{job=\"support\",outcome=\"already_done\"} 4"));
	CHECK(has_line(t, "mail2ticket_messages_total{job=\"billing\",outcome=\"ticket\"} 0"));
	CHECK(has_line(t, "mail2ticket_runs_total{job=\"support\",status=\"ok\"} 1"));
	CHECK(has_line(t, "mail2ticket_runs_total{job=\"support\",status=\"failed\"} 1"));
	CHECK(has_line(t, "mail2ticket_run_duration_seconds_bucket{job=\"support\",le=\"0.5\"} 1"));
	CHECK(has_line(t, "mail2ticket_run_duration_seconds_bucket{job=\"support\",le=\"5\"} 1"));
	CHECK(has_line(t, "mail2ticket_run_duration_seconds_bucket{job=\"support\",le=\"10\"} 2"));
	CHECK(has_line(t, "mail2ticket_run_duration_seconds_bucket{job=\"support\",le=\"+Inf\"} 2"));
	CHECK(has_line(t, "mail2ticket_run_duration_seconds_count{job=\"support\"} 2"));
	CHECK(has_line(t, "mail2ticket_last_success_timestamp_seconds{job=\"support\"} 1700000000"));
	CHECK(has_line(t, "mail2ticket_last_success_timestamp_seconds{job=\"billing\"} 0"));
	CHECK(has_line(t, "mail2ticket_job_failures_in_row{job=\"billing\"} 3"));
	CHECK(has_line(t, "mail2ticket_job_disabled{job=\"billing\"} 1"));
	CHECK(has_line(t, "mail2ticket_lease_held{job=\"support\"} 1"));
	CHECK(has_line(t, "mail2ticket_workers 7"));
	CHECK(has_line(t, "mail2ticket_workers_min 4"));
	CHECK(has_line(t, "mail2ticket_workers_max 32"));
	CHECK(has_line(t, "mail2ticket_workers_busy 6"));
	CHECK(has_line(t, "mail2ticket_workers_waiting_network 3"));
	CHECK(has_line(t, "mail2ticket_workers_started_total 3"));
	CHECK(has_line(t, "mail2ticket_tasks_queued 2"));
	CHECK(has_line(t, "mail2ticket_tasks_queued_oldest_seconds 0.250"));
	CHECK(has_line(t, "mail2ticket_jobs_held_account_limit 5"));
	CHECK(has_line(t, "mail2ticket_task_wait_seconds_bucket{le=\"0.005\"} 1"));
	CHECK(has_line(t, "mail2ticket_task_wait_seconds_bucket{le=\"0.25\"} 1"));
	CHECK(has_line(t, "mail2ticket_task_wait_seconds_bucket{le=\"0.5\"} 2"));
	CHECK(has_line(t, "mail2ticket_task_wait_seconds_bucket{le=\"30\"} 2"));
	CHECK(has_line(t, "mail2ticket_task_wait_seconds_bucket{le=\"+Inf\"} 3"));
	CHECK(has_line(t, "mail2ticket_task_wait_seconds_count 3"));
	CHECK(has_line(t, "# TYPE mail2ticket_task_wait_seconds histogram"));
	CHECK(has_line(t, "mail2ticket_config_reloads_total{result=\"failed\"} 1"));
	CHECK(has_line(t, "# TYPE mail2ticket_run_duration_seconds histogram"));
	CHECK(strstr(t, "nosuchjob") == NULL);

	/* a reload keeps the counters of the jobs it keeps */
	const char *names2[1] = { "support" };
	metrics_set_jobs(m, names2, 1);
	buf_reset(&b);
	CHECK_INT(metrics_render(m, &b), 0);
	t = buf_str(&b);
	CHECK(has_line(t, "mail2ticket_messages_total{job=\"support\",outcome=\"ticket\"} 6"));
	CHECK(strstr(t, "billing") == NULL);
	CHECK(has_line(t, "mail2ticket_jobs 1"));

	/* a capped buffer reports the cut */
	struct buf small;
	buf_init(&small, 100);
	CHECK(metrics_render(m, &small) < 0);
	buf_release(&small);
	buf_release(&b);
	metrics_free(&m);
	CHECK(m == NULL);
}

TEST(oauth_token_gauges)
{
	struct metrics *m = metrics_new("abc123", "node1", "0.1.0", 1);
	struct store_oauth_state v[2] = {
		{.account = "m365", .access_expires_at = 1700003600, .have_refresh = true},
		{.account = "gmail\"x", .access_expires_at = 0, .have_refresh = true, .failing = true},
	};
	struct buf b;
	buf_init(&b, 1 << 20);
	metrics_oauth(m, v, 2);
	CHECK_INT(metrics_render(m, &b), 0);
	const char *t = buf_str(&b);
	CHECK(strstr(t, "mail2ticket_oauth_access_token_expiry_timestamp_seconds{account=\"m365\"} "
		     "1700003600\n") != NULL);
	CHECK(strstr(t, "mail2ticket_oauth_refresh_failing{account=\"m365\"} 0\n") != NULL);
	CHECK(strstr(t, "mail2ticket_oauth_refresh_failing{account=\"gmail\\\"x\"} 1\n") != NULL);
	/* a later heartbeat replaces the set: a removed row is gone */
	buf_reset(&b);
	metrics_oauth(m, v, 1);
	CHECK_INT(metrics_render(m, &b), 0);
	CHECK(strstr(buf_str(&b), "gmail") == NULL);
	buf_release(&b);
	metrics_free(&m);
}

TEST(health_wants_a_live_loop_and_database)
{
	struct metrics *m = metrics_new("id", "host", "v", 1);
	struct buf b;
	buf_init(&b, 4096);
	time_t now = time(NULL);
	metrics_loop(m, now);
	CHECK_INT(metrics_health(m, now + 5, 30, &b), 200);
	CHECK_STR(buf_str(&b), "ok\n");
	buf_reset(&b);
	CHECK_INT(metrics_health(m, now + 31, 30, &b), 503);
	CHECK(strstr(buf_str(&b), "scheduler stalled") != NULL);
	buf_reset(&b);
	metrics_loop(m, now + 40);
	metrics_database(m, false, now + 40);
	CHECK_INT(metrics_health(m, now + 45, 30, &b), 200);  /* a short outage is tolerated */
	buf_reset(&b);
	metrics_loop(m, now + 80);
	CHECK_INT(metrics_health(m, now + 80, 30, &b), 503);
	CHECK(strstr(buf_str(&b), "database unreachable for 40 s") != NULL);
	buf_reset(&b);
	metrics_database(m, true, now + 81);
	CHECK_INT(metrics_health(m, now + 81, 30, &b), 200);
	buf_release(&b);
	metrics_free(&m);
}

TEST(json_strings_from_any_bytes)
{
	struct buf b;
	buf_init(&b, 4096);
	json_add_string(&b, "a\"b\\c\nd\te\x01\x7f", 11);
	CHECK_STR(buf_str(&b), "\"a\\\"b\\\\c\\nd\\te\\u0001\\u007f\"");
	buf_reset(&b);
	/* valid UTF-8 kept, invalid bytes (lone, overlong, surrogate, cut) replaced */
	json_add_string(&b, "\xc3\xa4\xff\xc0\xaf\xed\xa0\x80\xe2\x82", 10);
	CHECK_STR(buf_str(&b), "\"\xc3\xa4\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
	buf_reset(&b);
	/* NUL as U+FFFD: PostgreSQL's jsonb refuses \u0000 */
	json_add_string(&b, "x\0y", 3);
	CHECK_STR(buf_str(&b), "\"x\\ufffdy\"");
	buf_reset(&b);
	json_add_str(&b, NULL);
	CHECK_STR(buf_str(&b), "null");
	buf_release(&b);
}

/* Runs fn with stderr sent to a file; returns what was written (malloc'd). */
static char *capture_stderr(void (*fn)(void))
{
	FILE *f = tmpfile();
	int saved = dup(2);
	fflush(stderr);
	dup2(fileno(f), 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	long n = ftell(f);
	if (n < 0)
		n = 0;
	char *s = calloc(1, (size_t)n + 1);
	rewind(f);
	if (fread(s, 1, (size_t)n, f) != (size_t)n)
		s[0] = '\0';
	fclose(f);
	return s;
}

static void log_some(void)
{
	log_ctx_set("support-inbox", "support");
	log_ctx_uid(42);
	log_info("job.done", "fetched=3 seconds=0.250 reason=\"a \\\"quoted\\\" word\" code=007 neg=-4 x=1.");
	log_ctx_set(NULL, NULL);
	log_warn("daemon.note", "%s", "free text without keys");
	log_add_secret("hunter2secret");
	log_error("secret.test", "text=\"password hunter2secret here\"");
	log_clear_secrets();
}

TEST(log_lines_as_json)
{
	log_set_format(LOG_FORMAT_JSON);
	char *out = capture_stderr(log_some);
	log_set_format(LOG_FORMAT_KV);
	CHECK(strstr(out, "\"level\":\"info\",\"event\":\"job.done\",\"job\":\"support-inbox\","
			  "\"account\":\"support\",\"uid\":42,\"fetched\":3,\"seconds\":0.250,"
			  "\"reason\":\"a \\\"quoted\\\" word\",\"code\":\"007\",\"neg\":-4,\"x\":\"1.\"}\n") != NULL);
	CHECK(strstr(out, "\"event\":\"daemon.note\",\"text\":\"free text without keys\"}") != NULL);
	CHECK(strstr(out, "hunter2secret") == NULL);
	CHECK(strstr(out, "\"text\":\"password *** here\"") != NULL);
	CHECK(strncmp(out, "{\"ts\":\"", 7) == 0);
	free(out);
	out = capture_stderr(log_some);
	CHECK(strstr(out, "level=info event=job.done job=support-inbox account=support uid=42 fetched=3") != NULL);
	free(out);
	CHECK_INT(log_format_parse("json"), LOG_FORMAT_JSON);
	CHECK_INT(log_format_parse("kv"), LOG_FORMAT_KV);
	CHECK_INT(log_format_parse("xml"), -1);
}

int main(void)
{
	RUN(prometheus_text_counts_runs_and_messages);
	RUN(oauth_token_gauges);
	RUN(health_wants_a_live_loop_and_database);
	RUN(json_strings_from_any_bytes);
	RUN(log_lines_as_json);
	return test_summary();
}
