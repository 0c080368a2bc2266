/*
 * keep_on_server on IMAP, the whole run against the scripted server and a
 * real PostgreSQL: done mail is marked \Seen with one UID STORE per range
 * after COMMIT (badmail left unread), mail remembered by an earlier run is
 * never fetched again, and is only marked again when it is unread; a
 * mailbox where \Seen cannot be stored ([READ-ONLY], \Seen not among the
 * PERMANENTFLAGS, a STORE answered NO) costs one warning per run and
 * nothing else: the run succeeds and the mail is remembered. With
 * mark_seen: false the mailbox is EXAMINEd and nothing is sent that could
 * change it. And below the run, what the client reads from SELECT
 * ([READ-ONLY], PERMANENTFLAGS) and from UID STORE.
 *
 * The runs need M2T_TEST_DATABASE_URL (a role that may CREATE DATABASE); skipped
 * without it. Works in its own database m2t_keep_<pid>, dropped at the end.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "engine/job/job_run.h"
#include "engine/mime/message.h"
#include "engine/util/log.h"
#include "engine/util/str.h"
#include "rules/policy.h"
#include "storage/store.h"
#include "tests/unit/imap_script.h"
#include "tests/unit/test_db.h"

static struct store *S;
static PGconn *DB;

static long long qint(const char *sql)
{
	PGresult *res = PQexec(DB, sql);
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

/* Two mails by UID, as one UID FETCH BODY.PEEK[] answers them. */
static char MAILS[2048];

static void mails_make(uint32_t uid1, uint32_t uid2, const char *tag)
{
	char m1[256], m2[256];
	int n1 = snprintf(m1, sizeof(m1), "From: Ann <ann@example.org>\r\nSubject: first %s\r\n"
			  "Message-ID: <%s-1@keep.test>\r\n\r\nhello\r\n", tag, tag);
	int n2 = snprintf(m2, sizeof(m2), "From: Bob <bob@example.org>\r\nSubject: second %s\r\n"
			  "Message-ID: <%s-2@keep.test>\r\n\r\nhello again\r\n", tag, tag);
	snprintf(MAILS, sizeof(MAILS),
		 "* 1 FETCH (UID %u BODY[] {%d}\r\n%s)\r\n* 2 FETCH (UID %u BODY[] {%d}\r\n%s)\r\n",
		 uid1, n1, m1, uid2, n2, m2);
}

struct run {
	const struct step *steps;
	bool mark_seen;
	struct job_run_result res;
	int rc;
	char *log;              /* what the run logged (malloc'd) */
};

/* One job run against the script, its log captured. */
static void run_job(struct run *r)
{
	static char name[] = "keep", inbox[] = "INBOX", done[] = "Processed", bad[] = "Badmail";
	struct server s;
	server_start(&s, r->steps);
	struct config_account acc = account(s.port, SEC_NONE);
	struct config_job job;
	memset(&job, 0, sizeof(job));
	job.name = name;
	job.account = &acc;
	job.mailbox = inbox;
	job.archive_folder = done;
	job.badmail_folder = bad;
	job.keep_on_server = true;
	job.mark_seen = r->mark_seen;
	job.batch_size = 10;
	job.keep_raw = true;
	job.rules_budget_ms = 2000;
	mime_limits_default(&job.limits);
	job.limits.max_size = 100000;
	policy_init(&job.policy);

	FILE *f = tmpfile();
	int saved = dup(2);
	fflush(stderr);
	dup2(fileno(f), 2);
	struct err err = {0};
	r->rc = job_run(&job, S, &r->res, &err);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	long n = ftell(f);
	r->log = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
	rewind(f);
	if (n > 0 && fread(r->log, 1, (size_t)n, f) != (size_t)n)
		r->log[0] = '\0';
	fclose(f);
	if (r->rc < 0)
		fprintf(stderr, "  run: %s\n%s", err.msg, r->log);
	policy_release(&job.policy);
	server_finish(&s);
}

