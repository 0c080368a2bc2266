/*
 * What the storage tests share: the store under test and an independent
 * libpq view for the checks, query helpers, and message fixtures (a mail
 * with two attachments, a fresh UID each). Included by test_store.c and
 * test_store_batch.c; each sets S, DB and TEST_URL up in its main().
 */
#ifndef M2T_STORE_FIXTURE_H
#define M2T_STORE_FIXTURE_H

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "engine/util/buf.h"
#include "engine/util/str.h"
#include "storage/migrations.h"
#include "storage/store.h"
#include "storage/store_ingest.h"
#include "tests/unit/test.h"
#include "tests/unit/test_db.h"

static struct store *S;     /* the store under test */
static PGconn *DB;          /* independent view for the checks */
static char *TEST_URL;      /* conninfo of the test database */
static unsigned NEXT_UID = 1000;

/* ------------------------------------------------------------ database helpers */

/* Runs sql with text parameters (NULL-terminated list); NULL on error (printed). */
static inline PGresult *q(const char *sql, ...)
{
	const char *params[8];
	int n = 0;
	va_list ap;
	va_start(ap, sql);
	const char *p;
	while (n < 8 && (p = va_arg(ap, const char *)) != NULL)
		params[n++] = p;
	va_end(ap);
	PGresult *res = PQexecParams(DB, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		fprintf(stderr, "  query failed: %s\n  %s", sql, PQresultErrorMessage(res));
		PQclear(res);
		return NULL;
	}
	return res;
}

/* First column of the first row as a number; -1 when absent or NULL. */
static inline long long qint(const char *sql, const char *p1)
{
	PGresult *res = q(sql, p1, (const char *)NULL);
	long long v = -1;
	if (res && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
		uint64_t u;
		const char *s = PQgetvalue(res, 0, 0);
		if (str_parse_u64(s, strlen(s), INT64_MAX, &u) == 0)
			v = (long long)u;
	}
	PQclear(res);
	return v;
}

/* First column of the first row, malloc'd; NULL when absent or NULL. */
static inline char *qstr(const char *sql, const char *p1)
{
	PGresult *res = q(sql, p1, (const char *)NULL);
	char *v = NULL;
	if (res && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static inline const char *i64s(int64_t v, char buf[24])
{
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

static inline long long count_rows(const char *table)
{
	/* table names are literals from this file */
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return qint(sql, NULL);
}

/* ------------------------------------------------------------ message builders */

static const char ATT1[] = "hello attachment\n";
#define ATT1_SHA "2852d7262f1fd6339a426560101d5840edf5b8999b90eb6b2eea86c8b9f7e298"
static const char ATT2[] = "second file";
#define ATT2_SHA "54811cbc6c86311729b0a33e26c89087881b36b9ca3217d15cb5196e35f9a7e3"

struct fixture {
	struct message msg;
	struct plan plan;
	struct store_item item;
	struct address to[2];
	struct address cc[1];
	struct attachment att[3];
	char sha[65];
	char mid[64];
	char raw[256];
};

/* A fresh mail: unique uid, Message-ID and sha256 unless the test changes them. */
static inline void fixture_init(struct fixture *f, const char *subject)
{
	memset(f, 0, sizeof(*f));
	unsigned uid = NEXT_UID++;
	snprintf(f->mid, sizeof(f->mid), "m%u@test.example", uid);
	snprintf(f->sha, sizeof(f->sha), "%064x", uid);
	int n = snprintf(f->raw, sizeof(f->raw),
			 "From: Alice <alice@example.com>\r\nSubject: %s\r\n\r\nbody %u\r\n", subject, uid);
	struct message *m = &f->msg;
	m->message_id = f->mid;
	m->subject = subject;
	m->from.name = "Alice Example";
	m->from.email = "Alice@Example.COM";
	m->reply_to.name = "";
	m->reply_to.email = "";
	f->to[0].name = "Support";
	f->to[0].email = "support@example.org";
	f->to[1].name = "";
	f->to[1].email = "help@example.org";
	m->to.v = f->to;
	m->to.n = 2;
	f->cc[0].name = "Bob \"B\" O'Brien";
	f->cc[0].email = "bob@example.net";
	m->cc.v = f->cc;
	m->cc.n = 1;
	m->date = 1763719200; /* 2025-11-21T10:00:00Z */
	m->text = "Hello,\nmy printer is broken.\n";
	m->text_len = strlen(m->text);
	m->raw_size = (size_t)n;
	memcpy(m->raw_sha256, f->sha, sizeof(f->sha));
	plan_default(m, &f->plan);

	struct store_item *it = &f->item;
	it->account = "acct";
	it->mailbox = "INBOX";
	it->uidvalidity = 7;
	it->uid = uid;
	it->message_id = f->mid;
	it->sha256 = f->sha;
	it->size = (uint64_t)n;
	it->raw = f->raw;
	it->raw_len = (size_t)n;
	it->msg = m;
	it->plan = &f->plan;
	it->outcome = OUTCOME_TICKET;
}

static inline void fixture_attach(struct fixture *f)
{
	f->att[0] = (struct attachment){ .filename = "a.txt", .content_type = "text/plain",
					 .data = (const unsigned char *)ATT1, .size = strlen(ATT1),
					 .sha256 = ATT1_SHA };
	/* the same bytes again, under another name: stored once */
	f->att[1] = (struct attachment){ .filename = "copy of a.txt", .content_type = "text/plain",
					 .content_id = "img1@x", .is_inline = true,
					 .data = (const unsigned char *)ATT1, .size = strlen(ATT1),
					 .sha256 = ATT1_SHA };
	f->att[2] = (struct attachment){ .filename = "b.bin", .content_type = "application/octet-stream",
					 .data = (const unsigned char *)ATT2, .size = strlen(ATT2),
					 .sha256 = ATT2_SHA };
	f->msg.attachments = f->att;
	f->msg.nattachments = 3;
}

/* begin + apply + commit; returns 0 and fills the item. */
static inline int apply_one(struct store_item *it, int64_t run)
{
	struct err err = { 0 };
	if (store_begin(S, &err) < 0 || store_apply(S, run, it, &err) < 0 ||
	    store_commit(S, &err) < 0) {
		fprintf(stderr, "  apply: %s (%s)\n", err.msg, err_class_name(err.cls));
		store_rollback(S);
		return -1;
	}
	return 0;
}

/* The per-day counter of a ticket number (YYYYMMDD, then the counter); -1 if malformed. */
static inline long ticket_seq(const char *number)
{
	uint64_t v = 0;
	size_t len = strlen(number);
	if (len < 13 || str_parse_u64(number + 8, len - 8, 999999999, &v) < 0)
		return -1;
	return (long)v;
}

/* Every table a message writes to: a rollback must leave each as it was. */
static const char *const ALL_TABLES[] = { "tickets", "contacts", "articles", "attachments",
					  "attachment_contents", "processed_messages",
					  "raw_messages", "ticket_counters" };
#define NTABLES (sizeof(ALL_TABLES) / sizeof(ALL_TABLES[0]))

#endif
