/*
 * storage/ batch ingest against a real PostgreSQL: many messages in one call
 * with exact per-item results, duplicates within a batch, shared
 * attachments, the queue's caps and rollback after a flushed batch;
 * concurrency (two writers of one identity, distinct ticket numbers from
 * parallel batches); and an optional throughput figure
 * (M2T_STORE_BENCH=N times N messages in batches of 100).
 *
 * Needs M2T_TEST_DATABASE_URL; without it the test is skipped. Each run
 * works in its own database m2t_batch_<pid>, dropped at the end.
 */
#include "tests/unit/store_fixture.h"

/* ------------------------------------------------------------ batch ingest */

/* Queues every item, then one flush; 0 when all went well. */
static int apply_batch(struct store_item **items, size_t n)
{
	struct err err = { 0 };
	if (store_begin(S, &err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (store_apply_async(S, 0, items[i], &err) < 0)
			goto fail;
	if (store_commit(S, &err) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "  batch: %s (%s)\n", err.msg, err_class_name(err.cls));
	store_rollback(S);
	return -1;
}

TEST(batch_mixed_items_exact_results)
{
	struct fixture target, t1, bad, ign, app, t2;
	fixture_init(&target, "append target");
	CHECK_INT(apply_one(&target.item, 0), 0);
	long long tickets = count_rows("tickets"), articles = count_rows("articles");
	long long raw = count_rows("raw_messages");

	fixture_init(&t1, "batch ticket 1");
	fixture_init(&bad, "batch badmail");
	bad.item.outcome = OUTCOME_BADMAIL;
	bad.item.msg = NULL;
	bad.item.plan = NULL;
	bad.item.reason = "mime: broken";
	fixture_init(&ign, "batch ignored");
	ign.item.outcome = OUTCOME_IGNORED;
	ign.item.reason = "auto-reply";
	fixture_init(&app, "Re: append target");
	app.item.outcome = OUTCOME_APPENDED;
	app.plan.action = PLAN_APPEND;
	app.plan.ticket_id = target.item.ticket_id;
	fixture_init(&t2, "batch ticket 2");
	fixture_attach(&t2);
	struct store_item *v[] = { &t1.item, &bad.item, &ign.item, &app.item, &t2.item };
	CHECK_INT(apply_batch(v, 5), 0);

	CHECK(!t1.item.already_done);
	CHECK_INT(t1.item.done_outcome, OUTCOME_TICKET);
	CHECK(t1.item.ticket_id > 0 && t1.item.article_id > 0);
	CHECK_INT(bad.item.done_outcome, OUTCOME_BADMAIL);
	CHECK(bad.item.ticket_id == 0 && bad.item.article_id == 0 && !bad.item.ticket_number[0]);
	CHECK_INT(ign.item.done_outcome, OUTCOME_IGNORED);
	CHECK(ign.item.ticket_id == 0 && ign.item.article_id == 0 && !ign.item.ticket_number[0]);
	CHECK_INT(app.item.done_outcome, OUTCOME_APPENDED);
	CHECK_INT(app.item.ticket_id, target.item.ticket_id);
	CHECK_STR(app.item.ticket_number, target.item.ticket_number);
	CHECK(app.item.article_id > 0);
	CHECK_INT(t2.item.done_outcome, OUTCOME_TICKET);
	/* numbers consecutive in batch order, after the target's */
	CHECK_INT(ticket_seq(t1.item.ticket_number), ticket_seq(target.item.ticket_number) + 1);
	CHECK_INT(ticket_seq(t2.item.ticket_number), ticket_seq(t1.item.ticket_number) + 1);
	CHECK_INT(count_rows("tickets"), tickets + 2);
	CHECK_INT(count_rows("articles"), articles + 3);
	CHECK_INT(count_rows("raw_messages"), raw + 5);
	char aid[24], uid[24];
	i64s(t2.item.article_id, aid);
	CHECK_INT(qint("SELECT count(*) FROM attachments WHERE article_id = $1", aid), 3);
	char *s = qstr("SELECT to_addrs::text || '|' || cc_addrs::text FROM articles WHERE id = $1", aid);
	CHECK_STR(s, "[{\"name\": \"Support\", \"email\": \"support@example.org\"}, "
		     "{\"name\": \"\", \"email\": \"help@example.org\"}]|"
		     "[{\"name\": \"Bob \\\"B\\\" O'Brien\", \"email\": \"bob@example.net\"}]");
	free(s);
	snprintf(uid, sizeof(uid), "%u", bad.item.uid);
	s = qstr("SELECT concat_ws('|', outcome, reason, ticket_id IS NULL) FROM processed_messages"
		 " WHERE uid = $1", uid);
	CHECK_STR(s, "badmail|mime: broken|t");
	free(s);

	/* an append to a vanished ticket inside a batch: a new ticket, reason kept */
	struct fixture gone, t3;
	fixture_init(&gone, "Re: vanished");
	gone.item.outcome = OUTCOME_APPENDED;
	gone.plan.ticket_id = 987654322;
	fixture_init(&t3, "after the vanished one");
	struct store_item *w[] = { &gone.item, &t3.item };
	CHECK_INT(apply_batch(w, 2), 0);
	CHECK_INT(gone.item.done_outcome, OUTCOME_TICKET);
	CHECK_INT(ticket_seq(gone.item.ticket_number), ticket_seq(t2.item.ticket_number) + 1);
	CHECK_INT(ticket_seq(t3.item.ticket_number), ticket_seq(gone.item.ticket_number) + 1);
	snprintf(uid, sizeof(uid), "%u", gone.item.uid);
	s = qstr("SELECT outcome || '|' || reason FROM processed_messages WHERE uid = $1", uid);
	CHECK(s && strncmp(s, "ticket|", 7) == 0 && strstr(s, "987654322 to append to not found"));
	free(s);
}

TEST(batch_duplicates_first_wins)
{
	long long tickets = count_rows("tickets"), processed = count_rows("processed_messages");
	struct fixture a, a2, b, b2;
	fixture_init(&a, "dup uid first");
	a2 = a; /* the same UID again, other content, other intent */
	a2.item.msg = &a2.msg;
	a2.item.plan = &a2.plan;
	snprintf(a2.sha, sizeof(a2.sha), "%064x", 0xabcdefu);
	a2.item.sha256 = a2.sha;
	a2.item.outcome = OUTCOME_IGNORED;
	fixture_init(&b, "dup content first");
	fixture_init(&b2, "dup content second");
	memcpy(b2.sha, b.sha, sizeof(b.sha)); /* same Message-ID + sha256, another UID */
	memcpy(b2.mid, b.mid, sizeof(b.mid));
	struct store_item *v[] = { &a.item, &b.item, &a2.item, &b2.item };
	CHECK_INT(apply_batch(v, 4), 0);
	CHECK(!a.item.already_done);
	CHECK(!b.item.already_done);
	CHECK(a2.item.already_done);
	CHECK_INT(a2.item.done_outcome, OUTCOME_TICKET);
	CHECK_INT(a2.item.ticket_id, a.item.ticket_id);
	CHECK_INT(a2.item.article_id, a.item.article_id);
	CHECK_STR(a2.item.ticket_number, a.item.ticket_number);
	CHECK(b2.item.already_done);
	CHECK_INT(b2.item.ticket_id, b.item.ticket_id);
	CHECK_STR(b2.item.ticket_number, b.item.ticket_number);
	CHECK_INT(ticket_seq(b.item.ticket_number), ticket_seq(a.item.ticket_number) + 1);
	CHECK_INT(count_rows("tickets"), tickets + 2);
	/* a and b, and b2's own row (same content, another UID): a2 has none,
	 * its UID is a's */
	CHECK_INT(count_rows("processed_messages"), processed + 3);
}

TEST(batch_shared_attachment_stored_once)
{
	static const char shared[] = "bytes two mails of one batch carry";
	static const char sha[] = "5555555555555555555555555555555555555555555555555555555555555555";
	struct fixture f[2];
	for (int i = 0; i < 2; i++) {
		fixture_init(&f[i], "shared attachment");
		f[i].att[0] = (struct attachment){ .filename = i ? "two.txt" : "one.txt",
						   .content_type = "text/plain",
						   .data = (const unsigned char *)shared,
						   .size = strlen(shared) };
		memcpy(f[i].att[0].sha256, sha, sizeof(sha));
		f[i].msg.attachments = f[i].att;
		f[i].msg.nattachments = 1;
	}
	long long contents = count_rows("attachment_contents");
	struct store_item *v[] = { &f[0].item, &f[1].item };
	CHECK_INT(apply_batch(v, 2), 0);
	CHECK_INT(count_rows("attachment_contents"), contents + 1);
	CHECK_INT(qint("SELECT count(*) FROM attachments WHERE sha256 = $1", sha), 2);
	char *s = qstr("SELECT encode(content, 'escape') FROM attachment_contents WHERE sha256 = $1", sha);
	CHECK_STR(s, shared);
	free(s);
}

TEST(queued_message_may_be_freed)
{
	struct fixture *f = malloc(sizeof(*f));
	CHECK(f != NULL);
	if (!f)
		return;
	fixture_init(f, "freed after queueing");
	char *body = strdup("a body that is gone before the flush");
	f->msg.text = body;
	f->msg.text_len = strlen(body);
	struct store_item item = f->item;
	item.msg = &f->msg;
	item.plan = &f->plan;
	struct err err = { 0 };
	CHECK_INT(store_begin(S, &err), 0);
	CHECK_INT(store_apply_async(S, 0, &item, &err), 0);
	char mid[64];
	memcpy(mid, f->mid, sizeof(mid));
	memset(body, 'X', strlen(body));
	free(body);
	memset(f, 0, sizeof(*f));
	free(f);
	item.msg = NULL;
	item.plan = NULL;
	item.raw = NULL;
	item.account = item.mailbox = item.message_id = item.sha256 = NULL;
	CHECK_INT(item.ticket_id, 0); /* queued, not sent */
	CHECK_INT(store_commit(S, &err), 0);
	CHECK(item.ticket_id > 0);
	char aid[24];
	char *s = qstr("SELECT body_text || '|' || message_id FROM articles WHERE id = $1",
		       i64s(item.article_id, aid));
	char want[128];
	snprintf(want, sizeof(want), "a body that is gone before the flush|%s", mid);
	CHECK_STR(s, want);
	free(s);
}

TEST(queue_caps_send_within_transaction)
{
	/* count cap: results of the first messages arrive before the flush */
	enum { N = 300 };
	static struct fixture f[N];
	long long tickets = count_rows("tickets");
	struct err err = { 0 };
	CHECK_INT(store_begin(S, &err), 0);
	int first_filled = -1;
	for (int i = 0; i < N; i++) {
		fixture_init(&f[i], "count cap");
		CHECK_INT(store_apply_async(S, 0, &f[i].item, &err), 0);
		if (first_filled < 0 && f[0].item.ticket_id > 0)
			first_filled = i;
	}
	CHECK(first_filled > 0 && first_filled < N - 1);
	CHECK(f[N - 1].item.ticket_id == 0);
	CHECK_INT(store_commit(S, &err), 0);
	for (int i = 1; i < N; i++)
		CHECK_INT(ticket_seq(f[i].item.ticket_number), ticket_seq(f[i - 1].item.ticket_number) + 1);
	CHECK_INT(count_rows("tickets"), tickets + N);

	/* byte cap: 1 MB messages, a send every ~16; a sent part's results are
	 * read when the next part goes out, so the first fill comes at ~32 */
	enum { M = 40 };
	static struct fixture g[M];
	char *big = malloc((size_t)1 << 20);
	CHECK(big != NULL);
	if (!big)
		return;
	memset(big, 'r', (size_t)1 << 20);
	long long raw = count_rows("raw_messages");
	CHECK_INT(store_begin(S, &err), 0);
	first_filled = -1;
	for (int i = 0; i < M; i++) {
		fixture_init(&g[i], "byte cap");
		g[i].item.raw = big;
		g[i].item.raw_len = (size_t)1 << 20;
		CHECK_INT(store_apply_async(S, 0, &g[i].item, &err), 0);
		if (first_filled < 0 && g[0].item.ticket_id > 0)
			first_filled = i;
	}
	free(big);
	CHECK(first_filled > 0 && first_filled < M - 1);
	CHECK_INT(store_commit(S, &err), 0);
	CHECK(g[M - 1].item.ticket_id > 0);
	CHECK_INT(count_rows("raw_messages"), raw + M);
	CHECK_INT(qint("SELECT count(*) FROM raw_messages WHERE octet_length(raw) = 1048576", NULL), M);
}

TEST(rollback_after_flushed_batch_leaves_nothing)
{
	long long before[NTABLES];
	for (size_t i = 0; i < NTABLES; i++)
		before[i] = count_rows(ALL_TABLES[i]);
	char *counter = qstr("SELECT string_agg(day || ':' || last, ',' ORDER BY day) FROM ticket_counters", NULL);
	struct fixture f[3];
	struct err err = { 0 };
	CHECK_INT(store_begin(S, &err), 0);
	for (int i = 0; i < 3; i++) {
		fixture_init(&f[i], "flushed then rolled back");
		fixture_attach(&f[i]);
		memcpy(f[i].att[2].sha256, "7777777777777777777777777777777777777777777777777777777777777777", 65);
		f[i].msg.from.email = "flushed.person@example.com";
		f[i].plan.requester = f[i].msg.from;
		CHECK_INT(store_apply_async(S, 0, &f[i].item, &err), 0);
	}
	CHECK_INT(store_flush(S, &err), 0);
	CHECK(f[2].item.ticket_id > 0);
	struct fixture late;
	fixture_init(&late, "queued, never sent");
	CHECK_INT(store_apply_async(S, 0, &late.item, &err), 0);
	store_rollback(S);
	for (size_t i = 0; i < NTABLES; i++)
		CHECK_INT(count_rows(ALL_TABLES[i]), before[i]);
	char *after = qstr("SELECT string_agg(day || ':' || last, ',' ORDER BY day) FROM ticket_counters", NULL);
	CHECK_STR(after, counter);
	free(after);
	free(counter);
}

/* ------------------------------------------------------------ concurrency */

struct racer {
	struct store_item *item;
	int rc;
	struct err err;
};

static void *race_apply(void *arg)
{
	struct racer *r = arg;
	struct store *s2 = NULL;
	r->rc = -1;
	if (store_open(TEST_URL, &s2, &r->err) < 0)
		return NULL;
	if (store_begin(s2, &r->err) == 0 && store_apply(s2, 0, r->item, &r->err) == 0 &&
	    store_commit(s2, &r->err) == 0)
		r->rc = 0;
	store_rollback(s2);
	store_free(&s2);
	return NULL;
}

TEST(concurrent_same_identity_waits_then_already_done)
{
	struct fixture f, g;
	fixture_init(&f, "raced");
	g = f; /* the same identity, seen by a second daemon */
	g.item.msg = &g.msg;
	g.item.plan = &g.plan;
	struct err err = { 0 };
	CHECK_INT(store_begin(S, &err), 0);
	CHECK_INT(store_apply(S, 0, &f.item, &err), 0);
	struct racer r = { .item = &g.item };
	pthread_t t;
	CHECK_INT(pthread_create(&t, NULL, race_apply, &r), 0);
	/* the second daemon is now blocked on our uncommitted identity row */
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	CHECK_INT(store_commit(S, &err), 0);
	pthread_join(t, NULL);
	CHECK_INT(r.rc, 0);
	CHECK(g.item.already_done);
	CHECK_INT(g.item.ticket_id, f.item.ticket_id);
	CHECK_STR(g.item.ticket_number, f.item.ticket_number);
}

/*
 * Two daemons meet the same copy (a mail done before, under a new UID):
 * the first writes the copy's UID row (0007, step 1d) and holds it; the
 * second waits on that key, then finds the row: already done, one row.
 */
TEST(concurrent_copy_waits_then_already_done)
{
	struct fixture f, g, h;
	struct err err = { 0 };
	fixture_init(&f, "copied");
	CHECK_INT(apply_one(&f.item, 0), 0);
	g = f; /* the same mail under a new UID */
	g.item.msg = &g.msg;
	g.item.plan = &g.plan;
	g.item.uid = NEXT_UID++;
	h = g; /* ... seen by a second daemon */
	h.item.msg = &h.msg;
	h.item.plan = &h.plan;
	CHECK_INT(store_begin(S, &err), 0);
	CHECK_INT(store_apply(S, 0, &g.item, &err), 0);
	CHECK(g.item.already_done);
	struct racer r = { .item = &h.item };
	pthread_t t;
	CHECK_INT(pthread_create(&t, NULL, race_apply, &r), 0);
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	CHECK_INT(store_commit(S, &err), 0);
	pthread_join(t, NULL);
	CHECK_INT(r.rc, 0);
	CHECK(h.item.already_done);
	CHECK_INT(h.item.ticket_id, f.item.ticket_id);
	char uid[16];
	snprintf(uid, sizeof(uid), "%u", g.item.uid);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE uid = $1 AND sha256 IS NULL",
		       uid), 1);
}