static size_t count_in(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

#define LIST_INBOX(t1, t2)                                                             \
	EXPECT(t1 " LIST \"\" \"\""), SEND("* LIST (\\Noselect) \"/\" \"\"\r\n" t1 " OK x\r\n"), \
	EXPECT(t2 " LIST \"\" \"INBOX\""), SEND("* LIST () \"/\" INBOX\r\n" t2 " OK x\r\n")

/*
 * SELECT answered [READ-ONLY]: nothing is stored, one warning says why, the
 * mail is remembered; the next run lists it, fetches nothing, and does not
 * warn again (there is nothing new to mark).
 */
TEST(read_only_mailbox_warns_once_and_remembers)
{
	mails_make(7, 8, "ro");
	const struct step first[] = {
		LOGIN_STEPS("IMAP4rev1"), LIST_INBOX("A0002", "A0003"),
		EXPECT("A0004 SELECT \"INBOX\""),
		SEND("* 2 EXISTS\r\n* OK [UIDVALIDITY 501] ok\r\n"
		     "* OK [PERMANENTFLAGS ()] no permanent flags\r\nA0004 OK [READ-ONLY] x\r\n"),
		EXPECT("A0005 UID FETCH 1:* (UID RFC822.SIZE FLAGS)"),
		SEND("* 1 FETCH (UID 7 RFC822.SIZE 90 FLAGS ())\r\n"
		     "* 2 FETCH (UID 8 RFC822.SIZE 90 FLAGS (\\Recent))\r\nA0005 OK x\r\n"),
		EXPECT("A0006 UID FETCH 7:8 (UID BODY.PEEK[])"), SEND_N(MAILS, 0),
		SEND("A0006 OK x\r\n"), LOGOUT_STEPS("A0007"), END,
	};
	struct run r = {.steps = first, .mark_seen = true};
	run_job(&r);
	CHECK_INT(r.rc, 0);
	CHECK_INT(r.res.counts.tickets, 2);
	CHECK_INT(count_in(r.log, "event=job.seen_refused"), 1);
	CHECK(strstr(r.log, "level=warn event=job.seen_refused") != NULL);
	CHECK(strstr(r.log, "reason=\"the mailbox is read-only for this user ([READ-ONLY])\""));
	CHECK(strstr(r.log, "mode=select-read-only") != NULL);
	/* no mail text in the warning */
	CHECK(!strstr(r.log, "first ro") && !strstr(r.log, "ro-1@keep.test"));
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE uidvalidity = 501"
		       " AND uid IN (7, 8) AND outcome = 'ticket'"), 2);
	free(r.log);

	const struct step second[] = {
		LOGIN_STEPS("IMAP4rev1"), LIST_INBOX("A0002", "A0003"),
		EXPECT("A0004 SELECT \"INBOX\""),
		SEND("* 2 EXISTS\r\n* OK [UIDVALIDITY 501] ok\r\nA0004 OK [READ-ONLY] x\r\n"),
		EXPECT("A0005 UID FETCH 1:* (UID RFC822.SIZE FLAGS)"),
		SEND("* 1 FETCH (UID 7 RFC822.SIZE 90 FLAGS ())\r\n"
		     "* 2 FETCH (UID 8 RFC822.SIZE 90 FLAGS ())\r\nA0005 OK x\r\n"),
		LOGOUT_STEPS("A0006"), END,
	};
	struct run r2 = {.steps = second, .mark_seen = true};
	run_job(&r2);
	CHECK_INT(r2.rc, 0);
	CHECK_INT(r2.res.counts.fetched, 0);
	CHECK_INT(r2.res.counts.tickets, 0);
	CHECK_INT(r2.res.counts.already_done, 0);
	CHECK(strstr(r2.log, "event=job.seen_refused") == NULL);
	CHECK(strstr(r2.log, "listed=2 fetched=0 ") != NULL);
	free(r2.log);
}

/* The server will not store \Seen (an ACL): a tagged NO, one warning with
 * its answer, the run succeeds and the mail is remembered. */
TEST(store_refused_warns_and_succeeds)
{
	mails_make(17, 18, "no");
	const struct step steps[] = {
		LOGIN_STEPS("IMAP4rev1"), LIST_INBOX("A0002", "A0003"),
		EXPECT("A0004 SELECT \"INBOX\""),
		SEND("* 2 EXISTS\r\n* OK [UIDVALIDITY 502] ok\r\n"
		     "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] ok\r\nA0004 OK [READ-WRITE] x\r\n"),
		EXPECT("A0005 UID FETCH 1:* (UID RFC822.SIZE FLAGS)"),
		SEND("* 1 FETCH (UID 17 RFC822.SIZE 90 FLAGS ())\r\n"
		     "* 2 FETCH (UID 18 RFC822.SIZE 90 FLAGS ())\r\nA0005 OK x\r\n"),
		EXPECT("A0006 UID FETCH 17:18 (UID BODY.PEEK[])"), SEND_N(MAILS, 0),
		SEND("A0006 OK x\r\n"),
		EXPECT("A0007 UID STORE 17:18 +FLAGS.SILENT (\\Seen)"),
		SEND("A0007 NO [NOPERM] Permission denied\r\n"),
		LOGOUT_STEPS("A0008"), END,
	};
	struct run r = {.steps = steps, .mark_seen = true};
	run_job(&r);
	CHECK_INT(r.rc, 0);
	CHECK_INT(r.res.counts.tickets, 2);
	CHECK_INT(count_in(r.log, "event=job.seen_refused"), 1);
	CHECK(strstr(r.log, "Permission denied") != NULL);
	CHECK(strstr(r.log, "mode=select\n") != NULL);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE uidvalidity = 502"
		       " AND uid IN (17, 18)"), 2);
	free(r.log);
}

