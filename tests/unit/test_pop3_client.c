/*
 * POP3 client and source driver against a scripted hostile server: garbage
 * and NUL, a 10 MB line, no UIDL, duplicate UIDLs, a server that stops
 * mid-RETR or stalls, a message bigger than announced, -ERR on DELE and on
 * QUIT. Connecting and logging in are in test_pop3_login.c.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/source.h"
#include "engine/util/log.h"
#include "tests/unit/pop3_script.h"

TEST(greeting_garbage_nul_and_refusal)
{
	static const struct step garbage[] = {SEND("* OK IMAP4rev1 here\r\n"), END};
	static const struct step nul[] = {SEND("+OK \0\0\0\r\n"), END};
	static const struct step busy[] = {SEND("-ERR [SYS/TEMP] too busy\r\n"), END};
	static const struct step closed[] = {END};
	struct server s;
	struct config_account acc = account(0, SEC_NONE);
	struct err err = {0};
	CHECK(connect_err(garbage, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "did not greet as a POP3 server") != NULL);
	no_credentials_after(&s);
	CHECK(connect_err(nul, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "NUL") != NULL);
	CHECK(connect_err(busy, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(strstr(err.msg, "too busy") != NULL);
	CHECK(connect_err(closed, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
}

TEST(ten_megabyte_line_refused_early)
{
	size_t n = 10u << 20;
	char *big = malloc(n);
	memset(big, 'A', n);
	memcpy(big, "+OK ", 4);
	const struct step steps[] = {SEND_N(big, n), END};
	struct server s;
	struct config_account acc = account(0, SEC_NONE);
	struct err err = {0};
	CHECK(connect_err(steps, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "too long") != NULL);
	no_credentials_after(&s);
	free(big);
}

static void session(const struct step *steps, const struct pop3_limits *lim,
		    void (*fn)(struct pop3_client *c))
{
	struct server s;
	server_start(&s, steps);
	struct config_account acc = account(s.port, SEC_NONE);
	struct pop3_client *c = NULL;
	struct err err = {0};
	if (pop3_connect(&acc, lim, &c, &err) < 0) {
		fprintf(stderr, "  connect: %s\n", err.msg);
		test_failed_now = 1;
	} else {
		fn(c);
	}
	pop3_client_free(&c);
	finish(&s);
}

static void expect_no_uidl(struct pop3_client *c)
{
	const struct pop3_msg *v;
	size_t n;
	struct err err = {0};
	CHECK(pop3_list_messages(c, &v, &n, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "UIDL") != NULL);
}

TEST(server_without_uidl_refused)
{
	/* CAPA says no UIDL: refused before asking */
	static const struct step listed[] = {
		GREET_LOGIN("SASL PLAIN\r\nUSER\r\n"), EXPECT("STAT"), SEND("+OK 2 300\r\n"), END,
	};
	/* no CAPA at all: UIDL is tried, refused */
	static const struct step tried[] = {
		SEND("+OK hi\r\n"), EXPECT("CAPA"), SEND("-ERR no\r\n"), EXPECT("USER alice"),
		SEND("+OK\r\n"), EXPECT("PASS pw"), SEND("+OK\r\n"), EXPECT("STAT"),
		SEND("+OK 2 300\r\n"), EXPECT("UIDL"), SEND("-ERR command not supported\r\n"), END,
	};
	/* an empty maildrop is refused just the same, not at its first mail */
	static const struct step empty[] = {
		GREET_LOGIN("SASL PLAIN\r\n"), EXPECT("STAT"), SEND("+OK 0 0\r\n"), END,
	};
	session(listed, NULL, expect_no_uidl);
	session(tried, NULL, expect_no_uidl);
	session(empty, NULL, expect_no_uidl);
}

static void list_checks(struct pop3_client *c)
{
	const struct pop3_msg *v;
	size_t n = 0;
	struct err err = {0};
	CHECK_INT(pop3_list_messages(c, &v, &n, &err), 0);
	/* 2 and 4 share a UIDL: both left out; 5 is missing from LIST */
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(v[0].number, 1);
		CHECK_STR(v[0].uidl, "whqtswO00WBw418f9t5JxYwZ");
		CHECK_INT(v[0].size, 120);
		CHECK_INT(v[1].number, 3);
		CHECK_STR(v[1].uidl, "QhdPYR:00WBw1Ph7x7");
		CHECK_INT(v[1].size, 200);
	}
}

