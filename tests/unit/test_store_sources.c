/*
 * storage/ identities beside IMAP's (migrations/0004_sources.sql) against a
 * real PostgreSQL: POP3 UIDLs and Maildir names as source keys, mail piped
 * in by an MTA identified by Message-ID + sha256 alone, and the listing of
 * processed keys a job run skips; and a mail seen again under a new
 * identity, IMAP UIDs included (0007_keep.sql), recorded under it too. The checks read the database through a
 * second, plain libpq connection.
 *
 * Needs M2T_TEST_DATABASE_URL (a role that may CREATE DATABASE); skipped
 * without it. Works in its own database m2t_src_<pid>, dropped at the end.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "engine/util/buf.h"
#include "engine/util/str.h"
#include "storage/store.h"
#include "tests/unit/test.h"
#include "tests/unit/test_db.h"

static struct store *S;
static PGconn *DB;
static unsigned NEXT = 1;

static long long qint(const char *sql, const char *p1)
{
	const char *params[1] = {p1};
	PGresult *res = PQexecParams(DB, sql, p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
	long long v = -1;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fprintf(stderr, "  query failed: %s\n  %s", sql, PQresultErrorMessage(res));
	else if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
		uint64_t u;
		const char *s = PQgetvalue(res, 0, 0);
		if (str_parse_u64(s, strlen(s), INT64_MAX, &u) == 0)
			v = (long long)u;
	}
	PQclear(res);
	return v;
}

struct fixture {
	struct message msg;
	struct plan plan;
	struct store_item item;
	char sha[65];
	char mid[64];
	char key[64];
};

/* A fresh mail with its own Message-ID, sha256 and source key. */
static void fixture_init(struct fixture *f, enum store_identity id)
{
	memset(f, 0, sizeof(*f));
	unsigned n = NEXT++;
	snprintf(f->mid, sizeof(f->mid), "src%u@test.example", n);
	snprintf(f->sha, sizeof(f->sha), "%064x", n + 0x5000);
	snprintf(f->key, sizeof(f->key), "%08Xv%08Xu", 42u, n);
	f->msg.message_id = f->mid;
	f->msg.subject = "source test";
	f->msg.from.name = "Alice";
	f->msg.from.email = "alice@example.com";
	f->msg.reply_to.name = "";
	f->msg.reply_to.email = "";
	f->msg.text = "hello\n";
	f->msg.text_len = 6;
	memcpy(f->msg.raw_sha256, f->sha, sizeof(f->sha));
	plan_default(&f->msg, &f->plan);
	f->item.account = "pop";
	f->item.mailbox = "INBOX";
	f->item.identity = id;
	f->item.uid = 77;           /* a caller's handle: never stored for these */
	f->item.uidvalidity = 99;
	f->item.source_key = id == STORE_ID_KEY ? f->key : NULL;
	f->item.message_id = f->mid;
	f->item.sha256 = f->sha;
	f->item.size = 100;
	f->item.msg = &f->msg;
	f->item.plan = &f->plan;
	f->item.outcome = OUTCOME_TICKET;
}

static int apply_one(struct store_item *it)
{
	struct err err = {0};
	if (store_begin(S, &err) < 0 || store_apply(S, 0, it, &err) < 0 ||
	    store_commit(S, &err) < 0) {
		fprintf(stderr, "  apply: %s (%s)\n", err.msg, err_class_name(err.cls));
		store_rollback(S);
		return -1;
	}
	return 0;
}

TEST(migration_renames_uidl_to_source_key)
{
	struct err err = {0};
	CHECK_INT(store_migrate(S, NULL, &err), 0);
	CHECK_INT(store_check_schema(S, &err), 0);
	CHECK_INT(qint("SELECT count(*) FROM information_schema.columns WHERE table_name = "
		       "'processed_messages' AND column_name = 'source_key'", NULL), 1);
	CHECK_INT(qint("SELECT count(*) FROM information_schema.columns WHERE table_name = "
		       "'processed_messages' AND column_name = 'uidl'", NULL), 0);
	CHECK_INT(qint("SELECT count(*) FROM pg_indexes WHERE indexname = "
		       "'processed_messages_source_key'", NULL), 1);
}