enum { PAR_THREADS = 4, PAR_PER = 25 };
static struct fixture PAR[PAR_THREADS][PAR_PER];

/* One daemon: its own store, one queued batch of PAR_PER tickets; transient
 * failures (a deadlock) retry the whole batch, as the engine would. */
static void *par_batch(void *arg)
{
	struct fixture *f = arg;
	struct store *s2 = NULL;
	struct err err = { 0 };
	intptr_t rc = -1;
	if (store_open(TEST_URL, &s2, &err) < 0)
		return (void *)rc;
	for (int attempt = 0; attempt < 5 && rc != 0; attempt++) {
		if (store_begin(s2, &err) < 0)
			break;
		int i;
		for (i = 0; i < PAR_PER; i++)
			if (store_apply_async(s2, 0, &f[i].item, &err) < 0)
				break;
		if (i == PAR_PER && store_commit(s2, &err) == 0)
			rc = 0;
		store_rollback(s2);
		if (rc != 0 && err.cls != ERR_TRANSIENT)
			break;
	}
	if (rc != 0)
		fprintf(stderr, "  par_batch: %s\n", err.msg);
	store_free(&s2);
	return (void *)rc;
}

TEST(concurrent_tickets_get_distinct_numbers)
{
	long long before = count_rows("tickets");
	for (int i = 0; i < PAR_THREADS; i++)
		for (int j = 0; j < PAR_PER; j++)
			fixture_init(&PAR[i][j], "parallel");
	pthread_t t[PAR_THREADS];
	for (int i = 0; i < PAR_THREADS; i++)
		CHECK_INT(pthread_create(&t[i], NULL, par_batch, PAR[i]), 0);
	for (int i = 0; i < PAR_THREADS; i++) {
		void *rc;
		pthread_join(t[i], &rc);
		CHECK(rc == NULL);
	}
	CHECK_INT(count_rows("tickets"), before + PAR_THREADS * PAR_PER);
	CHECK_INT(qint("SELECT count(*) - count(DISTINCT number) FROM tickets", NULL), 0);
	/* no gaps within the day */
	CHECK_INT(qint("SELECT max(right(number, 5)::int) - count(*) FROM tickets"
		       " WHERE left(number, 8) = to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')", NULL), 0);
}