TEST(listing_uidl_and_sizes)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("STAT"), SEND("+OK 5 1000\r\n"), EXPECT("UIDL"),
		SEND("+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 same\r\n3 QhdPYR:00WBw1Ph7x7\r\n"
		     "4 same\r\n5 lonely\r\n.\r\n"),
		EXPECT("LIST"), SEND("+OK 5 messages\r\n1 120\r\n2 10\r\n3 200 extra\r\n4 10\r\n.\r\n"),
		END,
	};
	session(steps, NULL, list_checks);
}

static void bad_listing(struct pop3_client *c)
{
	const struct pop3_msg *v;
	size_t n;
	struct err err = {0};
	CHECK(pop3_list_messages(c, &v, &n, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "protocol error") != NULL);
}

TEST(bad_listings_refused)
{
	/* a UIDL with a space, one too long, a number past STAT, a huge size */
	static const struct step space[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("STAT"), SEND("+OK 1 10\r\n"), EXPECT("UIDL"),
		SEND("+OK\r\n1 a b\r\n.\r\n"), END,
	};
	static const struct step too_long[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("STAT"), SEND("+OK 1 10\r\n"), EXPECT("UIDL"),
		SEND("+OK\r\n1 12345678901234567890123456789012345678901234567890123456789012345678901\r\n.\r\n"),
		END,
	};
	static const struct step past[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("STAT"), SEND("+OK 1 10\r\n"), EXPECT("UIDL"),
		SEND("+OK\r\n2 x\r\n.\r\n"), END,
	};
	static const struct step size[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("STAT"), SEND("+OK 1 10\r\n"), EXPECT("UIDL"),
		SEND("+OK\r\n1 x\r\n.\r\n"), EXPECT("LIST"),
		SEND("+OK\r\n1 99999999999999999999\r\n.\r\n"), END,
	};
	/* a listing far longer than STAT's count allows */
	static const struct step flood[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("STAT"), SEND("+OK 1 10\r\n"), EXPECT("UIDL"),
		SEND("+OK\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n"
		     "1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n"
		     "1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n"
		     "1 x\r\n1 x\r\n1 x\r\n1 x\r\n.\r\n"),
		END,
	};
	session(space, NULL, bad_listing);
	session(too_long, NULL, bad_listing);
	session(past, NULL, bad_listing);
	session(size, NULL, bad_listing);
	session(flood, NULL, bad_listing);
}

struct bodies {
	int calls;
	size_t len;
	bool was_null;
	char first[64];
};

static int body_cb(void *ud, uint32_t number, const char *raw, size_t len, struct err *err)
{
	struct bodies *b = ud;
	(void)number;
	(void)err;
	b->calls++;
	b->len = len;
	b->was_null = raw == NULL;
	if (raw)
		snprintf(b->first, sizeof(b->first), "%.*s", (int)(len < 63 ? len : 63), raw);
	return 0;
}

static void retr_stops(struct pop3_client *c)
{
	struct bodies b = {0};
	struct err err = {0};
	CHECK(pop3_retr(c, 1, body_cb, &b, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK_INT(b.calls, 0);
	CHECK(!pop3_usable(c));
	/* and no DELE can follow on a broken session */
	CHECK(pop3_dele(c, 1, &err) < 0);
	CHECK(pop3_quit(c, &err) < 0);
}

TEST(server_stops_mid_retr)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("RETR 1"),
		SEND("+OK 500 octets\r\nSubject: cut\r\n\r\nhalf a bo"), END,
	};
	session(steps, NULL, retr_stops);
}

static void retr_stalls(struct pop3_client *c)
{
	struct bodies b = {0};
	struct err err = {0};
	CHECK(pop3_retr(c, 1, body_cb, &b, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(strstr(err.msg, "timed out") != NULL);
	CHECK_INT(b.calls, 0);
}

TEST(server_stalls_mid_retr)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("RETR 1"), SEND("+OK\r\nSubject: slow\r\n"),
		SLEEP(2600), END,
	};
	session(steps, NULL, retr_stalls);
}