/* \Seen not among the PERMANENTFLAGS: not tried, said once. */
TEST(seen_not_permanent_is_not_tried)
{
	mails_make(27, 28, "perm");
	const struct step steps[] = {
		LOGIN_STEPS("IMAP4rev1"), LIST_INBOX("A0002", "A0003"),
		EXPECT("A0004 SELECT \"INBOX\""),
		SEND("* 2 EXISTS\r\n* OK [UIDVALIDITY 503] ok\r\n"
		     "* OK [PERMANENTFLAGS (\\Deleted \\Flagged)] ok\r\nA0004 OK [READ-WRITE] x\r\n"),
		EXPECT("A0005 UID FETCH 1:* (UID RFC822.SIZE FLAGS)"),
		SEND("* 1 FETCH (UID 27 RFC822.SIZE 90 FLAGS ())\r\n"
		     "* 2 FETCH (UID 28 RFC822.SIZE 90 FLAGS ())\r\nA0005 OK x\r\n"),
		EXPECT("A0006 UID FETCH 27:28 (UID BODY.PEEK[])"), SEND_N(MAILS, 0),
		SEND("A0006 OK x\r\n"), LOGOUT_STEPS("A0007"), END,
	};
	struct run r = {.steps = steps, .mark_seen = true};
	run_job(&r);
	CHECK_INT(r.rc, 0);
	CHECK_INT(r.res.counts.tickets, 2);
	CHECK_INT(count_in(r.log, "event=job.seen_refused"), 1);
	/* the flag's backslash escaped, as every quoted log value */
	CHECK(strstr(r.log, "reason=\"\\\\Seen is not among the mailbox's PERMANENTFLAGS\"") != NULL);
	free(r.log);
}

/*
 * A writable mailbox: done mail marked \Seen in one STORE after COMMIT,
 * badmail (over max_message_size, never fetched) left unread. The next
 * run: a remembered mail that is unread again is only marked, never
 * fetched; a remembered \Seen one and the badmail are left alone; a new
 * mail is fetched and marked.
 */
