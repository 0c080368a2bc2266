/*
 * A throw-away PostgreSQL database for the storage tests: created from
 * M2T_TEST_DATABASE_URL (a role that may CREATE DATABASE) under a name
 * with the test's process id, and dropped at the end. Without the variable
 * the test prints SKIP and passes.
 */
#ifndef M2T_TEST_DB_H
#define M2T_TEST_DB_H

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "engine/util/buf.h"

struct test_db {
	PGconn *admin;
	char name[64];
	char *url;      /* conninfo of the test database (malloc'd) */
};

/* conninfo of the server in `admin`, with dbname replaced. */
static inline char *test_db_conninfo(PGconn *admin, const char *dbname)
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

static inline int test_db_exec(PGconn *admin, const char *sql)
{
	PGresult *res = PQexec(admin, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : -1;
}

/* For PQsetNoticeProcessor: NOTICEs ("does not exist, skipping") unprinted. */
static inline void test_db_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/*
 * Creates database PREFIX_<pid>. 0 ready (t->url set), 1 skipped (SKIP
 * printed), -1 failed (FAIL <test>_setup printed).
 */
static inline int test_db_create(struct test_db *t, const char *test, const char *prefix)
{
	char sql[200];
	const char *url = getenv("M2T_TEST_DATABASE_URL");
	memset(t, 0, sizeof(*t));
	if (!url || !*url) {
		printf("SKIP %s (M2T_TEST_DATABASE_URL unset)\n", test);
		return 1;
	}
	t->admin = PQconnectdb(url);
	if (PQstatus(t->admin) != CONNECTION_OK) {
		fprintf(stderr, "%s: cannot connect: %s", test, PQerrorMessage(t->admin));
		goto fail;
	}
	PQsetNoticeProcessor(t->admin, test_db_quiet, NULL);
	snprintf(t->name, sizeof(t->name), "%s_%ld", prefix, (long)getpid());
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", t->name);
	test_db_exec(t->admin, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8'",
		 t->name);
	if (test_db_exec(t->admin, sql) < 0)
		goto fail;
	t->url = test_db_conninfo(t->admin, t->name);
	return 0;
fail:
	printf("FAIL %s_setup\n", test);
	PQfinish(t->admin);
	t->admin = NULL;
	return -1;
}

static inline void test_db_drop(struct test_db *t)
{
	char sql[200];
	if (t->admin) {
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->name);
		test_db_exec(t->admin, sql);
		PQfinish(t->admin);
	}
	free(t->url);
	memset(t, 0, sizeof(*t));
}

/* Waits up to ms for a notification on c; returns its payload (malloc'd)
 * or NULL. */
static inline char *test_db_wait_notify(PGconn *c, int ms)
{
	for (int waited = 0; waited <= ms; waited += 50) {
		PQconsumeInput(c);
		PGnotify *n = PQnotifies(c);
		if (n) {
			char *p = strdup(n->extra);
			PQfreemem(n);
			return p;
		}
		struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
		poll(&pfd, 1, 50);
	}
	return NULL;
}

#endif