TEST(key_identity_stored_without_uid)
{
	struct fixture f;
	fixture_init(&f, STORE_ID_KEY);
	CHECK_INT(apply_one(&f.item), 0);
	CHECK(!f.item.already_done);
	CHECK(f.item.ticket_number[0] != '\0');
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE source_key = $1 AND uid IS "
		       "NULL AND uidvalidity IS NULL AND account = 'pop'", f.key), 1);

	/* the same key again, other bytes: the key alone says "done" */
	struct fixture g;
	fixture_init(&g, STORE_ID_KEY);
	memcpy(g.key, f.key, sizeof(g.key));
	CHECK_INT(apply_one(&g.item), 0);
	CHECK(g.item.already_done);
	CHECK_INT(g.item.done_outcome, OUTCOME_TICKET);
	CHECK_STR(g.item.ticket_number, f.item.ticket_number);

	/* the same key on another account is another message */
	fixture_init(&g, STORE_ID_KEY);
	memcpy(g.key, f.key, sizeof(g.key));
	g.item.account = "pop-other";
	CHECK_INT(apply_one(&g.item), 0);
	CHECK(!g.item.already_done);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE source_key = $1", f.key), 2);
}

/*
 * Badmail recorded by its size only (never fetched: no sha256): a second
 * record under the same key must still find the first, by the key.
 */
TEST(unfetched_badmail_found_again_by_key)
{
	struct fixture f;
	fixture_init(&f, STORE_ID_KEY);
	f.item.sha256 = NULL;
	f.item.message_id = NULL;
	f.item.msg = NULL;
	f.item.plan = NULL;
	f.item.outcome = OUTCOME_BADMAIL;
	f.item.reason = "message size 30 MB exceeds max_message_size 25 MB";
	f.item.size = 30u << 20;
	CHECK_INT(apply_one(&f.item), 0);
	CHECK(!f.item.already_done);
	CHECK_INT(apply_one(&f.item), 0);
	CHECK(f.item.already_done);
	CHECK_INT(f.item.done_outcome, OUTCOME_BADMAIL);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE source_key = $1 AND "
		       "reason LIKE 'message size%'", f.key), 1);
}

/* store_processed_keys, outcomes only (-1: not processed). */
static int key_outcomes(const char *account, const char *const *keys, size_t n, int *out,
			struct err *err)
{
	struct processed_key *v = NULL;
	int rc = store_processed_keys(S, account, keys, n, &v, err);
	for (size_t i = 0; i < n; i++)
		out[i] = v ? v[i].outcome : -1;
	free(v);
	return rc;
}