static void retr_sizes(struct pop3_client *c)
{
	struct bodies b = {0};
	struct err err = {0};
	/* 20 bytes against a limit of 16: read to the end, reported, not kept */
	CHECK_INT(pop3_retr(c, 1, body_cb, &b, &err), 0);
	CHECK_INT(b.calls, 1);
	CHECK(b.was_null);
	CHECK_INT(b.len, 20);
	/* the session goes on: the next message comes whole, dots unstuffed */
	memset(&b, 0, sizeof(b));
	CHECK_INT(pop3_retr(c, 2, body_cb, &b, &err), 0);
	CHECK_INT(b.calls, 1);
	CHECK(!b.was_null);
	CHECK_STR(b.first, "a\r\n.b\r\n");
	/* -ERR: skipped, nothing delivered, the session still fine */
	memset(&b, 0, sizeof(b));
	CHECK_INT(pop3_retr(c, 3, body_cb, &b, &err), 0);
	CHECK_INT(b.calls, 0);
	CHECK(pop3_usable(c));
	/* more than twice the limit: the session cannot be kept */
	CHECK(pop3_retr(c, 4, body_cb, &b, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK_INT(b.calls, 0);
}

TEST(retr_bigger_than_announced)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS),
		EXPECT("RETR 1"), SEND("+OK 5 octets\r\n0123456789\r\n123456\r\n.\r\n"),
		EXPECT("RETR 2"), SEND("+OK\r\na\r\n..b\r\n.\r\n"),
		EXPECT("RETR 3"), SEND("-ERR no such message\r\n"),
		EXPECT("RETR 4"), SEND("+OK\r\n0123456789012345678901234567890123456789\r\n.\r\n"),
		END,
	};
	struct pop3_limits lim = {.max_message = 16};
	session(steps, &lim, retr_sizes);
}

static void dele_and_quit(struct pop3_client *c)
{
	struct err err = {0};
	CHECK_INT(pop3_dele(c, 1, &err), 0);
	CHECK(pop3_dele(c, 2, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(strstr(err.msg, "DELE 2") != NULL);
	CHECK(pop3_usable(c));
	CHECK(pop3_quit(c, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(strstr(err.msg, "deletions not applied") != NULL);
	CHECK(!pop3_usable(c));
}

TEST(dele_and_quit_refused)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("DELE 1"), SEND("+OK marked\r\n"), EXPECT("DELE 2"),
		SEND("-ERR message 2 already deleted\r\n"), EXPECT("QUIT"),
		SEND("-ERR [SYS/PERM] some deleted messages not removed\r\n"), END,
	};
	session(steps, NULL, dele_and_quit);
}

/* The source driver: ids by listing position, DELE after the others fail, QUIT. */
static int open_source(struct server *s, const struct step *steps, struct source **src,
		       struct config_account *acc, struct config_job *job)
{
	static char name[] = "pop-job", inbox[] = "INBOX";
	server_start(s, steps);
	*acc = account(s->port, SEC_NONE);
	memset(job, 0, sizeof(*job));
	job->name = name;
	job->account = acc;
	job->mailbox = inbox;
	job->batch_size = 10;
	struct source_limits lim = {.max_message = 1000};
	struct err err = {0};
	if (source_open(job, SOURCE_READ_WRITE, &lim, src, &err) < 0) {
		fprintf(stderr, "  open: %s\n", err.msg);
		return -1;
	}
	return 0;
}

#define LISTING3                                                                       \
	EXPECT("STAT"), SEND("+OK 3 30\r\n"), EXPECT("UIDL"),                          \
	SEND("+OK\r\n1 u-one\r\n2 u-two\r\n3 u-three\r\n.\r\n"), EXPECT("LIST"),       \
	SEND("+OK\r\n1 10\r\n2 10\r\n3 5000\r\n.\r\n")

static int count_bodies(void *ud, uint32_t id, const char *raw, size_t len, struct err *err)
{
	int *n = ud;
	(void)err;
	(void)len;
	if (raw && id == 2)
		(*n)++;
	return 0;
}

TEST(source_dele_continues_and_quit_decides)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS), LISTING3,
		EXPECT("RETR 2"), SEND("+OK\r\nSubject: two\r\n\r\nx\r\n.\r\n"),
		EXPECT("DELE 1"), SEND("-ERR [SYS/TEMP] busy\r\n"),
		EXPECT("DELE 2"), SEND("+OK\r\n"), EXPECT("DELE 3"), SEND("+OK\r\n"),
		EXPECT("QUIT"), SEND("+OK bye, 2 deleted\r\n"), END,
	};
	struct server s;
	struct config_account acc;
	struct config_job job;
	struct source *src = NULL;
	if (open_source(&s, steps, &src, &acc, &job) == 0) {
		const struct source_info *info = source_info(src);
		CHECK_STR(info->kind, "pop3");
		CHECK_STR(info->mailbox, "INBOX");
		CHECK_INT(info->identity, SOURCE_ID_KEY);
		CHECK(info->badmail_stays);
		const struct source_msg *v;
		size_t n = 0;
		struct err err = {0};
		CHECK_INT(source_list(src, &v, &n, &err), 0);
		CHECK_INT(n, 3);
		if (n == 3) {
			CHECK(v[0].id == 1 && v[1].id == 2 && v[2].id == 3);
			CHECK_STR(v[2].key, "u-three");
			CHECK_INT(v[2].size, 5000);
		}
		int got = 0;
		uint32_t ids[] = {2, 2};
		CHECK_INT(source_fetch(src, ids, 2, count_bodies, &got, &err), 0);
		CHECK_INT(got, 1);
		/* POP3 has no folders for rules: refused, nothing sent */
		const char *folders[] = {"Newsletters"};
		CHECK(source_prepare_folders(src, folders, 1, &err) < 0);
		CHECK_INT(err.cls, ERR_FATAL);
		CHECK(source_dispose(src, ids, 1, SOURCE_FOLDER, "Newsletters", &err) < 0);
		CHECK_INT(err.cls, ERR_FATAL);
		/* badmail stays: nothing is sent */
		uint32_t bad[] = {1};
		CHECK_INT(source_dispose(src, bad, 1, SOURCE_BADMAIL, NULL, &err), 0);
		uint32_t all[] = {1, 2, 3};
		CHECK(source_dispose(src, all, 3, SOURCE_ARCHIVE, NULL, &err) < 0);
		CHECK_INT(err.cls, ERR_TRANSIENT);
		CHECK(strstr(err.msg, "DELE 1") != NULL);
		CHECK_INT(source_close(&src, &err), 0);
		CHECK(src == NULL);
	}
	source_close(&src, NULL);
	finish(&s);
}