/* ------------------------------------------------------------ throughput */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n messages of ~4 KB with one 8 KB attachment, in batches of `batch`. */
static void bench(unsigned n, unsigned batch, bool async)
{
	static struct fixture fb[100];
	static char raw[4096];
	memset(raw, 'x', sizeof(raw));
	static char att[8192];
	memset(att, 'a', sizeof(att));
	double t0 = now_s();
	struct err err = { 0 };
	unsigned done = 0;
	while (done < n) {
		if (store_begin(S, &err) < 0)
			break;
		unsigned k;
		for (k = 0; k < batch && k < 100 && done + k < n; k++) {
			struct fixture *f = &fb[k];
			fixture_init(f, "bench message subject");
			f->item.mailbox = "Bench";
			f->item.raw = raw;
			f->item.raw_len = sizeof(raw);
			fixture_attach(f);
			f->att[2].data = (const unsigned char *)att;
			f->att[2].size = sizeof(att);
			snprintf(f->att[2].sha256, 65, "%064x", 0x10000000u + f->item.uid);
			f->item.msg = &f->msg;
			f->item.plan = &f->plan;
			f->msg.attachments = f->att;
			if ((async ? store_apply_async : store_apply)(S, 0, &f->item, &err) < 0)
				break;
		}
		if (k == 0 || store_commit(S, &err) < 0) {
			store_rollback(S);
			break;
		}
		done += k;
	}
	double dt = now_s() - t0;
	if (done < n)
		fprintf(stderr, "  bench failed: %s\n", err.msg);
	fprintf(stderr, "  bench: %u messages (4 KB raw, 3 attachments), batches of %u%s: %.2f s, %.0f msg/s\n",
		done, batch, async ? ", pipelined" : "", dt, done / dt);
}