TEST(done_mail_marked_and_marked_again)
{
	mails_make(37, 38, "mark");
	const struct step first[] = {
		LOGIN_STEPS("IMAP4rev1"), LIST_INBOX("A0002", "A0003"),
		EXPECT("A0004 SELECT \"INBOX\""),
		SEND("* 3 EXISTS\r\n* OK [UIDVALIDITY 504] ok\r\n"
		     "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] ok\r\nA0004 OK [READ-WRITE] x\r\n"),
		EXPECT("A0005 UID FETCH 1:* (UID RFC822.SIZE FLAGS)"),
		SEND("* 1 FETCH (UID 36 RFC822.SIZE 999999 FLAGS ())\r\n"
		     "* 2 FETCH (UID 37 RFC822.SIZE 90 FLAGS ())\r\n"
		     "* 3 FETCH (UID 38 RFC822.SIZE 90 FLAGS ())\r\nA0005 OK x\r\n"),
		EXPECT("A0006 UID FETCH 37:38 (UID BODY.PEEK[])"), SEND_N(MAILS, 0),
		SEND("A0006 OK x\r\n"),
		EXPECT("A0007 UID STORE 37:38 +FLAGS.SILENT (\\Seen)"), SEND("A0007 OK x\r\n"),
		LOGOUT_STEPS("A0008"), END,
	};
	struct run r = {.steps = first, .mark_seen = true};
	run_job(&r);
	CHECK_INT(r.rc, 0);
	CHECK_INT(r.res.counts.tickets, 2);
	CHECK_INT(r.res.counts.badmail, 1);
	CHECK(strstr(r.log, "event=job.seen_refused") == NULL);
	free(r.log);

	char third[256];
	int n3 = snprintf(third, sizeof(third), "From: Cy <cy@example.org>\r\nSubject: third\r\n"
			  "Message-ID: <mark-3@keep.test>\r\n\r\nhi\r\n");
	snprintf(MAILS, sizeof(MAILS), "* 4 FETCH (UID 39 BODY[] {%d}\r\n%s)\r\n", n3, third);
	const struct step second[] = {
		LOGIN_STEPS("IMAP4rev1"), LIST_INBOX("A0002", "A0003"),
		EXPECT("A0004 SELECT \"INBOX\""),
		SEND("* 4 EXISTS\r\n* OK [UIDVALIDITY 504] ok\r\nA0004 OK [READ-WRITE] x\r\n"),
		EXPECT("A0005 UID FETCH 1:* (UID RFC822.SIZE FLAGS)"),
		SEND("* 1 FETCH (UID 36 RFC822.SIZE 999999 FLAGS ())\r\n"
		     "* 2 FETCH (UID 37 RFC822.SIZE 90 FLAGS ())\r\n"
		     "* 3 FETCH (UID 38 RFC822.SIZE 90 FLAGS (\\Seen))\r\n"
		     "* 4 FETCH (UID 39 RFC822.SIZE 70 FLAGS ())\r\nA0005 OK x\r\n"),
		EXPECT("A0006 UID STORE 37 +FLAGS.SILENT (\\Seen)"), SEND("A0006 OK x\r\n"),
		EXPECT("A0007 UID FETCH 39 (UID BODY.PEEK[])"), SEND_N(MAILS, 0),
		SEND("A0007 OK x\r\n"),
		EXPECT("A0008 UID STORE 39 +FLAGS.SILENT (\\Seen)"), SEND("A0008 OK x\r\n"),
		LOGOUT_STEPS("A0009"), END,
	};
	struct run r2 = {.steps = second, .mark_seen = true};
	run_job(&r2);
	CHECK_INT(r2.rc, 0);
	CHECK_INT(r2.res.counts.fetched, 1);
	CHECK_INT(r2.res.counts.tickets, 1);
	CHECK_INT(r2.res.counts.already_done, 1);
	CHECK_INT(r2.res.counts.badmail, 0);
	CHECK_INT(qint("SELECT count(*) FROM processed_messages WHERE uidvalidity = 504"), 4);
	free(r2.log);
}

/* mark_seen: false: EXAMINE, and nothing sent that could change the mailbox. */
TEST(mark_seen_false_examines)
{
	mails_make(47, 48, "ex");
	const struct step steps[] = {
		LOGIN_STEPS("IMAP4rev1"), LIST_INBOX("A0002", "A0003"),
		EXPECT("A0004 EXAMINE \"INBOX\""),
		SEND("* 2 EXISTS\r\n* OK [UIDVALIDITY 505] ok\r\nA0004 OK [READ-ONLY] x\r\n"),
		EXPECT("A0005 UID FETCH 1:* (UID RFC822.SIZE FLAGS)"),
		SEND("* 1 FETCH (UID 47 RFC822.SIZE 90 FLAGS ())\r\n"
		     "* 2 FETCH (UID 48 RFC822.SIZE 90 FLAGS ())\r\nA0005 OK x\r\n"),
		EXPECT("A0006 UID FETCH 47:48 (UID BODY.PEEK[])"), SEND_N(MAILS, 0),
		SEND("A0006 OK x\r\n"), LOGOUT_STEPS("A0007"), END,
	};
	struct run r = {.steps = steps, .mark_seen = false};
	run_job(&r);
	CHECK_INT(r.rc, 0);
	CHECK_INT(r.res.counts.tickets, 2);
	CHECK(strstr(r.log, "event=job.seen_refused") == NULL);
	CHECK(strstr(r.log, "mode=examine") != NULL);
	free(r.log);
}