TEST(source_quit_failure_after_deletions_is_reported)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS), LISTING3, EXPECT("DELE 3"), SEND("+OK\r\n"),
		EXPECT("QUIT"), SEND("-ERR could not update the maildrop\r\n"), END,
	};
	static const struct step nothing_deleted[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("QUIT"), SEND("-ERR odd\r\n"), END,
	};
	struct server s;
	struct config_account acc;
	struct config_job job;
	struct source *src = NULL;
	struct err err = {0};
	if (open_source(&s, steps, &src, &acc, &job) == 0) {
		const struct source_msg *v;
		size_t n;
		CHECK_INT(source_list(src, &v, &n, &err), 0);
		uint32_t ids[] = {3};
		CHECK_INT(source_dispose(src, ids, 1, SOURCE_ARCHIVE, NULL, &err), 0);
		CHECK(source_close(&src, &err) < 0);
		CHECK_INT(err.cls, ERR_TRANSIENT);
		CHECK(strstr(err.msg, "deletions not applied") != NULL);
	}
	source_close(&src, NULL);
	finish(&s);
	/* nothing was deleted: a failed QUIT loses nothing */
	if (open_source(&s, nothing_deleted, &src, &acc, &job) == 0)
		CHECK_INT(source_close(&src, &err), 0);
	source_close(&src, NULL);
	finish(&s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERROR);
	RUN(greeting_garbage_nul_and_refusal);
	RUN(ten_megabyte_line_refused_early);
	RUN(server_without_uidl_refused);
	RUN(listing_uidl_and_sizes);
	RUN(bad_listings_refused);
	RUN(server_stops_mid_retr);
	RUN(server_stalls_mid_retr);
	RUN(retr_bigger_than_announced);
	RUN(dele_and_quit_refused);
	RUN(source_dele_continues_and_quit_decides);
	RUN(source_quit_failure_after_deletions_is_reported);
	log_clear_secrets();
	return test_summary();
}
