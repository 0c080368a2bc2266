/*
 * Job leases against a real PostgreSQL (storage/store_lease.c and the SQL
 * functions of migrations/0005_leases.sql): one holder at a time, a slot
 * runs once, an expired lease is taken over and its run marked abandoned,
 * the heartbeat, backoff with a retry of the same slot, forced claims, run
 * linkage, and the status read.
 *
 * Needs M2T_TEST_DATABASE_URL (a role that may CREATE DATABASE); without
 * it the binary prints SKIP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "engine/util/buf.h"
#include "engine/util/str.h"
#include "storage/store.h"
#include "tests/unit/test.h"

static struct store *A, *B;  /* two daemons */
static PGconn *DB;
static const struct store_run_context WHO_A = { "node-a", 101, "aaaa0000aaaa0000", 0 };
static const struct store_run_context WHO_B = { "node-b", 202, "bbbb0000bbbb0000", 0 };

static char *qstr(const char *sql, const char *p1)
{
	const char *params[1] = { p1 };
	PGresult *res = PQexecParams(DB, sql, p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
	char *v = NULL;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = strdup(PQgetvalue(res, 0, 0));
	else if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fprintf(stderr, "  query failed: %s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	return v;
}

static void qexec(const char *sql)
{
	PGresult *res = PQexec(DB, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		fprintf(stderr, "  %s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
}

static bool claim(struct store *s, const struct store_run_context *who, const char *job,
		  int64_t slot, bool force, uint64_t ttl_ms, struct store_lease *l)
{
	bool won = false;
	struct err err = {0};
	if (store_lease_claim(s, job, slot, force, who, ttl_ms, &won, l, &err) < 0)
		fprintf(stderr, "  claim: %s\n", err.msg);
	return won;
}

static int release(struct store *s, const char *job, const char *id, int64_t run_id,
		   const char *status, int64_t retry_ms, unsigned *failures, bool *held)
{
	struct err err = {0};
	struct store_lease_end end = { .run_id = run_id, .status = status, .retry_ms = retry_ms,
				       .error_class = strcmp(status, "failed") == 0 ? "transient" : NULL };
	int rc = store_lease_release(s, job, id, &end, failures, held, &err);
	if (rc < 0)
		fprintf(stderr, "  release: %s\n", err.msg);
	return rc;
}

TEST(one_holder_and_a_slot_runs_once)
{
	struct store_lease l;
	unsigned f;
	bool held;
	CHECK(claim(A, &WHO_A, "j1", 1000, false, 30000, &l));
	CHECK(l.held);
	CHECK_STR(l.holder_id, WHO_A.daemon_id);
	CHECK_INT(l.last_slot, 1000);
	/* B cannot take it while A holds it, for any slot */
	CHECK(!claim(B, &WHO_B, "j1", 1060, false, 30000, &l));
	CHECK(l.held);
	CHECK_STR(l.holder_host, "node-a");
	CHECK_INT(l.holder_pid, 101);
	CHECK_INT(release(A, "j1", WHO_A.daemon_id, 0, "ok", -1, &f, &held), 0);
	CHECK(held);
	CHECK_INT(f, 0);
	/* free now, but slot 1000 has run: not again, not even by A */
	CHECK(!claim(B, &WHO_B, "j1", 1000, false, 30000, &l));
	CHECK(!l.held);
	CHECK_INT(l.last_slot, 1000);
	CHECK(l.last_success_at > 0);
	CHECK(!claim(A, &WHO_A, "j1", 999, false, 30000, &l));
	/* the next slot is B's to take */
	CHECK(claim(B, &WHO_B, "j1", 1060, false, 30000, &l));
	CHECK_STR(l.holder_id, WHO_B.daemon_id);
	CHECK_INT(release(B, "j1", WHO_B.daemon_id, 0, "ok", -1, &f, &held), 0);
	/* the same daemon may take a lease it left behind (a release that failed) */
	CHECK(claim(A, &WHO_A, "j1", 1120, false, 30000, &l));
	CHECK(claim(A, &WHO_A, "j1", 1180, false, 30000, &l));
	CHECK_INT(release(A, "j1", WHO_A.daemon_id, 0, "ok", -1, &f, &held), 0);
}

TEST(expired_lease_is_taken_over_and_its_run_abandoned)
{
	struct store_lease l;
	struct err err = {0};
	int64_t run = 0;
	unsigned f;
	bool held, renewed = true;
	char rid[24];
	CHECK(claim(A, &WHO_A, "j2", 5000, false, 300, &l));
	struct store_run_context ctx = WHO_A;
	ctx.slot = 5000;
	store_run_context_set(A, &ctx);
	CHECK_INT(store_job_run_start(A, "j2", "acct", "INBOX", &run, &err), 0);
	store_run_context_set(A, NULL);
	snprintf(rid, sizeof(rid), "%lld", (long long)run);
	char *s = qstr("SELECT daemon_host || '|' || daemon_pid || '|' || daemon_id || '|' ||"
		       " m2t_epoch(slot) FROM job_runs WHERE id = $1", rid);
	CHECK_STR(s, "node-a|101|aaaa0000aaaa0000|5000");
	free(s);
	s = qstr("SELECT run_id FROM job_leases WHERE job = 'j2'", NULL);
	CHECK_STR(s, rid);
	free(s);
	/* A dies (no heartbeat); its lease runs out */
	usleep(600 * 1000);
	CHECK(claim(B, &WHO_B, "j2", 5060, false, 30000, &l));
	s = qstr("SELECT status || '|' || (finished_at IS NOT NULL) || '|' ||"
		 " (error LIKE '%aaaa0000aaaa0000%pid 101 on node-a%') FROM job_runs WHERE id = $1", rid);
	CHECK_STR(s, "abandoned|true|true");
	free(s);
	/* A, if it was only stalled, finds out at its next heartbeat */
	const char *jobs[1] = { "j2" };
	CHECK_INT(store_lease_renew(A, WHO_A.daemon_id, jobs, 1, 30000, &renewed, &err), 0);
	CHECK(!renewed);
	CHECK_INT(release(A, "j2", WHO_A.daemon_id, run, "stopped", 0, &f, &held), 0);
	CHECK(!held);
	s = qstr("SELECT holder_id FROM job_leases WHERE job = 'j2'", NULL);
	CHECK_STR(s, WHO_B.daemon_id);
	free(s);
	CHECK_INT(release(B, "j2", WHO_B.daemon_id, 0, "ok", -1, &f, &held), 0);
	CHECK(held);
}

TEST(heartbeat_extends_only_own_leases)
{
	struct store_lease l;
	struct err err = {0};
	bool renewed[3] = { false, false, false };
	unsigned f;
	bool held;
	CHECK(claim(A, &WHO_A, "j3", 100, false, 1000, &l));
	CHECK(claim(B, &WHO_B, "j4", 100, false, 1000, &l));
	const char *jobs[3] = { "j3", "j4", "no\"such\\job" };
	CHECK_INT(store_lease_renew(A, WHO_A.daemon_id, jobs, 3, 60000, renewed, &err), 0);
	CHECK(renewed[0]);
	CHECK(!renewed[1]);
	CHECK(!renewed[2]);
	char *s = qstr("SELECT expires_at > now() + interval '50 seconds' FROM job_leases WHERE job = 'j3'",
		       NULL);
	CHECK_STR(s, "t");
	free(s);
	s = qstr("SELECT expires_at < now() + interval '2 seconds' FROM job_leases WHERE job = 'j4'", NULL);
	CHECK_STR(s, "t");
	free(s);
	CHECK_INT(release(A, "j3", WHO_A.daemon_id, 0, "ok", -1, &f, &held), 0);
	CHECK_INT(release(B, "j4", WHO_B.daemon_id, 0, "ok", -1, &f, &held), 0);
}

TEST(failure_backs_off_then_retries_the_same_slot)
{
	struct store_lease l;
	unsigned f;
	bool held;
	CHECK(claim(A, &WHO_A, "j5", 2000, false, 30000, &l));
	CHECK_INT(release(A, "j5", WHO_A.daemon_id, 0, "failed", 60000, &f, &held), 0);
	CHECK_INT(f, 1);
	/* in backoff: not even a newer slot runs */
	CHECK(!claim(B, &WHO_B, "j5", 2060, false, 30000, &l));
	CHECK_INT(l.failures, 1);
	CHECK(l.retry_at > 0);
	qexec("UPDATE job_leases SET retry_at = now() - interval '1 second' WHERE job = 'j5'");
	/* backoff over: the failed slot may run again */
	CHECK(claim(B, &WHO_B, "j5", 2000, false, 30000, &l));
	CHECK_INT(l.failures, 1);
	CHECK_INT(release(B, "j5", WHO_B.daemon_id, 0, "failed", 0, &f, &held), 0);
	CHECK_INT(f, 2);
	CHECK(claim(A, &WHO_A, "j5", 2000, false, 30000, &l));
	CHECK_INT(release(A, "j5", WHO_A.daemon_id, 0, "ok", -1, &f, &held), 0);
	CHECK_INT(f, 0);
	char *s = qstr("SELECT (retry_at IS NULL) || '|' || failures || '|' || (last_success_at IS NOT NULL)"
		       " FROM job_leases WHERE job = 'j5'", NULL);
	CHECK_STR(s, "true|0|true");
	free(s);
	/* stopped: failures kept, due again at once */
	CHECK(claim(A, &WHO_A, "j5", 2060, false, 30000, &l));
	CHECK_INT(release(A, "j5", WHO_A.daemon_id, 0, "stopped", 0, &f, &held), 0);
	CHECK(claim(B, &WHO_B, "j5", 2060, false, 30000, &l));
	CHECK_INT(release(B, "j5", WHO_B.daemon_id, 0, "ok", -1, &f, &held), 0);
}

TEST(force_skips_the_slot_never_the_holder)
{
	struct store_lease l;
	unsigned f;
	bool held;
	CHECK(claim(A, &WHO_A, "j6", 3000, false, 30000, &l));
	CHECK(!claim(B, &WHO_B, "j6", 3000, true, 30000, &l));
	CHECK_INT(release(A, "j6", WHO_A.daemon_id, 0, "ok", -1, &f, &held), 0);
	CHECK(!claim(B, &WHO_B, "j6", 3000, false, 30000, &l));
	CHECK(claim(B, &WHO_B, "j6", 3000, true, 30000, &l));
	CHECK_INT(l.last_slot, 3000);
	CHECK_INT(release(B, "j6", WHO_B.daemon_id, 0, "ok", -1, &f, &held), 0);
}

TEST(release_records_class_and_error_of_the_run)
{
	struct store_lease l;
	struct err err = {0};
	int64_t run;
	unsigned f;
	bool held;
	char rid[24];
	CHECK(claim(A, &WHO_A, "j7", 4000, false, 30000, &l));
	CHECK_INT(store_job_run_start(A, "j7", "acct", "INBOX", &run, &err), 0);
	struct run_counts c = { .fetched = 3, .tickets = 2, .badmail = 1, .bytes = 999 };
	CHECK_INT(store_job_run_finish(A, run, &c, "failed", "login refused", &err), 0);
	struct store_lease_end end = { .run_id = run, .status = "failed", .error_class = "source",
				       .error = "not used: the run has its own", .retry_ms = 1000 };
	CHECK_INT(store_lease_release(A, "j7", WHO_A.daemon_id, &end, &f, &held, &err), 0);
	snprintf(rid, sizeof(rid), "%lld", (long long)run);
	char *s = qstr("SELECT error_class || '|' || error FROM job_runs WHERE id = $1", rid);
	CHECK_STR(s, "source|login refused");
	free(s);

	const char *jobs[3] = { "j7", "j1", "never-seen" };
	struct store_job_status st[3];
	CHECK_INT(store_job_status_read(A, jobs, 3, st, &err), 0);
	CHECK(st[0].has_lease_row);
	CHECK(!st[0].lease.held);
	CHECK_INT(st[0].lease.failures, 1);
	CHECK(st[0].lease.retry_at > 0);
	CHECK(st[0].has_run);
	CHECK_INT(st[0].run_id, run);
	CHECK_STR(st[0].run_status, "failed");
	CHECK_STR(st[0].run_error, "login refused");
	CHECK_STR(st[0].run_error_class, "source");
	CHECK_INT(st[0].run_counts.tickets, 2);
	CHECK_INT(st[0].run_counts.bytes, 999);
	CHECK(st[0].db_now > 1700000000);
	CHECK(st[1].has_lease_row);
	CHECK_INT(st[1].lease.last_slot, 1180);
	CHECK(!st[2].has_lease_row);
	CHECK(!st[2].has_run);
}

static char *conninfo_with_db(PGconn *admin, const char *dbname)
{
	struct buf b;
	buf_init(&b, 8192);
	PQconninfoOption *opts = PQconninfo(admin);
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		const char *val = strcmp(o->keyword, "dbname") == 0 ? dbname : o->val;
		if (!val || !*val)
			continue;
		buf_addf(&b, "%s='", o->keyword);
		for (const char *c = val; *c; c++) {
			if (*c == '\'' || *c == '\\')
				buf_addc(&b, '\\');
			buf_addc(&b, *c);
		}
		buf_adds(&b, "' ");
	}
	PQconninfoFree(opts);
	return buf_detach(&b, NULL);
}

static int admin_exec(PGconn *admin, const char *sql)
{
	PGresult *res = PQexec(admin, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : -1;
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int main(void)
{
	const char *url = getenv("M2T_TEST_DATABASE_URL");
	if (!url || !*url) {
		printf("SKIP test_lease (M2T_TEST_DATABASE_URL unset)\n");
		return 0;
	}
	PGconn *admin = PQconnectdb(url);
	char dbname[64], sql[160];
	char *test_url = NULL;
	struct err err = {0};
	int rc = 1;
	if (PQstatus(admin) != CONNECTION_OK) {
		fprintf(stderr, "test_lease: cannot connect: %s", PQerrorMessage(admin));
		printf("FAIL test_lease_setup\n");
		PQfinish(admin);
		return 1;
	}
	PQsetNoticeProcessor(admin, quiet, NULL);
	snprintf(dbname, sizeof(dbname), "m2t_lease_%ld", (long)getpid());
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8'", dbname);
	if (admin_exec(admin, sql) < 0) {
		printf("FAIL test_lease_setup\n");
		PQfinish(admin);
		return 1;
	}
	test_url = conninfo_with_db(admin, dbname);
	DB = PQconnectdb(test_url);
	if (PQstatus(DB) != CONNECTION_OK || store_open(test_url, &A, &err) < 0 ||
	    store_open(test_url, &B, &err) < 0 || store_migrate(A, NULL, &err) < 0) {
		fprintf(stderr, "test_lease: %s%s\n", PQerrorMessage(DB), err.msg);
		printf("FAIL test_lease_setup\n");
		goto out;
	}
	RUN(one_holder_and_a_slot_runs_once);
	RUN(expired_lease_is_taken_over_and_its_run_abandoned);
	RUN(heartbeat_extends_only_own_leases);
	RUN(failure_backs_off_then_retries_the_same_slot);
	RUN(force_skips_the_slot_never_the_holder);
	RUN(release_records_class_and_error_of_the_run);
	rc = test_summary();
out:
	store_free(&A);
	store_free(&B);
	PQfinish(DB);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
	admin_exec(admin, sql);
	PQfinish(admin);
	free(test_url);
	return rc;
}