static void select_and_store(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	const char *why = NULL;
	bool refused = false;
	/* a flag that only starts like \Seen is not \Seen */
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	CHECK(!imap_seen_storable(c, &why));
	CHECK(why && strstr(why, "PERMANENTFLAGS"));
	/* flags are case-insensitive */
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	CHECK(imap_seen_storable(c, &why) && why == NULL);
	/* no PERMANENTFLAGS at all: every flag is permanent (RFC 3501 7.1) */
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	CHECK(imap_seen_storable(c, &why));
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	CHECK(!imap_seen_storable(c, &why));
	CHECK(why && strstr(why, "[READ-ONLY]"));
	/* EXAMINEd: never stored, nothing sent */
	CHECK(imap_select(c, "INBOX", true, &uv, &ex, &err) == 0);
	CHECK(!imap_seen_storable(c, &why));
	uint32_t uids[] = {6, 5, 6};
	CHECK(imap_mark_seen(c, uids, 3, &refused, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK(!refused);
	/* expunged by another session: once more after a NOOP; then a NO is a refusal */
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	CHECK(imap_mark_seen(c, uids, 3, &refused, &err) < 0);
	CHECK(refused);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "Permission denied") != NULL);
	/* BAD is not a refusal: the command itself is wrong */
	CHECK(imap_mark_seen(c, uids, 3, &refused, &err) < 0);
	CHECK(!refused);
	CHECK(imap_mark_seen(c, uids, 3, &refused, &err) == 0);
	CHECK(!refused);
	/* a SELECT refused is the mailbox's problem */
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(!imap_seen_storable(c, &why));
}

/* What SELECT says about \Seen, and the answers to UID STORE +FLAGS. */
TEST(select_says_whether_seen_is_stored)
{
#define SEL(tag, extra, code)                                                          	EXPECT(tag " SELECT \"INBOX\""),                                              	SEND("* 2 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n" extra tag " OK " code " x\r\n")
	static const struct step steps[] = {
		LOGIN_STEPS("IMAP4rev1"),
		SEL("A0002", "* OK [PERMANENTFLAGS (\\Seenish \\Deleted)] x\r\n", "[READ-WRITE]"),
		SEL("A0003", "* OK [PERMANENTFLAGS (\\Answered \\SEEN)] x\r\n", "[READ-WRITE]"),
		SEL("A0004", "", "[READ-WRITE]"),
		SEL("A0005", "* OK [PERMANENTFLAGS (\\Seen)] x\r\n", "[READ-ONLY]"),
		EXPECT("A0006 EXAMINE \"INBOX\""),
		SEND("* 2 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\nA0006 OK [READ-ONLY] x\r\n"),
		SEL("A0007", "", "[READ-WRITE]"),
		EXPECT("A0008 UID STORE 5:6 +FLAGS.SILENT (\\Seen)"),
		SEND("A0008 NO [EXPUNGEISSUED] some were expunged\r\n"),
		EXPECT("A0009 NOOP"), SEND("* 1 EXPUNGE\r\nA0009 OK x\r\n"),
		EXPECT("A0010 UID STORE 5:6 +FLAGS.SILENT (\\Seen)"),
		SEND("A0010 NO [NOPERM] Permission denied\r\n"),
		EXPECT("A0011 UID STORE 5:6 +FLAGS.SILENT (\\Seen)"),
		SEND("A0011 BAD what\r\n"),
		EXPECT("A0012 UID STORE 5:6 +FLAGS.SILENT (\\Seen)"), SEND("A0012 OK x\r\n"),
		EXPECT("A0013 SELECT \"INBOX\""), SEND("A0013 NO [NOPERM] not yours\r\n"),
		LOGOUT_STEPS("A0014"), END,
	};
#undef SEL
	session(steps, NULL, 0, select_and_store);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	RUN(select_says_whether_seen_is_stored);
	struct test_db tdb;
	int setup = test_db_create(&tdb, "test_imap_keep", "m2t_keep");
	if (setup != 0)
		return setup > 0 ? test_summary() : 1;
	mime_global_init();
	log_set_level(LOG_INFO);
	DB = PQconnectdb(tdb.url);
	struct err err = {0};
	int rc = 1;
	if (PQstatus(DB) != CONNECTION_OK || store_open(tdb.url, &S, &err) < 0 ||
	    store_migrate(S, NULL, &err) < 0) {
		fprintf(stderr, "%s%s\n", PQerrorMessage(DB), err.msg);
		printf("FAIL test_imap_keep_setup\n");
		goto out;
	}
	RUN(read_only_mailbox_warns_once_and_remembers);
	RUN(store_refused_warns_and_succeeds);
	RUN(seen_not_permanent_is_not_tried);
	RUN(done_mail_marked_and_marked_again);
	RUN(mark_seen_false_examines);
	rc = test_summary();
out:
	store_free(&S);
	PQfinish(DB);
	test_db_drop(&tdb);
	return rc;
}