TEST(processed_keys_lists_only_those_asked)
{
	struct fixture a, b;
	fixture_init(&a, STORE_ID_KEY);
	CHECK_INT(apply_one(&a.item), 0);
	fixture_init(&b, STORE_ID_KEY);
	b.item.msg = NULL;
	b.item.plan = NULL;
	b.item.outcome = OUTCOME_BADMAIL;
	b.item.reason = "unparseable";
	CHECK_INT(apply_one(&b.item), 0);

	const char *keys[4] = {a.key, "never-seen", b.key, a.key};
	int out[4];
	struct err err = {0};
	CHECK_INT(key_outcomes("pop", keys, 4, out, &err), 0);
	CHECK_INT(out[0], OUTCOME_TICKET);
	CHECK_INT(out[1], -1);
	CHECK_INT(out[2], OUTCOME_BADMAIL);
	CHECK_INT(out[3], OUTCOME_TICKET);
	/* another account knows none of them */
	CHECK_INT(key_outcomes("imap-account", keys, 4, out, &err), 0);
	CHECK(out[0] == -1 && out[1] == -1 && out[2] == -1 && out[3] == -1);
	CHECK_INT(key_outcomes("pop", keys, 0, out, &err), 0);

	const char *bad[1] = {"\xff\xfe"};
	CHECK(key_outcomes("pop", bad, 1, out, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK_INT(out[0], -1);
	/* the connection is still good */
	CHECK_INT(key_outcomes("pop", keys, 1, out, &err), 0);
	CHECK_INT(out[0], OUTCOME_TICKET);
}

/*
 * A plan's move_to comes back with the key, for the redispose of a mail
 * committed but not yet moved; and a copy under a new key keeps it.
 */
TEST(processed_keys_say_where_the_plan_moved_it)
{
	struct fixture a, b;
	fixture_init(&a, STORE_ID_KEY);
	a.plan.move_to = "Newsletters";
	CHECK_INT(apply_one(&a.item), 0);
	fixture_init(&b, STORE_ID_KEY);
	memcpy(b.mid, a.mid, sizeof(b.mid));
	memcpy(b.sha, a.sha, sizeof(b.sha));
	CHECK_INT(apply_one(&b.item), 0);
	CHECK(b.item.already_done);
	const char *keys[3] = {a.key, "never-seen-either", b.key};
	struct processed_key *v = NULL;
	struct err err = {0};
	CHECK_INT(store_processed_keys(S, "pop", keys, 3, &v, &err), 0);
	if (v) {
		CHECK_INT(v[0].outcome, OUTCOME_TICKET);
		CHECK(v[0].move_to && strcmp(v[0].move_to, "Newsletters") == 0);
		CHECK(v[1].outcome == -1 && v[1].move_to == NULL);
		CHECK(v[2].move_to && strcmp(v[2].move_to, "Newsletters") == 0);
	}
	free(v);
	CHECK_INT(store_processed_keys(S, "pop", keys, 0, &v, &err), 0);
	CHECK(v == NULL);
}

/*
 * The same mail again under a new key (a copy in the maildrop): done by
 * content, and its key is recorded too, so a source that keeps its mail
 * does not fetch it at every run.
 */
TEST(copy_under_a_new_key_records_the_key)
{
	struct fixture a, b;
	fixture_init(&a, STORE_ID_KEY);
	CHECK_INT(apply_one(&a.item), 0);
	fixture_init(&b, STORE_ID_KEY);
	memcpy(b.mid, a.mid, sizeof(b.mid));
	memcpy(b.sha, a.sha, sizeof(b.sha));
	CHECK_INT(apply_one(&b.item), 0);
	CHECK(b.item.already_done);
	CHECK_INT(b.item.done_outcome, OUTCOME_TICKET);
	CHECK_STR(b.item.ticket_number, a.item.ticket_number);
	const char *keys[1] = {b.key};
	int out[1];
	struct err err = {0};
	CHECK_INT(key_outcomes("pop", keys, 1, out, &err), 0);
	CHECK_INT(out[0], OUTCOME_TICKET);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE source_key = $1 AND sha256 "
		       "IS NULL AND reason LIKE 'same message as processed message %'", b.key), 1);
	/* a third time under the same new key: found by the key, nothing added */
	CHECK_INT(apply_one(&b.item), 0);
	CHECK(b.item.already_done);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE source_key = $1", b.key), 1);
	/* in one batch: the second copy gets its key row as well */
	struct fixture c, d;
	fixture_init(&c, STORE_ID_KEY);
	fixture_init(&d, STORE_ID_KEY);
	memcpy(d.mid, c.mid, sizeof(d.mid));
	memcpy(d.sha, c.sha, sizeof(d.sha));
	CHECK_INT(store_begin(S, &err), 0);
	CHECK_INT(store_apply_async(S, 0, &c.item, &err), 0);
	CHECK_INT(store_apply_async(S, 0, &d.item, &err), 0);
	CHECK_INT(store_commit(S, &err), 0);
	CHECK(!c.item.already_done && d.item.already_done);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE source_key = $1", d.key), 1);
}

/* A second fixture with the first one's Message-ID and bytes. */
static void fixture_copy(struct fixture *f, const struct fixture *of, uint32_t uidvalidity,
			 uint32_t uid)
{
	fixture_init(f, of->item.identity);
	memcpy(f->mid, of->mid, sizeof(f->mid));
	memcpy(f->sha, of->sha, sizeof(f->sha));
	f->item.account = of->item.account;
	f->item.mailbox = of->item.mailbox;
	f->item.uidvalidity = uidvalidity;
	f->item.uid = uid;
}

/* Rows of the account with this UIDVALIDITY and UID, sha256 NULL, naming the first row. */
static long long copy_rows(const char *account, uint32_t uidvalidity, uint32_t uid)
{
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM processed_messages c JOIN processed_messages o"
		 " ON o.account = c.account AND o.sha256 IS NOT NULL"
		 " AND c.reason = 'same message as processed message ' || o.id"
		 " AND c.outcome = o.outcome AND c.plan = o.plan"
		 " AND c.ticket_id IS NOT DISTINCT FROM o.ticket_id"
		 " WHERE c.account = $1 AND c.uidvalidity = %u AND c.uid = %u"
		 " AND c.sha256 IS NULL AND c.source_key IS NULL", uidvalidity, uid);
	return qint(sql, account);
}

