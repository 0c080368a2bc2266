/*
 * storage/ against a real PostgreSQL: migrations, ingest of one message
 * (effectively-once identities, badmail, follow-up articles), ticket numbers,
 * rollback, job runs, UIDVALIDITY, NOTIFY, and mail text with odd bytes
 * stored exactly. Batches and concurrency: test_store_batch.c.
 *
 * Needs M2T_TEST_DATABASE_URL (a role that may CREATE DATABASE); without
 * it the test is skipped. Each run works in its own database
 * m2t_test_<pid>, dropped at the end. The checks read the database through
 * a second, plain libpq connection, so they do not trust storage's own reads.
 */
#include "tests/unit/store_fixture.h"

TEST(open_unreachable_is_transient)
{
	struct store *s = NULL;
	struct err err = { 0 };
	CHECK(store_open("host=127.0.0.1 port=1 connect_timeout=2", &s, &err) < 0);
	CHECK(s == NULL);
	CHECK_INT(err.cls, ERR_TRANSIENT);
}

TEST(check_schema_before_migrate_fails)
{
	struct err err = { 0 };
	unsigned v = 99;
	CHECK_INT(store_schema_version(S, &v, &err), 0);
	CHECK_INT(v, 0);
	CHECK(store_check_schema(S, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK(strstr(err.msg, "migrate") != NULL);
}

TEST(migrate_twice_is_idempotent)
{
	struct err err = { 0 };
	FILE *f;
	size_t len;
	char *out = NULL;
	f = open_memstream(&out, &len);
	CHECK_INT(store_migrate(S, f, &err), 0);
	fclose(f);
	CHECK(out && strstr(out, "applied 0001_initial\n") != NULL);
	free(out);

	out = NULL;
	f = open_memstream(&out, &len);
	CHECK_INT(store_migrate(S, f, &err), 0);
	fclose(f);
	char want[64];
	snprintf(want, sizeof(want), "schema is up to date (version %u)\n",
		 m2t_migrations[m2t_migrations_count - 1].version);
	CHECK_STR(out, want);
	free(out);
	CHECK_INT(store_check_schema(S, &err), 0);
	CHECK_INT(count_rows("schema_migrations"), m2t_migrations_count);
	/* documented schema: every table has a comment */
	CHECK_INT(qint("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		       " WHERE n.nspname = 'public' AND c.relkind = 'r'"
		       " AND obj_description(c.oid, 'pg_class') IS NULL", NULL), 0);
	/* one ingest function, whatever the migrations did on the way, with
	 * exactly the parameters the store sends */
	CHECK_INT(qint("SELECT count(*) FROM pg_proc WHERE proname = 'm2t_ingest_batch'", NULL), 1);
	CHECK_INT(qint("SELECT pronargs FROM pg_proc WHERE proname = 'm2t_ingest_batch'", NULL),
		  C_COUNT);
}

TEST(refuses_newer_schema)
{
	struct err err = { 0 };
	PQclear(q("INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future')", NULL));
	size_t len;
	char *out = NULL;
	FILE *f = open_memstream(&out, &len);
	CHECK(store_migrate(S, f, &err) < 0);
	fclose(f);
	free(out);
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK(strstr(err.msg, "9999") != NULL);
	char newest[16];
	snprintf(newest, sizeof(newest), " %u", m2t_migrations[m2t_migrations_count - 1].version);
	CHECK(strstr(err.msg, newest) != NULL);
	err_clear(&err);
	CHECK(store_check_schema(S, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK(strstr(err.msg, "9999") != NULL);
	PQclear(q("DELETE FROM schema_migrations WHERE version = 9999", NULL));
	err_clear(&err);
	CHECK_INT(store_check_schema(S, &err), 0);
	/* the advisory lock was released: another session can take it at once */
	CHECK_INT(qint("SELECT pg_try_advisory_lock(1832023073)::int", NULL), 1);
	PQclear(q("SELECT pg_advisory_unlock(1832023073)", NULL));
}

TEST(ingest_creates_ticket_article_attachments)
{
	struct fixture f;
	fixture_init(&f, "Printer broken");
	fixture_attach(&f);
	f.msg.html = "<p>Hello</p>";
	f.msg.html_len = strlen(f.msg.html);
	f.msg.in_reply_to = "prev@test.example";
	f.msg.references = "<a@x> <prev@test.example>";
	long long contents_before = count_rows("attachment_contents");
	CHECK_INT(apply_one(&f.item, 0), 0);
	CHECK(!f.item.already_done);
	CHECK_INT(f.item.done_outcome, OUTCOME_TICKET);
	CHECK(f.item.ticket_id > 0);
	CHECK(f.item.article_id > 0);
	CHECK_INT(strlen(f.item.ticket_number), 13);

	char tid[24], aid[24];
	i64s(f.item.ticket_id, tid);
	i64s(f.item.article_id, aid);
	/* number: today's UTC date + 5 digits */
	char *today = qstr("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')", NULL);
	CHECK(today && strncmp(f.item.ticket_number, today, 8) == 0);
	free(today);
	char *s = qstr("SELECT number FROM tickets WHERE id = $1", tid);
	CHECK_STR(s, f.item.ticket_number);
	free(s);
	s = qstr("SELECT subject || '|' || status || '|' || queue || '|' || priority || '|' || account"
		 " FROM tickets WHERE id = $1", tid);
	CHECK_STR(s, "Printer broken|new|default|normal|acct");
	free(s);
	s = qstr("SELECT c.email || '|' || c.name FROM tickets t JOIN contacts c ON c.id = t.requester_id"
		 " WHERE t.id = $1", tid);
	CHECK_STR(s, "alice@example.com|Alice Example");
	free(s);
	s = qstr("SELECT concat_ws('|', ticket_id, kind, message_id, in_reply_to, message_references,"
		 " from_name, from_email, subject, body_text, body_html,"
		 " to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), size)"
		 " FROM articles WHERE id = $1", aid);
	char want[512];
	snprintf(want, sizeof(want),
		 "%s|customer|%s|prev@test.example|<a@x> <prev@test.example>|Alice Example|"
		 "Alice@Example.COM|Printer broken|Hello,\nmy printer is broken.\n|<p>Hello</p>|"
		 "2025-11-21 10:00:00|%zu", tid, f.mid, f.item.raw_len);
	CHECK_STR(s, want);
	free(s);
	s = qstr("SELECT to_addrs::text || '|' || cc_addrs::text FROM articles WHERE id = $1", aid);
	CHECK_STR(s, "[{\"name\": \"Support\", \"email\": \"support@example.org\"}, "
		     "{\"name\": \"\", \"email\": \"help@example.org\"}]|"
		     "[{\"name\": \"Bob \\\"B\\\" O'Brien\", \"email\": \"bob@example.net\"}]");
	free(s);
	/* three attachment rows, two distinct contents */
	CHECK_INT(qint("SELECT count(*) FROM attachments WHERE article_id = $1", aid), 3);
	CHECK_INT(count_rows("attachment_contents") - contents_before, 2);
	s = qstr("SELECT string_agg(concat_ws(',', position, filename, content_type,"
		 " coalesce(content_id, '-'), is_inline, a.sha256 = '" ATT1_SHA "',"
		 " encode(c.content, 'escape')), ';' ORDER BY position)"
		 " FROM attachments a JOIN attachment_contents c USING (sha256) WHERE article_id = $1", aid);
	CHECK_STR(s, "0,a.txt,text/plain,-,f,t,hello attachment\n;"
		     "1,copy of a.txt,text/plain,img1@x,t,t,hello attachment\n;"
		     "2,b.bin,application/octet-stream,-,f,f,second file");
	free(s);
	/* the identity row and the raw bytes */
	s = qstr("SELECT concat_ws('|', outcome, ticket_id, article_id, message_id, sha256, uidvalidity,"
		 " reason, job_run_id IS NULL) FROM processed_messages WHERE article_id = $1", aid);
	snprintf(want, sizeof(want),
		 "ticket|%s|%s|%s|%s|7|default: a follow-up when one is found, else a new ticket|t",
		 tid, aid, f.mid, f.sha);
	CHECK_STR(s, want);
	free(s);
	s = qstr("SELECT encode(r.raw, 'escape') FROM raw_messages r JOIN processed_messages p"
		 " ON p.id = r.processed_message_id WHERE p.article_id = $1", aid);
	CHECK_STR(s, f.raw);
	free(s);

	/* a second mail with the same attachment adds rows, not contents */
	struct fixture g;
	fixture_init(&g, "Again");
	fixture_attach(&g);
	contents_before = count_rows("attachment_contents");
	CHECK_INT(apply_one(&g.item, 0), 0);
	CHECK_INT(count_rows("attachment_contents"), contents_before);
	CHECK_INT(qint("SELECT count(*) FROM attachments WHERE sha256 = '" ATT1_SHA "'", NULL), 4);
}

/*
 * What preprocessing made of a mail goes in with its article: the cleaned
 * body, the text before, the client and the trace. An UPDATE of articles
 * would fail here: the row is written once.
 */
TEST(preprocessing_stored_with_its_article)
{
	struct fixture f;
	fixture_init(&f, "Re: printer");
	static const char base[] = "Still broken.\n\nOn Mon, Anna wrote:\n> Hello\n";
	struct preprocess_removal rm = {
		.stage = "reply-headers", .rule = "on-date-wrote", .file = "rules/packs/x.yaml",
		.line = 4, .column = 7, .start = 15, .end = sizeof(base) - 1,
		.text = base + 15, .len = sizeof(base) - 1 - 15,
	};
	struct preprocess_result pre = {
		.text = "Still broken.", .len = 13, .base = base, .base_len = sizeof(base) - 1,
		.client = "thunderbird", .removed = &rm, .nremoved = 1,
	};
	f.item.pre = &pre;
	PQclear(q("CREATE FUNCTION t_no_article_update() RETURNS trigger LANGUAGE plpgsql AS"
		  " $$BEGIN RAISE EXCEPTION 'articles are written once'; END$$", NULL));
	PQclear(q("CREATE TRIGGER t_no_article_update BEFORE UPDATE ON articles"
		  " FOR EACH ROW EXECUTE FUNCTION t_no_article_update()", NULL));
	CHECK_INT(apply_one(&f.item, 0), 0);
	PQclear(q("DROP TRIGGER t_no_article_update ON articles", NULL));
	PQclear(q("DROP FUNCTION t_no_article_update()", NULL));
	char aid[24];
	i64s(f.item.article_id, aid);
	char *s = qstr("SELECT concat_ws('|', body_text, body_original, mail_client) FROM articles"
		       " WHERE id = $1", aid);
	char want[256];
	snprintf(want, sizeof(want), "Still broken.|%s|thunderbird", base);
	CHECK_STR(s, want);
	free(s);
	s = qstr("SELECT preprocess_trace::text FROM articles WHERE id = $1", aid);
	CHECK_STR(s, "[{\"at\": \"rules/packs/x.yaml:4:7\", \"end\": 43, \"rule\": "
		     "\"on-date-wrote\", \"text\": \"On Mon, Anna wrote:\\n> Hello\\n\", "
		     "\"stage\": \"reply-headers\", \"start\": 15}]");
	free(s);
	/* without preprocessing: the text as it is, both ways, an empty trace */
	struct fixture g;
	fixture_init(&g, "plain");
	CHECK_INT(apply_one(&g.item, 0), 0);
	i64s(g.item.article_id, aid);
	CHECK_INT(qint("SELECT count(*) FROM articles WHERE id = $1 AND body_text = body_original"
		       " AND preprocess_trace = '[]' AND mail_client IS NULL", aid), 1);
}

TEST(same_identity_is_already_done)
{
	struct fixture f;
	fixture_init(&f, "Once only");
	CHECK_INT(apply_one(&f.item, 0), 0);
	int64_t ticket = f.item.ticket_id, article = f.item.article_id;
	char number[32];
	memcpy(number, f.item.ticket_number, sizeof(number));
	long long tickets = count_rows("tickets"), articles = count_rows("articles");
	long long processed = count_rows("processed_messages"), raw = count_rows("raw_messages");

	/* the same identity, even with another intended outcome */
	f.item.outcome = OUTCOME_IGNORED;
	CHECK_INT(apply_one(&f.item, 0), 0);
	CHECK(f.item.already_done);
	CHECK_INT(f.item.done_outcome, OUTCOME_TICKET);
	CHECK_INT(f.item.ticket_id, ticket);
	CHECK_INT(f.item.article_id, article);
	CHECK_STR(f.item.ticket_number, number);

	/* UIDVALIDITY changed: new uid, same Message-ID and sha256 */
	f.item.outcome = OUTCOME_TICKET;
	f.item.uidvalidity = 8;
	f.item.uid = 1;
	CHECK_INT(apply_one(&f.item, 0), 0);
	CHECK(f.item.already_done);
	CHECK_INT(f.item.ticket_id, ticket);
	CHECK_STR(f.item.ticket_number, number);

	/* without a Message-ID the sha256 alone is the content identity */
	struct fixture g;
	fixture_init(&g, "No message id");
	g.item.message_id = NULL;
	g.msg.message_id = NULL;
	CHECK_INT(apply_one(&g.item, 0), 0);
	CHECK(!g.item.already_done);
	g.item.uidvalidity = 9;
	CHECK_INT(apply_one(&g.item, 0), 0);
	CHECK(g.item.already_done);

	CHECK_INT(count_rows("tickets"), tickets + 1);
	CHECK_INT(count_rows("articles"), articles + 1);
	/* g's first row, and one row for each mail found done under a new
	 * UIDVALIDITY (0007): those are skipped by UID from now on */
	CHECK_INT(count_rows("processed_messages"), processed + 3);
	CHECK_INT(count_rows("raw_messages"), raw + 1);

	/* several in one transaction, the duplicate in the middle: the batch survives */
	struct fixture a, b;
	fixture_init(&a, "batch a");
	fixture_init(&b, "batch b");
	struct err err = { 0 };
	CHECK_INT(store_begin(S, &err), 0);
	CHECK_INT(store_apply(S, 0, &a.item, &err), 0);
	CHECK_INT(store_apply(S, 0, &f.item, &err), 0);
	CHECK(f.item.already_done);
	CHECK_INT(store_apply(S, 0, &a.item, &err), 0); /* same identity twice in one txn */
	CHECK(a.item.already_done);
	CHECK_INT(store_apply(S, 0, &b.item, &err), 0);
	CHECK(!b.item.already_done);
	CHECK_INT(store_commit(S, &err), 0);
	CHECK_INT(count_rows("tickets"), tickets + 3);
}

TEST(badmail_and_ignored_have_no_ticket)
{
	long long tickets = count_rows("tickets");
	struct store_item it;
	memset(&it, 0, sizeof(it));
	static const char raw[] = "garbage \x00\xff\xfe with NUL";
	it.account = "acct";
	it.mailbox = "INBOX";
	it.uidvalidity = 7;
	it.uid = NEXT_UID++;
	it.sha256 = "badbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbad0";
	it.size = sizeof(raw) - 1;
	it.raw = raw;
	it.raw_len = sizeof(raw) - 1;
	it.outcome = OUTCOME_BADMAIL;
	it.reason = "mime: more than 500 parts";
	CHECK_INT(apply_one(&it, 0), 0);
	CHECK(!it.already_done);
	CHECK_INT(it.done_outcome, OUTCOME_BADMAIL);
	CHECK_INT(it.ticket_id, 0);
	CHECK_INT(it.article_id, 0);
	CHECK_STR(it.ticket_number, "");
	char uid[24];
	snprintf(uid, sizeof(uid), "%u", it.uid);
	char *s = qstr("SELECT concat_ws('|', outcome, reason, ticket_id IS NULL, article_id IS NULL,"
		       " message_id IS NULL) FROM processed_messages WHERE uid = $1", uid);
	CHECK_STR(s, "badmail|mime: more than 500 parts|t|t|t");
	free(s);
	/* the raw bytes, NUL and 0xff included, exactly */
	s = qstr("SELECT encode(raw, 'hex') FROM raw_messages r JOIN processed_messages p"
		 " ON p.id = r.processed_message_id WHERE p.uid = $1", uid);
	CHECK_STR(s, "6761726261676520" "00fffe" "2077697468204e554c");
	free(s);

	/* ignored, with a parsed message but no article; not fetched: no raw */
	struct fixture f;
	fixture_init(&f, "Auto-reply: out of office");
	f.item.outcome = OUTCOME_IGNORED;
	f.item.reason = "auto-reply";
	f.item.raw = NULL;
	CHECK_INT(apply_one(&f.item, 0), 0);
	CHECK_INT(f.item.done_outcome, OUTCOME_IGNORED);
	CHECK_INT(f.item.ticket_id, 0);
	snprintf(uid, sizeof(uid), "%u", f.item.uid);
	CHECK_INT(qint("SELECT count(*) FROM raw_messages r JOIN processed_messages p"
		       " ON p.id = r.processed_message_id WHERE p.uid = $1", uid), 0);
	s = qstr("SELECT outcome || '|' || reason FROM processed_messages WHERE uid = $1", uid);
	CHECK_STR(s, "ignored|auto-reply");
	free(s);
	CHECK_INT(count_rows("tickets"), tickets);
}

TEST(append_adds_article)
{
	struct fixture f, g, h;
	fixture_init(&f, "Original");
	CHECK_INT(apply_one(&f.item, 0), 0);
	fixture_init(&g, "Re: Original");
	g.item.outcome = OUTCOME_APPENDED;
	g.plan.action = PLAN_APPEND;
	g.plan.ticket_id = f.item.ticket_id;
	CHECK_INT(apply_one(&g.item, 0), 0);
	CHECK_INT(g.item.done_outcome, OUTCOME_APPENDED);
	CHECK_INT(g.item.ticket_id, f.item.ticket_id);
	CHECK_STR(g.item.ticket_number, f.item.ticket_number);
	CHECK(g.item.article_id != f.item.article_id);
	char tid[24];
	CHECK_INT(qint("SELECT count(*) FROM articles WHERE ticket_id = $1", i64s(f.item.ticket_id, tid)), 2);

	/* the target is gone: a new ticket instead of an aborted batch */
	fixture_init(&h, "Re: nothing");
	h.item.outcome = OUTCOME_APPENDED;
	h.plan.ticket_id = 987654321;
	CHECK_INT(apply_one(&h.item, 0), 0);
	CHECK_INT(h.item.done_outcome, OUTCOME_TICKET);
	CHECK(h.item.ticket_id > 0 && h.item.ticket_id != 987654321);
	char uid[24];
	snprintf(uid, sizeof(uid), "%u", h.item.uid);
	char *s = qstr("SELECT outcome FROM processed_messages WHERE uid = $1", uid);
	CHECK_STR(s, "ticket");
	free(s);
}

/* The 5-digit suffix of a ticket number. */
TEST(ticket_numbers_sequential_and_unique)
{
	struct fixture f[5];
	struct err err = { 0 };
	CHECK_INT(store_begin(S, &err), 0);
	for (int i = 0; i < 5; i++) {
		fixture_init(&f[i], "seq");
		CHECK_INT(store_apply(S, 0, &f[i].item, &err), 0);
	}
	CHECK_INT(store_commit(S, &err), 0);
	for (int i = 1; i < 5; i++) {
		CHECK_INT(ticket_seq(f[i].item.ticket_number), ticket_seq(f[i - 1].item.ticket_number) + 1);
		CHECK(strncmp(f[i].item.ticket_number, f[0].item.ticket_number, 8) == 0);
	}
	CHECK_INT(qint("SELECT count(*) - count(DISTINCT number) FROM tickets", NULL), 0);
	/* past 99999 a day the number grows a digit instead of being cut */
	PQclear(q("BEGIN", NULL));
	PQclear(q("UPDATE ticket_counters SET last = 99999 WHERE day = (now() AT TIME ZONE 'UTC')::date", NULL));
	char *n = qstr("SELECT m2t_next_ticket_number()", NULL);
	CHECK(n && strlen(n) == 14 && strcmp(n + 8, "100000") == 0);
	free(n);
	PQclear(q("ROLLBACK", NULL));
}

TEST(rollback_leaves_nothing)
{
	long long before[NTABLES];
	for (size_t i = 0; i < NTABLES; i++)
		before[i] = count_rows(ALL_TABLES[i]);
	char *counter = qstr("SELECT string_agg(day || ':' || last, ',') FROM ticket_counters", NULL);

	struct fixture f;
	fixture_init(&f, "rolled back");
	fixture_attach(&f);
	f.att[2].data = (const unsigned char *)"unique content for rollback";
	f.att[2].size = strlen("unique content for rollback");
	memcpy(f.att[2].sha256, "1111111111111111111111111111111111111111111111111111111111111111", 65);
	f.msg.from.email = "new.person@example.com";
	f.plan.requester = f.msg.from;
	struct err err = { 0 };
	CHECK_INT(store_begin(S, &err), 0);
	CHECK_INT(store_apply(S, 0, &f.item, &err), 0);
	CHECK(f.item.ticket_id > 0);
	char number[32];
	memcpy(number, f.item.ticket_number, sizeof(number));
	store_rollback(S);
	store_rollback(S); /* harmless twice */
	for (size_t i = 0; i < NTABLES; i++)
		CHECK_INT(count_rows(ALL_TABLES[i]), before[i]);
	char *after = qstr("SELECT string_agg(day || ':' || last, ',') FROM ticket_counters", NULL);
	CHECK_STR(after, counter);
	free(after);

	/* the same mail afterwards is new, and gets the number the rollback gave back */
	CHECK_INT(apply_one(&f.item, 0), 0);
	CHECK(!f.item.already_done);
	CHECK_STR(f.item.ticket_number, number);
	free(counter);
}

TEST(job_runs_and_processed_uids)
{
	struct err err = { 0 };
	int64_t run = 0;
	CHECK_INT(store_job_run_start(S, "support", "acct", "Runs", &run, &err), 0);
	CHECK(run > 0);
	char rid[24];
	i64s(run, rid);
	char *s = qstr("SELECT status || '|' || (finished_at IS NULL) FROM job_runs WHERE id = $1", rid);
	CHECK_STR(s, "running|true");
	free(s);

	/* uids 30, 10, 20 with three outcomes, in one batch */
	struct fixture f[3];
	const unsigned uids[3] = { 30, 10, 20 };
	const enum outcome oc[3] = { OUTCOME_TICKET, OUTCOME_IGNORED, OUTCOME_BADMAIL };
	CHECK_INT(store_begin(S, &err), 0);
	for (int i = 0; i < 3; i++) {
		fixture_init(&f[i], "run");
		f[i].item.mailbox = "Runs";
		f[i].item.uidvalidity = 42;
		f[i].item.uid = uids[i];
		f[i].item.outcome = oc[i];
		if (oc[i] == OUTCOME_BADMAIL) {
			f[i].item.msg = NULL;
			f[i].item.plan = NULL;
			f[i].item.reason = "too big";
		}
		CHECK_INT(store_apply(S, run, &f[i].item, &err), 0);
	}
	CHECK_INT(store_commit(S, &err), 0);

	struct processed_uid *v = NULL;
	size_t n = 0;
	/* the listing: 10..30 whole, and a few that were never processed */
	uint32_t listed[24];
	for (unsigned i = 0; i < 21; i++)
		listed[i] = 10 + i;
	listed[21] = 31;
	listed[22] = 40;
	listed[23] = 4000000000u;
	CHECK_INT(store_processed_uids(S, "acct", "Runs", 42, listed, 24, &v, &n, &err), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_INT(v[0].uid, 10);
		CHECK_INT(v[0].outcome, OUTCOME_IGNORED);
		CHECK_INT(v[1].uid, 20);
		CHECK_INT(v[1].outcome, OUTCOME_BADMAIL);
		CHECK_INT(v[2].uid, 30);
		CHECK_INT(v[2].outcome, OUTCOME_TICKET);
	}
	free(v);
	/* only the listed UIDs are read: 20 is not listed (moved away meanwhile) */
	const uint32_t some[3] = {10, 11, 30};
	CHECK_INT(store_processed_uids(S, "acct", "Runs", 42, some, 3, &v, &n, &err), 0);
	CHECK_INT(n, 2);
	if (n == 2)
		CHECK(v[0].uid == 10 && v[1].uid == 30);
	free(v);
	CHECK_INT(store_processed_uids(S, "acct", "Runs", 43, listed, 24, &v, &n, &err), 0);
	CHECK_INT(n, 0);
	CHECK(v == NULL);
	CHECK_INT(store_processed_uids(S, "acct", "Runs", 42, listed, 0, &v, &n, &err), 0);
	CHECK(n == 0 && v == NULL);
	/* a listing out of order is a bug upstream, refused before the query */
	const uint32_t unordered[2] = {30, 10};
	CHECK(store_processed_uids(S, "acct", "Runs", 42, unordered, 2, &v, &n, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK(v == NULL);

	struct run_counts c = { .fetched = 3, .tickets = 1, .ignored = 1, .badmail = 1, .bytes = 300 };
	CHECK_INT(store_job_run_finish(S, run, &c, "ok", NULL, &err), 0);
	s = qstr("SELECT concat_ws('|', status, finished_at IS NOT NULL, fetched, tickets, appended,"
		 " ignored, badmail, already_done, bytes, coalesce(error, '-')) FROM job_runs WHERE id = $1", rid);
	CHECK_STR(s, "ok|t|3|1|0|1|1|0|300|-");
	free(s);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE job_run_id = $1", rid), 3);
	CHECK(store_job_run_finish(S, 99999999, &c, "failed", "x", &err) < 0);

	/* the listing for the demo */
	char *out = NULL;
	size_t len;
	FILE *fp = open_memstream(&out, &len);
	CHECK_INT(store_print_run(S, run, fp, &err), 0);
	fclose(fp);
	CHECK(out && strstr(out, "too big") && strstr(out, f[0].item.ticket_number) &&
	      strstr(out, "3 messages"));
	free(out);
	out = NULL;
	fp = open_memstream(&out, &len);
	CHECK_INT(store_print_tickets(S, fp, 0, &err), 0);
	fclose(fp);
	CHECK(out && strstr(out, f[0].item.ticket_number) &&
	      strstr(out, "Alice Example <alice@example.com>"));
	free(out);
	out = NULL;
	fp = open_memstream(&out, &len);
	CHECK_INT(store_print_tickets(S, fp, 1, &err), 0);
	fclose(fp);
	CHECK(out && strstr(out, f[0].item.ticket_number) && strstr(out, "\n1 ticket\n"));
	free(out);
}

TEST(uidvalidity_tracking)
{
	struct err err = { 0 };
	bool known = true;
	uint32_t prev = 1;
	CHECK_INT(store_uidvalidity_record(S, "acct", "Box", 100, &known, &prev, &err), 0);
	CHECK(!known);
	CHECK_INT(store_uidvalidity_record(S, "acct", "Box", 100, &known, &prev, &err), 0);
	CHECK(known);
	CHECK_INT(prev, 100);
	CHECK_INT(store_uidvalidity_record(S, "acct", "Box", 4294967295u, &known, &prev, &err), 0);
	CHECK(known);
	CHECK_INT(prev, 100);
	CHECK_INT(qint("SELECT uidvalidity FROM mailbox_state WHERE mailbox = 'Box'", NULL), 4294967295LL);
}

TEST(notify_on_commit_only)
{
	PGconn *l = PQconnectdb(TEST_URL);
	CHECK(PQstatus(l) == CONNECTION_OK);
	PQclear(PQexec(l, "LISTEN mail2ticket_events"));

	struct fixture f;
	fixture_init(&f, "rolled back, never announced");
	struct err err = { 0 };
	CHECK_INT(store_begin(S, &err), 0);
	CHECK_INT(store_apply(S, 0, &f.item, &err), 0);
	store_rollback(S);
	char *p = test_db_wait_notify(l, 200);
	CHECK(p == NULL);
	free(p);

	fixture_init(&f, "announced");
	CHECK_INT(apply_one(&f.item, 0), 0);
	p = test_db_wait_notify(l, 3000);
	char want[160];
	snprintf(want, sizeof(want), "{\"event\" : \"ticket_created\", \"ticket_id\" : %" PRId64
		 ", \"number\" : \"%s\"}", f.item.ticket_id, f.item.ticket_number);
	CHECK_STR(p, want);
	free(p);
	p = test_db_wait_notify(l, 3000);
	CHECK(p && strstr(p, "\"article_added\"") != NULL);
	free(p);
	PQfinish(l);
}

TEST(odd_bytes_stored_exactly)
{
	/* quotes, backslashes, SQL, a fake escape, emoji, CJK, a combining mark */
	static const char subject[] =
		"It's \"broken\" \\ C:\\path\\x00 '); DROP TABLE tickets; -- \xF0\x9F\x98\x80 \xE6\x97\xA5 e\xCC\x81";
	static const char body[] = "line1\r\n\ttab \\N NULL {\"json\": [1]} $1 %s %n \xF0\x9F\x8E\x89\n";
	struct fixture f;
	fixture_init(&f, subject);
	f.msg.text = body;
	f.msg.text_len = strlen(body);
	f.msg.from.name = "O'Reilly \\ \"Q\"";
	f.plan.requester = f.msg.from;
	f.att[0] = (struct attachment){ .filename = "\xF0\x9F\x93\x8E 'x'.txt", .content_type = "text/plain",
					.data = (const unsigned char *)"\x00\x01\xff", .size = 3,
					.sha256 = "c8f9ac0bd9e1a7b1c3e7e1f5a2c4d6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f" };
	f.msg.attachments = f.att;
	f.msg.nattachments = 1;
	CHECK_INT(apply_one(&f.item, 0), 0);
	char aid[24];
	i64s(f.item.article_id, aid);
	char *s = qstr("SELECT subject FROM articles WHERE id = $1", aid);
	CHECK_STR(s, subject);
	free(s);
	s = qstr("SELECT body_text FROM articles WHERE id = $1", aid);
	CHECK_STR(s, body);
	free(s);
	s = qstr("SELECT from_name FROM articles WHERE id = $1", aid);
	CHECK_STR(s, "O'Reilly \\ \"Q\"");
	free(s);
	s = qstr("SELECT t.subject FROM tickets t JOIN articles a ON a.ticket_id = t.id WHERE a.id = $1", aid);
	CHECK_STR(s, subject);
	free(s);
	s = qstr("SELECT a.filename || '|' || encode(c.content, 'hex') FROM attachments a"
		 " JOIN attachment_contents c USING (sha256) WHERE a.article_id = $1", aid);
	CHECK_STR(s, "\xF0\x9F\x93\x8E 'x'.txt|0001ff");
	free(s);
	CHECK_INT(count_rows("tickets") > 0, 1); /* the DROP stayed text */

	/* invalid UTF-8 and a NUL in the body become U+FFFD instead of aborting the batch */
	struct fixture g;
	static const char bad[] = "ok \xC3\x28 nul\0end \xED\xA0\x80";
	fixture_init(&g, "bad \xFF subject");
	g.msg.text = bad;
	g.msg.text_len = sizeof(bad) - 1;
	CHECK_INT(apply_one(&g.item, 0), 0);
	i64s(g.item.article_id, aid);
	s = qstr("SELECT subject FROM articles WHERE id = $1", aid);
	CHECK_STR(s, "bad \xEF\xBF\xBD subject");
	free(s);
	s = qstr("SELECT body_text FROM articles WHERE id = $1", aid);
	CHECK_STR(s, "ok \xEF\xBF\xBD( nul\xEF\xBF\xBD" "end \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	free(s);
}

TEST(bad_input_is_refused_before_sending)
{
	struct err err = { 0 };
	struct fixture f;
	fixture_init(&f, "x");
	/* outside a transaction */
	CHECK(store_apply(S, 0, &f.item, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK_INT(store_begin(S, &err), 0);
	f.item.sha256 = "NOT-A-SHA";
	CHECK(store_apply(S, 0, &f.item, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	/* nothing was sent: the transaction is still good */
	fixture_init(&f, "still fine");
	CHECK_INT(store_apply(S, 0, &f.item, &err), 0);
	CHECK_INT(store_commit(S, &err), 0);

	/* a server-side error aborts the transaction; commit then says so */
	CHECK_INT(store_begin(S, &err), 0);
	fixture_init(&f, "bad job run");
	CHECK(store_apply(S, 424242, &f.item, &err) < 0); /* FK: no such job run */
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK(strstr(err.msg, "SQLSTATE 23503") != NULL);
	fixture_init(&f, "after the error");
	CHECK(store_apply(S, 0, &f.item, &err) < 0);
	CHECK(store_commit(S, &err) < 0);
	store_rollback(S);
	CHECK_INT(store_begin(S, &err), 0);
	store_rollback(S);
}

TEST(pipelined_batch)
{
	enum { N = 300 }; /* more than one internal drain */
	static struct fixture f[N];
	long long tickets = count_rows("tickets");
	struct err err = { 0 };
	CHECK_INT(store_begin(S, &err), 0);
	for (int i = 0; i < N; i++) {
		fixture_init(&f[i], "pipelined");
		if (i == 7) /* the same identity as message 3: already done */
			f[i].item.uid = f[3].item.uid;
		CHECK_INT(store_apply_async(S, 0, &f[i].item, &err), 0);
	}
	/* a synchronous call in the middle flushes first */
	struct fixture g;
	fixture_init(&g, "sync after async");
	CHECK_INT(store_apply(S, 0, &g.item, &err), 0);
	CHECK(f[0].item.ticket_id > 0);
	CHECK_INT(store_commit(S, &err), 0);
	CHECK(!f[3].item.already_done);
	CHECK(f[7].item.already_done);
	CHECK_INT(f[7].item.ticket_id, f[3].item.ticket_id);
	CHECK_INT(ticket_seq(f[N - 1].item.ticket_number), ticket_seq(f[0].item.ticket_number) + N - 2);
	CHECK_INT(count_rows("tickets"), tickets + N - 1 + 1);

	/* a server error in the pipeline: reported at commit, nothing stored */
	tickets = count_rows("tickets");
	CHECK_INT(store_begin(S, &err), 0);
	struct fixture h[3];
	for (int i = 0; i < 3; i++) {
		fixture_init(&h[i], "pipelined failure");
		CHECK_INT(store_apply_async(S, i == 1 ? 424242 : 0, &h[i].item, &err), 0);
	}
	CHECK(store_commit(S, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK(strstr(err.msg, "23503") != NULL);
	CHECK_INT(count_rows("tickets"), tickets);
	/* the connection is usable again */
	fixture_init(&g, "after pipeline failure");
	CHECK_INT(apply_one(&g.item, 0), 0);

	/* rollback with results still pending */
	CHECK_INT(store_begin(S, &err), 0);
	fixture_init(&h[0], "pending then rolled back");
	CHECK_INT(store_apply_async(S, 0, &h[0].item, &err), 0);
	store_rollback(S);
	CHECK_INT(count_rows("tickets"), tickets + 1);
}

/* ------------------------------------------------------------ setup */

int main(void)
{
	struct test_db tdb;
	int setup = test_db_create(&tdb, "test_store", "m2t_test");
	if (setup != 0)
		return setup > 0 ? 0 : 1;
	TEST_URL = tdb.url;
	DB = PQconnectdb(TEST_URL);
	struct err err = { 0 };
	int rc = 1;
	if (PQstatus(DB) != CONNECTION_OK || store_open(TEST_URL, &S, &err) < 0) {
		fprintf(stderr, "test_store: %s%s\n", PQerrorMessage(DB), err.msg);
		printf("FAIL test_store_setup\n");
		goto out;
	}
	PQclear(PQexec(DB, "SET TIME ZONE 'UTC'"));

	RUN(open_unreachable_is_transient);
	RUN(check_schema_before_migrate_fails);
	RUN(migrate_twice_is_idempotent);
	RUN(refuses_newer_schema);
	RUN(ingest_creates_ticket_article_attachments);
	RUN(preprocessing_stored_with_its_article);
	RUN(same_identity_is_already_done);
	RUN(badmail_and_ignored_have_no_ticket);
	RUN(append_adds_article);
	RUN(ticket_numbers_sequential_and_unique);
	RUN(rollback_leaves_nothing);
	RUN(job_runs_and_processed_uids);
	RUN(uidvalidity_tracking);
	RUN(notify_on_commit_only);
	RUN(odd_bytes_stored_exactly);
	RUN(bad_input_is_refused_before_sending);
	RUN(pipelined_batch);
	rc = test_summary();
out:
	store_free(&S);
	PQfinish(DB);
	test_db_drop(&tdb);
	return rc;
}