TEST(throughput)
{
	unsigned n = 500;
	const char *e = getenv("M2T_STORE_BENCH");
	uint64_t v;
	if (e && str_parse_u64(e, strlen(e), 10000000, &v) == 0 && v > 0)
		n = (unsigned)v;
	long long before = count_rows("processed_messages");
	bench(n, 100, false);
	CHECK_INT(count_rows("processed_messages"), before + n);
	bench(n, 100, true);
	CHECK_INT(count_rows("processed_messages"), before + 2 * n);
	if (e)
		bench(n / 10 ? n / 10 : 1, 1, false);
}

/* ------------------------------------------------------------ setup */

int main(void)
{
	struct test_db tdb;
	int setup = test_db_create(&tdb, "test_store_batch", "m2t_batch");
	if (setup != 0)
		return setup > 0 ? 0 : 1;
	TEST_URL = tdb.url;
	DB = PQconnectdb(TEST_URL);
	struct err err = { 0 };
	int rc = 1;
	if (PQstatus(DB) != CONNECTION_OK || store_open(TEST_URL, &S, &err) < 0 ||
	    store_migrate(S, NULL, &err) < 0) {
		fprintf(stderr, "test_store_batch: %s%s\n", PQerrorMessage(DB), err.msg);
		printf("FAIL test_store_batch_setup\n");
		goto out;
	}
	PQclear(PQexec(DB, "SET TIME ZONE 'UTC'"));

	RUN(batch_mixed_items_exact_results);
	RUN(batch_duplicates_first_wins);
	RUN(batch_shared_attachment_stored_once);
	RUN(queued_message_may_be_freed);
	RUN(queue_caps_send_within_transaction);
	RUN(rollback_after_flushed_batch_leaves_nothing);
	RUN(concurrent_same_identity_waits_then_already_done);
	RUN(concurrent_copy_waits_then_already_done);
	RUN(concurrent_tickets_get_distinct_numbers);
	RUN(throughput);
	rc = test_summary();
out:
	store_free(&S);
	PQfinish(DB);
	test_db_drop(&tdb);
	return rc;
}
