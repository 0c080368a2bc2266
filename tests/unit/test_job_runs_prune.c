/*
 * Pruning of job runs against a real PostgreSQL (store_job_runs_prune and
 * m2t_prune_job_runs of migrations/0008_job_runs_prune.sql): only finished,
 * old runs that fetched nothing go; a run a processed message points at,
 * the newest run of each job, recent runs and runs that fetched mail stay;
 * batches stop at their limit and the next call goes on.
 *
 * Needs M2T_TEST_DATABASE_URL; without it the binary prints SKIP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store.h"
#include "tests/unit/test.h"
#include "tests/unit/test_db.h"

static struct store *S;
static PGconn *DB;

static long long qnum(const char *sql)
{
	PGresult *res = PQexec(DB, sql);
	long long v = -1;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = atoll(PQgetvalue(res, 0, 0));
	else
		fprintf(stderr, "  %s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	return v;
}

/* A finished run of job started `days` ago that fetched `fetched`. */
static void run_row(const char *job, int days, int fetched, const char *tag)
{
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO job_runs (job, account, mailbox, started_at, finished_at, status,"
		 " fetched, error) VALUES ('%s', 'acc', 'INBOX', now() - interval '%d days',"
		 " now() - interval '%d days', 'ok', %d, '%s')", job, days, days, fetched, tag);
	test_db_exec(DB, sql);
}

static bool exists(const char *tag)
{
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM job_runs WHERE error = '%s'", tag);
	return qnum(sql) == 1;
}

static unsigned prune(uint64_t keep_s, unsigned limit)
{
	unsigned n = 0;
	struct err err = {0};
	if (store_job_runs_prune(S, keep_s, limit, &n, &err) < 0) {
		fprintf(stderr, "  prune: %s\n", err.msg);
		return 9999;
	}
	return n;
}

TEST(only_old_empty_unreferenced_runs_that_are_not_the_newest_go)
{
	test_db_exec(DB, "DELETE FROM processed_messages");
	test_db_exec(DB, "DELETE FROM job_runs");
	run_row("a", 40, 0, "a-old-empty");          /* goes */
	run_row("a", 39, 0, "a-old-empty-2");        /* goes */
	run_row("a", 38, 3, "a-old-mail");           /* fetched mail: stays */
	run_row("a", 37, 0, "a-old-referenced");     /* a message points at it: stays */
	run_row("a", 2, 0, "a-recent");              /* younger than the retention: stays */
	run_row("a", 0, 0, "a-newest");
	run_row("b", 50, 0, "b-only-run");           /* the newest of job b: stays */
	test_db_exec(DB, "INSERT INTO job_runs (job, account, mailbox, started_at, status, error)"
			 " VALUES ('c', 'acc', 'INBOX', now() - interval '60 days', 'running',"
			 " 'c-running')");                     /* not finished: stays */
	run_row("c", 1, 0, "c-newer");
	test_db_exec(DB, "INSERT INTO processed_messages (account, mailbox, uidvalidity, uid,"
			 " outcome, job_run_id) SELECT 'acc', 'INBOX', 1, 1, 'ignored', id"
			 " FROM job_runs WHERE error = 'a-old-referenced'");

	CHECK_INT(prune(30 * 86400, 100), 2);
	CHECK(!exists("a-old-empty"));
	CHECK(!exists("a-old-empty-2"));
	CHECK(exists("a-old-mail"));
	CHECK(exists("a-old-referenced"));
	CHECK(exists("a-recent"));
	CHECK(exists("b-only-run"));
	CHECK(exists("c-running"));
	CHECK(exists("c-newer"));
	/* nothing left to do: a second pass deletes nothing */
	CHECK_INT(prune(30 * 86400, 100), 0);
	/* a shorter retention reaches the recent run, never the newest of a job */
	CHECK_INT(prune(86400, 100), 1);
	CHECK(!exists("a-recent"));
	CHECK(exists("a-newest"));
	CHECK(exists("c-newer"));
}

TEST(batches_stop_at_their_limit_oldest_first)
{
	test_db_exec(DB, "DELETE FROM processed_messages");
	test_db_exec(DB, "DELETE FROM job_runs");
	char tag[32];
	for (int i = 0; i < 7; i++) {
		snprintf(tag, sizeof(tag), "r%d", i);
		run_row("j", 100 - i, 0, tag);  /* r0 the oldest, r6 the newest */
	}
	CHECK_INT(prune(30 * 86400, 4), 4);
	CHECK(!exists("r0"));
	CHECK(!exists("r3"));
	CHECK(exists("r4"));
	CHECK_INT(prune(30 * 86400, 4), 2);
	CHECK(!exists("r5"));
	CHECK(exists("r6"));
	CHECK_INT(qnum("SELECT count(*) FROM job_runs"), 1);
}

int main(void)
{
	struct test_db t;
	struct err err = {0};
	int rc = test_db_create(&t, "test_job_runs_prune", "m2t_prune");
	if (rc != 0)
		return rc < 0 ? 1 : 0;
	rc = 1;
	DB = PQconnectdb(t.url);
	if (PQstatus(DB) != CONNECTION_OK || store_open(t.url, &S, &err) < 0 ||
	    store_migrate(S, NULL, &err) < 0) {
		fprintf(stderr, "test_job_runs_prune: %s%s\n", PQerrorMessage(DB), err.msg);
		printf("FAIL test_job_runs_prune_setup\n");
		goto out;
	}
	PQsetNoticeProcessor(DB, test_db_quiet, NULL);
	RUN(only_old_empty_unreferenced_runs_that_are_not_the_newest_go);
	RUN(batches_stop_at_their_limit_oldest_first);
	rc = test_summary();
out:
	store_free(&S);
	PQfinish(DB);
	test_db_drop(&t);
	return rc;
}