/*
 * IMAP (migration 0007): the same mail under a new UID (copied back into the
 * folder) or a new UIDVALIDITY (renumbered) is done by content, gets a row
 * for its own (uidvalidity, uid) with the first one's outcome and plan, and
 * the result says where the first one's plan moved it; the run after finds
 * it by UID (store_processed_uids) without fetching it.
 */
TEST(imap_copy_under_a_new_uid_records_the_uid)
{
	struct fixture a, b, c;
	struct err err = {0};
	fixture_init(&a, STORE_ID_UID);
	a.item.account = "imap-copies";
	a.item.uid = 1;
	a.plan.move_to = "Newsletters";
	CHECK_INT(apply_one(&a.item), 0);
	CHECK(!a.item.already_done);
	CHECK_STR(a.item.done_move_to, "");

	fixture_copy(&b, &a, 99, 2);
	CHECK_INT(apply_one(&b.item), 0);
	CHECK(b.item.already_done);
	CHECK_INT(b.item.done_outcome, OUTCOME_TICKET);
	CHECK_STR(b.item.ticket_number, a.item.ticket_number);
	CHECK_STR(b.item.done_move_to, "Newsletters");
	CHECK_INT(copy_rows("imap-copies", 99, 2), 1);
	CHECK_INT(qint("SELECT count(*) FROM tickets t JOIN processed_messages pm ON"
		       " pm.ticket_id = t.id WHERE pm.account = $1", "imap-copies"), 2);
	CHECK_INT(qint("SELECT count(DISTINCT ticket_id) FROM processed_messages WHERE"
		       " account = $1", "imap-copies"), 1);
	/* the next run lists UIDs 1..3 and finds both, with the plan's folder */
	const uint32_t listed[3] = {1, 2, 3};
	struct processed_uid *v = NULL;
	size_t n = 0;
	CHECK_INT(store_processed_uids(S, "imap-copies", "INBOX", 99, listed, 3, &v, &n, &err), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK(v[0].uid == 1 && v[1].uid == 2);
		CHECK(v[1].outcome == OUTCOME_TICKET && v[1].move_to &&
		      strcmp(v[1].move_to, "Newsletters") == 0);
	}
	free(v);
	/* a third time under the copy's UID: found by the UID, nothing added */
	CHECK_INT(apply_one(&b.item), 0);
	CHECK(b.item.already_done);
	CHECK_STR(b.item.done_move_to, "Newsletters");
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE account = $1",
		       "imap-copies"), 2);

	/* UIDVALIDITY changed: every mail has a new UID; one row each, no ticket */
	fixture_copy(&c, &a, 100, 1);
	CHECK_INT(apply_one(&c.item), 0);
	CHECK(c.item.already_done);
	CHECK_INT(copy_rows("imap-copies", 100, 1), 1);
	CHECK_INT(qint("SELECT count(*) FROM tickets t JOIN processed_messages pm ON"
		       " pm.ticket_id = t.id WHERE pm.account = $1 AND pm.sha256 IS NOT NULL",
		       "imap-copies"), 1);

	/* badmail too (remembered with its reason, no ticket), and two copies in
	 * one batch: each gets its row, the content key stays the first one's */
	struct fixture d, e, f;
	fixture_init(&d, STORE_ID_UID);
	d.item.account = "imap-copies";
	d.item.uid = 10;
	d.item.msg = NULL;
	d.item.plan = NULL;
	d.item.outcome = OUTCOME_BADMAIL;
	d.item.reason = "not parsable";
	fixture_copy(&e, &d, 99, 11);
	e.item.msg = NULL;
	e.item.plan = NULL;
	e.item.outcome = OUTCOME_BADMAIL;
	e.item.reason = "not parsable";
	fixture_copy(&f, &d, 99, 12);
	f.item.msg = NULL;
	f.item.plan = NULL;
	f.item.outcome = OUTCOME_BADMAIL;
	f.item.reason = "not parsable";
	CHECK_INT(store_begin(S, &err), 0);
	CHECK_INT(store_apply_async(S, 0, &d.item, &err), 0);
	CHECK_INT(store_apply_async(S, 0, &e.item, &err), 0);
	CHECK_INT(store_apply_async(S, 0, &f.item, &err), 0);
	CHECK_INT(store_commit(S, &err), 0);
	CHECK(!d.item.already_done && e.item.already_done && f.item.already_done);
	CHECK_INT(e.item.done_outcome, OUTCOME_BADMAIL);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE account = $1 AND"
		       " uid IN (11, 12) AND outcome = 'badmail' AND sha256 IS NULL AND reason ="
		       " 'same message as processed message ' || (SELECT id FROM processed_messages"
		       " WHERE account = $1 AND uid = 10)", "imap-copies"), 2);

	/* mail never fetched (over the size limit, no sha256) has no content to
	 * match: a copy of it is simply new */
	struct fixture g, h;
	fixture_init(&g, STORE_ID_UID);
	g.item.account = "imap-big";
	g.item.uid = 1;
	g.item.sha256 = NULL;
	g.item.msg = NULL;
	g.item.plan = NULL;
	g.item.outcome = OUTCOME_BADMAIL;
	g.item.reason = "too big";
	CHECK_INT(apply_one(&g.item), 0);
	h = g;
	h.item.uid = 2;
	CHECK_INT(apply_one(&h.item), 0);
	CHECK(!h.item.already_done);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE account = $1 AND"
		       " reason = 'too big'", "imap-big"), 2);
}

TEST(content_identity_for_piped_mail)
{
	struct fixture f;
	fixture_init(&f, STORE_ID_CONTENT);
	f.item.mailbox = "stdin";
	CHECK_INT(apply_one(&f.item), 0);
	CHECK(!f.item.already_done);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE message_id = $1 AND uid IS "
		       "NULL AND source_key IS NULL AND mailbox = 'stdin'", f.mid), 1);
	/* the MTA delivers it twice: one ticket */
	CHECK_INT(apply_one(&f.item), 0);
	CHECK(f.item.already_done);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE message_id = $1", f.mid), 1);
}

TEST(identity_mistakes_refused_before_sending)
{
	struct err err = {0};
	struct fixture f;
	CHECK_INT(store_begin(S, &err), 0);
	fixture_init(&f, STORE_ID_KEY);
	f.item.source_key = NULL;
	CHECK(store_apply_async(S, 0, &f.item, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	f.item.source_key = "bad\nkey";
	CHECK(store_apply_async(S, 0, &f.item, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	fixture_init(&f, STORE_ID_CONTENT);
	f.item.sha256 = NULL;
	f.item.msg = NULL;
	f.item.plan = NULL;
	f.item.outcome = OUTCOME_BADMAIL;
	CHECK(store_apply_async(S, 0, &f.item, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	/* nothing was queued: the transaction still commits */
	CHECK_INT(store_commit(S, &err), 0);
}

TEST(imap_rows_have_no_source_key)
{
	struct fixture f;
	fixture_init(&f, STORE_ID_UID);
	f.item.account = "imap-account";
	f.item.uid = 5000 + NEXT;
	CHECK_INT(apply_one(&f.item), 0);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE message_id = $1 AND "
		       "source_key IS NULL AND uid IS NOT NULL AND uidvalidity = 99", f.mid), 1);
}

int main(void)
{
	struct test_db tdb;
	int setup = test_db_create(&tdb, "test_store_sources", "m2t_src");
	if (setup != 0)
		return setup > 0 ? 0 : 1;
	const char *test_url = tdb.url;
	DB = PQconnectdb(test_url);
	struct err err = {0};
	int rc = 1;
	if (PQstatus(DB) != CONNECTION_OK || store_open(test_url, &S, &err) < 0) {
		fprintf(stderr, "%s%s\n", PQerrorMessage(DB), err.msg);
		printf("FAIL test_store_sources_setup\n");
		goto out;
	}
	RUN(migration_renames_uidl_to_source_key);
	RUN(key_identity_stored_without_uid);
	RUN(unfetched_badmail_found_again_by_key);
	RUN(processed_keys_lists_only_those_asked);
	RUN(processed_keys_say_where_the_plan_moved_it);
	RUN(copy_under_a_new_key_records_the_key);
	RUN(imap_copy_under_a_new_uid_records_the_uid);
	RUN(content_identity_for_piped_mail);
	RUN(identity_mistakes_refused_before_sending);
	RUN(imap_rows_have_no_source_key);
	rc = test_summary();
out:
	store_free(&S);
	PQfinish(DB);
	test_db_drop(&tdb);
	return rc;
}
